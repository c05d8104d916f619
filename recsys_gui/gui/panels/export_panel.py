"""Export page: top-N recommendations (SQLite / CSV / Parquet) and embeddings, in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
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
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.threading import Task, error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, title

FORMATS = (("sqlite", "SQLite database (.sqlite)", ".sqlite"), ("csv", "CSV (.csv)", ".csv"),
           ("parquet", "Parquet (.parquet)", ".parquet"))


class ExportPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Task | None = None
        self.last_report: Any = None
        root = QVBoxLayout(self)
        root.addWidget(title("Export", "Write every user's top-N recommendations, or the learned embeddings, "
                             "to files other tools can read."))
        self.picker = RunPicker(state)
        root.addWidget(self.picker)

        rec = QGroupBox("Top-N recommendations")
        rf = QFormLayout(rec)
        self.fmt = QComboBox()
        for key, text, _ext in FORMATS:
            self.fmt.addItem(text, key)
        self.fmt.currentIndexChanged.connect(self._fix_suffix)
        rf.addRow("Format", self.fmt)
        self.top = QSpinBox()
        self.top.setRange(1, 1000)
        self.top.setValue(20)
        self.top.setToolTip("Recommendations per user (K).")
        rf.addRow("Top K", self.top)
        self.include_seen = QCheckBox("Include items the user already has")
        self.include_seen.setToolTip("Off (the usual): items in the user's history are never recommended.")
        rf.addRow("", self.include_seen)
        path_row = QHBoxLayout()
        self.rec_path = QLineEdit(str(Path.home() / "recommendations.sqlite"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_recs)
        path_row.addWidget(self.rec_path, 1)
        path_row.addWidget(browse)
        rf.addRow("Save to", path_row)
        self.rec_btn = QPushButton("Export recommendations")
        self.rec_btn.setProperty("primary", True)
        self.rec_btn.clicked.connect(self.export_recommendations)
        rf.addRow("", self.rec_btn)
        root.addWidget(rec)

        emb = QGroupBox("Embeddings")
        ef = QFormLayout(emb)
        erow = QHBoxLayout()
        self.emb_path = QLineEdit(str(Path.home() / "embeddings"))
        ebrowse = QPushButton("Browse…")
        ebrowse.clicked.connect(self._browse_emb)
        erow.addWidget(self.emb_path, 1)
        erow.addWidget(ebrowse)
        ef.addRow("Folder", erow)
        self.emb_btn = QPushButton("Export embeddings")
        self.emb_btn.clicked.connect(self.export_embeddings)
        ef.addRow("", self.emb_btn)
        root.addWidget(emb)

        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_btn)
        root.addLayout(prow)
        self.message = Message()
        root.addWidget(self.message)
        root.addStretch(1)

    # --- paths -----------------------------------------------------------------------------------
    def _fix_suffix(self) -> None:
        ext = FORMATS[self.fmt.currentIndex()][2]
        p = Path(self.rec_path.text() or "recommendations")
        self.rec_path.setText(str(p.with_suffix(ext)))

    def _browse_recs(self) -> None:
        key, text, ext = FORMATS[self.fmt.currentIndex()]
        path, _ = QFileDialog.getSaveFileName(self, "Save recommendations", self.rec_path.text(), f"{text}",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.rec_path.setText(path if path.endswith(ext) else path + ext)

    def _browse_emb(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for embeddings", self.emb_path.text())
        if path:
            self.emb_path.setText(path)

    def confirm_overwrite(self, path: Path) -> bool:
        if not path.exists():
            return True
        ans = QMessageBox.question(self, "Replace file?", f"{path} already exists. Replace it?",
                                   QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                   QMessageBox.StandardButton.No)
        return ans == QMessageBox.StandardButton.Yes

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
        self.cancel_btn.setEnabled(True)
        self.rec_btn.setEnabled(False)
        self.emb_btn.setEnabled(False)
        return run_id

    def export_recommendations(self, *, confirm: bool = True) -> None:
        out = Path(self.rec_path.text()).expanduser()
        if not self.rec_path.text().strip():
            self.message.error("Choose where to save the file.")
            return
        if confirm and not self.confirm_overwrite(out):
            return
        run_id = self._begin()
        if run_id is None:
            return
        self.message.show_message(f"Exporting top-{self.top.value()} recommendations…")
        self.task = run_in_thread(services.export_recommendations, self.state.workspace, run_id, str(out),
                                  self.top.value(), self.fmt.currentData(), self.include_seen.isChecked(),
                                  out.exists(), on_result=self._done, on_error=self._failed,
                                  on_progress=self._progress, on_finished=self._end, with_stop=True)

    def export_embeddings(self, *, confirm: bool = True) -> None:
        out = Path(self.emb_path.text()).expanduser()
        exists = out.exists() and any(out.iterdir()) if out.is_dir() else out.exists()
        if confirm and exists and not self.confirm_overwrite(out):
            return
        run_id = self._begin()
        if run_id is None:
            return
        self.message.show_message("Exporting embeddings…")
        self.task = run_in_thread(services.export_embeddings, self.state.workspace, run_id, str(out), exists,
                                  on_result=self._done, on_error=self._failed, on_progress=self._progress,
                                  on_finished=self._end, with_stop=True)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.message.show_message("Cancelling…")

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(100 * fraction))
        if text:
            self.progress.setFormat(f"%p%  {text}")

    def _done(self, report: Any) -> None:
        self.last_report = report
        self.progress.setValue(100)
        desc = report
        if hasattr(report, "to_dict"):
            desc = report.to_dict()
        if isinstance(desc, dict):
            bits = [f"{k}: {v}" for k, v in desc.items() if not isinstance(v, (dict, list))][:6]
            self.message.ok("Done. " + "; ".join(bits))
        else:
            self.message.ok(f"Done: {desc}")

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))

    def _end(self) -> None:
        self.task = None
        self.cancel_btn.setEnabled(False)
        self.rec_btn.setEnabled(True)
        self.emb_btn.setEnabled(True)
