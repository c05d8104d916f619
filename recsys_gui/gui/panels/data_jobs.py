"""Jobs the Data page runs in workers: Qt-free compositions of the core's loading calls.

The page never parses a file itself: what a path holds (text, Parquet, SQLite, Excel), the tables
or sheets it offers, its preview and its load all come from ``recsys_gui.core.data``, with the
same ``LoadOptions`` the CLI builds from its flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREVIEW_ROWS = 500


@dataclass(frozen=True)
class SourceView:
    """What the page shows after opening a source: its kind, what it offers, its first rows."""

    format: str  # 'text', 'parquet', 'sqlite' or 'excel'
    tables: list[str]  # a database's tables and views, a workbook's sheets; [] otherwise
    frame: Any  # pandas DataFrame of the first rows (None when it could not be read)
    sniffed: Any  # SniffResult (None when it could not be read)
    options: dict[str, Any] = field(default_factory=dict)  # the source options read with
    error: str | None = None  # why the chosen table or sheet cannot be read: another may be chosen


def source_format(path: str | Path) -> str:
    """'text', 'parquet', 'sqlite' or 'excel' (a missing file is 'text': its read says what is wrong)."""
    from recsys_gui.core.data.loading.sources import detect_format

    p = Path(path)
    head = b""
    if p.is_file():
        with p.open("rb") as f:
            head = f.read(16)
    return detect_format(p, head) if p.exists() else "text"


def open_source(path: str, source_options: dict[str, Any]) -> SourceView:
    """Sniff and preview ``path`` with the page's source options (table, query, sheet, separator,
    header). A database with several tables opens on its first one, which the page lists to change;
    when the chosen table or sheet cannot be read, the view still lists the others, with the error."""
    from recsys_gui.core.data.loaders import LoadOptions, read_table
    from recsys_gui.core.data.loading.sources import tables_in
    from recsys_gui.core.errors import RecsysError

    fmt = source_format(path)
    tables = tables_in(path) if fmt in ("sqlite", "excel") else []
    opts = dict(source_options)
    if fmt == "sqlite" and not opts.get("table") and not opts.get("query") and tables:
        opts["table"] = tables[0]
    try:
        frame, sniffed = read_table(path, LoadOptions(**opts), nrows=PREVIEW_ROWS)
    except RecsysError as exc:
        if not tables:
            raise
        return SourceView(fmt, tables, None, None, opts, error=str(exc))
    return SourceView(fmt, tables, frame, sniffed, opts)


def load_predefined(
    train: str,
    valid: str | None,
    test: str,
    options: dict[str, Any],
    metadata: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Ready-made train/valid/test files (the CLI's --train/--valid/--test): the split, its load
    report, the statistics of all parts together and the split's description."""
    from recsys_gui.core.data.loaders import LoadOptions, load_predefined_split
    from recsys_gui.core.data.splits import describe_split
    from recsys_gui.core.user_inspection import interaction_statistics

    split, report = load_predefined_split(train, valid, test, LoadOptions(**options),
                                          item_metadata=metadata, progress=progress)
    everything = split.train.concat(*[p for p in (split.valid, split.test) if p is not None])
    return split, report, interaction_statistics(everything), describe_split(split)
