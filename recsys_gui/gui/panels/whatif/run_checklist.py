"""The runs to compare side by side: the workspace's finished runs with a check box each."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from recsys_gui.gui.panels.compare.run_label import run_label

RunRole = Qt.ItemDataRole.UserRole


class RunChecklist(QListWidget):
    """``checked_changed`` fires when a box is ticked or cleared; ``checked()`` is in list order."""

    checked_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.itemChanged.connect(lambda _it: self.checked_changed.emit())

    def set_runs(self, rows: list[dict[str, Any]]) -> None:
        keep = set(self.checked())
        self.blockSignals(True)
        self.clear()
        for row in rows:
            it = QListWidgetItem(f"{run_label(row)}  [{row.get('status')}]")
            it.setData(RunRole, row["id"])
            it.setToolTip(row["id"])
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if row["id"] in keep else Qt.CheckState.Unchecked)
            self.addItem(it)
        self.blockSignals(False)
        rows_shown = max(2, min(self.count(), 5))  # as tall as its runs, up to five of them
        self.setMaximumHeight(rows_shown * max(self.sizeHintForRow(0), 18) + 2 * self.frameWidth() + 4)
        if keep != set(self.checked()):
            self.checked_changed.emit()

    def checked(self) -> list[str]:
        return [
            self.item(i).data(RunRole)
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_checked(self, run_ids: list[str]) -> None:
        wanted = set(run_ids)
        self.blockSignals(True)
        for i in range(self.count()):
            it = self.item(i)
            it.setCheckState(Qt.CheckState.Checked if it.data(RunRole) in wanted else Qt.CheckState.Unchecked)
        self.blockSignals(False)
        self.checked_changed.emit()
