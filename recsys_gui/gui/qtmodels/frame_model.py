"""Read-only, virtual table model over a pandas DataFrame (only visible cells are formatted)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

_Index = QModelIndex | QPersistentModelIndex


class FrameModel(QAbstractTableModel):
    def __init__(self, frame: Any = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._frame = None
        self._values: Any = None
        self._columns: list[str] = []
        if frame is not None:
            self.set_frame(frame)

    def set_frame(self, frame: Any) -> None:
        self.beginResetModel()
        self._frame = frame
        self._values = None if frame is None else frame.to_numpy(dtype=object)
        self._columns = [] if frame is None else [str(c) for c in frame.columns]
        self.endResetModel()

    def frame(self) -> Any:
        return self._frame

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() or self._values is None:
            return 0
        return int(self._values.shape[0])

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
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
            if isinstance(v, float):
                if v != v:  # NaN
                    return ""
                return f"{v:.4g}"
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            v = self._values[r, c]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section + 1)
