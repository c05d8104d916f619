"""Data page: open a file, map its columns, clean it, choose a split, look at its statistics."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
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

from recsys_gui.core.errors import RecsysError
from recsys_gui.gui import services
from recsys_gui.gui.panels import data_jobs
from recsys_gui.gui.panels.data_columns import ColumnsBox
from recsys_gui.gui.panels.data_features import FeaturesBox
from recsys_gui.gui.panels.data_progress import LoadProgress
from recsys_gui.gui.panels.data_source import SourceBox
from recsys_gui.gui.panels.data_split_files import SplitFilesBox
from recsys_gui.gui.panels.data_stats import StatsView
from recsys_gui.gui.paths import absolute_or_none, absolute_path
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, in_turns, title

PROTOCOLS = [
    ("ratio", "Per-user ratio (8:1:1)", "ratio:8,1,1"),
    ("random", "Global random (8:1:1)", "random:8,1,1"),
    ("loo", "Leave last out", "loo"),
    ("temporal", "Temporal cut-offs (80% / 90%)", "temporal:0.8,0.9"),
    ("users", "Held-out users", "users"),
    ("predefined", "Predefined files (train / valid / test)", "predefined"),
]
LEAKS = {"ratio": True, "random": True, "loo": True, "users": True, "temporal": False}
FILE_FILTER = ("Interaction files (*.csv *.tsv *.txt *.dat *.data *.inter *.parquet *.gz *.bz2 *.zst "
               "*.sqlite *.sqlite3 *.db *.xlsx *.xlsm);;Text files (*.csv *.tsv *.txt *.dat *.data *.inter);;"
               "Compressed text (*.gz *.bz2 *.zst);;SQLite databases (*.sqlite *.sqlite3 *.db);;"
               "Excel workbooks (*.xlsx *.xlsm);;Parquet files (*.parquet);;All files (*)")


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
        root.addWidget(title("Data", "Open an interaction file, a SQLite database, an Excel workbook or a "
                             "folder of Parquet files (or drop one on the window), check how it is read, "
                             "clean it and choose how it is split."))
        # --- file row
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("No file opened: use Open… or drop a CSV here")
        self.path_edit.setReadOnly(True)
        self.open_btn = QPushButton("Open…")
        self.open_btn.setToolTip("A CSV/TSV file (also .gz, .bz2, .zst), a Parquet file, a SQLite "
                                 "database or an Excel workbook.")
        self.open_btn.clicked.connect(self.choose_file)
        self.folder_btn = QPushButton("Open folder…")
        self.folder_btn.setToolTip("A folder of Parquet files, read as one table.")
        self.folder_btn.clicked.connect(self.choose_folder)
        self.path_label = QLabel("Interactions:")
        row.addWidget(self.path_label)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.open_btn)
        row.addWidget(self.folder_btn)
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
        status = QHBoxLayout()
        self.message = Message()
        self.progress = LoadProgress()
        status.addWidget(self.message, 1)
        status.addWidget(self.progress)
        root.addLayout(status)

        split = QSplitter(Qt.Orientation.Horizontal)
        root.addWidget(split, 1)
        # --- left: settings
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 6, 0)
        self.source = SourceBox()
        self.source.reopen.connect(self.reopen)
        self.source.reload.connect(self._options_changed)
        ll.addWidget(self.source)
        self.columns = ColumnsBox()
        self.columns.changed.connect(self._options_changed)
        self.role_boxes = self.columns.role_boxes
        ll.addWidget(self.columns)

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
        self.split_form = sf = QFormLayout(sg)
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
        self.split_files = SplitFilesBox(FILE_FILTER)
        self.split_files.changed.connect(self._options_changed)
        sf.addRow(self.split_files)
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
        self.features = FeaturesBox()
        self.features.changed.connect(self._features_changed)
        state.data_changed.connect(lambda: self.features.show_data(self.state.data))
        ll.addWidget(self.features)
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
        self.stats = StatsView()
        self.tabs.addTab(self.stats, "Statistics")
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

    def predefined(self) -> bool:
        """The split comes from files: the interactions file is the training part."""
        return self.protocol.currentData()[0] == "predefined"

    def _protocol_changed(self, *_: Any, keep_text: bool = False) -> None:
        key, spec = self.protocol.currentData()
        was_predefined = self.split_form.isRowVisible(self.split_files)
        files = key == "predefined"
        for widget in (self.split_text, self.split_seed):
            self.split_form.setRowVisible(widget, not files)
        self.split_form.setRowVisible(self.split_files, files)
        self.path_label.setText("Train file:" if files else "Interactions:")
        if not keep_text:
            self.split_text.setText(spec)
        self.split_help.setText(self._help.get(key, ""))
        if files:
            self.leak.clear_message()  # the protocol's help says it: it depends on how the files were made
        elif LEAKS.get(key):
            self.leak.warning("⚠ This protocol ignores global time order, so the model can train on "
                              "interactions that happen after some test interactions (it leaks the future). "
                              "Use Temporal to estimate deployment quality.")
        else:
            self.leak.ok("✓ No future leakage: everything the model trains on happened before validation "
                         "and test.")
        if keep_text:
            return
        if (key == "predefined") != was_predefined:
            self._options_changed()  # another kind of load: one file split here, or the split's files
        else:
            self._split_changed()

    def _split_changed(self) -> None:
        self.state.split_text = self.split_text.text().strip() or "ratio:8,1,1"
        if self.state.data is None or self.predefined():
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

    def _features_changed(self) -> None:
        """The user file and the unticked feature columns go with the next run's spec."""
        self.state.user_metadata = self.features.user_metadata()
        self.state.feature_options = self.features.feature_options()

    # --- files -----------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open interactions", "", FILE_FILTER)
        if path:
            self.open_file(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of Parquet files")
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
        """Sniff + preview, fill the source and role pickers from the guesses, then load. Paths are
        made absolute: a run's spec is read by a process working in the workspace folder."""
        path = absolute_path(path)
        self.path_edit.setText(path)
        if metadata is not None:
            self.meta_edit.setText(absolute_or_none(metadata) or "")
        self.source.reset()
        self._open(path, {})

    def reopen(self) -> None:
        """Another table, query, sheet, separator or header: the columns may differ, so preview and
        guess them again before loading."""
        if self.path_edit.text():
            self._open(self.path_edit.text(), self.source.source_options())

    def _open(self, path: str, source_options: dict[str, Any]) -> None:
        self._debounce.stop()
        self.message.show_message("Reading the file…")
        self._gen += 1
        gen = self._gen
        self.loading = True
        run_in_thread(data_jobs.open_source, path, source_options,
                      on_result=lambda r, g=gen: self._got_preview(g, r),
                      on_error=lambda e, tb, g=gen: self._failed(g, e))

    def _got_preview(self, gen: int, view: data_jobs.SourceView) -> None:
        if gen != self._gen:
            return
        sn = view.sniffed
        self.source.show_source(view.format, view.tables, sn, view.options)
        if view.error is not None:
            self._failed(gen, RecsysError(view.error))
            return
        self.sniffed = sn
        self.preview_model.set_frame(view.frame)
        for c, w in enumerate(self.preview_model.column_widths(self.preview.fontMetrics())):
            self.preview.setColumnWidth(c, min(w, 400))
        self.columns.show_guesses(sn.columns, sn.roles)
        if sn.warnings:
            self.message.warning(" ".join(sn.warnings))
        # Paint the preview in a turn of its own, then load: a paint calls Python per cell, and
        # each call waits for the GIL while the loading worker runs Python (up to 90 ms of a 150 ms
        # stall, measured). Qt's own repaint comes from a timer, after a call queued now would run.
        steps = [self.preview.viewport().repaint, lambda: gen == self._gen and self.load()]
        QTimer.singleShot(0, self, lambda: in_turns(steps, self))

    def options(self) -> dict[str, Any]:
        """The LoadOptions fields the page sets (raises ConfigError for a bad sample size)."""
        opts = self.columns.options()
        opts.update(self.source.source_options())
        opts.update(self.source.read_options())
        if self.threshold_on.isChecked():
            opts["min_rating"] = float(self.threshold.value())
        opts["dedupe"] = self.dedupe.currentData()
        opts["min_user_count"] = self.min_user.value()
        opts["min_item_count"] = self.min_item.value()
        return opts

    def set_options(self, opts: dict[str, Any]) -> None:
        self._suppress = True
        try:
            self.source.set_options(opts)
            self.columns.set_options(opts)
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
        try:
            opts = self.options()
        except RecsysError as exc:  # a sample size that is no number: said in the page
            self._failed(gen, exc)
            return
        meta = self.meta_edit.text() or None
        valid, test = self.split_files.files()
        if self.predefined() and test is None:
            self.loading = False
            self.progress.finish()
            self.summary.setText("—")
            self.message.warning("Choose the test file (and a validation file if there is one) for the "
                                 "predefined split.")
            return
        self.loading = True
        self.message.show_message("Loading…")
        self.progress.start()
        done = {"on_error": lambda e, tb, g=gen: self._failed(g, e),
                "on_progress": lambda f, t, g=gen: g == self._gen and self.progress.step(f, t)}
        if self.predefined():
            run_in_thread(data_jobs.load_predefined, path, valid, test, opts, meta,
                          on_result=lambda r, g=gen, o=opts, m=meta: self._got_split_files(g, path, o, m, r),
                          **done)
        else:
            run_in_thread(services.load, path, opts, meta,
                          on_result=lambda r, g=gen, o=opts, m=meta: self._got_data(g, path, o, m, r), **done)

    def _got_data(self, gen: int, path: str, opts: dict[str, Any], meta: str | None, result: Any) -> None:
        if gen != self._gen:
            return
        data, report, stats = result
        self._show_loaded(report, stats)
        self.state.set_data(path, opts, meta, data, report)
        self._split_changed()
        self.loaded.emit()

    def _got_split_files(self, gen: int, path: str, opts: dict[str, Any], meta: str | None,
                         result: Any) -> None:
        """A predefined split: the page shows all parts together; runs read the files again (the
        state's split text 'predefined' is no protocol to split by, so it never splits the train file)."""
        if gen != self._gen:
            return
        split, report, stats, described = result
        self._show_loaded(report, stats)
        valid, test = self.split_files.files()
        self.state.split_files = {"train": path, "valid": valid, "test": test}
        self.state.split_text = "predefined"
        self.state.set_data(path, opts, meta, split.train.concat(
            *[p for p in (split.valid, split.test) if p is not None]), report)
        self._split_gen += 1
        self._got_split(self._split_gen, described)
        self.loaded.emit()

    def _show_loaded(self, report: Any, stats: dict[str, Any]) -> None:
        self.loading = False
        self.progress.finish()
        self.summary.setText(f"{report.users:,} users · {report.items:,} items · {report.interactions:,} "
                             f"interactions · density {report.density:.3%}")
        self.report_text.setPlainText("\n".join(report.summary_lines()))
        warn = list(report.warnings)
        if warn:
            self.message.warning("Loaded with warnings: " + "; ".join(warn))
        else:
            self.message.ok(f"Loaded {report.interactions:,} interactions in {report.seconds:.2f} s.")
        self.state.split_files = None
        self.stats.show_stats(stats)

    def _failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._gen:
            return
        self.loading = False
        self.progress.finish()
        self.summary.setText("—")
        self.message.error(error_text(exc))
