"""The app's own settings file: JSON, so reading it can never run code.

Why not QSettings: PySide6 stores Python values in its settings files as pickles and, depending on
the release, unpickles them when read (6.11) — a planted settings file would run code on start.
JSON holds everything we keep (paths, lists of paths, the window's geometry as base64), and a
damaged or hand-edited file only resets the settings it cannot read.
"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray

from recsys_gui.core.errors import RecsysError
from recsys_gui.core.utils.atomic import write_atomically

_BYTES_TAG = "base64:"


def default_settings_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("recsys-gui", "RecSysStudio")) / "settings.json"


class SettingsFile:
    """``value``/``setValue`` like QSettings, over a JSON file written atomically on each change."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()
        self._values = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent, unreadable or not JSON: start from the defaults
            return {}
        return data if isinstance(data, dict) else {}

    def value(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default`` when absent; bytes come back as QByteArray."""
        v = self._values.get(key)
        if v is None:
            return default
        if isinstance(v, str) and v.startswith(_BYTES_TAG):
            try:
                return QByteArray(base64.b64decode(v[len(_BYTES_TAG):], validate=True))
            except ValueError:
                return default
        return v

    def setValue(self, key: str, value: Any) -> None:
        """Store ``value`` (QSettings' name, so callers read alike); a failed write keeps it in memory."""
        if isinstance(value, (QByteArray, bytes, bytearray)):
            value = _BYTES_TAG + base64.b64encode(bytes(value)).decode("ascii")
        self._values[key] = value
        with contextlib.suppress(OSError, RecsysError):  # read-only or full config folder
            write_atomically(self.path, lambda p: p.write_text(json.dumps(self._values, indent=1),
                                                                  encoding="utf-8"))
