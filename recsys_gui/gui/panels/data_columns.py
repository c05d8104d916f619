"""The Data page's "Columns" box: which column holds the user, item, rating and time.

Filled from the sniffer's guesses each time a source is opened (its columns may differ from the
last one's); the choices are the ``user``/``item``/``rating``/``timestamp`` LoadOptions fields.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QWidget

NONE = "(none)"
ROLE_LABELS = (("user", "User id"), ("item", "Item id"), ("rating", "Rating / weight"),
               ("timestamp", "Timestamp"))


class ColumnsBox(QGroupBox):
    changed = Signal()  # the user picked another column for a role

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Columns", parent)
        form = QFormLayout(self)
        self.role_boxes: dict[str, QComboBox] = {}
        for role, label in ROLE_LABELS:
            cb = QComboBox()
            cb.setObjectName(f"role_{role}")
            cb.setToolTip(f"Which column holds the {label.lower()} (pre-filled from the file's guess).")
            cb.currentIndexChanged.connect(lambda *_: self.changed.emit())
            self.role_boxes[role] = cb
            form.addRow(label, cb)

    def show_guesses(self, columns: tuple[str, ...], roles: dict[str, str | None]) -> None:
        """Offer this source's columns, each role on the sniffer's guess (quietly: the page loads next)."""
        self.blockSignals(True)
        try:
            for role, cb in self.role_boxes.items():
                cb.clear()
                if role in ("rating", "timestamp"):
                    cb.addItem(NONE, "none")
                for c in columns:
                    cb.addItem(str(c), str(c))
                guess = roles.get(role)
                i = cb.findData(str(guess)) if guess is not None else 0
                cb.setCurrentIndex(max(i, 0))
        finally:
            self.blockSignals(False)

    def options(self) -> dict[str, Any]:
        return {role: cb.currentData() for role, cb in self.role_boxes.items() if cb.count()}

    def set_options(self, opts: dict[str, Any]) -> None:
        for role, cb in self.role_boxes.items():
            if role in opts:
                i = cb.findData(str(opts[role]))
                if i >= 0:
                    cb.setCurrentIndex(i)
