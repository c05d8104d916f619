"""File → Save report…: one self-contained HTML report of the selected runs, written by a worker.

The runs are the Compare page's selection (or the current run when nothing is selected there).
``ReportSaver`` asks for the file, confirms an overwrite, runs ``write_report`` on the thread pool
(progress and a Cancel button in the window's status bar), then offers to open the report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QProgressBar, QPushButton, QWidget

from recsys_gui.gui.threading import Task, error_text, run_in_thread

DEFAULT_NAME = "report.html"


def save_report(workspace: str, runs: list[str], out: str, overwrite: bool, progress: Any = None,
                should_stop: Any = None) -> Any:
    """The same report as ``recsys-gui report`` (worker thread)."""
    from recsys_gui.core.reporting import write_report

    return write_report(workspace, runs, out, overwrite=overwrite, progress=progress, should_stop=should_stop)


class ReportSaver(QObject):
    """Saves a report of ``runs()`` for ``parent``'s window; one report at a time."""

    def __init__(self, parent: QWidget, state: Any, runs: Callable[[], list[str]]) -> None:
        super().__init__(parent)
        self.parent_widget, self.state, self.runs = parent, state, runs
        self.task: Task | None = None
        self.last_path: Path | None = None
        self.last_error: str | None = None
        self._bar: QProgressBar | None = None
        self._cancel: QPushButton | None = None

    def start(self, run_ids: list[str] | None = None) -> bool:
        """Ask for the file and start the worker; False when nothing was started."""
        parent = self.parent_widget
        if self.task is not None:
            self._say("A report is already being written.")
            return False
        ids = list(run_ids) if run_ids else self.runs()
        if not ids and self.state.current_run:
            ids = [self.state.current_run]
        if not ids:
            QMessageBox.information(parent, "Save report", "Select one or more runs on the Compare page.")
            return False
        start_dir = Path(self.last_path.parent if self.last_path else Path.home())
        path, _ = QFileDialog.getSaveFileName(
            parent, "Save report", str(start_dir / DEFAULT_NAME), "HTML files (*.html)",
            options=QFileDialog.Option.DontConfirmOverwrite,  # ours below asks for typed paths too
        )
        if not path:
            return False
        out = Path(path if path.lower().endswith((".html", ".htm")) else path + ".html")
        from recsys_gui.gui.panels.compare.run_notes import confirm_overwrite

        if not confirm_overwrite(parent, out):
            return False
        self.last_error = None
        self._show_progress(0.0, f"Writing the report of {len(ids)} run(s)…")
        self.task = run_in_thread(
            save_report, self.state.workspace, ids, str(out), out.exists(),
            on_result=self._done, on_error=self._failed, on_progress=self._show_progress,
            on_finished=self._end, with_stop=True,
        )
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._say("Stopping the report…")

    # --- GUI-thread callbacks ---------------------------------------------------------------------
    def _status_bar(self) -> Any:
        window = self.parent_widget.window()
        return window.statusBar() if isinstance(window, QMainWindow) else None

    def _say(self, text: str, msecs: int = 0) -> None:
        sb = self._status_bar()
        if sb is not None:
            sb.showMessage(text, msecs)

    def _show_progress(self, fraction: float, text: str) -> None:
        sb = self._status_bar()
        if sb is None:
            return
        if self._bar is None:
            self._bar = QProgressBar()
            self._bar.setMaximumWidth(180)
            self._cancel = QPushButton("Cancel report")
            self._cancel.clicked.connect(self.cancel)
            sb.addPermanentWidget(self._bar)
            sb.addPermanentWidget(self._cancel)
        self._bar.setValue(int(100 * fraction))
        self._bar.show()
        assert self._cancel is not None
        self._cancel.show()
        sb.showMessage(f"Report: {text}" if text else "Writing the report…")

    def _done(self, info: Any) -> None:
        self.last_path = Path(info.path)
        self._say(f"Report saved: {info.path}", 10000)
        ans = QMessageBox.question(
            self.parent_widget, "Report saved",
            f"Saved the report of {len(info.runs)} run(s) to\n{info.path}\n({info.bytes / 1024:,.0f} KB).\n\n"
            "Open it now?",
        )
        if ans == QMessageBox.StandardButton.Yes:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(info.path)))

    def _failed(self, exc: BaseException, _tb: str) -> None:
        from recsys_gui.core.errors import TrainingCancelled

        self.last_error = error_text(exc)
        if isinstance(exc, TrainingCancelled):
            self._say("The report was stopped; no file was written.", 8000)
            return
        self._say("The report could not be written.", 8000)
        QMessageBox.warning(self.parent_widget, "Save report", self.last_error)

    def _end(self) -> None:
        self.task = None
        for w in (self._bar, self._cancel):
            if w is not None:
                w.hide()


def install_report_action(window: Any, file_menu: QMenu) -> QAction:
    """Add File → Save report… to ``window`` (a MainWindow with a ``compare_page``)."""
    action = QAction("Save &report…", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+R"))
    action.setStatusTip("Write one HTML report of the runs selected on the Compare page")
    action.triggered.connect(lambda: window.compare_page.save_report())
    file_menu.addAction(action)
    return action
