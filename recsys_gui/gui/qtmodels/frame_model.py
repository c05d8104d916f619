"""Read-only, virtual table model over a pandas DataFrame (only visible cells are formatted).

Rows can be highlighted (the inspector marks held-out hits); booleans show as a check mark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

_Index = QModelIndex | QPersistentModelIndex
HIGHLIGHT = QColor(58, 166, 114, 70)


class FrameModel(QAbstractTableModel):
    def __init__(self, frame: Any = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._frame = None
        self._values: Any = None
        self._columns: list[str] = []
        self._highlight: np.ndarray | None = None
        self._brush = QBrush(HIGHLIGHT)
        if frame is not None:
            self.set_frame(frame)

    def set_frame(self, frame: Any, highlight: Any = None) -> None:
        """Show ``frame``; ``highlight`` is an optional boolean per row (tinted background)."""
        self.beginResetModel()
        self._frame = frame
        self._highlight = None if highlight is None else np.asarray(highlight, dtype=bool)
        self._values = None if frame is None else frame.to_numpy(dtype=object)
        self._columns = [] if frame is None else [str(c) for c in frame.columns]
        self.endResetModel()

    def frame(self) -> Any:
        return self._frame

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid() or self._values is None:
            return 0
        return int(self._values.shape[0])

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._values is None:
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < self._values.shape[0] and 0 <= c < len(self._columns)):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            v = self._values[r, c]
            if v is None:
                return ""
            if isinstance(v, (bool, np.bool_)):
                return "✓" if v else ""
            if isinstance(v, float):
                if v != v:  # NaN
                    return ""
                return f"{v:.4g}"
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            v = self._values[r, c]
            if isinstance(v, (bool, np.bool_)):
                return int(Qt.AlignmentFlag.AlignCenter)
            if isinstance(v, (int, float, np.integer, np.floating)):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if (
            role == Qt.ItemDataRole.BackgroundRole
            and self._highlight is not None
            and r < len(self._highlight)
        ):
            return self._brush if self._highlight[r] else None
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section + 1)
