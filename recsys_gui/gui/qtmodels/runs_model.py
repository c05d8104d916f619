"""Table model over RunStore.list_runs() rows: one row per run, metric columns from test results.

The name cell is editable, but the model never writes the store: an edit becomes
``rename_requested`` and the page saves it in a worker, then reloads the runs.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

_Index = QModelIndex | QPersistentModelIndex
_NO_PARENT = QModelIndex()  # the root: a table has no children
BASE_COLUMNS = ("name", "tags", "model", "status", "created", "epochs", "device", "split")
RunIdRole = Qt.ItemDataRole.UserRole + 1
SortRole = Qt.ItemDataRole.UserRole + 2  # raw values, so numbers and dates sort as such


class RunsModel(QAbstractTableModel):
    rename_requested = Signal(str, str)  # run id, new name

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._metrics: list[str] = []

    def set_runs(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        keys: list[str] = []
        for r in self._rows:
            for k in r.get("test") or {}:
                if k not in keys:
                    keys.append(k)
        self._metrics = keys
        self.endResetModel()

    def run_id(self, row: int) -> str | None:
        return self._rows[row]["id"] if 0 <= row < len(self._rows) else None

    def run(self, row: int) -> dict[str, Any] | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, run_id: str) -> int:
        for i, r in enumerate(self._rows):
            if r["id"] == run_id:
                return i
        return -1

    @property
    def metric_names(self) -> list[str]:
        return list(self._metrics)

    def rowCount(self, parent: _Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(BASE_COLUMNS) + len(self._metrics)

    def _value(self, row: dict[str, Any], col: int) -> Any:
        if col < len(BASE_COLUMNS):
            name = BASE_COLUMNS[col]
            if name == "created":
                t = row.get("created_at")
                return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""
            if name == "epochs":
                return row.get("epochs_run")
            if name == "tags":
                return ", ".join(row.get("tags") or [])
            return row.get(name)
        return (row.get("test") or {}).get(self._metrics[col - len(BASE_COLUMNS)])

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        if not (0 <= index.column() < self.columnCount()):
            return None
        row = self._rows[index.row()]
        if role == RunIdRole:
            return row["id"]
        if role == SortRole:
            col = index.column()
            if col < len(BASE_COLUMNS) and BASE_COLUMNS[col] == "created":
                return float(row.get("created_at") or 0.0)
            v = self._value(row, col)
            if col >= len(BASE_COLUMNS) or BASE_COLUMNS[col] == "epochs":
                return float("-inf") if v is None else float(v)
            return "" if v is None else str(v)
        if role == Qt.ItemDataRole.EditRole and index.column() == 0:
            return row.get("name") or row["id"]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            v = self._value(row, index.column())
            if v is None:
                return ""
            if isinstance(v, float):
                return f"{v:.4f}"
            if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
                return "\n".join(str(t) for t in (row["id"], row.get("note"), row.get("error")) if t)
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= len(BASE_COLUMNS):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsEditable if index.isValid() and index.column() == 0 else base

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """A typed name is a request to rename; the row changes when the store says it did."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() != 0:
            return False
        row = self._rows[index.row()]
        name = str(value).strip()
        if name and name != (row.get("name") or row["id"]):
            self.rename_requested.emit(row["id"], name)
        return False

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        if section < len(BASE_COLUMNS):
            return BASE_COLUMNS[section]
        i = section - len(BASE_COLUMNS)
        return self._metrics[i] if i < len(self._metrics) else None
