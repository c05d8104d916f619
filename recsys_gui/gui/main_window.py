"""The main window: sidebar navigation over the eight pages, menus, status bar, drag and drop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from recsys_gui import __version__
from recsys_gui.core.errors import RecsysError
from recsys_gui.gui import theme
from recsys_gui.gui.panels.compare_panel import ComparePanel
from recsys_gui.gui.panels.data_panel import FILE_FILTER, DataPanel
from recsys_gui.gui.panels.embeddings_panel import EmbeddingsPanel
from recsys_gui.gui.panels.export_panel import ExportPanel
from recsys_gui.gui.panels.model_panel import ModelPanel
from recsys_gui.gui.panels.results_panel import ResultsPanel
from recsys_gui.gui.panels.train_panel import TrainPanel
from recsys_gui.gui.panels.whatif import WhatIfPanel
from recsys_gui.gui.paths import absolute_or_none, absolute_path
from recsys_gui.gui.report_action import install_report_action
from recsys_gui.gui.settings_io import SettingsFile
from recsys_gui.gui.state import AppState
from recsys_gui.gui.threading import wait_for_tasks

PAGES = ("Data", "Model", "Train", "Results", "Embeddings", "Compare", "What-if", "Export")
MAX_RECENT = 8
SHORTCUTS = """<table>
<tr><td><b>Ctrl+O</b></td><td>Open a data file</td></tr>
<tr><td><b>Ctrl+Shift+O</b></td><td>Open a workspace folder</td></tr>
<tr><td><b>Ctrl+1 … Ctrl+8</b></td>
<td>Go to Data, Model, Train, Results, Embeddings, Compare, What-if, Export</td></tr>
<tr><td><b>Ctrl+R</b></td><td>Start training</td></tr>
<tr><td><b>Ctrl+.</b></td><td>Stop training</td></tr>
<tr><td><b>Ctrl+E</b></td><td>Export page</td></tr>
<tr><td><b>Ctrl+Q</b></td><td>Quit</td></tr>
<tr><td><b>F1</b></td><td>This list</td></tr></table>
<p>Drop an interaction file on the window to open it.</p>"""


def import_worker_libraries() -> None:
    """Import what the workers use later (scikit-learn's projections, scipy's tests and SVDs) now.

    A first import runs extension-module set-up that holds the GIL for 100-200 ms (measured:
    one 120-185 ms stall of the GUI thread while a worker imported scikit-learn), which would
    freeze the window in the middle of a projection; before the window is shown, nobody waits.
    """
    import scipy.sparse.linalg
    import scipy.stats  # noqa: F401  (imported only to be loaded now)
    import sklearn.decomposition
    import sklearn.manifold  # noqa: F401


class MainWindow(QMainWindow):
    def __init__(self, *, workspace: str | None = None, settings: SettingsFile | None = None) -> None:
        import_worker_libraries()
        super().__init__()
        self.setWindowTitle("RecSys Studio")
        self.setWindowIcon(theme.icon("app"))
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else SettingsFile()
        self.state = AppState(workspace or self.settings.value("workspace") or None)
        self._closing = False

        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(170)
        self.stack = QStackedWidget()
        lay.addWidget(self.nav)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.data_page = DataPanel(self.state)
        self.model_page = ModelPanel(self.state)
        self.train_page = TrainPanel(self.state, self.model_page)
        self.results_page = ResultsPanel(self.state)
        self.embeddings_page = EmbeddingsPanel(self.state)
        self.compare_page = ComparePanel(self.state)
        self.whatif_page = WhatIfPanel(self.state)
        self.export_page = ExportPanel(self.state)
        self.pages = {"Data": self.data_page, "Model": self.model_page, "Train": self.train_page,
                      "Results": self.results_page, "Embeddings": self.embeddings_page,
                      "Compare": self.compare_page, "What-if": self.whatif_page, "Export": self.export_page}
        for name in PAGES:
            page = self.pages[name]
            page.setObjectName(f"page_{name.lower()}")
            page.layout().setContentsMargins(16, 12, 16, 12)
            self.stack.addWidget(page)
            QListWidgetItem(theme.icon(name.lower()), name, self.nav)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.nav.setCurrentRow(0)

        self._menus()
        self.device_label = QLabel("device: …")
        self.workspace_label = QLabel("")
        self.data_label = QLabel("no data")
        sb = self.statusBar()
        sb.addWidget(self.data_label, 1)
        sb.addPermanentWidget(self.workspace_label)
        sb.addPermanentWidget(self.device_label)
        self.state.workspace_changed.connect(self._show_workspace)
        self.state.data_changed.connect(self._data_changed)
        self.train_page.finished.connect(lambda s: self._run_done(s))
        self._show_workspace(self.state.workspace)
        self._show_device()
        self.resize(1400, 900)
        geo = self.settings.value("geometry")
        if isinstance(geo, (QByteArray, bytes)):
            self.restoreGeometry(geo)
        st = self.settings.value("windowState")
        if isinstance(st, (QByteArray, bytes)):
            self.restoreState(st)
        self.state.refresh_runs()
        QTimer.singleShot(0, self._offer_recovery)

    # --- menus -----------------------------------------------------------------------------------
    def _menus(self) -> None:
        mb = self.menuBar()
        fm = mb.addMenu("&File")
        a = QAction(theme.icon("open"), "&Open data…", self)
        a.setShortcut(QKeySequence.StandardKey.Open)
        a.triggered.connect(self.open_data_dialog)
        fm.addAction(a)
        self.recent_menu = fm.addMenu("Open &recent")
        self._fill_recent()
        a = QAction("Open &workspace…", self)
        a.setShortcut(QKeySequence("Ctrl+Shift+O"))
        a.triggered.connect(self.open_workspace_dialog)
        fm.addAction(a)
        fm.addSeparator()
        a = QAction(theme.icon("export"), "&Export…", self)
        a.setShortcut(QKeySequence("Ctrl+E"))
        a.triggered.connect(lambda: self.go("Export"))
        fm.addAction(a)
        install_report_action(self, fm)
        fm.addSeparator()
        a = QAction("&Quit", self)
        a.setShortcut(QKeySequence.StandardKey.Quit)
        a.setMenuRole(QAction.MenuRole.QuitRole)
        a.triggered.connect(self.close)
        fm.addAction(a)

        vm = mb.addMenu("&View")
        for i, name in enumerate(PAGES):
            a = QAction(theme.icon(name.lower()), name, self)
            a.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            a.triggered.connect(lambda _=False, n=name: self.go(n))
            vm.addAction(a)
        vm.addSeparator()
        tm = vm.addMenu("Theme")
        for key, label in (("auto", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            a = QAction(label, self)
            a.triggered.connect(lambda _=False, k=key: self.set_theme(k))
            tm.addAction(a)

        rm = mb.addMenu("&Run")
        a = QAction(theme.icon("play"), "&Start training", self)
        a.setShortcut(QKeySequence("Ctrl+R"))
        a.triggered.connect(lambda: (self.go("Train"), self.train_page.start()))
        rm.addAction(a)
        a = QAction(theme.icon("stop"), "S&top training", self)
        a.setShortcut(QKeySequence("Ctrl+."))
        a.triggered.connect(self.train_page.stop)
        rm.addAction(a)

        hm = mb.addMenu("&Help")
        a = QAction("&Keyboard shortcuts", self)
        a.setShortcut(QKeySequence.StandardKey.HelpContents)
        a.triggered.connect(self.show_shortcuts)
        hm.addAction(a)
        a = QAction("&About RecSys Studio", self)
        a.setMenuRole(QAction.MenuRole.AboutRole)
        a.triggered.connect(self.about)
        hm.addAction(a)

    def _info(self, title_text: str, html: str) -> QMessageBox:
        """A window-modal box opened without a nested event loop, so workers keep reporting."""
        box = QMessageBox(QMessageBox.Icon.Information, title_text, html, QMessageBox.StandardButton.Close,
                          self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_shortcuts(self) -> QMessageBox:
        return self._info("Keyboard shortcuts", SHORTCUTS)

    def about(self) -> QMessageBox:
        return self._info("About RecSys Studio",
                          f"<b>RecSys Studio</b> {__version__}<br>Train, evaluate, compare and export "
                          f"recommender models.<br>Workspace: {self.state.workspace}")

    def go(self, page: str) -> None:
        self.nav.setCurrentRow(PAGES.index(page))

    def set_theme(self, name: str) -> None:
        from PySide6.QtWidgets import QApplication

        theme.apply_theme(QApplication.instance(), name)
        self.settings.setValue("theme", name)

    # --- files -----------------------------------------------------------------------------------
    def open_data_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open interactions", "", FILE_FILTER)
        if path:
            self.open_data(path)

    def open_data(self, path: str, metadata: str | None = None) -> None:
        """Open an interaction file (command line, dialog, drop, recent files): the path is made
        absolute here, so the spec of a run trained on it works from the workspace folder too."""
        path, metadata = absolute_path(path), absolute_or_none(metadata)
        self.go("Data")
        if metadata is None:
            guess = Path(path).with_name("items.csv")
            metadata = str(guess) if guess.exists() and guess != Path(path) else None
        self.data_page.open_file(path, metadata=metadata)
        self._add_recent(path)

    def open_workspace_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open workspace folder", self.state.workspace)
        if path:
            self.open_workspace(path)

    def open_workspace(self, path: str) -> bool:
        """Switch to the workspace at ``path``; one that cannot hold runs is refused in a dialog and
        the current workspace stays open."""
        try:
            self.state.set_workspace(path)
        except RecsysError as exc:
            QMessageBox.warning(self, "Cannot open the workspace", str(exc))
            return False
        self.settings.setValue("workspace", self.state.workspace)
        self._offer_recovery()
        return True

    def _offer_recovery(self) -> None:
        """Runs a crash or kill interrupted: offer to resume them or clean them up (in a worker)."""
        from recsys_gui.gui.recovery import offer_recovery

        offer_recovery(self, self.state.workspace, self._resume_interrupted,
                       on_changed=self.state.refresh_runs,
                       on_error=lambda m: self.statusBar().showMessage(m, 8000))

    def _resume_interrupted(self, row: dict) -> None:
        self.go("Train")
        self.train_page.resume(row)

    def recent_files(self) -> list[str]:
        v = self.settings.value("recentFiles", [])
        return [v] if isinstance(v, str) else [str(p) for p in v] if isinstance(v, (list, tuple)) else []

    def _add_recent(self, path: str) -> None:
        files = [p for p in self.recent_files() if p != path]
        files.insert(0, path)
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_data(p))
        self.recent_menu.setEnabled(bool(files))

    # --- drag and drop ---------------------------------------------------------------------------
    @staticmethod
    def _dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
        """The first local file or folder (of Parquet files) in a drag, if any."""
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        for url in urls:
            if url.isLocalFile() and Path(url.toLocalFile()).exists():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_file(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_file(event)
        if path:
            self.open_data(path)
            event.acceptProposedAction()

    # --- status bar ------------------------------------------------------------------------------
    def _show_workspace(self, path: str) -> None:
        self.workspace_label.setText(f"workspace: {path}")
        self.workspace_label.setToolTip(path)

    def _show_device(self) -> None:
        from recsys_gui.gui import services
        from recsys_gui.gui.threading import run_in_thread

        def probe() -> str:
            from recsys_gui.core.utils.devices import describe_device, resolve_device

            return describe_device(resolve_device("auto"))

        run_in_thread(probe, on_result=lambda s: self.device_label.setText(f"device: {s}"),
                      on_error=lambda e, tb: self.device_label.setText("device: CPU"))
        del services

    def _data_changed(self) -> None:
        r = self.state.report
        if r is not None:
            self.data_label.setText(f"{Path(self.state.data_path).name}: {r.users:,} users · "
                                    f"{r.items:,} items · {r.interactions:,} interactions")

    def _run_done(self, summary: dict[str, Any]) -> None:
        self.statusBar().showMessage(f"Run {summary.get('run_id') or ''} {summary.get('status')}", 8000)

    # --- lifecycle -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        ctl = self.train_page.controller
        if ctl.busy and not self._closing:
            self.statusBar().showMessage("Stopping the training run before closing…")
        elif self.train_page.tune_page.busy and not self._closing:
            # wait_for_tasks below cancels the search; its trial stops at the next batch
            self.statusBar().showMessage("Stopping the search before closing…")
        self._closing = True
        if not ctl.shutdown(15000):
            QMessageBox.information(self, "Still stopping", "The training run is still stopping; the window "
                                    "closes as soon as it has.")
            ctl.busy_changed.connect(lambda busy: None if busy else QTimer.singleShot(0, self.close))
            event.ignore()
            return
        wait_for_tasks(15000)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("workspace", self.state.workspace)
        super().closeEvent(event)
