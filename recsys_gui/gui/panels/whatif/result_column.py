"""One run's top-N for the basket: rank, item, title and the reason, under the run's name."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.panels.whatif.reasons import item_label, reason_text
from recsys_gui.gui.widgets import Message

NO_REASON = "—"


class ResultColumn(QWidget):
    """A header with the run's label, a one-line message, and the list (``rows()`` reads it back).

    ``compact`` (several runs side by side): the reason goes under the item's title in one cell,
    since a third of the page leaves a separate "Why" column a few letters wide.
    """

    def __init__(
        self, run_id: str, label: str, parent: QWidget | None = None, *, compact: bool = False
    ) -> None:
        super().__init__(parent)
        self.run_id, self.compact = run_id, compact
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.header = QLabel(f"<b>{label}</b>")
        self.header.setToolTip(run_id)
        lay.addWidget(self.header)
        self.message = Message()
        lay.addWidget(self.message)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["#", "Item", "Why"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        # rows follow their wrapped text as the columns are resized (top-N is at most a few hundred rows)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        if compact:
            head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
            self.table.setColumnHidden(2, True)
            self.table.setHorizontalHeaderLabels(["#", "Item and why", "Why"])
        else:
            head.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
            head.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
            self.table.setColumnWidth(1, 240)
        lay.addWidget(self.table, 1)
        self._rows: list[tuple[Any, str | None, str]] = []

    def show_recommendations(self, recommendations: list[Any]) -> None:
        """Rows of serving.Recommendation, best first."""
        self.message.clear_message()
        self.table.setRowCount(len(recommendations))
        self._rows = []
        for r, rec in enumerate(recommendations):
            why = reason_text(rec.because)
            self._rows.append((rec.item, rec.title, why))
            label = item_label(rec.item, rec.title)
            if self.compact:
                label = f"{label}\n{why or NO_REASON}"
            cells = (str(rec.rank), label, why or NO_REASON)
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if c == 0:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, cell)
            self.table.item(r, 1).setToolTip(f"{rec.title or ''} (id {rec.item}) · score {rec.score:.4g}")
            self.table.item(r, 2).setToolTip(why or "This model gives no per-item reasons.")
        if not recommendations:
            self.message.show_message("No items left to recommend.")

    def show_error(self, text: str) -> None:
        self.table.setRowCount(0)
        self._rows = []
        self.message.error(text)

    def show_hint(self, text: str) -> None:
        self.table.setRowCount(0)
        self._rows = []
        self.message.show_message(text)

    def rows(self) -> list[tuple[Any, str | None, str]]:
        """(item raw id, title, reason text) per row, as shown."""
        return list(self._rows)
