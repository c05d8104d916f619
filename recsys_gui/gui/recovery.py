"""The next start after a crash: offer to resume or clean up the runs a dead process left behind.

Opening the run store marks runs whose process is gone as "interrupted" (``RunStore``). The main
window calls ``offer_recovery`` once on start: the store is read in a worker (the GUI thread never
waits on SQLite), and only when interrupted runs exist does a dialog list them with Resume,
Clean up and Later. Cleaning up also runs in a worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.threading import Task, error_text, run_in_thread

ResumeCallback = Callable[[dict[str, Any]], None]


def find_interrupted(workspace: str | Path) -> list[dict[str, Any]]:
    """Interrupted runs of ``workspace``, newest first (opening the store marks dead runs first)."""
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return store.interrupted_runs()
    finally:
        store.close()


def clean_up(workspace: str | Path, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """Delete the given runs, then folders and partial files that killed processes left behind."""
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        for run_id in run_ids:
            store.delete_run(run_id)
        removed = store.clean(statuses=())
        removed["runs"] = list(run_ids)
        return removed
    finally:
        store.close()


class RecoveryDialog(QDialog):
    """Lists interrupted runs (all ticked); ``exec()`` returns RESUME, CLEAN or Rejected (Later)."""

    RESUME = 2
    CLEAN = 3

    def __init__(self, runs: Sequence[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interrupted runs")
        self.runs = list(runs)
        lay = QVBoxLayout(self)
        text = QLabel(f"{len(self.runs)} training run(s) did not finish: the app or its process ended while "
                      "they were running. Resume continues a run from its last checkpoint; Clean up deletes "
                      "the runs and their files; Later keeps them (the Train page can resume them).")
        text.setWordWrap(True)
        lay.addWidget(text)
        self.list = QListWidget()
        for r in self.runs:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.get("created_at") or 0))
            note = "" if r.get("resumable") else "  — no checkpoint yet: cannot resume, start it again"
            item = QListWidgetItem(f"{r.get('name') or r['id']}  ·  {r.get('model')}  ·  {when}{note}")
            item.setData(Qt.ItemDataRole.UserRole, r["id"])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.setToolTip("Continue the ticked runs from their last checkpoint, one after another.")
        self.resume_btn.setEnabled(any(r.get("resumable") for r in self.runs))
        self.clean_btn = QPushButton("Clean up")
        self.clean_btn.setToolTip("Delete the ticked runs and their files.")
        self.later_btn = QPushButton("Later")
        self.later_btn.setDefault(True)
        self.resume_btn.clicked.connect(lambda: self.done(self.RESUME))
        self.clean_btn.clicked.connect(lambda: self.done(self.CLEAN))
        self.later_btn.clicked.connect(self.reject)
        row.addStretch(1)
        for b in (self.resume_btn, self.clean_btn, self.later_btn):
            row.addWidget(b)
        lay.addLayout(row)
        self.resize(640, 320)

    def selected(self) -> list[dict[str, Any]]:
        """The ticked runs, in list order."""
        ids = {self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
               if self.list.item(i).checkState() == Qt.CheckState.Checked}
        return [r for r in self.runs if r["id"] in ids]


def offer_recovery(parent: QWidget | None, workspace: str | Path, resume_callback: ResumeCallback, *,
                   on_changed: Callable[[], None] | None = None,
                   on_error: Callable[[str], None] | None = None) -> Task:
    """Look for interrupted runs in a worker; when there are some, ask what to do with them.

    ``resume_callback(row)`` is called for each ticked run that has a checkpoint (``row`` is the
    store's run dict, with ``spec``); ``on_changed()`` after a clean-up, so pages re-read the runs.
    Errors (an unreadable store) go to ``on_error`` as a plain message; the app still starts.
    """

    def show(runs: list[dict[str, Any]]) -> None:
        if runs:
            ask(parent, workspace, runs, resume_callback, on_changed=on_changed, on_error=on_error)

    return run_in_thread(find_interrupted, str(workspace), on_result=show,
                         on_error=lambda exc, _tb: on_error(error_text(exc)) if on_error else None)


def ask(parent: QWidget | None, workspace: str | Path, runs: Sequence[dict[str, Any]],
        resume_callback: ResumeCallback, *, on_changed: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None) -> int:
    """Show the dialog for ``runs`` and act on the answer; returns the dialog's result code."""
    dialog = RecoveryDialog(runs, parent)
    code = dialog.exec()
    chosen = dialog.selected()
    dialog.deleteLater()
    if code == RecoveryDialog.RESUME:
        for row in chosen:
            if row.get("resumable"):
                resume_callback(row)
    elif code == RecoveryDialog.CLEAN and chosen:
        run_in_thread(clean_up, str(workspace), [r["id"] for r in chosen],
                      on_result=lambda _removed: on_changed() if on_changed else None,
                      on_error=lambda exc, _tb: on_error(error_text(exc)) if on_error else None)
    return code
