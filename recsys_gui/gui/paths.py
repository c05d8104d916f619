"""Paths the window is given are made absolute where they come in.

A run trains in a child process whose working directory is the workspace, and a stored spec is
re-run from anywhere; a path relative to the folder the app was started from means nothing there.
So the command line, the file dialogs, drops and recent files all pass through ``absolute_path``.
"""

from __future__ import annotations

from pathlib import Path


def absolute_path(path: str | Path) -> str:
    """``path`` with ``~`` expanded, relative to the current working directory, symlinks resolved."""
    return str(Path(path).expanduser().resolve())


def absolute_or_none(path: str | Path | None) -> str | None:
    """``absolute_path`` of a path that may be absent (``None`` or empty)."""
    return absolute_path(path) if path else None
