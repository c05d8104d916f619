"""Start the desktop app: QApplication, theme, exception hook, main window."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path


def bundled_sample() -> Path | None:
    """``sample_data/interactions.csv`` next to the checkout (or in a bundle), when present."""
    here = Path(__file__).resolve().parents[2]
    for cand in (here / "sample_data" / "interactions.csv",
                 Path(getattr(sys, "_MEIPASS", "/nonexistent")) / "sample_data" / "interactions.csv"):
        if cand.exists():
            return cand
    return None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="recsys-gui", description="RecSys Studio desktop app.")
    p.add_argument("--data", metavar="FILE", help="Interaction file to open.")
    p.add_argument("--items", metavar="FILE", help="Item metadata file (titles, genres).")
    p.add_argument("--workspace", metavar="DIR", help="Workspace folder to open.")
    p.add_argument("--theme", choices=("auto", "light", "dark"), default=None)
    return p.parse_args(list(argv))


def make_app(argv: Sequence[str] = ()) -> object:
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        QCoreApplication.setOrganizationName("RecSysStudio")
        QCoreApplication.setApplicationName("recsys-gui")
        app = QApplication(["recsys-gui", *argv])
    return app


def install_excepthook() -> None:
    """Uncaught exceptions in slots are shown to the user instead of vanishing into stderr."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        print(text, file=sys.stderr)
        try:
            from PySide6.QtWidgets import QApplication, QMessageBox

            if QApplication.instance() is not None:
                box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                                  f"{exc_type.__name__}: {exc}")
                box.setDetailedText(text)
                box.exec()
        except Exception:
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = make_app()
    from recsys_gui.gui import theme
    from recsys_gui.gui.main_window import MainWindow
    from recsys_gui.gui.settings_io import SettingsFile

    settings = SettingsFile()
    theme.apply_theme(app, args.theme or str(settings.value("theme", "auto")))
    install_excepthook()
    win = MainWindow(workspace=args.workspace, settings=settings)
    data = args.data or (str(bundled_sample()) if bundled_sample() else None)
    if data:
        win.open_data(data, metadata=args.items)
    win.show()
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
