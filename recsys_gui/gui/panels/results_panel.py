"""Results page: a run's test metrics, metric against K, breakdown by activity, and a user inspector."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.training.events import shown_epoch
from recsys_gui.core.training.privacy import run_privacy
from recsys_gui.gui import services
from recsys_gui.gui.plots.axes import show_grid
from recsys_gui.gui.plots.live_curves import PALETTE
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.services import ACCURACY_CURVES, BEYOND
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, WhenShown, title

PLOTS = {
    "accuracy": "Accuracy (nDCG, recall, precision, F1, hit)",
    "coverage": "Catalogue coverage",
    "gini": "Gini of exposure (0 = even)",
    "novelty": "Novelty (bits)",
    "ild": "Intra-list diversity",
    "arp": "Average recommended popularity",
}
GROUPS = ("cold", "warm", "heavy")


def _table(model: FrameModel, stretch_column: int | None = None) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.verticalHeader().setDefaultSectionSize(24)
    v.horizontalHeader().setStretchLastSection(stretch_column is None)
    v.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    v.setWordWrap(False)
    return v


def _fit_columns(view: QTableView, stretch: str | None = None) -> None:
    """Columns fit their content; ``stretch`` (a column name, e.g. title) takes the spare width."""
    view.resizeColumnsToContents()
    model = view.model()
    header = view.horizontalHeader()
    for c in range(model.columnCount()):
        name = model.headerData(c, Qt.Orientation.Horizontal)
        header.setSectionResizeMode(
            c, QHeaderView.ResizeMode.Stretch if name == stretch else QHeaderView.ResizeMode.Interactive
        )


class ResultsPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.busy = False
        self.k_result: dict[str, Any] | None = None
        self.inspect_result: dict[str, Any] | None = None
        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "Results",
                "How well a run ranks held-out items, beyond plain accuracy too, "
                "and what it recommends to a given user.",
            )
        )
        self.picker = RunPicker(state)
        self.picker.run_selected.connect(WhenShown(self, self.show_run))
        root.addWidget(self.picker)
        self.message = Message()
        root.addWidget(self.message)

        top = QSplitter(Qt.Orientation.Horizontal)
        mbox = QGroupBox("Test metrics")
        ml = QVBoxLayout(mbox)
        self.metrics_model = FrameModel()
        self.metrics_view = _table(self.metrics_model)
        ml.addWidget(self.metrics_view)
        self.run_info = QLabel("")
        self.run_info.setWordWrap(True)
        self.run_info.setProperty("role", "hint")
        ml.addWidget(self.run_info)
        top.addWidget(mbox)

        kbox = QGroupBox("Metric against K, and by user activity")
        kl = QVBoxLayout(kbox)
        kb = QHBoxLayout()
        self.eval_btn = QPushButton("Evaluate at K = 1, 5, 10, 20, 50")
        self.eval_btn.setToolTip(
            "Re-rank the test users with the best checkpoint (in the background): "
            "accuracy and beyond-accuracy metrics at every K."
        )
        self.eval_btn.clicked.connect(self.evaluate_k)
        kb.addWidget(self.eval_btn)
        kb.addSpacing(12)
        kb.addWidget(QLabel("Plot"))
        self.k_metric = QComboBox()
        for key, text in PLOTS.items():
            self.k_metric.addItem(text, key)
        self.k_metric.currentIndexChanged.connect(self._draw_k)
        kb.addWidget(self.k_metric)
        kb.addStretch(1)
        kl.addLayout(kb)
        ks = QSplitter(Qt.Orientation.Horizontal)
        self.k_plot = pg.PlotWidget(title="Metric @ K")
        self.k_plot.setLabel("bottom", "K (cut-off)")
        self.k_plot.setLogMode(x=True, y=False)
        self.k_plot.addLegend(offset=(10, 10))
        show_grid(self.k_plot, 0.2)
        self.k_plot.setMenuEnabled(False)
        self.k_plot.getPlotItem().hideButtons()
        self._k_curves: dict[str, pg.PlotDataItem] = {}
        self._draw_k()  # builds the accuracy curves now, empty, legend hidden: not in the first result's slot
        ks.addWidget(self.k_plot)
        aw = QWidget()
        al = QVBoxLayout(aw)
        al.setContentsMargins(0, 0, 0, 0)
        self.activity_label = QLabel("By user activity (mean per user, @10)")
        self.activity_label.setProperty("role", "hint")
        self.activity_label.setWordWrap(True)
        al.addWidget(self.activity_label)
        self.activity_model = FrameModel()
        self.activity_view = _table(self.activity_model)
        al.addWidget(self.activity_view, 1)
        ks.addWidget(aw)
        ks.setSizes([470, 400])
        kl.addWidget(ks, 1)
        top.addWidget(kbox)
        top.setSizes([400, 800])

        ibox = QGroupBox("User inspector")
        il = QVBoxLayout(ibox)
        ib = QHBoxLayout()
        ib.addWidget(QLabel("User id"))
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("raw user id as in the file")
        self.user_edit.setMaximumWidth(220)
        self.user_edit.returnPressed.connect(self.inspect)
        ib.addWidget(self.user_edit)
        ib.addWidget(QLabel("Top"))
        self.top_n = QSpinBox()
        self.top_n.setRange(1, 500)
        self.top_n.setValue(20)
        ib.addWidget(self.top_n)
        self.inspect_btn = QPushButton("Show")
        self.inspect_btn.clicked.connect(self.inspect)
        ib.addWidget(self.inspect_btn)
        self.inspect_info = QLabel("")
        self.inspect_info.setWordWrap(True)
        ib.addWidget(self.inspect_info, 1)
        il.addLayout(ib)
        isplit = QSplitter(Qt.Orientation.Horizontal)
        self.history_model = FrameModel()
        self.recs_model = FrameModel()
        self.history_view = _table(self.history_model, stretch_column=1)
        self.recs_view = _table(self.recs_model, stretch_column=1)
        for view, label in (
            (self.history_view, "History: what the model knew (newest first)"),
            (self.recs_view, "Top-N (seen items excluded) · green rows are held-out test items"),
        ):
            w = QWidget()
            lay = QVBoxLayout(w)
            lay.setContentsMargins(0, 0, 0, 0)
            lab = QLabel(label)
            lab.setProperty("role", "hint")
            lay.addWidget(lab)
            lay.addWidget(view)
            isplit.addWidget(w)
        il.addWidget(isplit, 1)

        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(ibox)
        main.setSizes([390, 410])
        root.addWidget(main, 1)

    # --- run metrics -----------------------------------------------------------------------------
    def show_run(self, run_id: str) -> None:
        self.state.set_current_run(run_id)
        row = next((r for r in self.state.runs if r["id"] == run_id), None)
        if row is None:
            return
        if self.k_result is not None and self.k_result.get("run_id") != run_id:
            self.k_result = None
            self._draw_k()
            self.activity_model.set_frame(None)
        self._fill_metrics(row)
        self.run_info.setText(
            f"{row['model']} · {row['status']} · best epoch {shown_epoch(row.get('best_epoch'))} of "
            f"{row.get('epochs_run')} · {row.get('device')} · split {row.get('split')}"
            + _privacy_text(row)
            + (f"\n{row['error']}" if row.get("error") else "")
        )

    def _fill_metrics(self, row: dict[str, Any]) -> None:
        """Stored test metrics; after 'Evaluate', beyond-accuracy metrics the run did not store (ILD)."""
        test, valid = dict(row.get("test") or {}), row.get("valid") or {}
        extra = (
            (self.k_result or {}).get("metrics", {})
            if (self.k_result or {}).get("run_id") == row["id"]
            else {}
        )
        for k, v in extra.items():
            if k.endswith("@10") and k.split("@")[0] in BEYOND and k not in test:
                test[k] = v
        recs = []
        for k, v in test.items():
            base = k.split("@")[0]
            recs.append(
                {
                    "metric": k,
                    "kind": "beyond" if base in BEYOND else "accuracy",
                    "test": v,
                    "valid (best)": valid.get(k),
                }
            )
        self.metrics_model.set_frame(pd.DataFrame(recs, columns=["metric", "kind", "test", "valid (best)"]))
        self.metrics_view.resizeColumnsToContents()
        self.metrics_view.horizontalHeader().setStretchLastSection(True)

    def evaluate_k(self) -> None:
        run_id = self.picker.current()
        if not run_id:
            self.message.error("Choose a finished run first.")
            return
        self.eval_btn.setEnabled(False)
        self.message.show_message("Evaluating at K = 1, 5, 10, 20, 50…")
        run_in_thread(
            services.metric_vs_k,
            self.state.workspace,
            run_id,
            on_result=lambda r, rid=run_id: self._got_k(rid, r),
            on_error=self._failed,
            on_finished=lambda: self.eval_btn.setEnabled(True),
        )

    def _got_k(self, run_id: str, r: dict[str, Any]) -> None:
        r["run_id"] = run_id
        self.k_result = r
        self.message.ok(f"Evaluated {r['users']:,} test users ({r['protocol']}).")
        # Three widgets to refill: one per event-loop turn, so the window stays responsive between them.
        self._draw_k()
        QTimer.singleShot(0, self, lambda: self._fill_activity(r) if self.k_result is r else None)
        row = next((x for x in self.state.runs if x["id"] == run_id), None)
        if row is not None and self.picker.current() == run_id:
            QTimer.singleShot(0, self, lambda: self._fill_metrics(row) if self.k_result is r else None)

    def _draw_k(self) -> None:
        """Curves are kept and refilled: building a curve and its legend label costs more than
        its data (5-8 ms each, four of them for the accuracy plot). The accuracy curves are built
        with the page, so the first evaluation only fills them."""
        r = self.k_result
        key = self.k_metric.currentData()
        names = ACCURACY_CURVES if key == "accuracy" else (key,)
        for name in [n for n in self._k_curves if n not in names]:
            self.k_plot.removeItem(self._k_curves.pop(name))
        ks = [] if r is None else r["ks"]
        for i, name in enumerate(names):
            curve = self._k_curves.get(name)
            if curve is None:
                colour = PALETTE[i % len(PALETTE)]
                curve = self._k_curves[name] = self.k_plot.plot(
                    name=name, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7, symbolBrush=colour,
                    symbolPen=None)
            vals = [] if r is None else np.asarray(r["curves"].get(name, [np.nan] * len(ks)), dtype=float)
            curve.setData(ks, vals)
        self.k_plot.getPlotItem().legend.setVisible(r is not None)
        if r is None:
            return
        self.k_plot.setTitle(PLOTS[key])
        self.k_plot.getAxis("bottom").setTicks([[(np.log10(k), str(k)) for k in ks]])

    def _fill_activity(self, r: dict[str, Any]) -> None:
        """One row per metric @10, one column per activity group (mean, users in the header)."""
        rows, sizes = [], {}
        for metric, groups in r["by_activity"].items():
            if "@" in metric and not metric.endswith("@10"):
                continue
            rec: dict[str, Any] = {"metric": metric}
            for g in GROUPS:
                if g in groups:
                    rec[g] = groups[g]["mean"] if groups[g]["users"] else "no users"
                    sizes[g] = groups[g]["users"]
            rows.append(rec)
        frame = pd.DataFrame(rows)
        rename = {g: f"{g} ({sizes[g]:,})" for g in GROUPS if g in sizes}
        frame = frame.rename(columns=rename) if not frame.empty else None
        self.activity_model.set_frame(frame)
        self.activity_view.resizeColumnsToContents()
        self.activity_label.setText(
            "Mean per user @10 by activity (users per group): cold ≤ 5 training "
            "interactions, heavy = the most active 10 %."
        )

    # --- inspector -------------------------------------------------------------------------------
    def inspect(self) -> None:
        run_id = self.picker.current()
        user = self.user_edit.text().strip()
        if not run_id or not user:
            self.message.error("Choose a run and type a user id.")
            return
        self.inspect_btn.setEnabled(False)
        self.inspect_info.setText("Loading…")
        run_in_thread(
            services.inspect_user,
            self.state.workspace,
            run_id,
            user,
            self.top_n.value(),
            on_result=self._got_user,
            on_error=self._failed,
            on_finished=lambda: self.inspect_btn.setEnabled(True),
        )

    def _got_user(self, r: Any) -> None:
        self.inspect_result = {
            "user": r.user,
            "history": r.history,
            "recs": r.recs,
            "n_history": len(r.history),
            "hits": r.hits,
            "n_test": r.n_test,
        }
        self.history_model.set_frame(r.history)
        self.recs_model.set_frame(r.recs, highlight=r.recs["in_test"].to_numpy() if len(r.recs) else None)
        _fit_columns(self.history_view, "title" if "title" in r.history else None)
        _fit_columns(self.recs_view, "title" if "title" in r.recs else None)
        self.inspect_info.setText(
            f"User {r.user}: {len(r.history)} known interactions; {r.hits} of the top "
            f"{len(r.recs)} are among the {r.n_test} held-out test items."
        )
        self.message.clear_message()

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.inspect_info.setText("")
        self.message.error(error_text(exc))


def _privacy_text(row: dict[str, Any]) -> str:
    """" · private: ε spent …" for a run trained with differential privacy, else nothing."""
    privacy = run_privacy(row)
    if privacy is None:
        return ""
    return f" · private: ε spent {privacy['epsilon_spent']:.3g} (δ {privacy['delta']:.2g})"
