"""Reading QSettings defensively: a damaged or crafted settings file must not stop the window opening."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings


def read_setting(settings: QSettings, key: str, default: Any = None) -> Any:
    """``settings.value(key)``, or ``default`` when the stored value cannot be decoded.

    PySide6 refuses to unpickle non-builtin objects from a settings file (so nothing runs), but it
    raises while doing so; the app then starts with that setting at its default instead of failing.
    """
    try:
        value = settings.value(key)
    except (RuntimeError, TypeError, ValueError, EOFError):
        return default
    return default if value is None else value
