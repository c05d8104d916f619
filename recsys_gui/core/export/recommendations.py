"""Top-K recommendations per user, streamed to SQLite, CSV or Parquet with raw ids restored.

Three layers, each usable alone:

* ``recommend_frames(model, data, ...)`` ranks users in chunks on the device (one ``score`` call,
  masking and ``torch.topk`` through ``evaluation.ranking.topk_for_users``, the one place that
  masks) and yields DataFrames ``user_id, rank, item_id, score[, title]``: memory is bounded by
  the chunk, not by the number of users.
* ``write_recommendations(frames, out, ...)`` streams those frames into a file atomically.
* ``export_recommendations(workspace, run_id, out, ...)`` is what the CLI and the GUI call: it
  reloads the run's model and data, resolves user/item allow-lists given as raw ids, and writes.

Raw ids are restored here and nowhere else. Seen items (train and valid) are excluded unless asked
otherwise; the history a model scores from is the training part, exactly as ``Evaluator`` does it,
so the exported lists are the lists ``recsys-gui evaluate`` scores.

SQLite is tuned for one bulk load into a private file nobody reads yet: no journal, no fsync, one
transaction, a ``WITHOUT ROWID`` table clustered on its primary key (user_id, rank), and the
item_id index built once after the rows are in. Rows go in through ``executemany`` on plain
tuples; sqlite-utils creates the small tables and the index, and opens the result.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import DataError, ExportError, TrainingCancelled
from recsys_gui.core.export.csv_safety import csv_quoting, neutralise_frame
from recsys_gui.core.utils.atomic import atomic_target, check_target

if TYPE_CHECKING:
    import torch

    from recsys_gui.core.models.base import Recommender
    from recsys_gui.core.store.workspace import Workspace

ProgressFn = Callable[[float, str], None]
# Scores held per chunk: bounds memory for any catalogue. On a CPU a block that stays in cache (16 MB)
# ranks ~30% faster per user than a 64 MB one (benchmarks/export_bench.py); a GPU wants big launches.
SCORE_BUDGET = {"cpu": 1 << 22, "cuda": 1 << 24}

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


def resolved_target(out: Path | str) -> Path:
    """The absolute path an export really lands at: ``~`` expanded, the folder's links and ``..``
    resolved, so reports and confirmations name the real place. The file name itself is kept as
    given: a link there is replaced by the export, never written through."""
    p = Path(out).expanduser()
    return p.parent.resolve() / p.name


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
) -> RecommendationSink:
    """A sink for ``fmt`` writing ``path``.

    ``run_info``/``items`` become SQLite tables (Parquet keeps ``run_info`` as file metadata);
    ``quoting`` is the CSV quoting (``csv_safety.csv_quoting`` of the ids).
    """
    if fmt == "sqlite":
        return SqliteSink(
            path,
            user_ids_are_int=user_ids_are_int,
            item_ids_are_int=item_ids_are_int,
            with_title=with_title,
            run_info=run_info,
            items=items,
        )
    if fmt == "csv":
        return CsvSink(path, with_title=with_title, quoting=quoting)
    if fmt == "parquet":
        return ParquetSink(
            path,
            user_ids_are_int=user_ids_are_int,
            item_ids_are_int=item_ids_are_int,
            with_title=with_title,
            run_info=run_info,
        )
    raise ExportError(f"Unknown export format '{fmt}'.")


def _columns(with_title: bool) -> list[str]:
    return [*COLUMNS, "title"] if with_title else list(COLUMNS)


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
    ) -> None:
        import sqlite_utils

        self.path = Path(path)
        self.with_title = with_title
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
        title = ", title TEXT" if with_title else ""
        # sqlite-utils cannot declare WITHOUT ROWID; the clustered composite key is what makes
        # the bulk load an append and "all recommendations of a user" one range scan.
        self.conn.execute(
            f"CREATE TABLE recommendations (user_id {u} NOT NULL, rank INTEGER NOT NULL, "
            f"item_id {i} NOT NULL, score REAL{title}, PRIMARY KEY (user_id, rank)) WITHOUT ROWID"
        )
        cols = _columns(with_title)
        self.insert = f"INSERT INTO recommendations ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        self.conn.execute("BEGIN")

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        cols = [frame[c].to_numpy() for c in _columns(self.with_title)]
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

    def __init__(self, path: Path, *, with_title: bool, quoting: int = csv.QUOTE_MINIMAL) -> None:
        self.with_title = with_title
        self.quoting = quoting
        self.f = open(path, "w", encoding="utf-8", newline="")
        csv.writer(self.f, lineterminator="\n").writerow(_columns(with_title))

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        safe = neutralise_frame(frame[_columns(self.with_title)])
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
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.with_title = with_title
        fields = [
            pa.field("user_id", pa.int64() if user_ids_are_int else pa.string(), nullable=False),
            pa.field("rank", pa.int32(), nullable=False),
            pa.field("item_id", pa.int64() if item_ids_are_int else pa.string(), nullable=False),
            pa.field("score", pa.float32()),
        ]
        if with_title:
            fields.append(pa.field("title", pa.string()))
        meta = {b"recsys_gui": json.dumps(dict(run_info or {}), default=str).encode()}
        self.schema = pa.schema(fields, metadata=meta)
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self.buffer: list[pd.DataFrame] = []
        self.buffered = 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.buffer.append(frame[_columns(self.with_title)])
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


# --- ids ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Labels:
    """Dense index → raw id arrays (and titles) used to label exported rows.

    Integer id spaces stay int64 (written as SQLite INTEGER / Parquet int64); anything else is
    written as text exactly as the loader kept it, so "007" stays "007".
    """

    users: np.ndarray
    items: np.ndarray
    titles: np.ndarray | None = None

    @property
    def user_ids_are_int(self) -> bool:
        return self.users.dtype.kind in "iu"

    @property
    def item_ids_are_int(self) -> bool:
        return self.items.dtype.kind in "iu"

    @classmethod
    def from_data(cls, data: InteractionData, *, titles: bool = True) -> Labels:
        t = data.item_titles() if titles else None
        tarr = None
        if t is not None:
            tarr = t.reindex(range(data.n_items)).astype(object).where(t.notna(), None).to_numpy()
        return cls(_id_array(data.user_ids), _id_array(data.item_ids), tarr)


def _id_array(ids: pd.Index) -> np.ndarray:
    if ids.dtype.kind in "iu":
        return ids.to_numpy(dtype=np.int64)
    return np.array([v if isinstance(v, str) else str(v) for v in ids], dtype=object)


def match_ids(raw: Iterable[object], ids: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Dense indices of the raw ids that are known (order kept, duplicates dropped) and the unknown ones.

    Ids are compared by their text form, so ``"7"`` from a file matches integer id 7 but ``"007"``
    does not (and matches only a text id "007").
    """
    tokens = list(dict.fromkeys(str(v) for v in raw))
    if not tokens:
        return np.zeros(0, dtype=np.int64), []
    lookup = pd.Index(_id_array(ids).astype(str) if ids.dtype.kind in "iu" else _id_array(ids))
    if lookup.is_unique:
        pos = lookup.get_indexer(pd.Index(tokens, dtype=object))
    else:
        first = {v: i for i, v in reversed(list(enumerate(lookup)))}
        pos = np.array([first.get(t, -1) for t in tokens], dtype=np.int64)
    known = pos >= 0
    return pos[known].astype(np.int64), [t for t, k in zip(tokens, known, strict=True) if not k]


