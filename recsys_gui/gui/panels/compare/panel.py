"""The Compare page: every run in the workspace in a filterable table, and four tabs on the selected runs.

The run list is also where runs are kept in order: rename (double-click the name), tags and a note
(context menu), a text and a tag filter, a reproducible bundle and an HTML report of the selection.
Every store write runs in a worker (run_notes) and the list is then reloaded from the store.

Selecting runs overlays their curves, draws their test metrics and places them on the accuracy vs
coverage plot; the significance tab tests the first two selected runs against each other. The page
owns the run table and the selection; each tab (one module each) only draws what it is handed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.panels.compare import run_notes
from recsys_gui.gui.panels.compare.curves_tab import CurvesTab
from recsys_gui.gui.panels.compare.metrics_at_k_tab import MetricsAtKTab
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.panels.compare.significance_tab import SignificanceTab
from recsys_gui.gui.panels.compare.tradeoff_tab import TradeoffTab
from recsys_gui.gui.qtmodels.runs_model import BASE_COLUMNS, RunsModel, SortRole
from recsys_gui.gui.report_action import ReportSaver
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, WhenShown, title

ALL_TAGS = "All tags"
FILTERED_FIELDS = ("id", "name", "model", "status", "split", "note")


class RunsFilter(QSortFilterProxyModel):
    """Sorts by raw values; keeps runs whose id, name, tags, model, status, split or note hold the text
    (any case) and that carry the chosen tag."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.text = ""
        self.tag = ""

    def set_filter(self, text: str, tag: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+: invalidateFilter is deprecated there
            self.beginFilterChange()
            self.text, self.tag = text.strip().lower(), tag
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.text, self.tag = text.strip().lower(), tag
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        run = self.sourceModel().run(source_row)
        if run is None:
            return False
        tags = run.get("tags") or []
        if self.tag and self.tag not in tags:
            return False
        words = [str(run.get(k) or "") for k in FILTERED_FIELDS] + list(tags)
        return not self.text or self.text in " ".join(words).lower()


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
        self.filter_edit.setPlaceholderText("Filter runs: name, id, tag, model, status, note…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(320)
        bar.addWidget(self.filter_edit)
        self.tag_combo = QComboBox()
        self.tag_combo.setToolTip("Show only the runs with this tag")
        self.tag_combo.setMinimumContentsLength(12)
        self.tag_combo.addItem(ALL_TAGS)
        bar.addWidget(self.tag_combo)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(state.refresh_runs)
        self.compare_btn = QPushButton("Compare selected")
        self.compare_btn.setProperty("primary", True)
        self.compare_btn.clicked.connect(self.compare)
        self.report_btn = QPushButton("Save report…")
        self.report_btn.setToolTip("One HTML file about the selected runs, to keep or send")
        self.report_btn.clicked.connect(lambda: self.save_report())
        self.delete_btn = QPushButton("Delete run…")
        self.delete_btn.clicked.connect(self.delete_selected)
        for w in (self.refresh_btn, self.compare_btn, self.report_btn, self.delete_btn):
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
        self.tag_combo.currentIndexChanged.connect(self._filter_changed)
        self.runs_model.rename_requested.connect(self.rename)
        self.report_saver = ReportSaver(self, state, self.selected_ids)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(BASE_COLUMNS.index("created"), Qt.SortOrder.DescendingOrder)  # newest first
        self.table.verticalHeader().setVisible(False)
        # Double-click on the name renames (the model's editable cell); elsewhere it opens the run.
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.doubleClicked.connect(self._open_run)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        split.addWidget(self.table)

        self.curves_tab = CurvesTab(state, self.message, self.selected_ids)
        self.metrics_tab = MetricsAtKTab()
        self.tradeoff_tab = TradeoffTab()
        self.significance_tab = SignificanceTab(state, self.message, self.selected_ids)
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
        self._fill_tags()
        self.table.resizeColumnsToContents()
        for col in (0, 1):  # long names and tag lists stay readable without pushing the metrics away
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), 260))
        if self.state.runs_error:
            self.message.error(self.state.runs_error)
        self.select_runs(keep)
        self._update_count()
        self.tradeoff_tab.set_metric_names(self.runs_model.metric_names)
        self._show_tradeoff()

    def _fill_tags(self) -> None:
        chosen = self.tag_combo.currentText()
        tags = sorted({t for r in self.state.runs for t in (r.get("tags") or [])})
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItems([ALL_TAGS, *tags])
        self.tag_combo.setCurrentIndex(max(0, self.tag_combo.findText(chosen)))
        self.tag_combo.blockSignals(False)
        self.tag_combo.setEnabled(bool(tags))
        self._filter_changed()

    def _filter_changed(self, *_: Any) -> None:
        tag = self.tag_combo.currentText()
        self.proxy.set_filter(self.filter_edit.text(), "" if tag == ALL_TAGS else tag)
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
        if index.column() == 0:  # the name: being renamed
            return
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

    # --- keeping runs in order: names, tags, notes, bundles, reports -----------------------------
    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.table.selectRow(index.row())
        ids = self.selected_ids()
        if not ids:
            return
        menu = self.run_menu(ids)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    def run_menu(self, ids: list[str]) -> QMenu:
        """The run list's context menu for the selected runs ``ids``."""
        menu = QMenu(self)
        one = len(ids) == 1
        for text, slot, enabled in (
            ("Open", lambda: self.state.set_current_run(ids[0]), one),
            ("Rename…", lambda: self.start_rename(ids[0]), one),
            ("Tags and note…", lambda: self.edit_tags_and_note(ids[0]), one),
            (None, None, True),
            ("Bundle for reproduction…", lambda: self.bundle(ids[0]), one),
            ("Save report for selected…", lambda: self.save_report(ids), True),
            (None, None, True),
            ("Delete…", self.delete_selected, True),
        ):
            if text is None:
                menu.addSeparator()
                continue
            action = menu.addAction(text)
            action.triggered.connect(slot)
            action.setEnabled(enabled)
        return menu

    def start_rename(self, run_id: str) -> None:
        """Open the name cell's editor; what is typed reaches ``rename`` through the model."""
        idx = self.proxy.mapFromSource(self.runs_model.index(self.runs_model.row_of(run_id), 0))
        if idx.isValid():
            self.table.setCurrentIndex(idx)
            self.table.edit(idx)

    def _write(self, fn: Any, *args: Any, done: str) -> None:
        """A store write in a worker; the list is reloaded from the store afterwards."""

        def ok(_: Any) -> None:
            self.message.ok(done)
            self.state.refresh_runs()

        run_in_thread(fn, self.state.workspace, *args, on_result=ok,
                      on_error=lambda exc, _tb: self.message.error(error_text(exc)))

    def rename(self, run_id: str, name: str) -> None:
        self._write(run_notes.rename_run, run_id, name, done=f"Renamed to '{name.strip()}'.")

    def edit_tags_and_note(self, run_id: str) -> None:
        run = next((r for r in self.state.runs if r["id"] == run_id), None)
        if run is None:
            return
        answer = run_notes.TagsNoteDialog.ask(run, self)
        if answer is not None:
            tags, note = answer
            self._write(run_notes.save_tags_and_note, run_id, tags, note,
                        done=f"Saved the tags and note of {run_label(run)}.")

    def bundle(self, run_id: str) -> None:
        """Write the run's reproducible zip (core/bundle) in a worker, after asking where."""
        run = next((r for r in self.state.runs if r["id"] == run_id), {"id": run_id})
        default = Path.home() / f"{run.get('name') or run_id}.zip"
        choice = run_notes.BundleDialog.ask(default, self)
        if choice is None or not run_notes.confirm_overwrite(self, choice.path):
            return
        self.message.show_message(f"Bundling {run_label(run)}…")
        run_in_thread(
            run_notes.write_bundle, self.state.workspace, run_id, str(choice.path), choice.with_data,
            choice.with_checkpoint, choice.path.exists(),
            on_result=lambda info: self.message.ok(f"Wrote {info.path} ({info.bytes / 1024:,.0f} KB)."),
            on_error=lambda exc, _tb: self.message.error(error_text(exc)),
        )

    def save_report(self, run_ids: list[str] | None = None) -> bool:
        """File → Save report… and the button: an HTML report of ``run_ids`` or the selection."""
        return self.report_saver.start(run_ids)
