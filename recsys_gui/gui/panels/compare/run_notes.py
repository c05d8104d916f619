"""What the Compare page's run list writes: names, tags, notes and bundles, plus the small dialogs.

The writes are plain functions of a workspace path (each opens its own RunStore) so the page runs
them in a worker like every other store access; the dialogs only ask and return what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

SAVE, CANCEL = QDialogButtonBox.StandardButton.Save, QDialogButtonBox.StandardButton.Cancel


# --- the writes (worker thread) -------------------------------------------------------------------
def rename_run(workspace: str, run_id: str, name: str) -> str:
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace, recover=False)
    try:
        return store.rename_run(run_id, name)
    finally:
        store.close()


def save_tags_and_note(workspace: str, run_id: str, tags: list[str], note: str) -> list[str]:
    """Make the run's tags exactly ``tags`` and its note ``note``; returns the tags kept."""
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace, recover=False)
    try:
        old = store.get_run(run_id).get("tags") or []
        kept = store.tag_run(run_id, add=tags, remove=[t for t in old if t not in tags])
        store.set_note(run_id, note)
        return kept
    finally:
        store.close()


def write_bundle(workspace: str, run_id: str, out: str, with_data: bool, with_checkpoint: bool,
                 overwrite: bool) -> Any:
    from recsys_gui.core.bundle import write_bundle as _write

    return _write(workspace, run_id, out, with_data=with_data, with_checkpoint=with_checkpoint,
                  overwrite=overwrite)


def split_tags(text: str) -> list[str]:
    """``"keep, paper  baseline"`` → ``["keep", "paper", "baseline"]`` (commas or spaces)."""
    return [t for t in text.replace(",", " ").split() if t]


def confirm_overwrite(parent: QWidget, path: Path) -> bool:
    """Ask before replacing an existing file; No is the default."""
    if not path.exists():
        return True
    ans = QMessageBox.question(
        parent,
        "Replace?",
        f"{path}\n\nThis file already exists. Replace it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return ans == QMessageBox.StandardButton.Yes


# --- the dialogs (GUI thread) ----------------------------------------------------------------------
class TagsNoteDialog(QDialog):
    """Tags (comma or space separated) and the free-text note of one run."""

    def __init__(self, run: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Tags and note: {run.get('name') or run['id']}")
        form = QFormLayout(self)
        self.tags_edit = QLineEdit(", ".join(run.get("tags") or []))
        self.tags_edit.setPlaceholderText("e.g. baseline, paper")
        self.note_edit = QPlainTextEdit(run.get("note") or "")
        self.note_edit.setPlaceholderText("What this run was for, what you learnt from it…")
        self.note_edit.setMinimumSize(420, 120)
        form.addRow("Tags", self.tags_edit)
        form.addRow("Note", self.note_edit)
        buttons = QDialogButtonBox(SAVE | CANCEL)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @classmethod
    def ask(cls, run: dict[str, Any], parent: QWidget | None = None) -> tuple[list[str], str] | None:
        dlg = cls(run, parent)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return split_tags(dlg.tags_edit.text()), dlg.note_edit.toPlainText().strip()


@dataclass(frozen=True)
class BundleChoice:
    path: Path
    with_data: bool
    with_checkpoint: bool


class BundleDialog(QDialog):
    """Where to write a run's reproducible bundle, and whether the data and checkpoint go in."""

    def __init__(self, default: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bundle run for reproduction")
        root = QVBoxLayout(self)
        form = QFormLayout()
        row = QHBoxLayout()
        self.path_edit = QLineEdit(str(default))
        self.path_edit.setMinimumWidth(380)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("Zip file", row)
        self.with_data = QCheckBox("Include the data file(s) (the bundle reproduces without them)")
        self.with_checkpoint = QCheckBox("Include the best checkpoint")
        form.addRow("", self.with_data)
        form.addRow("", self.with_checkpoint)
        root.addLayout(form)
        buttons = QDialogButtonBox(SAVE | CANCEL)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        root.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save bundle", self.path_edit.text(), "Zip files (*.zip)",
            options=QFileDialog.Option.DontConfirmOverwrite,  # asked once, when saving
        )
        if path:
            self.path_edit.setText(path if path.endswith(".zip") else path + ".zip")

    @classmethod
    def ask(cls, default: Path, parent: QWidget | None = None) -> BundleChoice | None:
        dlg = cls(default, parent)
        if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.path_edit.text().strip():
            return None
        path = Path(dlg.path_edit.text().strip()).expanduser()
        return BundleChoice(path, dlg.with_data.isChecked(), dlg.with_checkpoint.isChecked())
