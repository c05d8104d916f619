"""Export page: top-N recommendations (SQLite / CSV / Parquet) and embeddings, in the background.

The recommendations come from ``core.export.recommendations.export_recommendations``, the function
behind ``recsys-gui recommend``, so a file written here equals the CLI's. An existing file is
replaced only after the user says so; the core writes atomically either way. The privacy boxes
(pseudonymised user ids, no titles) become the same ``ExportPrivacy`` as the CLI's flags and apply
to both exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.privacy.options import ExportPrivacy
from recsys_gui.gui import services
from recsys_gui.gui.threading import Task, error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, title

FORMATS = (
    ("sqlite", "SQLite database (.sqlite)", ".sqlite"),
    ("csv", "CSV (.csv)", ".csv"),
    ("parquet", "Parquet (.parquet)", ".parquet"),
)


def _path_row(edit: QLineEdit, on_browse: Any) -> tuple[QHBoxLayout, QPushButton]:
    row = QHBoxLayout()
    browse = QPushButton("Browse…")
    browse.clicked.connect(on_browse)
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row, browse


class ExportPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Task | None = None
        self.last_report: Any = None
        self._last_privacy = ExportPrivacy()
        self.last_path: Path | None = None
        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "Export",
                "Write every user's top-N recommendations, or the learned embeddings, "
                "to files other tools can read. The same lists as `recsys-gui recommend`.",
            )
        )
        self.picker = RunPicker(state)
        root.addWidget(self.picker)

        priv = QGroupBox("Privacy (both exports)")
        pl = QHBoxLayout(priv)
        self.pseudonymise = QCheckBox("Pseudonymise user ids")
        self.pseudonymise.setToolTip(
            "Write each user id as a keyed pseudonym (HMAC-SHA256). The key stays in this workspace's "
            "privacy folder and never goes into a file: you can map pseudonyms back "
            "(recsys-gui pseudonyms map-back), a recipient cannot."
        )
        self.drop_titles = QCheckBox("Leave out titles")
        self.drop_titles.setToolTip("Leave item titles and other item metadata out; item ids stay.")
        pl.addWidget(self.pseudonymise)
        pl.addSpacing(12)
        pl.addWidget(self.drop_titles)
        pl.addStretch(1)
        root.addWidget(priv)

        rec = QGroupBox("Top-N recommendations")
        rf = QFormLayout(rec)
        self.fmt = QComboBox()
        for key, text, _ext in FORMATS:
            self.fmt.addItem(text, key)
        self.fmt.currentIndexChanged.connect(self._fix_suffix)
        self.fmt.setMaximumWidth(300)
        rf.addRow("Format", self.fmt)
        self.top = QSpinBox()
        self.top.setRange(1, 1000)
        self.top.setValue(20)
        self.top.setMaximumWidth(120)
        self.top.setToolTip("Recommendations per user (K).")
        rf.addRow("Top K", self.top)
        users_row = QHBoxLayout()
        self.all_users = QRadioButton("All users")
        self.users_from_file = QRadioButton("Users listed in a file:")
        self.all_users.setChecked(True)
        self._users_group = QButtonGroup(self)
        self._users_group.addButton(self.all_users)
        self._users_group.addButton(self.users_from_file)
        self.users_path = QLineEdit()
        self.users_path.setPlaceholderText("text file, one raw user id per line")
        self.users_path.textEdited.connect(lambda t: self.users_from_file.setChecked(bool(t.strip())))
        self.users_browse = QPushButton("Browse…")
        self.users_browse.clicked.connect(self._browse_users)
        users_row.addWidget(self.all_users)
        users_row.addSpacing(12)
        users_row.addWidget(self.users_from_file)
        users_row.addWidget(self.users_path, 1)
        users_row.addWidget(self.users_browse)
        rf.addRow("Users", users_row)
        self.include_seen = QCheckBox("Include items the user already has")
        self.include_seen.setToolTip("Off (the usual): items in the user's history are never recommended.")
        rf.addRow("", self.include_seen)
        self.rec_path = QLineEdit(str(Path(state.workspace) / "exports" / "recommendations.sqlite"))
        row, _ = _path_row(self.rec_path, self._browse_recs)
        rf.addRow("Save to", row)
        btns = QHBoxLayout()
        self.rec_btn = QPushButton("Export recommendations")
        self.rec_btn.setProperty("primary", True)
        self.rec_btn.clicked.connect(self.export_recommendations)
        btns.addWidget(self.rec_btn)
        btns.addStretch(1)
        rf.addRow("", btns)
        root.addWidget(rec)

        emb = QGroupBox("Embeddings")
        ef = QFormLayout(emb)
        self.emb_path = QLineEdit(str(Path(state.workspace) / "exports" / "embeddings"))
        self.emb_path.setToolTip(
            "A folder (users.csv and items.csv inside), or a file name ending in .csv, .parquet or .npy."
        )
        erow, _ = _path_row(self.emb_path, self._browse_emb)
        ef.addRow("Folder", erow)
        ebtns = QHBoxLayout()
        self.emb_btn = QPushButton("Export embeddings")
        self.emb_btn.clicked.connect(self.export_embeddings)
        ebtns.addWidget(self.emb_btn)
        ebtns.addStretch(1)
        ef.addRow("", ebtns)
        root.addWidget(emb)

        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.reveal_btn = QPushButton("Show in folder")
        self.reveal_btn.setToolTip("Open the folder that holds the exported file.")
        self.reveal_btn.setEnabled(False)
        self.reveal_btn.clicked.connect(self.reveal)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_btn)
        prow.addWidget(self.reveal_btn)
        root.addLayout(prow)
        self.message = Message()
        root.addWidget(self.message)
        root.addStretch(1)
        state.workspace_changed.connect(self._workspace_changed)

    # --- paths -----------------------------------------------------------------------------------
    def _workspace_changed(self, workspace: str) -> None:
        """Default paths follow the workspace unless the user typed their own."""
        for edit in (self.rec_path, self.emb_path):
            p = Path(edit.text())
            if p.parent.name == "exports":
                edit.setText(str(Path(workspace) / "exports" / p.name))

    def _fix_suffix(self) -> None:
        ext = FORMATS[self.fmt.currentIndex()][2]
        p = Path(self.rec_path.text() or "recommendations")
        self.rec_path.setText(str(p.with_suffix(ext)))

    def _browse_recs(self) -> None:
        _key, text, ext = FORMATS[self.fmt.currentIndex()]
        # Qt's own overwrite question is off: ours comes when the export starts, whatever the path's origin.
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save recommendations",
            self.rec_path.text(),
            f"{text}",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.rec_path.setText(path if path.endswith(ext) else path + ext)

    def _browse_users(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "File of user ids", self.users_path.text(), "Text files (*.txt *.csv *.tsv);;All files (*)"
        )
        if path:
            self.users_path.setText(path)
            self.users_from_file.setChecked(True)

    def _browse_emb(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for embeddings", self.emb_path.text())
        if path:
            self.emb_path.setText(path)

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before replacing an existing file or a non-empty folder; No is the default."""
        if not path.exists():
            return True
        what = "folder already has files" if path.is_dir() else "file already exists"
        ans = QMessageBox.question(
            self,
            "Replace?",
            f"{path}\n\nThis {what}. Replace it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return ans == QMessageBox.StandardButton.Yes

    def privacy(self) -> ExportPrivacy:
        """What the privacy boxes ask of the next export."""
        return ExportPrivacy(
            pseudonymise=self.pseudonymise.isChecked(), drop_titles=self.drop_titles.isChecked()
        )

    def _privacy_arguments(self) -> dict[str, Any]:
        """``privacy=`` for the export call when a box is ticked; nothing (the plain export) otherwise."""
        privacy = self.privacy()
        self._last_privacy = privacy
        return {"privacy": privacy} if privacy.active else {}

    def users_file(self) -> str | None:
        """The users file to export for, or None for every user."""
        if not self.users_from_file.isChecked():
            return None
        return self.users_path.text().strip() or None

    # --- jobs ------------------------------------------------------------------------------------
    def _begin(self) -> str | None:
        run_id = self.picker.current()
        if not run_id:
            self.message.error("Choose a finished run first.")
            return None
        if self.task is not None:
            self.message.error("An export is already running.")
            return None
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.cancel_btn.setEnabled(True)
        self.rec_btn.setEnabled(False)
        self.emb_btn.setEnabled(False)
        self.reveal_btn.setEnabled(False)
        return run_id

    def export_recommendations(self, *, confirm: bool = True) -> None:
        """Start the export. An existing file is replaced only if the user says Yes; with
        ``confirm=False`` (scripted use) an existing file is refused instead of asked about."""
        if not self.rec_path.text().strip():
            self.message.error("Choose where to save the file.")
            return
        out = Path(self.rec_path.text().strip()).expanduser()
        users = self.users_file()
        if self.users_from_file.isChecked() and users is None:
            self.message.error("Choose the file of user ids, or export for all users.")
            return
        if users is not None and not Path(users).expanduser().is_file():
            self.message.error(f"{users}: no such file of user ids.")
            return
        exists = out.exists()
        if not self._may_write(out, exists, confirm, "already exists; choose another name"):
            return
        run_id = self._begin()
        if run_id is None:
            return
        who = "every user" if users is None else f"the users in {Path(users).name}"
        self.message.show_message(f"Exporting the top {self.top.value()} for {who}…")
        self.task = run_in_thread(
            services.export_recommendations,
            self.state.workspace,
            run_id,
            str(out),
            self.top.value(),
            self.fmt.currentData(),
            self.include_seen.isChecked(),
            exists,
            users,
            on_result=self._done,
            on_error=self._failed,
            on_progress=self._progress,
            on_finished=self._end,
            with_stop=True,
            **self._privacy_arguments(),
        )

    def _may_write(self, out: Path, exists: bool, confirm: bool, refusal: str) -> bool:
        """False (with a message) when ``out`` exists and the user may not, or does not, replace it."""
        if exists and not confirm:
            self.message.error(f"{out} {refusal}.")
            return False
        if exists and not self.confirm_overwrite(out):
            self.message.show_message(f"Not exported: {out.name} was left as it is.")
            return False
        return True

    def export_embeddings(self, *, confirm: bool = True) -> None:
        out = Path(self.emb_path.text().strip()).expanduser()
        exists = (out.is_dir() and any(out.iterdir())) or out.is_file()
        if not self._may_write(out, exists, confirm, "already has files; choose another place"):
            return
        run_id = self._begin()
        if run_id is None:
            return
        self.cancel_btn.setEnabled(False)  # the embeddings export is short and cannot stop half-way
        self.message.show_message("Exporting embeddings…")
        self.task = run_in_thread(
            services.export_embeddings,
            self.state.workspace,
            run_id,
            str(out),
            exists,
            on_result=self._done,
            on_error=self._failed,
            on_progress=self._progress,
            on_finished=self._end,
            **self._privacy_arguments(),
        )

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.show_message("Cancelling…")

    def reveal(self) -> bool:
        """Open the folder holding the last exported file in the system's file manager."""
        if self.last_path is None:
            return False
        folder = self.last_path if self.last_path.is_dir() else self.last_path.parent
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(100 * fraction))
        if text:
            self.progress.setFormat(f"%p%  {text}")

    def _done(self, report: Any) -> None:
        self.last_report = report
        self.progress.setValue(100)
        d = report.to_dict() if hasattr(report, "to_dict") else {}
        if "rows" in d:
            self.last_path = Path(d["path"])
            text = (
                f"Wrote {d['rows']:,} rows ({d['users']:,} users × top {d['top']}) to {d['path']} "
                f"in {d['seconds']:.1f} s."
            )
            if d.get("short_users"):
                text += f" {d['short_users']:,} users had fewer than {d['top']} unseen items."
            text += self._privacy_note()
            if d.get("unknown_users"):
                sample = ", ".join(map(str, d["unknown_users"][:5]))
                self.message.warning(
                    text + f" {len(d['unknown_users'])} ids in the users file are not in "
                    f"this run and were skipped (e.g. {sample})."
                )
            else:
                self.message.ok(text)
        else:
            files = [p for ps in (d.get("files") or {}).values() for p in ps]
            self.last_path = Path(files[0]) if files else None
            shapes = ", ".join(f"{side}s {r:,}×{c}" for side, (r, c) in (d.get("shapes") or {}).items())
            self.message.ok(
                f"Wrote {shapes or 'nothing'} to {self.last_path.parent if self.last_path else '—'}."
                + (" " + " ".join(d["notes"]) if d.get("notes") else "")
                + self._privacy_note()
            )
        self.reveal_btn.setEnabled(self.last_path is not None)

    def _privacy_note(self) -> str:
        p = self._last_privacy
        parts = (["user ids are pseudonyms (the key stays in the workspace)"] if p.pseudonymise else []) + (
            ["titles were left out"] if p.drop_titles else []
        )
        return f" {'; '.join(parts).capitalize()}." if parts else ""

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))

    def _end(self) -> None:
        self.task = None
        self.cancel_btn.setEnabled(False)
        self.rec_btn.setEnabled(True)
        self.emb_btn.setEnabled(True)