def read_id_file(path: Path | str, what: str) -> list[str]:
    """Raw ids, one per line (blank lines skipped, surrounding whitespace and a UTF-8 BOM removed)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{what} file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the {what} file ({exc})", path=p) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def resolve_ids(
    spec: Path | str | Sequence[object] | None, ids: pd.Index, what: str
) -> tuple[np.ndarray | None, list[str]]:
    """A file path or a list of raw ids → (dense indices or None for "all", unknown raw ids)."""
    if spec is None:
        return None, []
    raw = read_id_file(spec, what) if isinstance(spec, (str, Path)) else list(spec)
    where = f" in {spec}" if isinstance(spec, (str, Path)) else ""
    if not raw:
        raise ExportError(f"No {what} ids{where}: give one raw id per line.")
    dense, unknown = match_ids(raw, ids)
    if dense.size == 0:
        sample = ", ".join(repr(u) for u in unknown[:5])
        raise ExportError(
            f"None of the {len(unknown)} {what} ids{where} is known to this run (e.g. {sample})."
        )
    return dense, unknown


# --- ranking ------------------------------------------------------------------------------------
def auto_chunk_users(n_items: int, device: str = "cpu", budget: int | None = None) -> int:
    """Users per chunk so that one chunk's score matrix holds about ``budget`` floats."""
    budget = budget or SCORE_BUDGET.get(device, SCORE_BUDGET["cuda"])
    return int(max(64, min(65536, budget // max(n_items, 1))))


def chunk_that_fits(step: int, n_items: int, device: torch.device) -> int:
    """``step`` users per chunk, or fewer when their score rows would not fit in free memory.

    The ranker holds ``prefetched``'s chunks of output too, but those are k columns wide; the score
    block (n_items wide) is what grows with the catalogue.
    """
    from recsys_gui.core import memory

    remedies = [memory.KCORE, memory.SAMPLE_USERS]
    if device.type == "cuda":
        remedies.append(memory.USE_CPU)
    return memory.batch_that_fits(
        step, n_items * memory.RANK_BYTES_PER_CELL,
        f"Ranking one user against {n_items:,} items for the export", device, remedies=remedies)


def recommend_frames(
    model: Recommender,
    data: Split | InteractionData,
    *,
    k: int = 20,
    users: np.ndarray | Sequence[int] | None = None,
    exclude_seen: bool = True,
    allow_items: np.ndarray | Sequence[int] | None = None,
    device: torch.device | str | None = None,
    chunk_users: int | None = None,
    labels: Labels | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Top-``k`` rows per user, one DataFrame per chunk of users, with raw ids.

    ``data`` is a ``Split`` (seen = train + valid + fold-in; history = train + fold-in, as the
    evaluator uses them) or a single ``InteractionData`` used for both. ``users`` and
    ``allow_items`` are dense indices (``resolve_ids`` turns raw ids into them); ``None`` = all.
    Rows whose score is -inf (fewer than ``k`` candidates left after masking) are dropped, so such
    a user gets fewer than ``k`` rows with ranks still 1, 2, ... ``on_chunk(n)`` is told how many
    users each chunk held; ``should_stop()`` is polled between chunks.
    """
    import torch

    from recsys_gui.core.evaluation.ranking import DeviceCSR, topk_for_users

    if k < 1:
        raise ExportError(f"The number of recommendations per user must be at least 1 (got {k}).")
    if isinstance(data, Split):
        history_data, seen_data, ref = data.known_for_valid(), data.known_for_test(), data.train
    else:
        history_data = seen_data = ref = data
    if (model.n_users, model.n_items) != (ref.n_users, ref.n_items):
        raise ExportError(
            f"The model was built for {model.n_users} users × {model.n_items} items but the data has "
            f"{ref.n_users} × {ref.n_items}; it is not the data this model was trained on."
        )
    dev = torch.device(device) if device is not None else model.device
    model.to(dev)
    model.eval()
    labels = labels or Labels.from_data(ref)
    user_idx = np.arange(ref.n_users, dtype=np.int64) if users is None else np.asarray(users, dtype=np.int64)
    if user_idx.size and (user_idx.min() < 0 or user_idx.max() >= ref.n_users):
        raise ExportError("A user index is outside the model's id space.")
    needs_history = model.capabilities.scoring_needs_history
    history = DeviceCSR(history_data, dev) if needs_history else None
    exclude = DeviceCSR(seen_data, dev) if exclude_seen else None
    allow = None
    if allow_items is not None:
        allow = torch.as_tensor(np.asarray(allow_items, dtype=np.int64), device=dev)
    step = int(chunk_users) if chunk_users else auto_chunk_users(ref.n_items, dev.type)
    if step < 1:
        raise ExportError(f"chunk_users must be at least 1 (got {chunk_users}).")
    step = chunk_that_fits(step, ref.n_items, dev)
    ranks = np.arange(1, min(k, ref.n_items) + 1, dtype=np.int32)
    for start in range(0, user_idx.size, step):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("Export stopped.")
        chunk = user_idx[start : start + step]
        ut = torch.as_tensor(chunk, device=dev)
        idx, vals = topk_for_users(model, ut, k=k, history=history, exclude=exclude, allow_items=allow)
        yield _frame(chunk, idx.cpu().numpy(), vals.cpu().numpy(), ranks, labels)
        if on_chunk is not None:
            on_chunk(chunk.size)


def _frame(
    users: np.ndarray, idx: np.ndarray, vals: np.ndarray, ranks: np.ndarray, labels: Labels
) -> pd.DataFrame:
    """Flatten one chunk's [B, k] top-k into labelled rows, dropping masked (-inf) slots."""
    ok = vals > -np.inf  # also drops NaN scores, which are not recommendations
    if ok.all():
        u = np.repeat(users, idx.shape[1])
        r = np.tile(ranks[: idx.shape[1]], users.size)
        items, scores = idx.reshape(-1), vals.reshape(-1)
    else:
        u = np.repeat(users, ok.sum(1))
        r = np.cumsum(ok, axis=1, dtype=np.int32)[ok]
        items, scores = idx[ok], vals[ok]
    cols: dict[str, Any] = {
        "user_id": labels.users[u],
        "rank": r.astype(np.int32, copy=False),
        "item_id": labels.items[items],
        "score": scores.astype(np.float32, copy=False),
    }
    if labels.titles is not None:
        cols["title"] = labels.titles[items]
    frame = pd.DataFrame(cols)
    frame.attrs["users"] = int(users.size)  # users ranked in this chunk, including any left with no rows
    return frame


def prefetched(frames: Iterator[pd.DataFrame], depth: int = 2) -> Iterator[pd.DataFrame]:
    """Run ``frames`` in a background thread, ``depth`` chunks ahead of the consumer.

    Ranking (torch, which releases the GIL) then overlaps with writing (SQLite, CSV), which is
    single-threaded. ``depth`` bounds the memory: at most ``depth + 2`` chunks exist at once. An
    error in the producer is raised in the consumer; if the consumer stops early, the producer is
    told to stop and is joined, so no thread outlives the export.
    """
    import queue
    import threading

    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    done = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not done.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for f in frames:
                if not put(("frame", f)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer thread
            put(("error", exc))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="recsys-export-ranker", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "frame":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        done.set()
        worker.join()


# --- writing ------------------------------------------------------------------------------------
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
) -> tuple[Path, int]:
    """Stream ``frames`` into ``out`` atomically; returns (path, rows written).

    ``labels`` tells the column types (integer or text ids, whether titles exist) even when no
    frame comes. The target appears only when every row is written; on any error or cancellation
    it is left as it was and the temporary file is removed.
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


# --- the export the CLI and the GUI run ------------------------------------------------------
@dataclass(frozen=True)
class ExportReport:
    """What an export wrote; ``unknown_users``/``unknown_items`` are raw ids from the allow-lists
    that the run does not know (reported, never silently skipped)."""

    path: Path
    format: str
    run_id: str
    top: int
    rows: int
    users: int
    seconds: float
    unknown_users: list[str] = field(default_factory=list)
    unknown_items: list[str] = field(default_factory=list)
    short_users: int = 0  # users with fewer than `top` candidates left after masking

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "run_id": self.run_id,
            "top": self.top,
            "rows": self.rows,
            "users": self.users,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "unknown_users": self.unknown_users,
            "unknown_items": self.unknown_items,
            "short_users": self.short_users,
        }


def export_recommendations(
    workspace: Workspace | Path | str | None,
    run_id: str,
    out: Path | str,
    *,
    top: int = 20,
    fmt: str | None = None,
    users: Path | str | Sequence[object] | None = None,
    include_seen: bool = False,
    items: Path | str | Sequence[object] | None = None,
    overwrite: bool = False,
    device: str = "auto",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk_users: int | None = None,
) -> ExportReport:
    """Export a stored run's top-``top`` list for every user (or the ``users`` given) to ``out``.

    ``users``/``items`` are a file of raw ids (one per line) or a list of raw ids. The format comes
    from ``fmt`` or the suffix. An existing ``out`` is refused unless ``overwrite``; the check runs
    before the model is loaded, so a refused export costs nothing.
    """
    # The session layer owns "which model and data belong to a run"; imported here so the exporter's
    # lower layers (frames, sinks) stay usable without a workspace.
    from recsys_gui.core.session import load_run_model, load_split
    from recsys_gui.core.utils.devices import resolve_device

    t0 = time.perf_counter()
    target = resolved_target(out)
    kind = format_for(target, fmt)
    if top < 1:
        raise ExportError(f"--top must be at least 1 (got {top}).")
    check_target(target, overwrite=overwrite)
    tick = progress or (lambda _f, _t: None)
    tick(0.0, "Loading the model and its data")
    dev = resolve_device(device)
    model, spec, row = load_run_model(workspace, run_id, device=dev)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    fingerprint = split.train.fingerprint()
    if row.get("data_fingerprint") and row["data_fingerprint"] != fingerprint:
        raise ExportError(
            f"The data files of run {row['id']} have changed since it was trained (fingerprint "
            f"{fingerprint}, run has {row['data_fingerprint']}); ids would not match the model. "
            "Restore the files or train again."
        )
    from recsys_gui.core.training.trainer import set_context

    set_context(model, split.known_for_test())  # sequence models: recommend after everything known
    user_idx, unknown_users = resolve_ids(users, split.train.user_ids, "user")
    item_idx, unknown_items = resolve_ids(items, split.train.item_ids, "item")
    n_users = split.n_users if user_idx is None else int(user_idx.size)
    labels = Labels.from_data(split.train)
    k = min(top, split.n_items)
    done = 0
    short = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        tick(0.02 + 0.93 * done / max(n_users, 1), f"Ranked {done:,} of {n_users:,} users")

    def counted(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        nonlocal short
        for f in frames:
            short += int(f.attrs["users"] - np.count_nonzero(f["rank"].to_numpy() == k))
            yield f

    frames = prefetched(
        recommend_frames(
            model,
            split,
            k=top,
            users=user_idx,
            exclude_seen=not include_seen,
            allow_items=item_idx,
            device=dev,
            chunk_users=chunk_users,
            labels=labels,
            should_stop=should_stop,
            on_chunk=on_chunk,
        )
    )
    info = run_info(
        row,
        spec.to_dict(),
        top=top,
        include_seen=include_seen,
        users=users,
        items=items,
        fingerprint=fingerprint,
    )
    meta = items_table(split.train) if kind == "sqlite" else None
    try:
        path, n_rows = write_recommendations(
            counted(frames), target, labels=labels, fmt=kind, overwrite=overwrite, run_info=info, items=meta
        )
    except TrainingCancelled:
        raise TrainingCancelled(f"Export stopped; {target} was not changed.") from None
    tick(1.0, f"Wrote {n_rows:,} rows to {path.name}")
    return ExportReport(
        path=path,
        format=kind,
        run_id=str(row["id"]),
        top=top,
        rows=n_rows,
        users=n_users,
        seconds=time.perf_counter() - t0,
        unknown_users=unknown_users,
        unknown_items=unknown_items,
        short_users=short,
    )


def run_info(
    row: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    top: int,
    include_seen: bool,
    users: object,
    items: object,
    fingerprint: str,
) -> dict[str, Any]:
    """The ``run`` table row: which model, configuration, data and metrics produced the lists."""
    from recsys_gui import __version__

    return {
        "run_id": row["id"],
        "name": row.get("name"),
        "model": row.get("model"),
        "family": row.get("family"),
        "model_config_json": spec.get("model_config", {}),
        "train_json": spec.get("train", {}),
        "spec_json": spec,
        "data_path": row.get("data_path"),
        "data_fingerprint": fingerprint,
        "split": row.get("split"),
        "seed": row.get("seed"),
        "best_epoch": row.get("best_epoch"),
        "valid_metrics_json": row.get("valid") or {},
        "test_metrics_json": row.get("test") or {},
        "trained_at": row.get("created_at"),
        "exported_at": time.time(),
        "top": top,
        "include_seen": include_seen,
        "users_filter": None if users is None else (str(users) if isinstance(users, (str, Path)) else "list"),
        "items_filter": None if items is None else (str(items) if isinstance(items, (str, Path)) else "list"),
        "app_version": __version__,
    }


def items_table(data: InteractionData) -> pd.DataFrame | None:
    """Item metadata with raw ``item_id`` first (for the SQLite ``items`` table), or None when unknown."""
    if data.item_meta is None or data.item_meta.empty:
        return None
    meta = data.item_meta.reindex(range(data.n_items))
    out = meta.reset_index(drop=True)
    out = out.drop(columns=[c for c in out.columns if str(c) == "item_id"])
    out.insert(0, "item_id", _id_array(data.item_ids))
    return out
