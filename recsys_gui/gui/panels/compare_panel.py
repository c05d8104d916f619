"""Compare page: every run in the workspace; pick two or more for metrics side by side and paired tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.qtmodels.runs_model import RunsModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, title


class ComparePanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tests: dict[str, Any] = {}
        root = QVBoxLayout(self)
        root.addWidget(title("Compare", "All runs in the workspace. Select two or more (Ctrl/Shift-click) to "
                             "put their test metrics side by side and test whether the differences are real."))
        bar = QHBoxLayout()
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(state.refresh_runs)
        self.compare_btn = QPushButton("Compare selected")
        self.compare_btn.setProperty("primary", True)
        self.compare_btn.clicked.connect(self.compare)
        self.signif_btn = QPushButton("Paired significance tests")
        self.signif_btn.setToolTip("Re-evaluates the runs per user (in the background) and runs paired t and "
                                   "Wilcoxon tests of each selected run against the first one.")
        self.signif_btn.clicked.connect(self.significance)
        self.delete_btn = QPushButton("Delete run…")
        self.delete_btn.clicked.connect(self.delete_selected)
        for w in (self.refresh_btn, self.compare_btn, self.signif_btn, self.delete_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)
        split = QSplitter(Qt.Orientation.Vertical)
        self.runs_model = RunsModel(self)
        self.table = QTableView()
        self.table.setModel(self.runs_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(False)
        self.table.doubleClicked.connect(self._open_run)
        split.addWidget(self.table)
        lower = QSplitter(Qt.Orientation.Horizontal)
        g1 = QGroupBox("Side by side (test)")
        l1 = QVBoxLayout(g1)
        self.side_model = FrameModel()
        self.side_view = QTableView()
        self.side_view.setModel(self.side_model)
        l1.addWidget(self.side_view)
        g2 = QGroupBox("Paired tests against the first selected run")
        l2 = QVBoxLayout(g2)
        self.sig_model = FrameModel()
        self.sig_view = QTableView()
        self.sig_view.setModel(self.sig_model)
        l2.addWidget(self.sig_view)
        self.sig_note = QLabel("p < 0.05 means the difference is unlikely to be chance on these users.")
        self.sig_note.setProperty("role", "hint")
        l2.addWidget(self.sig_note)
        lower.addWidget(g1)
        lower.addWidget(g2)
        lower.setSizes([650, 550])
        split.addWidget(lower)
        split.setSizes([380, 380])
        root.addWidget(split, 1)
        state.runs_changed.connect(self._runs_changed)
        self._runs_changed()

    def _runs_changed(self) -> None:
        keep = self.selected_ids()
        self.runs_model.set_runs(self.state.runs)
        self.table.resizeColumnsToContents()
        if self.state.runs_error:
            self.message.error(self.state.runs_error)
        sel = self.table.selectionModel()
        for rid in keep:
            r = self.runs_model.row_of(rid)
            if r >= 0:
                sel.select(self.runs_model.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [rid for rid in (self.runs_model.run_id(r) for r in rows) if rid]

    def select_runs(self, run_ids: list[str]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        for rid in run_ids:
            r = self.runs_model.row_of(rid)
            if r >= 0:
                sel.select(self.runs_model.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def _open_run(self, index: Any) -> None:
        rid = self.runs_model.run_id(index.row())
        if rid:
            self.state.set_current_run(rid)

    def compare(self) -> bool:
        ids = self.selected_ids()
        if len(ids) < 2:
            self.message.error("Select at least two runs (Ctrl-click) to compare.")
            return False
        rows = {r["id"]: r for r in self.state.runs}
        keys: list[str] = []
        for rid in ids:
            for k in rows[rid].get("test") or {}:
                if k not in keys:
                    keys.append(k)
        table = {"metric": keys}
        for rid in ids:
            r = rows[rid]
            name = f"{r['model']} · {(r.get('name') or rid)[-14:]}"
            table[name] = [(r.get("test") or {}).get(k) for k in keys]
        self.side_model.set_frame(pd.DataFrame(table))
        self.side_view.resizeColumnsToContents()
        self.message.clear_message()
        return True

    def significance(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2:
            self.message.error("Select at least two runs (Ctrl-click); the first is the reference.")
            return
        self.compare()
        self.signif_btn.setEnabled(False)
        self.message.show_message("Evaluating per user for paired tests…")
        ref, others = ids[0], ids[1:]

        def job(workspace: str) -> list[dict[str, Any]]:
            out = []
            for other in others:
                res = services.evaluate(workspace, ref, compare_with=other)
                for metric, t in res.get("comparison", {}).items():
                    out.append({"metric": metric, "vs run": other, "mean (first)": t["mean_a"],
                                "mean (other)": t["mean_b"], "difference": t["mean_diff"],
                                "t-test p": t["t_p"], "Wilcoxon p": t["wilcoxon_p"], "users": t["users"]})
            return out

        run_in_thread(job, self.state.workspace, on_result=self._got_tests, on_error=self._failed,
                      on_finished=lambda: self.signif_btn.setEnabled(True))

    def _got_tests(self, rows: list[dict[str, Any]]) -> None:
        self.sig_model.set_frame(pd.DataFrame(rows))
        self.sig_view.resizeColumnsToContents()
        self.message.ok("Paired tests done.")

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self.message.error("Select the runs to delete.")
            return
        ans = QMessageBox.question(self, "Delete runs", f"Delete {len(ids)} run(s) with their checkpoints? "
                                   "This cannot be undone.")
        if ans != QMessageBox.StandardButton.Yes:
            return

        def job(workspace: str) -> None:
            from recsys_gui.core.store.run_store import RunStore

            store = RunStore(workspace)
            try:
                for rid in ids:
                    store.delete_run(rid)
            finally:
                store.close()

        run_in_thread(job, self.state.workspace, on_result=lambda _: self.state.refresh_runs(),
                      on_error=self._failed)
