"""The basket: the items (and optional ratings) of the imagined user the page recommends for.

A rating is a plain editable cell rather than a spin box per row: "Start from user" can fill the
basket with a heavy user's two thousand items, and a widget per row would stall the GUI thread.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

ItemRole = Qt.ItemDataRole.UserRole
NO_RATING = "—"  # the item counts as one interaction (1.0)
RATING_COLUMN = 2


def parse_rating(text: str) -> float | None:
    """A positive finite number, or None for an empty cell, '—' or anything else."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


class BasketTable(QTableWidget):
    """Item, title and rating rows; ``changed`` fires on every add, removal and rating edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["Item", "Title", "Rating"])
        self.horizontalHeaderItem(RATING_COLUMN).setToolTip(
            "Optional: double-click to type a rating; '—' counts the item as one interaction (1.0)."
        )
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.verticalHeader().setVisible(False)
        head = self.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(RATING_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.itemChanged.connect(self._rating_edited)

    # --- what the page reads ---------------------------------------------------------------------
    def items(self) -> list[Any]:
        return [self.item(r, 0).data(ItemRole) for r in range(self.rowCount())]

    def ratings(self) -> list[float] | None:
        """Parallel to ``items``; None when no item has a rating (every item then counts 1.0)."""
        given = [parse_rating(self.item(r, RATING_COLUMN).text()) for r in range(self.rowCount())]
        if all(v is None for v in given):
            return None
        return [1.0 if v is None else v for v in given]

    # --- editing ---------------------------------------------------------------------------------
    def add(self, entries: list[tuple[Any, str | None, float | None]]) -> int:
        """Add (item, title, rating or None) rows; an item already in the basket only takes the new
        rating. One ``changed`` for the lot; returns how many rows were added."""
        known = {str(i): r for r, i in enumerate(self.items())}
        added = 0
        self.blockSignals(True)
        try:
            for item, title, rating in entries:
                row = known.get(str(item))
                if row is None:
                    row = self.rowCount()
                    self.insertRow(row)
                    for col, text in enumerate((str(item), title or "", NO_RATING)):
                        cell = QTableWidgetItem(text)
                        if col != RATING_COLUMN:
                            cell.setFlags(cell.flags() & ~Qt.ItemFlag.ItemIsEditable)
                        else:
                            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                        self.setItem(row, col, cell)
                    self.item(row, 0).setData(ItemRole, item)
                    self.item(row, 1).setToolTip(title or "")
                    known[str(item)] = row
                    added += 1
                if rating is not None:
                    self.item(row, RATING_COLUMN).setText(_rating_text(float(rating)))
        finally:
            self.blockSignals(False)
        if entries:
            self.changed.emit()
        return added

    def set_rating(self, row: int, rating: float | None) -> None:
        """As if typed into the row's rating cell."""
        self.item(row, RATING_COLUMN).setText(NO_RATING if rating is None else _rating_text(rating))

    def remove_rows(self, rows: list[int]) -> None:
        for r in sorted(set(rows), reverse=True):
            self.removeRow(r)
        if rows:
            self.changed.emit()

    def remove_selected(self) -> None:
        self.remove_rows([i.row() for i in self.selectionModel().selectedRows()])

    def clear_basket(self) -> None:
        had = self.rowCount() > 0
        self.setRowCount(0)
        if had:
            self.changed.emit()

    def keyPressEvent(self, event: Any) -> None:
        editing = self.state() == self.State.EditingState
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not editing:
            self.remove_selected()
            return
        super().keyPressEvent(event)

    def _rating_edited(self, cell: QTableWidgetItem) -> None:
        if cell.column() != RATING_COLUMN:
            return
        value = parse_rating(cell.text())
        shown = NO_RATING if value is None else _rating_text(value)
        if cell.text() != shown:
            self.blockSignals(True)
            cell.setText(shown)
            self.blockSignals(False)
        self.changed.emit()


def _rating_text(value: float) -> str:
    return f"{value:g}"
