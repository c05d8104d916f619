"""Results page: a run's test metrics, metric against K, breakdown by activity, and a user inspector."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.plots.live_curves import PALETTE
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, title

BEYOND = ("coverage", "gini", "novelty", "arp")


def _table(model: FrameModel) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.horizontalHeader().setStretchLastSection(True)
    v.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    return v


class ResultsPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.busy = False
        self.k_result: dict[str, Any] | None = None
        self.inspect_result: dict[str, Any] | None = None
        root = QVBoxLayout(self)
        root.addWidget(title("Results", "How well a run ranks held-out items, beyond plain accuracy too, "
                             "and what it recommends to a given user."))
        self.picker = RunPicker(state)
        self.picker.run_selected.connect(self.show_run)
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
        self.eval_btn.setToolTip("Re-rank the test users with the best checkpoint (in the background).")
        self.eval_btn.clicked.connect(self.evaluate_k)
        kb.addWidget(self.eval_btn)
        kb.addStretch(1)
        kl.addLayout(kb)
        ks = QSplitter(Qt.Orientation.Horizontal)
        self.k_plot = pg.PlotWidget(title="Metric @ K")
        self.k_plot.setLabel("bottom", "K")
        self.k_plot.setLogMode(x=True, y=False)
        self.k_plot.addLegend(offset=(10, 10))
        self.k_plot.showGrid(x=True, y=True, alpha=0.2)
        ks.addWidget(self.k_plot)
        self.activity_model = FrameModel()
        ks.addWidget(_table(self.activity_model))
        kl.addWidget(ks, 1)
        top.addWidget(kbox)
        top.setSizes([380, 800])

        ibox = QGroupBox("User inspector")
        il = QVBoxLayout(ibox)
        ib = QHBoxLayout()
        ib.addWidget(QLabel("User id:"))
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("raw user id as in the file")
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
        ib.addWidget(self.inspect_info, 1)
        il.addLayout(ib)
        isplit = QSplitter(Qt.Orientation.Horizontal)
        self.history_model = FrameModel()
        self.recs_model = FrameModel()
        hw, rw = QWidget(), QWidget()
        for w, label, model in ((hw, "History (known interactions)", self.history_model),
                                (rw, "Recommendations (seen items excluded; in_test = a held-out hit)",
                                 self.recs_model)):
            lay = QVBoxLayout(w)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(QLabel(label))
            lay.addWidget(_table(model))
            isplit.addWidget(w)
        il.addWidget(isplit, 1)

        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(ibox)
        main.setSizes([380, 420])
        root.addWidget(main, 1)

    # --- run metrics -----------------------------------------------------------------------------
    def show_run(self, run_id: str) -> None:
        self.state.set_current_run(run_id)
        row = next((r for r in self.state.runs if r["id"] == run_id), None)
        if row is None:
            return
        test, valid = row.get("test") or {}, row.get("valid") or {}
        recs = []
        for k, v in test.items():
            base = k.split("@")[0]
            recs.append({"metric": k, "kind": "beyond accuracy" if base in BEYOND else "accuracy",
                         "test": v, "validation (best epoch)": valid.get(k)})
        self.metrics_model.set_frame(pd.DataFrame(recs, columns=["metric", "kind", "test",
                                                                "validation (best epoch)"]))
        self.metrics_view.resizeColumnsToContents()
        self.run_info.setText(f"{row['model']} · {row['status']} · best epoch {row.get('best_epoch')} of "
                              f"{row.get('epochs_run')} · {row.get('device')} · split {row.get('split')}"
                              + (f"\n{row['error']}" if row.get("error") else ""))
        if self.k_result is not None and self.k_result.get("run_id") != run_id:
            self.k_plot.clear()
            self.activity_model.set_frame(None)
            self.k_result = None

    def evaluate_k(self) -> None:
        run_id = self.picker.current()
        if not run_id:
            self.message.error("Choose a finished run first.")
            return
        self.eval_btn.setEnabled(False)
        self.message.show_message("Evaluating at K = 1, 5, 10, 20, 50…")
        run_in_thread(services.metric_vs_k, self.state.workspace, run_id,
                      on_result=lambda r, rid=run_id: self._got_k(rid, r), on_error=self._failed,
                      on_finished=lambda: self.eval_btn.setEnabled(True))

    def _got_k(self, run_id: str, r: dict[str, Any]) -> None:
        r["run_id"] = run_id
        self.k_result = r
        self.message.ok(f"Evaluated {r['users']:,} test users ({r['protocol']}).")
        self.k_plot.clear()
        ks = r["ks"]
        for i, (name, vals) in enumerate(r["curves"].items()):
            self.k_plot.plot(ks, vals, name=name, pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2), symbol="o",
                             symbolSize=6, symbolBrush=PALETTE[i % len(PALETTE)])
        rows = []
        for metric, groups in r["by_activity"].items():
            for g in ("cold", "warm", "heavy"):
                if g in groups:
                    rows.append({"metric": metric, "users": g, "n": groups[g]["users"], "mean": groups[g]["mean"]})
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame = frame[frame["metric"].str.endswith("@10") | ~frame["metric"].str.contains("@")]
        self.activity_model.set_frame(frame)

    # --- inspector -------------------------------------------------------------------------------
    def inspect(self) -> None:
        run_id = self.picker.current()
        user = self.user_edit.text().strip()
        if not run_id or not user:
            self.message.error("Choose a run and type a user id.")
            return
        self.inspect_btn.setEnabled(False)
        self.inspect_info.setText("Loading…")
        run_in_thread(services.inspect_user, self.state.workspace, run_id, user, self.top_n.value(),
                      on_result=self._got_user, on_error=self._failed,
                      on_finished=lambda: self.inspect_btn.setEnabled(True))

    def _got_user(self, r: dict[str, Any]) -> None:
        self.inspect_result = r
        self.history_model.set_frame(r["history"])
        self.recs_model.set_frame(r["recs"])
        hits = int((r["recs"]["in_test"] == "yes").sum()) if "in_test" in r["recs"] else 0
        self.inspect_info.setText(f"User {r['user']}: {r['n_history']} known interactions; "
                                  f"{hits} of the top {len(r['recs'])} are held-out test items.")
        self.message.clear_message()

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.inspect_info.setText("")
        self.message.error(error_text(exc))
