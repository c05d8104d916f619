"""Predefined split files on the Data page: the CLI's --train/--valid/--test.

With the "Predefined files" protocol the page's interactions file is the training part, and this
widget names the validation part (optional) and the test part. They are read with the same column
and reading options as the training file, by the core's ``load_predefined_split``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton, QWidget

from recsys_gui.gui.paths import absolute_or_none


class SplitFilesBox(QWidget):
    changed = Signal()  # a part's file was chosen or cleared

    def __init__(self, file_filter: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.file_filter = file_filter
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.edits: dict[str, QLineEdit] = {}
        for part, label, hint in (("valid", "Validation file", "optional: the validation part"),
                                  ("test", "Test file", "the test part (needed)")):
            edit = QLineEdit()
            edit.setObjectName(f"split_file_{part}")
            edit.setReadOnly(True)
            edit.setPlaceholderText(hint)
            pick = QPushButton("…")
            pick.setToolTip(f"Choose the {label.lower()}")
            pick.setFixedWidth(32)
            pick.clicked.connect(lambda _=False, p=part: self._choose(p))
            clear = QPushButton("✕")
            clear.setToolTip(f"No {label.lower()}")
            clear.setFixedWidth(32)
            clear.clicked.connect(lambda _=False, p=part: self.set_file(p, None))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(pick)
            row.addWidget(clear)
            form.addRow(label, row)
            self.edits[part] = edit

    def files(self) -> tuple[str | None, str | None]:
        """(validation file or None, test file or None)."""
        return self.edits["valid"].text() or None, self.edits["test"].text() or None

    def set_file(self, part: str, path: str | None) -> None:
        text = absolute_or_none(path) or ""
        if text != self.edits[part].text():
            self.edits[part].setText(text)
            self.changed.emit()

    def _choose(self, part: str) -> None:
        title = "Open the validation part" if part == "valid" else "Open the test part"
        path, _ = QFileDialog.getOpenFileName(self, title, self.edits[part].text(), self.file_filter)
        if path:
            self.set_file(part, path)
