"""Recommendation files: SQLite, CSV and Parquet sinks that take ranked chunks as they come.

``write_recommendations(frames, out, ...)`` streams chunks of ``user_id, rank, item_id, score[,
title][, because]`` rows into one file atomically (``utils.atomic``): the target appears only when every
row is written, and an existing file is replaced only when asked.

SQLite is tuned for one bulk load into a private file nobody reads yet: no journal, no fsync, one
transaction, a ``WITHOUT ROWID`` table clustered on its primary key (user_id, rank), and the
item_id index built once after the rows are in. Rows go in through ``executemany`` on plain
tuples; sqlite-utils creates the small tables and the index, and opens the result. CSV text is
made spreadsheet-safe (``csv_safety``) chunk by chunk, so no caller can forget it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlite_utils

from recsys_gui.core.errors import ExportError
from recsys_gui.core.export.csv_safety import csv_quoting, neutralise_frame
from recsys_gui.core.export.ids import Labels
from recsys_gui.core.utils.atomic import atomic_target, resolved_target

FORMATS = ("sqlite", "csv", "parquet")
SUFFIXES = {
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
COLUMNS = ("user_id", "rank", "item_id", "score")


def format_for(path: Path, fmt: str | None) -> str:
    """The explicit format, else the one the file suffix names; an ``ExportError`` otherwise."""
    if fmt:
        f = fmt.strip().lower().lstrip(".")
        f = {"db": "sqlite", "sqlite3": "sqlite", "pq": "parquet"}.get(f, f)
        if f not in FORMATS:
            raise ExportError(f"Unknown export format '{fmt}'. Choose one of: {', '.join(FORMATS)}.")
        return f
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ExportError(
            f"Cannot tell the format of '{path}' from its suffix. Use .sqlite/.db, .csv or "
            ".parquet, or pass --format."
        )
    return SUFFIXES[suffix]


class RecommendationSink(Protocol):
    def write(self, frame: pd.DataFrame) -> None: ...
    def close(self) -> None: ...  # finish the file (success)
    def abort(self) -> None: ...  # release handles after an error; the caller deletes the file


def open_sink(
    fmt: str,
    path: Path,
    *,
    user_ids_are_int: bool,
    item_ids_are_int: bool,
    with_title: bool,
    run_info: Mapping[str, Any] | None = None,
    items: pd.DataFrame | None = None,
    quoting: int = csv.QUOTE_MINIMAL,
    with_because: bool = False,
) -> RecommendationSink:
    """A sink for ``fmt`` writing ``path``.

    ``run_info``/``items`` become SQLite tables (Parquet keeps ``run_info`` as file metadata);
    ``quoting`` is the CSV quoting (``csv_safety.csv_quoting`` of the ids); ``with_because`` adds
    the text column of explained exports.
    """
    if fmt == "sqlite":
        return SqliteSink(
            path,
            user_ids_are_int=user_ids_are_int,
            item_ids_are_int=item_ids_are_int,
            with_title=with_title,
            run_info=run_info,
            items=items,
            with_because=with_because,
        )
    if fmt == "csv":
        return CsvSink(path, with_title=with_title, quoting=quoting, with_because=with_because)
    if fmt == "parquet":
        return ParquetSink(
            path,
            user_ids_are_int=user_ids_are_int,
            item_ids_are_int=item_ids_are_int,
            with_title=with_title,
            run_info=run_info,
            with_because=with_because,
        )
    raise ExportError(f"Unknown export format '{fmt}'.")


def _columns(with_title: bool, with_because: bool = False) -> list[str]:
    return [*COLUMNS, *(["title"] if with_title else []), *(["because"] if with_because else [])]


# --- SQLite -------------------------------------------------------------------------------------
class SqliteSink:
    """``recommendations`` (PK user_id, rank; index on item_id), ``run`` and ``items`` tables."""

    def __init__(
        self,
        path: Path,
        *,
        user_ids_are_int: bool,
        item_ids_are_int: bool,
        with_title: bool,
        run_info: Mapping[str, Any] | None = None,
        items: pd.DataFrame | None = None,
        with_because: bool = False,
    ) -> None:
        self.path = Path(path)
        self.with_title, self.with_because = with_title, with_because
        self.run_info = dict(run_info or {})
        self.items = items
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.db = sqlite_utils.Database(self.conn)
        for pragma in (
            "page_size=8192",
            "journal_mode=OFF",
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            "cache_size=-65536",
            "temp_store=FILE",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        u = "INTEGER" if user_ids_are_int else "TEXT"
        i = "INTEGER" if item_ids_are_int else "TEXT"
        title = (", title TEXT" if with_title else "") + (", because TEXT" if with_because else "")
        # sqlite-utils cannot declare WITHOUT ROWID; the clustered composite key is what makes
        # the bulk load an append and "all recommendations of a user" one range scan.
        self.conn.execute(
            f"CREATE TABLE recommendations (user_id {u} NOT NULL, rank INTEGER NOT NULL, "
            f"item_id {i} NOT NULL, score REAL{title}, PRIMARY KEY (user_id, rank)) WITHOUT ROWID"
        )
        cols = _columns(with_title, with_because)
        self.insert = f"INSERT INTO recommendations ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        self.conn.execute("BEGIN")

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = [frame[c].to_numpy() for c in _columns(self.with_title, self.with_because)]
        rows = zip(*(c.tolist() for c in cols), strict=True)
        try:
            self.conn.executemany(self.insert, rows)
        except sqlite3.IntegrityError as exc:
            raise ExportError(
                f"Duplicate (user_id, rank) in the export ({exc}); a user was listed twice."
            ) from None

    def close(self) -> None:
        self.db["recommendations"].create_index(["item_id"], index_name="idx_recommendations_item_id")
        if self.run_info:
            self.db["run"].insert({k: _sql_value(v) for k, v in self.run_info.items()})
        if self.items is not None and len(self.items):
            self.db["items"].insert_all(_records(self.items), pk="item_id", batch_size=5000)
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA optimize")
        self.conn.close()

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()


def _sql_value(v: Any) -> Any:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain-Python rows (numpy scalars and NaN become int/float/None) for sqlite-utils."""
    cols: dict[str, list[Any]] = {}
    for c in frame.columns:
        s = frame[c]
        values = s.astype(object).where(s.notna(), None).tolist()
        cols[str(c)] = [_sql_value(v) for v in values]
    n = len(frame)
    return [{c: v[r] for c, v in cols.items()} for r in range(n)]


