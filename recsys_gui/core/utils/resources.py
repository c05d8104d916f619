"""Where the app's assets (icons, stylesheets) live; Qt-free so the CLI and tests can use it.

Order: the checkout's ``resources/`` (development: QSS edits show up live), then the wheel's
``recsys_gui/_resources`` (hatch force-include), then a PyInstaller bundle (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # .../recsys_gui


def _candidates() -> list[Path]:
    out = [_PACKAGE_DIR.parent / "resources", _PACKAGE_DIR / "_resources"]
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        out += [Path(meipass) / "recsys_gui" / "_resources", Path(meipass) / "resources"]
    return out


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The first folder that holds our icons; raises FileNotFoundError naming where it looked."""
    tried = _candidates()
    for cand in tried:
        if (cand / "icons").is_dir():
            return cand
    raise FileNotFoundError("The app's resources folder was not found; looked in: "
                            + ", ".join(str(p) for p in tried))


def resource_path(*parts: str) -> Path:
    """Path of one asset, e.g. ``resource_path("icons", "data.svg")`` (it may not exist)."""
    return resources_dir().joinpath(*parts)


def icon_path(name: str) -> Path | None:
    p = resource_path("icons", name if name.endswith(".svg") else f"{name}.svg")
    return p if p.exists() else None


def read_stylesheet(name: str) -> str:
    p = resource_path("styles", name if name.endswith(".qss") else f"{name}.qss")
    return p.read_text(encoding="utf-8") if p.exists() else ""
