"""Compare tab "Significance": per-user paired tests between two runs, as a table and a sentence."""

from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

from recsys_gui.gui import services
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.panels.compare.verdict import ALPHA, verdict
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message


class SignificanceTab(QWidget):
    """Runs the core's paired tests in a worker; the page checks the two runs and calls ``start``."""

    # the button only asks: which two runs to test is the page's selection, checked there
    test_requested = Signal()

    def __init__(self, state: Any, message: Message) -> None:
        super().__init__()
        self.state = state
        self.message = message
        self.result: dict[str, Any] | None = None
        self.tests: dict[str, Any] = {}
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.run_button = QPushButton("Paired significance test")
        self.run_button.setToolTip(
            "Re-evaluates both runs per user (in the background) and runs a paired "
            "t-test and a Wilcoxon signed-rank test on every ranking metric."
        )
        self.run_button.clicked.connect(self.test_requested)
        row.addWidget(self.run_button)
        row.addWidget(QLabel("Verdict for"))
        self.metric_combo = QComboBox()
        self.metric_combo.currentIndexChanged.connect(self._show_verdict)
        row.addWidget(self.metric_combo)
        self.pair_label = QLabel("Select two runs trained on the same split: the first is the reference.")
        self.pair_label.setProperty("role", "hint")
        row.addWidget(self.pair_label, 1)
        lay.addLayout(row)
        self.verdict_label = QLabel("")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict_label.setObjectName("verdict")
        lay.addWidget(self.verdict_label)
        self.table_model = FrameModel()
        self.table_view = QTableView()
        self.table_view.setModel(self.table_model)
        self.table_view.verticalHeader().setVisible(False)
        self.table_view.setAlternatingRowColors(True)
        lay.addWidget(self.table_view, 1)
        note = QLabel(
            f"p < {ALPHA} means a difference this large would rarely appear by chance on "
            "these users. Both runs must use the same split (same data, protocol and seed)."
        )
        note.setProperty("role", "hint")
        note.setWordWrap(True)
        lay.addWidget(note)

    def show_pair(self, reference: dict[str, Any], other: dict[str, Any]) -> None:
        self.pair_label.setText(f"Reference {run_label(reference)} against {run_label(other)}.")

    def start(self, reference: dict[str, Any], other: dict[str, Any]) -> None:
        """Test ``other`` against ``reference`` (two run rows on the same split) in the background."""
        self.run_button.setEnabled(False)
        self.verdict_label.setText("Evaluating both runs per user…")
        self.message.show_message("Running paired tests in the background…")
        run_in_thread(
            services.paired_significance,
            self.state.workspace,
            reference["id"],
            other["id"],
            on_result=self._got_tests,
            on_error=self._failed,
            on_finished=lambda: self.run_button.setEnabled(True),
        )

    def _got_tests(self, res: dict[str, Any]) -> None:
        self.result = res
        self.tests = res["comparison"]
        rows = []
        for metric, t in self.tests.items():
            rows.append(
                {
                    "metric": metric,
                    "reference": t["mean_a"],
                    "other": t["mean_b"],
                    "other − reference": -t["mean_diff"],
                    "t-test p": t["t_p"],
                    "Wilcoxon p": t["wilcoxon_p"],
                    "users": t["users"],
                    "significant": bool(t["t_p"] < ALPHA and t["wilcoxon_p"] < ALPHA),
                }
            )
        frame = pd.DataFrame(rows)
        self.table_model.set_frame(frame, highlight=frame["significant"].to_numpy() if len(frame) else None)
        self.table_view.resizeColumnsToContents()
        cur = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(list(self.tests))
        i = self.metric_combo.findText(cur if cur in self.tests else "ndcg@10")
        self.metric_combo.setCurrentIndex(max(i, 0))
        self.metric_combo.blockSignals(False)
        self._show_verdict()
        self.message.ok("Paired tests done.")

    def _show_verdict(self) -> None:
        res = self.result
        metric = self.metric_combo.currentText()
        if not res or metric not in self.tests:
            return
        by_id = {r["id"]: r for r in self.state.runs}
        na = run_label(by_id[res["run_a"]]) if res["run_a"] in by_id else res["run_a"]
        nb = run_label(by_id[res["run_b"]]) if res["run_b"] in by_id else res["run_b"]
        self.verdict_label.setText(verdict(metric, na, nb, self.tests[metric]))

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))
        self.verdict_label.setText("")
