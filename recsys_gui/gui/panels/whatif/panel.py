"""The What-if page: "what would this run recommend to someone who liked these items, and why?".

The user picks a run, finds items by id or title and builds a basket (ratings optional); every change
asks for the top-N again, 150 ms after the last keystroke, in a worker, the newest request replacing
older ones (latest_only.py). Each row says why: the history items that contributed most (EASE,
ItemKNN) or the most similar ones (embedding models). "Compare runs" shows several runs' lists for
the same basket side by side; "Start from user" copies a known user's history into the basket.
Runs are loaded once per run id and kept (loaded_runs.py): switching back and forth costs nothing.
The "New item" tab (new_item.py) asks the other way round: who would get an item the run has never
seen, described by its features; it is disabled, with the reason, for a model that reads no features.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.panels.whatif import loaded_runs
from recsys_gui.gui.panels.whatif.basket import BasketTable
from recsys_gui.gui.panels.whatif.latest_only import LatestOnly
from recsys_gui.gui.panels.whatif.new_item import DESCRIBE, NewItemBox
from recsys_gui.gui.panels.whatif.result_column import ResultColumn
from recsys_gui.gui.panels.whatif.run_checklist import RunChecklist
from recsys_gui.gui.panels.whatif.search_box import ItemSearch
from recsys_gui.gui.threading import error_text
from recsys_gui.gui.widgets import Message, RunPicker, title

DEBOUNCE_MS = 150
EXPLAIN = 3  # reasons per recommended item
EMPTY_BASKET = "Add items to the basket to see what this run recommends for them."


def _section(text: str) -> QLabel:
    return QLabel(f"<b>{text}</b>")


class WhatIfPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.runs = loaded_runs.LoadedRuns(state.workspace)
        self._columns: dict[str, ResultColumn] = {}
        self._load_when_shown: str | None = None

        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "What-if",
                "Build a basket of items (ratings optional) and see what a run recommends to someone who "
                "liked them, and why. Tick several runs under “Compare runs” to see their lists side by "
                "side.",
            )
        )
        bar = QHBoxLayout()
        self.picker = RunPicker(state)
        bar.addWidget(self.picker, 1)
        self.top_label = QLabel("Top")
        bar.addWidget(self.top_label)
        self.top_spin = QSpinBox()
        self.top_spin.setRange(1, 200)
        self.top_spin.setValue(10)
        self.top_spin.setToolTip("How many items each list shows.")
        bar.addWidget(self.top_spin)
        self.compare_btn = QPushButton("Compare runs")
        self.compare_btn.setCheckable(True)
        self.compare_btn.setToolTip("Show two or more runs' lists for the same basket side by side.")
        bar.addWidget(self.compare_btn)
        self.busy_label = QLabel("")
        self.busy_label.setProperty("role", "hint")
        self.busy_label.setMinimumWidth(90)
        bar.addWidget(self.busy_label)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._basket_side())
        split.addWidget(self._results_side())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 900])
        self.modes = QTabWidget()
        self.modes.setDocumentMode(True)
        self.modes.addTab(split, "Basket")
        self.new_item = NewItemBox()
        self.modes.addTab(self.new_item, "New item")
        self.modes.setTabToolTip(1, "Who would get an item the run has never seen, described by its features "
                                    "(models trained with item features).")
        self.modes.currentChanged.connect(self._mode_changed)
        root.addWidget(self.modes, 1)

        self.loader = LatestOnly(self)
        self.loader.result.connect(self._run_loaded)
        self.loader.failed.connect(lambda exc, _tb: self._load_failed(exc))
        self.searcher = LatestOnly(self, delay_ms=DEBOUNCE_MS)
        self.searcher.result.connect(self.search.show_matches)
        self.searcher.failed.connect(lambda exc, _tb: self.message.error(error_text(exc)))
        self.recommender = LatestOnly(self, delay_ms=DEBOUNCE_MS)
        self.recommender.result.connect(self._show_answers)
        self.recommender.failed.connect(lambda exc, _tb: self.message.error(error_text(exc)))
        self.recommender.busy_changed.connect(self._busy_changed)
        self.new_item_users = LatestOnly(self, delay_ms=DEBOUNCE_MS)
        self.new_item_users.result.connect(self.new_item.show_users)
        self.new_item_users.failed.connect(lambda exc, _tb: self.new_item.show_error(error_text(exc)))
        self.new_item_users.busy_changed.connect(self._busy_changed)
        self.templates = LatestOnly(self)
        self.templates.result.connect(self._template_ready)
        self.templates.failed.connect(lambda exc, _tb: self.message.error(error_text(exc)))

        self.picker.run_selected.connect(self._run_selected)
        self.top_spin.valueChanged.connect(lambda _v: self.update_lists())
        self.compare_btn.toggled.connect(self._compare_toggled)
        self.checklist.checked_changed.connect(self.update_lists)
        self.search.query_changed.connect(self._search)
        self.search.add_requested.connect(self.add_items)
        self.basket.changed.connect(self._basket_changed)
        self.new_item.changed.connect(self.update_new_item)
        state.runs_changed.connect(self._runs_changed)
        state.workspace_changed.connect(self._workspace_changed)
        self._runs_changed()
        if self.picker.current():
            self._run_selected(self.picker.current())
        else:
            self.update_lists()

    # --- layout ----------------------------------------------------------------------------------
    def _basket_side(self) -> QWidget:
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(0, 0, 8, 0)
        lay.addWidget(_section("Find items"))
        self.search = ItemSearch()
        lay.addWidget(self.search, 2)
        row = QHBoxLayout()
        row.addWidget(_section("Basket"))
        row.addStretch(1)
        self.basket_count = QLabel("")
        self.basket_count.setProperty("role", "hint")
        row.addWidget(self.basket_count)
        lay.addLayout(row)
        self.basket = BasketTable()
        lay.addWidget(self.basket, 3)
        row = QHBoxLayout()
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("Remove the selected items from the basket (or press Delete).")
        self.remove_btn.clicked.connect(self.basket.remove_selected)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.clicked.connect(self.basket.clear_basket)
        row.addWidget(self.remove_btn)
        row.addWidget(self.clear_btn)
        row.addStretch(1)
        lay.addLayout(row)
        row = QHBoxLayout()
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("A user id of the run")
        self.user_edit.returnPressed.connect(self.start_from_user)
        self.user_btn = QPushButton("Start from user…")
        self.user_btn.setToolTip("Fill the basket with this user's known history (a template to edit).")
        self.user_btn.clicked.connect(self.start_from_user)
        row.addWidget(self.user_edit, 1)
        row.addWidget(self.user_btn)
        lay.addLayout(row)
        return side

    def _results_side(self) -> QWidget:
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(8, 0, 0, 0)
        self.compare_box = QWidget()
        box = QVBoxLayout(self.compare_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Runs to compare (tick two or more):"))
        self.checklist = RunChecklist()
        box.addWidget(self.checklist)
        self.compare_box.hide()
        lay.addWidget(self.compare_box)
        self.columns_split = QSplitter(Qt.Orientation.Horizontal)
        self.columns_split.setChildrenCollapsible(False)
        lay.addWidget(self.columns_split, 1)
        return side

    # --- runs ------------------------------------------------------------------------------------
    def _runs_changed(self) -> None:
        self.checklist.set_runs(self.state.finished_runs())

    def _workspace_changed(self, workspace: str) -> None:
        self.runs = loaded_runs.LoadedRuns(workspace)
        for channel in (self.loader, self.searcher, self.recommender, self.templates, self.new_item_users):
            channel.cancel()
        self._set_columns([])
        self.new_item.set_loading("Choose a run above.")

    def _run_selected(self, run_id: str) -> None:
        self.update_lists()
        self.new_item_users.cancel()
        self.new_item.set_loading()
        if not self.isVisible():  # the window's start-up picks a run: load it when the page is opened
            self._load_when_shown = run_id
            return
        self._load_when_shown = None
        self.message.show_message("Loading the run…")
        self.loader.request(loaded_runs.load, self.runs, run_id)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._load_when_shown is not None and self._load_when_shown == self.picker.current():
            self._run_selected(self._load_when_shown)

    def _run_loaded(self, loaded: Any) -> None:
        if loaded.run_id != self.picker.current():
            return
        titles = f", {len(loaded.titles):,} titles" if loaded.titles else ", no titles (ids only)"
        self.message.show_message(
            f"{loaded.model_name}: {len(loaded.item_ids):,} items{titles}, {len(loaded.user_ids):,} users."
        )
        if self.search.text():
            self._search(self.search.text())
        self.new_item.set_run(loaded.new_item_features(), loaded.model_name, loaded.run_id)  # asks for users

    def _load_failed(self, exc: BaseException) -> None:
        self.message.error(error_text(exc))
        self.new_item.set_loading("The run could not be loaded (see above).")

    def _mode_changed(self, _index: int) -> None:
        """The bar's Top and Compare are the basket's: the new item has its own number of users."""
        basket = self.modes.currentWidget() is not self.new_item
        for widget in (self.top_label, self.top_spin, self.compare_btn):
            widget.setVisible(basket)

    def _busy_changed(self, _busy: bool) -> None:
        busy = self.recommender.busy or self.new_item_users.busy
        self.busy_label.setText("updating…" if busy else "")

    def _compare_toggled(self, on: bool) -> None:
        self.compare_box.setVisible(on)
        if on and not self.checklist.checked() and self.picker.current():
            self.checklist.set_checked([self.picker.current()])  # emits: lists update
        else:
            self.update_lists()

    def target_runs(self) -> list[str]:
        """The runs whose lists are shown: the ticked ones when comparing, else the chosen run."""
        if self.compare_btn.isChecked() and self.checklist.checked():
            return self.checklist.checked()
        current = self.picker.current()
        return [current] if current else []

    # --- search and basket -----------------------------------------------------------------------
    def _search(self, text: str) -> None:
        run_id = self.picker.current()
        if not text or not run_id:
            self.searcher.cancel()
            self.search.show_matches([])
            return
        self.searcher.request(loaded_runs.search, self.runs, run_id, text)

    def add_items(self, entries: list[Any]) -> None:
        """Add (item, title) pairs from the search list to the basket, without a rating."""
        self.basket.add([(item, title_text, None) for item, title_text in (tuple(e) for e in entries)])

    def _basket_changed(self) -> None:
        n = self.basket.rowCount()
        self.basket_count.setText(f"{n} item{'s' if n != 1 else ''}" if n else "")
        self.update_lists()

    def start_from_user(self) -> None:
        user, run_id = self.user_edit.text().strip(), self.picker.current()
        if not user or not run_id:
            self.message.error("Type a user id of the chosen run, then press “Start from user…”.")
            return
        self.templates.request(loaded_runs.history, self.runs, run_id, user)

    def _template_ready(self, entries: list[tuple[Any, str | None, float]]) -> None:
        user = self.user_edit.text().strip()
        if not entries:
            self.message.warning(f"User {user} has no known interactions in this run.")
            return
        if self.basket.rowCount() == 0:
            self._fill_basket(entries, user)
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Start from user",
            f"Replace the basket's {self.basket.rowCount()} items with user {user}'s {len(entries)}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        yes = QMessageBox.StandardButton.Yes
        box.finished.connect(lambda answer: self._fill_basket(entries, user) if answer == yes else None)
        box.open()  # no nested event loop: workers keep reporting while it is up

    def _fill_basket(self, entries: list[tuple[Any, str | None, float]], user: str) -> None:
        self.basket.blockSignals(True)
        self.basket.clear_basket()
        self.basket.blockSignals(False)
        self.basket.add(entries)
        self.message.ok(f"The basket holds user {user}'s {len(entries)} known items; edit it freely.")

    # --- the lists -------------------------------------------------------------------------------
    def update_lists(self) -> None:
        """Ask for every shown run's list for the basket as it is now (debounced, in a worker)."""
        targets = self.target_runs()
        self._set_columns(targets)
        items = self.basket.items()
        if not targets:
            self.recommender.cancel()
            return
        if not items:
            self.recommender.cancel()
            for column in self._columns.values():
                column.show_hint(EMPTY_BASKET)
            return
        self.recommender.request(
            loaded_runs.recommend_for_basket,
            self.runs,
            targets,
            items,
            self.basket.ratings(),
            self.top_spin.value(),
            EXPLAIN,
        )

    def update_new_item(self) -> None:
        """Ask for the users of the new item as described now (debounced, in a worker)."""
        run_id, text = self.picker.current(), self.new_item.features_text()
        if not run_id or not self.new_item.available:
            self.new_item_users.cancel()
            return
        if not text:
            self.new_item_users.cancel()
            self.new_item.show_hint(DESCRIBE)
            return
        self.new_item_users.request(loaded_runs.new_item_users, self.runs, run_id, text, self.new_item.top())

    def _set_columns(self, run_ids: list[str]) -> None:
        if list(self._columns) == run_ids:
            return
        for column in self._columns.values():
            column.setParent(None)
            column.deleteLater()
        rows = {r["id"]: r for r in self.state.runs}
        self._columns = {}
        for run_id in run_ids:
            row = rows.get(run_id)
            column = ResultColumn(run_id, run_label(row) if row else run_id, compact=len(run_ids) > 1)
            column.show_hint(EMPTY_BASKET if not self.basket.rowCount() else "Computing…")
            self.columns_split.addWidget(column)
            self._columns[run_id] = column

    def _show_answers(self, answers: list[loaded_runs.RunAnswer]) -> None:
        for answer in answers:
            column = self._columns.get(answer.run_id)
            if column is None:
                continue
            if answer.error:
                column.show_error(answer.error)
            else:
                column.show_recommendations(answer.recommendations)

    # --- for tests and the screenshots -----------------------------------------------------------
    def columns(self) -> list[ResultColumn]:
        return list(self._columns.values())

    def column(self, run_id: str) -> ResultColumn:
        return self._columns[run_id]
