"""Find items of the chosen run by id or title: a filter box over a list of matches."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.panels.whatif.loaded_runs import SEARCH_LIMIT
from recsys_gui.gui.panels.whatif.reasons import item_label

ItemRole = Qt.ItemDataRole.UserRole


class ItemSearch(QWidget):
    """``query_changed(text)`` asks for matches; ``add_requested([(item, title), …])`` adds picked ones."""

    query_changed = Signal(str)
    add_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Find items by id or title…")
        self.edit.setClearButtonEnabled(True)
        self.edit.textChanged.connect(lambda t: self.query_changed.emit(t.strip()))
        self.edit.returnPressed.connect(self._add_first)
        lay.addWidget(self.edit)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemDoubleClicked.connect(lambda it: self.add_requested.emit([it.data(ItemRole)]))
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "hint")
        row.addWidget(self.count_label, 1)
        self.add_btn = QPushButton("Add to basket")
        self.add_btn.setToolTip("Add the selected items (or double-click one; Enter adds the first match).")
        self.add_btn.clicked.connect(self._add_selected)
        row.addWidget(self.add_btn)
        lay.addLayout(row)

    def text(self) -> str:
        return self.edit.text().strip()

    def show_matches(self, matches: list[tuple[Any, str | None]]) -> None:
        self.list.clear()
        for item, title in matches:
            row = QListWidgetItem(f"{item_label(item, title)}   ·   {item}" if title else str(item))
            row.setToolTip(f"{title} (id {item})" if title else f"id {item}")
            row.setData(ItemRole, (item, title))
            self.list.addItem(row)
        n = len(matches)
        if not self.text():
            shown = ""
        elif n >= SEARCH_LIMIT:
            shown = f"the first {n} matches: type more to narrow them"
        else:
            shown = f"{n} match{'es' if n != 1 else ''}" if n else "no item matches"
        self.count_label.setText(shown)

    def matches(self) -> list[tuple[Any, str | None]]:
        return [self.list.item(i).data(ItemRole) for i in range(self.list.count())]

    def _add_selected(self) -> None:
        picked = [it.data(ItemRole) for it in self.list.selectedItems()]
        if picked:
            self.add_requested.emit(picked)

    def _add_first(self) -> None:
        if self.list.count():
            self.add_requested.emit([self.list.item(0).data(ItemRole)])
