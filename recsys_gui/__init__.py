"""RecSys Studio: train, evaluate and export recommender models from a desktop app or the CLI.

Importing the package is cheap: no torch, no Qt. ``load_run`` (a stored run ready to recommend,
for notebooks: ``from recsys_gui import load_run``) imports torch on first use only.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:
    if name == "load_run":
        # By name, not an import statement: the package root sits below every layer (the session
        # reads __version__ from it), and the serving layer sits above them all.
        return importlib.import_module("recsys_gui.core.serving").load_run
    raise AttributeError(f"module 'recsys_gui' has no attribute '{name}'")
