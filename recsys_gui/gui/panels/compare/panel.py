"""The Compare page: every run in the workspace in a filterable table, and four tabs on the selected runs.

Selecting runs overlays their curves, draws their test metrics and places them on the accuracy vs
coverage plot; the significance tab tests the first two selected runs against each other. The page
owns the run table and the selection; each tab (one module each) only draws what it is handed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.panels.compare.curves_tab import CurvesTab
from recsys_gui.gui.panels.compare.metrics_at_k_tab import MetricsAtKTab
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.panels.compare.significance_tab import SignificanceTab
from recsys_gui.gui.panels.compare.tradeoff_tab import TradeoffTab
from recsys_gui.gui.qtmodels.runs_model import RunsModel, SortRole
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, WhenShown, title


class RunsFilter(QSortFilterProxyModel):
    """Sorts by raw values; the filter text must appear in one of the text columns (any case)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)


class ComparePanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "Compare",
                "Every run in the workspace. Select runs (Ctrl/Shift-click) to overlay "
                "their curves, compare their metrics, and test whether a difference is real.",
            )
        )
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter runs: model, name, status, split…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(320)
        bar.addWidget(self.filter_edit)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(state.refresh_runs)
        self.compare_btn = QPushButton("Compare selected")
        self.compare_btn.setProperty("primary", True)
        self.compare_btn.clicked.connect(self.compare)
        self.delete_btn = QPushButton("Delete run…")
        self.delete_btn.clicked.connect(self.delete_selected)
        for w in (self.refresh_btn, self.compare_btn, self.delete_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "hint")
        bar.addWidget(self.count_label)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Vertical)
        self.runs_model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.runs_model)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.verticalHeader().setVisible(False)
        self.table.doubleClicked.connect(self._open_run)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        split.addWidget(self.table)

        self.curves_tab = CurvesTab(state, self.message, self.selected_ids)
        self.metrics_tab = MetricsAtKTab()
        self.tradeoff_tab = TradeoffTab()
        self.significance_tab = SignificanceTab(state, self.message)
        self.significance_tab.test_requested.connect(self.significance)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves_tab, "Curves")
        self.tabs.addTab(self.metrics_tab, "Metrics at K")
        self.tabs.addTab(self.tradeoff_tab, "Accuracy vs coverage")
        self.tabs.addTab(self.significance_tab, "Significance")
        split.addWidget(self.tabs)
        split.setSizes([300, 480])
        root.addWidget(split, 1)
        state.runs_changed.connect(WhenShown(self, self._runs_changed))
        self._runs_changed()

    # --- the run table and its selection ---------------------------------------------------------
    def _runs_changed(self) -> None:
        keep = self.selected_ids()
        self.runs_model.set_runs(self.state.runs)
        self.table.resizeColumnsToContents()
        if self.state.runs_error:
            self.message.error(self.state.runs_error)
        self.select_runs(keep)
        self._update_count()
        self.tradeoff_tab.set_metric_names(self.runs_model.metric_names)
        self._show_tradeoff()

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()
        self._show_tradeoff()

    def _update_count(self) -> None:
        n, total = self.proxy.rowCount(), self.runs_model.rowCount()
        self.count_label.setText(f"{n} of {total} runs" if n != total else f"{total} runs")

    def _run_id_at(self, proxy_row: int) -> str | None:
        return self.runs_model.run_id(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row())

    def visible_run_ids(self) -> list[str]:
        """Run ids in the table as shown (filtered and sorted)."""
        ids = (self._run_id_at(r) for r in range(self.proxy.rowCount()))
        return [rid for rid in ids if rid]

    def selected_ids(self) -> list[str]:
        """Selected run ids, top to bottom as the table shows them: the first is the reference."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = (self._run_id_at(r) for r in rows)
        return [rid for rid in ids if rid]

    def select_runs(self, run_ids: list[str]) -> None:
        sel = self.table.selectionModel()
        sel.clearSelection()
        for rid in run_ids:
            r = self.runs_model.row_of(rid)
            if r >= 0:
                idx = self.proxy.mapFromSource(self.runs_model.index(r, 0))
                if idx.isValid():
                    sel.select(idx, sel.SelectionFlag.Select | sel.SelectionFlag.Rows)

    def _open_run(self, index: Any) -> None:
        rid = self.runs_model.run_id(self.proxy.mapToSource(index).row())
        if rid:
            self.state.set_current_run(rid)

    def _rows(self, ids: list[str]) -> list[dict[str, Any]]:
        by_id = {r["id"]: r for r in self.state.runs}
        return [by_id[i] for i in ids if i in by_id]

    def _selection_changed(self, *_: Any) -> None:
        ids = self.selected_ids()
        if ids:
            self.compare(quiet=True)
        pair = self._rows(ids[:2])
        if len(pair) == 2:
            self.significance_tab.show_pair(*pair)

    def _show_tradeoff(self) -> None:
        self.tradeoff_tab.show_runs(self._rows(self.visible_run_ids()), self.selected_ids())

    # --- what the page does with the selected runs -----------------------------------------------
    def compare(self, quiet: bool = False) -> bool:
        """Side-by-side table, bars, trade-off plot and curves of the selected runs."""
        ids = self.selected_ids()
        if len(ids) < (1 if quiet else 2):
            if not quiet:
                self.message.error("Select at least two runs (Ctrl-click) to compare.")
            return False
        self.metrics_tab.show_runs(self._rows(ids))
        self._show_tradeoff()
        self.curves_tab.load(ids)
        if not quiet:
            self.message.clear_message()
        return True

    def significance(self) -> None:
        """Paired tests between the first two selected runs, once they are known to share a split."""
        ids = self.selected_ids()
        if len(ids) < 2:
            self.message.error("Select two runs (Ctrl-click); the first is the reference.")
            return
        a, b = self._rows(ids[:2])
        if len(ids) > 2:
            self.message.warning(f"Testing the first two selected runs: {run_label(a)} and {run_label(b)}.")
        same = a.get("split") == b.get("split") and (a.get("data_fingerprint") or "") == (
            b.get("data_fingerprint") or ""
        )
        if not same:
            self.message.error(
                f"{run_label(a)} and {run_label(b)} were not trained on the same split "
                f"({a.get('split')} vs {b.get('split')}); a paired test needs the same test users."
            )
            return
        self.tabs.setCurrentWidget(self.significance_tab)
        self.significance_tab.start(a, b)

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            self.message.error("Select the runs to delete.")
            return
        ans = QMessageBox.question(
            self, "Delete runs", f"Delete {len(ids)} run(s) with their checkpoints? This cannot be undone."
        )
        if ans != QMessageBox.StandardButton.Yes:
            return
        run_in_thread(
            services.delete_runs,
            self.state.workspace,
            ids,
            on_result=lambda _: self.state.refresh_runs(),
            on_error=lambda exc, _tb: self.message.error(error_text(exc)),
        )
