"""Start the desktop app: QApplication, theme, exception hook, main window."""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from recsys_gui.gui.paths import absolute_path

# The X11 libraries Qt's xcb plugin loads (and the Debian/Ubuntu packages holding them). pip's
# PySide6 does not ship them; without one, Qt aborts with a core dump and a hint about its plugin.
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xkbcommon-x11": "libxkbcommon-x11-0",
                 "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1", "xcb-shape": "libxcb-shape0"}
_find_library = ctypes.util.find_library  # a test replaces it


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
    # absolute from here on: the training process runs in the workspace, not in this folder
    p.add_argument("--data", metavar="FILE", type=absolute_path, help="Interaction file to open.")
    p.add_argument("--items", metavar="FILE", type=absolute_path, help="Item metadata file (titles, genres).")
    p.add_argument("--workspace", metavar="DIR", type=absolute_path, help="Workspace folder to open.")
    p.add_argument("--theme", choices=("auto", "light", "dark"), default=None)
    return p.parse_args(list(argv))


def missing_xcb_packages() -> list[str]:
    """The packages to install before Qt can open a window on this X11 display ([] when none or n/a).

    Only asked where Qt would load its xcb plugin: Linux, a DISPLAY, and QT_QPA_PLATFORM unset
    (and no Wayland session) or xcb. A bundle carries its own copies of the libraries.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY"):
        return []
    if platform and not platform.startswith("xcb"):
        return []
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return []
    bundle = Path(getattr(sys, "_MEIPASS", "/nonexistent"))
    return [pkg for lib, pkg in XCB_LIBRARIES.items()
            if not _find_library(lib) and not any(bundle.rglob(f"lib{lib}.so*"))]


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


def open_window(args: argparse.Namespace) -> object:
    """The main window as ``main`` shows it, for the parsed command line (tests start it here)."""
    app = make_app()
    from recsys_gui.gui import theme
    from recsys_gui.gui.main_window import MainWindow
    from recsys_gui.gui.settings_io import SettingsFile

    settings = SettingsFile()
    theme.apply_theme(app, args.theme or str(settings.value("theme", "auto")))
    win = MainWindow(workspace=args.workspace, settings=settings)
    data = args.data or (str(bundled_sample()) if bundled_sample() else None)
    if data:
        win.open_data(data, metadata=args.items)
    win.show()
    return win


def main(argv: Sequence[str] | None = None) -> int:
    """The window's entry point: process-wide settings are made here (and in the CLI's ``main``), never
    by the library. The allocator is left alone: this process does not train, its children do."""
    from recsys_gui.process_setup import configure_openmp, quiet_known_warnings

    configure_openmp()  # before torch loads: its threads sleep while the window's own work runs
    quiet_known_warnings()  # the Results page's evaluations reach torch's sparse-CSR beta warning
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = missing_xcb_packages()
    if missing:  # before QApplication: Qt would abort the process with a core dump
        print(f"error: the window needs X11 libraries that are missing ({', '.join(missing)}); install them "
              f"with: apt-get install {' '.join(XCB_LIBRARIES.values())}", file=sys.stderr)
        return 2
    app = make_app()
    install_excepthook()
    _window = open_window(args)  # held until exec returns: a dropped window would be collected and close
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
