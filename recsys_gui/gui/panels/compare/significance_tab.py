"""Compare tab "Significance": paired tests between two runs (every metric, re-evaluated), and a Holm matrix.

The matrix tests every pair of the selected runs on one metric from the per-user values each run
stored, Holm-corrects the p-values over all the pairs, and says which differences survive. Runs that
differ only in the seed are one row of the matrix (paired seed by seed, users averaged over seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.reporting import multiple_comparisons
from recsys_gui.gui import services
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.panels.compare.verdict import ALPHA, matrix_verdict, verdict
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message


class SignificanceTab(QWidget):
    """Runs the core's paired tests in a worker; the page checks the two runs and calls ``start``."""

    # the button only asks: which two runs to test is the page's selection, checked there
    test_requested = Signal()

    def __init__(
        self, state: Any, message: Message, selected_ids: Callable[[], list[str]] | None = None
    ) -> None:
        super().__init__()
        self.state = state
        self.message = message
        self._selected_ids = selected_ids
        self.result: dict[str, Any] | None = None
        self.tests: dict[str, Any] = {}
        self.matrix: Any = None
        outer = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Vertical)
        outer.addWidget(split)
        split.addWidget(self._build_matrix_box())
        pair_box = QWidget()
        split.addWidget(pair_box)
        split.setSizes([330, 300])
        lay = QVBoxLayout(pair_box)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.run_button = QPushButton("Test the first two, every metric")
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

    # --- the Holm matrix over all selected runs --------------------------------------------------
    def _build_matrix_box(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.matrix_button = QPushButton("Test all selected runs (Holm)")
        self.matrix_button.setProperty("primary", True)
        self.matrix_button.setToolTip(
            "Paired t-test and Wilcoxon between every pair of the selected runs, on the per-user "
            "values each run stored, with Holm's correction over all the pairs."
        )
        self.matrix_button.clicked.connect(self.test_selected)
        row.addWidget(self.matrix_button)
        row.addWidget(QLabel("on"))
        self.matrix_metric = QComboBox()
        self.matrix_metric.setMinimumWidth(110)
        self.matrix_metric.activated.connect(lambda _i: self.test_selected())
        row.addWidget(self.matrix_metric)
        row.addStretch(1)
        lay.addLayout(row)
        self.matrix_verdict = QLabel("")
        self.matrix_verdict.setWordWrap(True)
        self.matrix_verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.matrix_verdict.setObjectName("verdict")
        lay.addWidget(self.matrix_verdict)
        self.matrix_table = QTableWidget()
        self.matrix_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.matrix_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.matrix_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.matrix_table, 1)
        note = QLabel(
            f"Each cell: the row's mean minus the column's over the users both ranked, and the larger of "
            f"the t-test's and Wilcoxon's p-values after Holm's correction over all pairs; ✱ marks a "
            f"difference that survives at α = {ALPHA}. Runs that differ only in the seed count as one, "
            "paired seed by seed."
        )
        note.setProperty("role", "hint")
        note.setWordWrap(True)
        lay.addWidget(note)
        return box

    def selected_rows(self) -> list[dict[str, Any]]:
        """The selected runs: ``selected_ids`` handed in, else that of the page holding this tab."""
        provider = self._selected_ids
        parent = self.parentWidget()
        while provider is None and parent is not None:
            provider = getattr(parent, "selected_ids", None)
            parent = parent.parentWidget()
        ids = provider() if provider else []
        by_id = {r["id"]: r for r in self.state.runs}
        return [by_id[i] for i in ids if i in by_id]

    def test_selected(self) -> None:
        """Holm matrix of the selected runs on the chosen metric, computed in the background."""
        rows = self.selected_rows()
        arms = multiple_comparisons.arms_of(rows, run_label)
        if len(arms) < 2:
            self.message.error("Select at least two runs (or two models' seeds) to test them pairwise.")
            return
        metrics = [k for k in (rows[0].get("test") or {}) if all(k in (r.get("test") or {}) for r in rows)]
        metric = self.matrix_metric.currentText() or ("ndcg@10" if "ndcg@10" in metrics else "")
        self.matrix_metric.blockSignals(True)
        self.matrix_metric.clear()
        self.matrix_metric.addItems(metrics)
        self.matrix_metric.setCurrentIndex(max(self.matrix_metric.findText(metric), 0))
        self.matrix_metric.blockSignals(False)
        metric = self.matrix_metric.currentText()
        if not metric:
            self.message.error("The selected runs share no test metric.")
            return
        self.matrix_button.setEnabled(False)
        self.matrix_verdict.setText(f"Testing {len(arms)} runs pairwise on {metric}…")
        run_in_thread(
            _matrix,
            self.state.workspace,
            arms,
            metric,
            on_result=self._got_matrix,
            on_error=self._failed,
            on_finished=lambda: self.matrix_button.setEnabled(True),
        )

    def _got_matrix(self, matrix: Any) -> None:
        self.matrix = matrix
        names = [a.label for a in matrix.arms]
        t = self.matrix_table
        t.clear()
        t.setRowCount(len(names))
        t.setColumnCount(len(names))
        t.setHorizontalHeaderLabels(names)
        t.setVerticalHeaderLabels(names)
        good = QBrush(QColor(46, 160, 67, 70))
        for i in range(len(names)):
            for j in range(len(names)):
                c = matrix.cell(i, j)
                item = QTableWidgetItem("–" if c is None else _cell_text(c))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if c is not None:
                    item.setToolTip(_cell_tip(c, names))
                    if c.survives():
                        item.setBackground(good)
                t.setItem(i, j, item)
        self.matrix_verdict.setText(matrix_verdict(matrix))
        self.message.ok(f"Tested {len(matrix.cells)} pairs with Holm's correction.")


def _matrix(workspace: str, arms: list[Any], metric: str) -> Any:
    """Worker: load the runs' stored per-user values and test every pair (Qt-free core)."""
    runs = [r for a in arms for r in a.runs]
    per_user = multiple_comparisons.load_per_user(workspace, runs)
    return multiple_comparisons.pairwise_matrix(per_user, arms, metric)


def _cell_text(c: Any) -> str:
    if c.reason:
        return f"n/a\n{c.reason}"
    mark = " ✱" if c.survives() else ""
    return f"{c.diff:+.4f}{mark}\np = {c.p_holm:.3g}"


def _cell_tip(c: Any, names: list[str]) -> str:
    head = f"{names[c.a]} − {names[c.b]}"
    if c.reason:
        return f"{head}: not tested ({c.reason})"
    seeds = f", {c.seeds} seeds paired" if c.seeds > 1 else ""
    return (
        f"{head} = {c.mean_a:.4f} − {c.mean_b:.4f} = {c.diff:+.4f} over {c.users:,} users{seeds}\n"
        f"t-test p = {c.t_p:.3g} (Holm {c.t_p_holm:.3g}); Wilcoxon p = {c.wilcoxon_p:.3g} "
        f"(Holm {c.wilcoxon_p_holm:.3g})"
    )
