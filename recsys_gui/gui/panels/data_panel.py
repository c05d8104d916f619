"""Data page: open a file, map its columns, clean it, choose a split, look at its statistics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.paths import absolute_or_none, absolute_path
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, in_turns, stat_plot, title

NONE = "(none)"
PROTOCOLS = [
    ("ratio", "Per-user ratio (8:1:1)", "ratio:8,1,1"),
    ("random", "Global random (8:1:1)", "random:8,1,1"),
    ("loo", "Leave last out", "loo"),
    ("temporal", "Temporal cut-offs (80% / 90%)", "temporal:0.8,0.9"),
    ("users", "Held-out users", "users"),
]
LEAKS = {"ratio": True, "random": True, "loo": True, "users": True, "temporal": False}
FILE_FILTER = "Interaction files (*.csv *.tsv *.txt *.dat *.data *.inter *.parquet);;All files (*)"


class DataPanel(QWidget):
    loaded = Signal()  # data loaded into the app state

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._gen = 0  # generation: results of stale loads are ignored
        self._split_gen = 0
        self.loading = False
        self.sniffed: Any = None
        self._help: dict[str, str] = {}

        root = QVBoxLayout(self)
        root.addWidget(title("Data", "Open an interaction file (or drop one on the window), check how it is "
                             "read, clean it and choose how it is split."))
        # --- file row
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("No file opened: use Open… or drop a CSV here")
        self.path_edit.setReadOnly(True)
        self.open_btn = QPushButton("Open…")
        self.open_btn.clicked.connect(self.choose_file)
        row.addWidget(QLabel("Interactions:"))
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.open_btn)
        self.meta_edit = QLineEdit()
        self.meta_edit.setPlaceholderText("optional: items file with titles/genres")
        self.meta_edit.setReadOnly(True)
        self.meta_btn = QPushButton("Item metadata…")
        self.meta_btn.clicked.connect(self.choose_metadata)
        self.meta_clear = QPushButton("Clear")
        self.meta_clear.clicked.connect(lambda: self.set_metadata(None))
        row.addSpacing(12)
        row.addWidget(self.meta_edit, 1)
        row.addWidget(self.meta_btn)
        row.addWidget(self.meta_clear)
        root.addLayout(row)
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Horizontal)
        root.addWidget(split, 1)
        # --- left: settings
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        cols = QGroupBox("Columns")
        cf = QFormLayout(cols)
        self.role_boxes: dict[str, QComboBox] = {}
        for role, label in (("user", "User id"), ("item", "Item id"), ("rating", "Rating / weight"),
                            ("timestamp", "Timestamp")):
            cb = QComboBox()
            cb.setObjectName(f"role_{role}")
            cb.setToolTip(f"Which column holds the {label.lower()} (pre-filled from the file's guess).")
            cb.currentIndexChanged.connect(self._options_changed)
            self.role_boxes[role] = cb
            cf.addRow(label, cb)
        ll.addWidget(cols)

        clean = QGroupBox("Cleaning")
        kf = QFormLayout(clean)
        self.threshold_on = QCheckBox("Keep ratings ≥")
        self.threshold_on.setToolTip("Turn explicit ratings into implicit feedback: keep rows at or above "
                                     "the threshold, and treat them all as 1.")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(-1e9, 1e9)
        self.threshold.setValue(4.0)
        self.threshold.setEnabled(False)
        self.threshold_on.toggled.connect(self.threshold.setEnabled)
        self.threshold_on.toggled.connect(self._options_changed)
        self.threshold.valueChanged.connect(self._options_changed)
        th = QHBoxLayout()
        th.addWidget(self.threshold_on)
        th.addWidget(self.threshold, 1)
        kf.addRow("Threshold", th)
        self.dedupe = QComboBox()
        for key, text in (("last", "keep the last"), ("max", "keep the highest value"),
                          ("sum", "sum the values"), ("mean", "average the values")):
            self.dedupe.addItem(text, key)
        self.dedupe.setToolTip("What to do when the same user–item pair appears more than once.")
        self.dedupe.currentIndexChanged.connect(self._options_changed)
        kf.addRow("Duplicates", self.dedupe)
        self.min_user = QSpinBox()
        self.min_user.setRange(0, 100000)
        self.min_user.setToolTip("k-core: repeatedly drop users with fewer interactions than this.")
        self.min_item = QSpinBox()
        self.min_item.setRange(0, 100000)
        self.min_item.setToolTip("k-core: repeatedly drop items with fewer interactions than this.")
        self.min_user.valueChanged.connect(self._options_changed)
        self.min_item.valueChanged.connect(self._options_changed)
        kf.addRow("Min. per user (k-core)", self.min_user)
        kf.addRow("Min. per item (k-core)", self.min_item)
        self.summary = QLabel("—")
        self.summary.setObjectName("data_summary")
        self.summary.setWordWrap(True)
        kf.addRow("Result", self.summary)
        ll.addWidget(clean)

        sg = QGroupBox("Split")
        sf = QFormLayout(sg)
        self.protocol = QComboBox()
        for key, text, spec in PROTOCOLS:
            self.protocol.addItem(text, (key, spec))
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        sf.addRow("Protocol", self.protocol)
        self.split_text = QLineEdit("ratio:8,1,1")
        self.split_text.setToolTip("The split as text, exactly as the CLI takes it (e.g. ratio:7,1,2, "
                                   "temporal:0.7,0.85, loo).")
        self.split_text.editingFinished.connect(self._split_changed)
        sf.addRow("Spec", self.split_text)
        self.split_seed = QSpinBox()
        self.split_seed.setRange(0, 2**31 - 1)
        self.split_seed.setValue(2020)
        self.split_seed.setToolTip("Seed of the split (the trainer's seed is used when training).")
        self.split_seed.valueChanged.connect(self._split_changed)
        sf.addRow("Seed", self.split_seed)
        self.split_help = QLabel("")
        self.split_help.setWordWrap(True)
        self.split_help.setProperty("role", "hint")
        sf.addRow(self.split_help)
        self.leak = Message()
        sf.addRow(self.leak)
        self.split_summary = QLabel("")
        self.split_summary.setObjectName("split_summary")
        self.split_summary.setWordWrap(True)
        sf.addRow(self.split_summary)
        ll.addWidget(sg)
        ll.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(440)
        split.addWidget(scroll)

        # --- right: preview / statistics / report
        self.tabs = QTabWidget()
        self.preview_model = FrameModel()
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.setAlternatingRowColors(True)
        self.preview.verticalHeader().setDefaultSectionSize(22)
        self.tabs.addTab(self.preview, "Preview")
        stats = QWidget()
        grid = QGridLayout(stats)
        self.plot_users = stat_plot("Interactions per user", "interactions", "users", log_x=True, log_y=True)
        self.plot_items = stat_plot("Interactions per item", "interactions", "items", log_x=True, log_y=True)
        self.plot_ratings = stat_plot("Rating distribution", "value", "rows")
        self.plot_time = stat_plot("Activity over time", "", "interactions")
        self.plot_time.setAxisItems({"bottom": pg.DateAxisItem()})
        grid.addWidget(self.plot_users, 0, 0)
        grid.addWidget(self.plot_items, 0, 1)
        grid.addWidget(self.plot_ratings, 1, 0)
        grid.addWidget(self.plot_time, 1, 1)
        self.tabs.addTab(stats, "Statistics")
        self.report_text = QPlainTextEdit()
        self.report_text.setReadOnly(True)
        self.tabs.addTab(self.report_text, "Load report")
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([470, 830])

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.load)
        self._suppress = False
        self._protocol_changed()
        run_in_thread(services.split_help, on_result=self._got_help, on_error=lambda *_: None)

    # --- split help ------------------------------------------------------------------------------
    def _got_help(self, helptexts: dict[str, str]) -> None:
        self._help = helptexts
        self._protocol_changed(keep_text=True)

    def _protocol_changed(self, *_: Any, keep_text: bool = False) -> None:
        key, spec = self.protocol.currentData()
        if not keep_text:
            self.split_text.setText(spec)
        self.split_help.setText(self._help.get(key, ""))
        if LEAKS.get(key):
            self.leak.warning("⚠ This protocol ignores global time order, so the model can train on "
                              "interactions that happen after some test interactions (it leaks the future). "
                              "Use Temporal to estimate deployment quality.")
        else:
            self.leak.ok("✓ No future leakage: everything the model trains on happened before validation "
                         "and test.")
        if not keep_text:
            self._split_changed()

    def _split_changed(self) -> None:
        self.state.split_text = self.split_text.text().strip() or "ratio:8,1,1"
        if self.state.data is None:
            return
        self._split_gen += 1
        gen = self._split_gen
        self.split_summary.setText("Splitting…")
        run_in_thread(services.split_preview, self.state.data, self.state.split_text, self.split_seed.value(),
                      on_result=lambda d, g=gen: self._got_split(g, d),
                      on_error=lambda e, tb, g=gen: self._split_failed(g, e))

    def _got_split(self, gen: int, d: dict[str, Any]) -> None:
        if gen != self._split_gen:
            return
        parts = [f"train {d.get('train_rows', 0):,}"]
        for p in ("valid", "test"):
            if f"{p}_rows" in d:
                cold = d.get(f"{p}_cold_users", 0)
                parts.append(f"{p} {d[f'{p}_rows']:,} ({d.get(f'{p}_users', 0):,} users"
                             + (f", {cold:,} cold" if cold else "") + ")")
        self.split_summary.setText("Parts: " + " · ".join(parts))

    def _split_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._split_gen:
            self.split_summary.setText("")
            self.leak.error(error_text(exc))

    # --- files -----------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open interactions", "", FILE_FILTER)
        if path:
            self.open_file(path)

    def choose_metadata(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open item metadata", "", FILE_FILTER)
        if path:
            self.set_metadata(path)

    def set_metadata(self, path: str | None) -> None:
        self.meta_edit.setText(absolute_or_none(path) or "")
        if self.path_edit.text():
            self._options_changed()

    def open_file(self, path: str, metadata: str | None = None) -> None:
        """Sniff + preview, fill the role pickers from the guesses, then load. Paths are made absolute:
        a run's spec is read by a process working in the workspace folder."""
        path = absolute_path(path)
        self.path_edit.setText(path)
        if metadata is not None:
            self.meta_edit.setText(absolute_or_none(metadata) or "")
        self.message.show_message("Reading the file…")
        self._gen += 1
        gen = self._gen
        self.loading = True
        run_in_thread(services.preview, path, {}, on_result=lambda r, g=gen: self._got_preview(g, r),
                      on_error=lambda e, tb, g=gen: self._failed(g, e))

    def _got_preview(self, gen: int, result: tuple[Any, Any]) -> None:
        if gen != self._gen:
            return
        frame, sn = result
        self.sniffed = sn
        self.preview_model.set_frame(frame)
        for c, w in enumerate(self.preview_model.column_widths(self.preview.fontMetrics())):
            self.preview.setColumnWidth(c, min(w, 400))
        self._suppress = True
        for role, cb in self.role_boxes.items():
            cb.clear()
            if role in ("rating", "timestamp"):
                cb.addItem(NONE, "none")
            for c in sn.columns:
                cb.addItem(str(c), str(c))
            guess = sn.roles.get(role)
            i = cb.findData(str(guess)) if guess is not None else 0
            cb.setCurrentIndex(max(i, 0))
        self._suppress = False
        if sn.warnings:
            self.message.warning(" ".join(sn.warnings))
        # Paint the preview in a turn of its own, then load: a paint calls Python per cell, and
        # each call waits for the GIL while the loading worker runs Python (up to 90 ms of a 150 ms
        # stall, measured). Qt's own repaint comes from a timer, after a call queued now would run.
        steps = [self.preview.viewport().repaint, lambda: gen == self._gen and self.load()]
        QTimer.singleShot(0, self, lambda: in_turns(steps, self))

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        for role, cb in self.role_boxes.items():
            if cb.count():
                opts[role] = cb.currentData()
        if self.threshold_on.isChecked():
            opts["min_rating"] = float(self.threshold.value())
        opts["dedupe"] = self.dedupe.currentData()
        opts["min_user_count"] = self.min_user.value()
        opts["min_item_count"] = self.min_item.value()
        return opts

    def set_options(self, opts: dict[str, Any]) -> None:
        self._suppress = True
        try:
            for role, cb in self.role_boxes.items():
                if role in opts:
                    i = cb.findData(str(opts[role]))
                    if i >= 0:
                        cb.setCurrentIndex(i)
            if opts.get("min_rating") is not None:
                self.threshold_on.setChecked(True)
                self.threshold.setValue(float(opts["min_rating"]))
            else:
                self.threshold_on.setChecked(False)
            self.dedupe.setCurrentIndex(max(0, self.dedupe.findData(opts.get("dedupe", "last"))))
            self.min_user.setValue(int(opts.get("min_user_count", 0)))
            self.min_item.setValue(int(opts.get("min_item_count", 0)))
        finally:
            self._suppress = False
        self._options_changed()

    def _options_changed(self, *_: Any) -> None:
        if self._suppress or not self.path_edit.text():
            return
        self.summary.setText("updating…")
        self._debounce.start()

    def load(self) -> None:
        path = self.path_edit.text()
        if not path:
            return
        self._gen += 1
        gen = self._gen
        self.loading = True
        opts = self.options()
        meta = self.meta_edit.text() or None
        self.message.show_message("Loading…")
        run_in_thread(services.load, path, opts, meta,
                      on_result=lambda r, g=gen, o=opts, m=meta: self._got_data(g, path, o, m, r),
                      on_error=lambda e, tb, g=gen: self._failed(g, e),
                      on_progress=lambda f, t: self.message.show_message(f"Loading… {t} ({f:.0%})"))

    def _got_data(self, gen: int, path: str, opts: dict[str, Any], meta: str | None, result: Any) -> None:
        if gen != self._gen:
            return
        data, report, stats = result
        self.loading = False
        self.summary.setText(f"{report.users:,} users · {report.items:,} items · {report.interactions:,} "
                             f"interactions · density {report.density:.3%}")
        self.report_text.setPlainText("\n".join(report.summary_lines()))
        warn = list(report.warnings)
        if warn:
            self.message.warning("Loaded with warnings: " + "; ".join(warn))
        else:
            self.message.ok(f"Loaded {report.interactions:,} interactions in {report.seconds:.2f} s.")
        self._plot(stats)
        self.state.set_data(path, opts, meta, data, report)
        self._split_changed()
        self.loaded.emit()

    def _failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._gen:
            return
        self.loading = False
        self.summary.setText("—")
        self.message.error(error_text(exc))

    # --- plots -----------------------------------------------------------------------------------
    def _plot(self, stats: dict[str, Any]) -> None:
        """The four statistics plots, one per event-loop turn (together they held the GUI thread
        50 ms after a load)."""
        brush = pg.mkBrush(77, 134, 240, 170)

        def counts(plot: pg.PlotWidget, key: str) -> None:
            plot.clear()
            edges, hist = stats[key]
            keep = hist > 0
            centers = np.sqrt(edges[:-1] * edges[1:])
            plot.plot(centers[keep], hist[keep], pen=pg.mkPen("#4d86f0", width=2), symbol="o", symbolSize=5,
                      symbolBrush=brush)

        def ratings() -> None:
            self.plot_ratings.clear()
            x, h = stats["ratings"]
            width = float(np.min(np.diff(x))) * 0.8 if len(x) > 1 else 0.8
            self.plot_ratings.addItem(pg.BarGraphItem(x=x, height=h, width=width, brush=brush))

        def activity() -> None:
            self.plot_time.clear()
            if stats.get("time") is not None:
                edges, h = stats["time"]
                self.plot_time.plot(edges, h, stepMode="center", fillLevel=0, brush=brush,
                                    pen=pg.mkPen("#4d86f0"))
                self.plot_time.setTitle("Activity over time")
            else:
                self.plot_time.setTitle("Activity over time (no timestamp column)")

        in_turns([lambda: counts(self.plot_users, "users"), lambda: counts(self.plot_items, "items"),
                  ratings, activity], self)
