"""The interactions file loaded last in this process, kept for the next reader of the same file.

The GUI parses a file once on its Data page; a run's evaluation, user inspector and projections
then ask for the same file again through the run's spec. Parsing it anew costs seconds on large
files, and most of it holds the GIL, so the window's thread would stall for as long as it lasts.
The entry is keyed by the files' identity (resolved path, size, modification time) and the load
options, so an edited file or other options load afresh.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from recsys_gui.core.data import loaders
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.data.splits import make_split

_lock = threading.Lock()
_entry: tuple[tuple[Any, ...], InteractionData, Any] | None = None
_split: tuple[InteractionData, str, int, Split] | None = None


def _key(path: str | Path, metadata: str | Path | None, options: dict[str, Any]) -> tuple[Any, ...] | None:
    files = []
    for p in (path, metadata):
        if p is None:
            files.append(None)
            continue
        try:
            st = os.stat(p)
        except OSError:
            return None
        files.append((os.path.realpath(p), st.st_size, st.st_mtime_ns))
    return (*files, json.dumps(options, sort_keys=True, default=str))


def remember(path: str | Path, metadata: str | Path | None, options: dict[str, Any],
             data: InteractionData, report: Any) -> None:
    """Keep ``data`` (one entry: the previous one is dropped) for ``load`` of the same file and options."""
    _store(_key(path, metadata, options), data, report)


def _store(key: tuple[Any, ...] | None, data: InteractionData, report: Any) -> None:
    global _entry
    with _lock:
        _entry = None if key is None else (key, data, report)


def load(path: str | Path, options: dict[str, Any],
         metadata: str | Path | None = None) -> tuple[InteractionData, Any]:
    """``loaders.load_interactions`` of the file, or the data remembered for it unchanged.

    ``options`` are ``LoadOptions`` fields (a run spec's, ``date_format`` included): other options
    are another entry, since they read the same file differently.
    """
    key = _key(path, metadata, options)
    with _lock:
        entry = _entry
    if key is not None and entry is not None and entry[0] == key:
        return entry[1], entry[2]
    data, report = loaders.load_interactions(Path(path), loaders.LoadOptions(**options),
                                             item_metadata=Path(metadata) if metadata else None)
    _store(key, data, report)  # the file as it was before reading; a change meanwhile loads afresh
    return data, report


def split(data: InteractionData, spec: str, seed: int) -> Split:
    """``make_split(data, spec, seed=seed)``, or the split made last from this very data object.

    A run's evaluation, inspector and projections each ask for the same split; a split is
    deterministic in (data, spec, seed), and the data object is kept alive with it.
    """
    global _split
    with _lock:
        entry = _split
    if entry is not None and entry[0] is data and entry[1] == str(spec) and entry[2] == int(seed):
        return entry[3]
    made = make_split(data, spec, seed=seed)
    with _lock:
        _split = (data, str(spec), int(seed), made)
    return made
