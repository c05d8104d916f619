"""Themes: QSS templates from resources/styles filled with tokens, and SVG icons from resources/icons.

The theme follows the system palette: "auto" picks dark when the window colour is dark.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from recsys_gui.core.utils import resources

_TOKEN = re.compile(r"\{\{\s*(\w+)\s*\}\}")

THEMES: dict[str, dict[str, str]] = {
    "light": {"window": "#f6f7f9", "sidebar": "#eceef2", "text": "#1d2330", "muted": "#667085",
              "border": "#d0d5dd", "hover": "#dde3ee", "accent": "#2f6fde", "accent_text": "#ffffff",
              "error": "#c0362c", "warning": "#b26b00", "ok": "#1f7a3a", "font_size": "10pt",
              "plot_bg": "#ffffff", "plot_fg": "#333333"},
    "dark": {"window": "#1e2128", "sidebar": "#262a33", "text": "#e6e8ec", "muted": "#9aa3b2",
             "border": "#3a404c", "hover": "#323846", "accent": "#4d86f0", "accent_text": "#ffffff",
             "error": "#ff6b5e", "warning": "#f0b041", "ok": "#5fd07f", "font_size": "10pt",
             "plot_bg": "#15171c", "plot_fg": "#d0d4dc"},
}


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        try:
            from PySide6.QtCore import Qt

            s = scheme()
            if s == Qt.ColorScheme.Dark:
                return True
            if s == Qt.ColorScheme.Light:
                return False
        except Exception:
            pass
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def resolve(name: str) -> str:
    if name == "auto":
        return "dark" if system_is_dark() else "light"
    return name if name in THEMES else "light"


def render(template: str, tokens: dict[str, str]) -> str:
    return _TOKEN.sub(lambda m: tokens.get(m.group(1), m.group(0)), template)


def stylesheet(name: str) -> str:
    name = resolve(name)
    tokens = THEMES[name]
    return render(resources.read_stylesheet("app") + "\n" + resources.read_stylesheet(name), tokens)


def apply_theme(app: QApplication, name: str = "auto") -> str:
    """Set palette + stylesheet + pyqtgraph colours; returns the resolved theme name."""
    resolved = resolve(name)
    t = THEMES[resolved]
    if name != "auto" or resolved == "dark":
        pal = QPalette()
        if resolved == "dark":
            pal.setColor(QPalette.ColorRole.Window, QColor(t["window"]))
            pal.setColor(QPalette.ColorRole.WindowText, QColor(t["text"]))
            pal.setColor(QPalette.ColorRole.Base, QColor("#181b21"))
            pal.setColor(QPalette.ColorRole.AlternateBase, QColor(t["sidebar"]))
            pal.setColor(QPalette.ColorRole.Text, QColor(t["text"]))
            pal.setColor(QPalette.ColorRole.Button, QColor(t["sidebar"]))
            pal.setColor(QPalette.ColorRole.ButtonText, QColor(t["text"]))
            pal.setColor(QPalette.ColorRole.Highlight, QColor(t["accent"]))
            pal.setColor(QPalette.ColorRole.HighlightedText, QColor(t["accent_text"]))
            pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(t["sidebar"]))
            pal.setColor(QPalette.ColorRole.ToolTipText, QColor(t["text"]))
            pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(t["muted"]))
            app.setPalette(pal)
        else:
            app.setPalette(app.style().standardPalette())
    app.setStyleSheet(stylesheet(resolved))
    try:
        import pyqtgraph as pg

        pg.setConfigOptions(background=t["plot_bg"], foreground=t["plot_fg"], antialias=True)
    except Exception:
        pass
    app.setProperty("recsys_theme", resolved)
    return resolved


def current_tokens() -> dict[str, str]:
    app = QApplication.instance()
    name = app.property("recsys_theme") if app is not None else None
    return THEMES.get(name or "light", THEMES["light"])


_ICON_CACHE: dict[str, QIcon] = {}


def icon(name: str) -> QIcon:
    """QIcon from resources/icons/<name>.svg (SVG scales cleanly on high-DPI screens)."""
    if name not in _ICON_CACHE:
        p = resources.icon_path(name)
        _ICON_CACHE[name] = QIcon(str(p)) if p is not None else QIcon()
    return _ICON_CACHE[name]