# --- CSV ----------------------------------------------------------------------------------------
class CsvSink:
    """RFC 4180 CSV (UTF-8, header line, minimal quoting) with formula-like text neutralised."""

    def __init__(
        self, path: Path, *, with_title: bool, quoting: int = csv.QUOTE_MINIMAL, with_because: bool = False
    ) -> None:
        self.columns = _columns(with_title, with_because)
        self.quoting = quoting
        self.f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close/abort)
        csv.writer(self.f, lineterminator="\n").writerow(self.columns)

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        safe = neutralise_frame(frame[self.columns])
        safe.to_csv(self.f, header=False, index=False, lineterminator="\n", quoting=self.quoting)

    def close(self) -> None:
        self.f.close()

    def abort(self) -> None:
        self.f.close()


# --- Parquet ------------------------------------------------------------------------------------
class ParquetSink:
    """One Parquet file; chunks are buffered into row groups of about a million rows."""

    ROW_GROUP = 1_000_000

    def __init__(
        self,
        path: Path,
        *,
        user_ids_are_int: bool,
        item_ids_are_int: bool,
        with_title: bool,
        run_info: Mapping[str, Any] | None = None,
        with_because: bool = False,
    ) -> None:
        # pyarrow takes a noticeable part of a second to import: only Parquet exports pay for it
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.columns = _columns(with_title, with_because)
        fields = [
            pa.field("user_id", pa.int64() if user_ids_are_int else pa.string(), nullable=False),
            pa.field("rank", pa.int32(), nullable=False),
            pa.field("item_id", pa.int64() if item_ids_are_int else pa.string(), nullable=False),
            pa.field("score", pa.float32()),
        ]
        if with_title:
            fields.append(pa.field("title", pa.string()))
        if with_because:
            fields.append(pa.field("because", pa.string()))
        meta = {b"recsys_gui": json.dumps(dict(run_info or {}), default=str).encode()}
        self.schema = pa.schema(fields, metadata=meta)
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.buffer: list[pd.DataFrame] = []
        self.buffered = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.buffer.append(frame[self.columns])
        self.buffered += len(frame)
        if self.buffered >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        frame = pd.concat(self.buffer, ignore_index=True) if len(self.buffer) > 1 else self.buffer[0]
        table = self.pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        self.writer.write_table(table)
        self.buffer, self.buffered = [], 0

    def close(self) -> None:
        self._flush()
        self.writer.close()

    def abort(self) -> None:
        # the file is deleted next; a second error must not hide the first
        with contextlib.suppress(Exception):
            self.writer.close()


def write_recommendations(
    frames: Iterable[pd.DataFrame],
    out: Path | str,
    *,
    labels: Labels,
    fmt: str | None = None,
    overwrite: bool = False,
    run_info: Mapping[str, Any] | None = None,
    items: pd.DataFrame | None = None,
    flag: str = "--overwrite",
    because: bool = False,
) -> tuple[Path, int]:
    """Stream ``frames`` into ``out`` atomically; returns (path, rows written).

    ``labels`` tells the column types (integer or text ids, whether titles exist) even when no
    frame comes; ``because`` says the frames carry the ``because`` column. The target appears only
    when every row is written; on any error or cancellation it is left as it was and the temporary
    file is removed.
    """
    target = resolved_target(out)
    kind = format_for(target, fmt)
    rows = 0
    with atomic_target(target, overwrite=overwrite, flag=flag) as tmp:
        sink = open_sink(
            kind,
            tmp,
            user_ids_are_int=labels.user_ids_are_int,
            item_ids_are_int=labels.item_ids_are_int,
            with_title=labels.titles is not None,
            run_info=run_info,
            items=items,
            quoting=csv_quoting(labels.users, labels.items, labels.titles)
            if kind == "csv"
            else csv.QUOTE_MINIMAL,
            with_because=because,
        )
        try:
            for frame in frames:
                sink.write(frame)
                rows += len(frame)
            sink.close()
        except BaseException:
            sink.abort()
            raise
    return target, rows
