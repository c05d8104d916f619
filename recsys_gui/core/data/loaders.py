"""Interaction files -> InteractionData: sniffing, fast reading, raw-id mapping, cleaning, a report.

Why this shape: one Arrow CSV reader serves every text format. Single-character separators are
read straight from disk; '::' (MovieLens .dat) and whitespace-separated files are rewritten in
memory to a one-character separator first. So the fast path and the error path see the same rows
and the same line numbers. Integer ids take a typed fast path (checked for leading zeros, so "007"
never silently becomes 7); anything else is read as text and raw ids round-trip exactly.
Problems become a DataError naming the file, the 1-based line and the column, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ConfigError, DataError

ProgressFn = Callable[[float, str], None]
DedupePolicy = Literal["last", "max", "sum", "mean"]
ROLES = ("user", "item", "rating", "timestamp")
SEPARATORS = ("::", "\t", ",", ";", "|", "whitespace")  # sniffing order: first consistent one wins
DROP_REASONS = ("missing id", "missing rating", "missing timestamp", "duplicate merged",
                "below rating threshold", "k-core")
_SAMPLE_BYTES = 1 << 16
_SAMPLE_LINES = 200
_MAX_RECORD_LINES = 50  # a quoted field spanning more lines than this is taken for a stray quote
_NULLS = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A"]
_SPLIT_CHAR = "\x1f"  # what '::' and other multi-character separators become in memory
_DISABLED = "\0disabled"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Column names (lower-cased, non-alphanumerics removed) that say which role a column plays.
_ALIASES: dict[str, tuple[str, ...]] = {
    "user": _words(
        "user userid uid users visitorid visitor customer customerid client clientid member memberid "
        "reviewer reviewerid account accountid person personid player playerid listener listenerid buyer "
        "buyerid viewer subscriber profile profileid sessionid u"
    ),
    "item": _words(
        "item itemid iid items movie movieid artist artistid game gameid product productid track trackid "
        "song songid book bookid isbn asin business businessid video videoid article articleid news "
        "newsid sku poi poiid venue venueid anime animeid recipe recipeid app appid course courseid "
        "content contentid show showid post postid doc docid hotel hotelid beer beerid joke jokeid place "
        "placeid i title titleid"
    ),
    "rating": _words(
        "rating ratings rate score weight count counts plays playcount purchase purchased value stars "
        "star overall preference hours playtime clicks views listens quantity qty amount frequency freq "
        "label feedback grade likes r"
    ),
    "timestamp": _words(
        "timestamp time date ts datetime unixtime unixtimestamp epoch created createdat eventtime "
        "timestamps when t"
    ),
}
_EXACT = {alias: (role, rank) for role, names in _ALIASES.items() for rank, alias in enumerate(names)}


# --------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class LoadOptions:
    """How to read an interaction file. Every ``None`` means "guess it from the file".

    Column roles take a column name, or a 0-based position ("0", "1", ...) when there is no
    header; ``rating``/``timestamp`` may be "none" to ignore a column the guesser would pick.
    """

    user: str | None = None
    item: str | None = None
    rating: str | None = None
    timestamp: str | None = None
    sep: str | None = None  # ',', '\t', ';', '|', '::', 'whitespace' (or ' '); None = sniff
    header: bool | None = None
    min_rating: float | None = None  # explicit -> implicit: keep rating >= threshold, values become 1
    min_user_count: int = 0
    min_item_count: int = 0
    dedupe: DedupePolicy = "last"  # 'last' by file order; max/sum/mean of the values

    def __post_init__(self) -> None:
        if self.dedupe not in ("last", "max", "sum", "mean"):
            raise ConfigError(f"unknown duplicate policy '{self.dedupe}' (use last, max, sum or mean)")
        if self.min_user_count < 0 or self.min_item_count < 0:
            raise ConfigError("minimum counts cannot be negative")
        if self.min_rating is not None and not math.isfinite(self.min_rating):
            raise ConfigError("the rating threshold must be a finite number")


@dataclass(frozen=True)
class SniffResult:
    """What the sniffer found; the GUI preview shows it and lets the user override each part."""

    path: str
    format: Literal["text", "parquet"]
    sep: str | None  # one of SEPARATORS or another single character; None for Parquet
    header: bool
    encoding: str | None  # 'utf-8', 'utf-8-sig' or 'latin-1'; None for Parquet
    columns: tuple[str, ...]
    roles: dict[str, str | None]
    quoting: bool = True
    skip_rows: int = 0  # physical lines before the first data row (blank lines + header)
    sample_rows: tuple[tuple[str, ...], ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class LoadReport:
    """What a load did, for the data panel and `recsys-gui import --json`."""

    path: str
    rows: int
    users: int
    items: int
    interactions: int
    density: float
    rating_min: float | None
    rating_max: float | None
    time_min: int | None
    time_max: int | None
    columns: dict[str, str | None]
    dropped: dict[str, int]
    warnings: list[str]
    format: str = "text"
    sep: str | None = None
    header: bool | None = None
    encoding: str | None = None
    implicit: bool = False
    dedupe: str = "last"
    items_with_metadata: int | None = None
    parts: dict[str, int] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        sep = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}.get(
            self.sep or "", self.sep or ""
        )
        how = (
            "Parquet"
            if self.format == "parquet"
            else (f"{sep}-separated, {'header' if self.header else 'no header'}, {self.encoding}")
        )
        lines = [
            f"{self.path}",
            f"  users: {self.users:,}   items: {self.items:,}   interactions: {self.interactions:,}"
            f"   density: {self.density:.4%}",
            f"  rows read: {self.rows:,} ({how}, {self.seconds:.2f} s)",
            "  columns: " + ", ".join(f"{r}={c if c is not None else '-'}" for r, c in self.columns.items()),
        ]
        if self.parts:
            lines.append("  parts: " + ", ".join(f"{k} {v:,}" for k, v in self.parts.items()))
        if self.rating_min is not None:
            kind = " (implicit: values set to 1 after the threshold)" if self.implicit else ""
            lines.append(f"  ratings: {self.rating_min:g} to {self.rating_max:g}{kind}")
        if self.time_min is not None and self.time_max is not None:
            lines.append(f"  time: {_iso(self.time_min)} to {_iso(self.time_max)}")
        if self.items_with_metadata is not None:
            lines.append(f"  item metadata: {self.items_with_metadata:,} of {self.items:,} items")
        dropped = [f"{n:,} {reason}" for reason, n in self.dropped.items() if n]
        lines.append("  dropped: " + ("; ".join(dropped) if dropped else "nothing"))
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return lines


def _iso(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


# --------------------------------------------------------------------------------------- guards


@contextlib.contextmanager
def _guard(path: object) -> Iterator[None]:
    """Whatever a malformed file makes pandas/Arrow raise becomes one DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except (OSError, MemoryError) as exc:
        raise DataError(f"cannot read the file ({exc.__class__.__name__}: {_short(exc)})", path=path) from exc
    except (ValueError, IndexError, pa.ArrowException, csv.Error, OverflowError) as exc:
        raise DataError(f"cannot read this file as a table: {_short(exc)}", path=path) from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:200]


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p)
    if p.is_dir():
        raise DataError("this is a folder, not a file", path=p)
    if p.stat().st_size == 0:
        raise DataError("the file is empty", path=p)
    return p


# --------------------------------------------------------------------------------------- sniffing


def sniff(path: str | Path, options: LoadOptions | None = None) -> SniffResult:
    """Separator, header, encoding, column names and guessed roles, from the first 64 KiB."""
    options = options or LoadOptions()
    p = _check_path(path)
    with _guard(p):
        with p.open("rb") as f:
            head = f.read(_SAMPLE_BYTES)
            truncated = bool(f.read(1))
        if head[:4] == b"PAR1":
            return _sniff_parquet(p, options)
        return _sniff_text(p, head, truncated, options)


def _sniff_text(p: Path, head: bytes, truncated: bool, options: LoadOptions) -> SniffResult:
    if not head.strip():
        raise DataError("the file is empty (only blank lines)", path=p)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is UTF-16 text; save it as UTF-8 (or latin-1) and try again", path=p)
    control = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32), 127))
    if b"\x00" in head or control > 0.01 * len(head):
        raise DataError("this is not a text table (it looks like binary data)", path=p)
    if truncated and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # drop the partial last line
    if head.startswith(b"\xef\xbb\xbf"):
        encoding, text = "utf-8-sig", head[3:].decode("utf-8", errors="replace")
    else:
        try:
            encoding, text = "utf-8", head.decode("utf-8")
        except UnicodeDecodeError:
            encoding, text = "latin-1", head.decode("latin-1")
    raw_lines = _records(text)
    lead = next((k for k, line in enumerate(raw_lines) if line.strip()), 0)
    lines = [line for line in raw_lines if line.strip()][:_SAMPLE_LINES]
    if not lines:
        raise DataError("the file is empty (no text lines)", path=p)
    sep = _normalise_sep(options.sep) if options.sep is not None else _pick_sep(lines)
    if sep is None:
        raise DataError(
            "cannot find a column separator: each line has a single field, but a user "
            "column and an item column are needed",
            path=p,
        )
    quoting = sep in (",", ";") or (
        sep in ("\t", "|") and any(line.startswith('"') or f'{sep}"' in line for line in lines)
    )
    rows = [_split_line(line, sep, quoting) for line in lines]
    header = _has_header(rows) if options.header is None else options.header
    width = Counter(len(r) for r in rows[1:] or rows).most_common(1)[0][0]
    if header:
        columns = _column_names(rows[0])
        data = rows[1:]
    else:
        columns = tuple(str(k) for k in range(width))
        data = rows
    if header and not data and not truncated:
        raise DataError("the file has a header line but no data rows", path=p)
    if len(columns) < 2:
        raise DataError("found a single column; a user column and an item column are needed", path=p)
    roles, warnings = _guess_roles(p, columns, header, data, options)
    return SniffResult(
        path=str(p),
        format="text",
        sep=sep,
        header=header,
        encoding=encoding,
        columns=columns,
        roles=roles,
        quoting=quoting,
        skip_rows=lead + int(header),
        sample_rows=tuple(tuple(r) for r in data[:10]),
        warnings=tuple(warnings),
    )


_EOL = re.compile(r"\r\n|\n|\r")


def _records(text: str) -> list[str]:
    """The sample's records: split at line ends as Arrow does, but not inside a quoted field.

    A double quote toggles "inside a field" ("" inside one toggles twice). When a quote never
    closes within a few dozen lines it was a stray character (12" in a TSV title), not quoting:
    the plain lines are used then.
    """
    lines = _EOL.split(text)
    if '"' not in text:
        return lines
    ends = [*_EOL.findall(text), ""]
    out: list[str] = []
    parts: list[str] = []
    inside = False
    for line, end in zip(lines, ends, strict=True):
        parts.append(line)
        if line.count('"') % 2:
            inside = not inside
        if inside:
            parts.append(end)
            if len(parts) > 2 * _MAX_RECORD_LINES:
                return lines
        else:
            out.append("".join(parts))
            parts = []
    return out  # an unfinished last record (the sample was cut inside it) is left out


def _sniff_parquet(p: Path, options: LoadOptions) -> SniffResult:
    import pyarrow.parquet as pq

    schema = pq.read_schema(p)
    columns = tuple(schema.names)
    preview = pq.ParquetFile(p).iter_batches(batch_size=200)
    batch = next(preview, None)
    data = (
        []
        if batch is None
        else [[("" if v is None else str(v)) for v in row.values()] for row in batch.to_pylist()]
    )
    roles, warnings = _guess_roles(p, columns, True, data, options)
    return SniffResult(
        path=str(p),
        format="parquet",
        sep=None,
        header=True,
        encoding=None,
        columns=columns,
        roles=roles,
        quoting=False,
        sample_rows=tuple(tuple(r) for r in data[:10]),
        warnings=tuple(warnings),
    )


def _normalise_sep(sep: str) -> str:
    named = {
        "tab": "\t",
        "\\t": "\t",
        "comma": ",",
        "semicolon": ";",
        "pipe": "|",
        " ": "whitespace",
        "space": "whitespace",
        "whitespace": "whitespace",
        "ws": "whitespace",
        "\\s+": "whitespace",
    }
    sep = named.get(sep.lower() if len(sep) > 1 else sep, sep)
    if not sep or sep in ("\n", "\r", '"'):
        raise ConfigError(f"cannot use {sep!r} as a column separator")
    return sep


def _pick_sep(lines: list[str]) -> str | None:
    best: tuple[float, str] | None = None
    for sep in SEPARATORS:
        counts = [len(_split_line(line, sep, sep in (",", ";"))) for line in lines]
        width, n = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        share = n / len(counts)
        if share == 1.0:
            return sep
        if best is None or share > best[0]:
            best = (share, sep)
    return best[1] if best is not None and best[0] >= 0.5 else None


def _split_line(line: str, sep: str, quoting: bool) -> list[str]:
    if sep == "whitespace":
        return line.split()
    if quoting and len(sep) == 1:
        with contextlib.suppress(csv.Error, StopIteration):
            return next(csv.reader([line], delimiter=sep))
    return line.split(sep)


def _norm(name: str) -> str:
    name = name.split(":", 1)[0] if ":" in name[1:] else name  # RecBole atomic 'user_id:token'
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _has_header(rows: list[list[str]]) -> bool:
    first = rows[0]
    if any(_norm(f) in _EXACT and not _is_number(f) for f in first):
        return True
    for j, name in enumerate(first):
        rest = [r[j].strip() for r in rows[1:] if len(r) > j and r[j].strip()]
        if rest and not _is_number(name) and sum(map(_is_number, rest)) >= 0.9 * len(rest):
            return True
    return False


def _column_names(fields: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    for k, f in enumerate(fields):
        name = f.strip().strip('"').strip() or f"column{k + 1}"
        names.append(name if name not in names else f"{name}_{k + 1}")
    return tuple(names)


def _kind(values: list[str]) -> str:
    """'int', 'float', 'epoch', 'date', 'text' or 'empty' for a sample of one column."""
    vals = [v.strip() for v in values if v.strip() and v.strip() not in _NULLS]
    if not vals:
        return "empty"
    try:
        nums = [float(v) for v in vals]
    except ValueError:
        with contextlib.suppress(ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(pd.Series(vals[:50]), errors="coerce", format="mixed")
            if parsed.notna().all():
                return "date"
        return "text"
    if all(float(x).is_integer() for x in nums) and min(nums) >= 1e8:
        return "epoch"
    return "int" if all(re.fullmatch(r"-?\d+", v) for v in vals) else "float"


def _guess_roles(
    p: Path, columns: tuple[str, ...], header: bool, data: list[list[str]], options: LoadOptions
) -> tuple[dict[str, str | None], list[str]]:
    warnings: list[str] = []
    kinds = {c: _kind([r[j] for r in data if len(r) > j]) for j, c in enumerate(columns)}
    chosen: dict[str, str | None] = {}
    for role in ROLES:
        given = getattr(options, role)
        if given is not None:
            chosen[role] = _resolve_column(p, given, columns, role)
    taken = {c for c in chosen.values() if c not in (None, _DISABLED)}
    if len(taken) < len([c for c in chosen.values() if c not in (None, _DISABLED)]):
        raise ConfigError("the same column was given for two roles")
    by_name = header and any(_name_score(c)[0] for c in columns)
    if by_name:
        cands = sorted(
            (-score, rank, ROLES.index(role), j, role, c)
            for j, c in enumerate(columns)
            for role, score, rank in _name_matches(c)
        )
        for neg_score, _r, _o, _j, role, c in cands:
            if role in chosen or c in taken:
                continue
            # an exact name is trusted (bad values then get a precise error); a partial one is checked
            if role in ("rating", "timestamp") and neg_score > -3 and not _fits(role, kinds[c]):
                warnings.append(f"column '{c}' looks like a {role} by name but its values do not; ignored")
                continue
            chosen[role] = c
            taken.add(c)
    free = [c for c in columns if c not in taken]
    for role in ("user", "item"):
        if role not in chosen:
            if not free:
                raise DataError(
                    f"cannot tell which column holds the {role} ids (columns: "
                    f"{', '.join(columns)}); name it with --{role}",
                    path=p,
                )
            chosen[role] = free.pop(0)
            taken.add(chosen[role])  # type: ignore[arg-type]
            if header:
                warnings.append(f"no column is named like a {role} id; using '{chosen[role]}' (by position)")
    if not by_name:  # no header (or unrecognised names): value then time, by position and content
        for c in [c for c in columns if c not in taken]:
            if "rating" not in chosen and kinds[c] in ("int", "float"):
                chosen["rating"] = c
            elif "timestamp" not in chosen and kinds[c] in ("epoch", "date", "int", "float"):
                chosen["timestamp"] = c
            elif "rating" not in chosen and kinds[c] == "epoch" and "timestamp" in chosen:
                chosen["rating"] = c
    roles = {r: (None if chosen.get(r) in (None, _DISABLED) else chosen[r]) for r in ROLES}
    return roles, warnings


def _fits(role: str, kind: str) -> bool:
    return kind in (
        ("int", "float", "epoch", "empty") if role == "rating" else ("int", "float", "epoch", "date", "empty")
    )


def _name_matches(column: str) -> list[tuple[str, int, int]]:
    """(role, score, alias rank): 3 for an exact alias, 2 for a name that starts/ends with one."""
    n = _norm(column)
    out = []
    for role, aliases in _ALIASES.items():
        if n in aliases:
            out.append((role, 3, aliases.index(n)))
            continue
        partial = [k for k, a in enumerate(aliases) if len(a) >= 4 and (n.startswith(a) or n.endswith(a))]
        if partial:
            out.append((role, 2, partial[0]))
    return out


def _name_score(column: str) -> tuple[int, str | None]:
    matches = _name_matches(column)
    return (max(m[1] for m in matches), matches[0][0]) if matches else (0, None)


def _resolve_column(p: Path, given: str, columns: tuple[str, ...], role: str) -> str:
    if given in columns:
        return given
    if role in ("rating", "timestamp") and given.strip().lower() in ("none", "-", ""):
        return _DISABLED
    if given.isdigit() and int(given) < len(columns):
        return columns[int(given)]
    folded = [c for c in columns if c.lower() == given.lower()]
    if len(folded) == 1:
        return folded[0]
    raise DataError(
        f"no column named '{given}' for the {role} (columns: {', '.join(columns)})", path=p, column=given
    )


# --------------------------------------------------------------------------------------- reading


class _TypedReadFailed(Exception):
    """The typed fast path hit a value it could not convert; re-read as text to say where."""


def _source(sn: SniffResult, encoding: str) -> tuple[object, str, str]:
    """(what Arrow reads, its one-character delimiter, its encoding)."""
    if sn.sep is not None and len(sn.sep) == 1:
        return sn.path, sn.sep, ("utf8" if encoding.startswith("utf-8") else "latin1")
    # '::', other multi-character separators and whitespace runs: rewrite to one character in memory
    data = Path(sn.path).read_bytes()
    if encoding == "latin-1":
        data = data.decode("latin-1").encode("utf-8")
    if sn.sep == "whitespace":
        data = re.sub(rb"[ \t\f\v]+", b"\t", data)
        data = re.sub(rb"(?m)^\t|\t(?=\r?$)", b"", data)
        return pa.py_buffer(data), "\t", "utf8"
    return pa.py_buffer(data.replace(str(sn.sep).encode("utf-8"), _SPLIT_CHAR.encode())), _SPLIT_CHAR, "utf8"


def _arrow_read(
    sn: SniffResult, columns: list[str] | None, types: dict[str, pa.DataType], *, source: object = None
) -> tuple[pa.Table, object]:
    """Read with Arrow; ragged rows and encoding trouble are handled here, conversions by callers."""
    encoding = sn.encoding or "utf-8"
    multiline = False  # quoted fields with line breaks: a slower parse, only when a file needs it
    attempt = 0
    while attempt < 2:
        src, delim, enc = _source(sn, encoding) if source is None else (source, _delimiter(sn), "utf8")
        try:
            table = pacsv.read_csv(
                pa.BufferReader(src) if isinstance(src, pa.Buffer) else src,
                read_options=pacsv.ReadOptions(
                    column_names=list(sn.columns), skip_rows=sn.skip_rows, encoding=enc, block_size=1 << 22
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delim,
                    quote_char='"' if sn.quoting else False,
                    ignore_empty_lines=True,
                    newlines_in_values=multiline,
                ),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types=types,
                    null_values=_NULLS,
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            if "Expected" in msg and "columns, got" in msg:
                # A line break inside a quoted field ("a\nb") always splits a record into pieces
                # of the wrong width, so it shows up here; read again allowing it.
                if sn.quoting and not multiline and _has_quote(sn, source):
                    multiline = True
                    continue
                raise _ragged_error(sn) from None
            if "UTF8" in msg and encoding != "latin-1" and attempt == 0:
                encoding, attempt = "latin-1", attempt + 1
                continue
            if "conversion error" in msg:
                raise _TypedReadFailed(msg) from None
            raise
        if encoding != "latin-1" and any(pa.types.is_binary(t) for t in table.schema.types) and attempt == 0:
            encoding, attempt = "latin-1", attempt + 1  # Arrow reads undecodable text as binary: not UTF-8
            continue
        return table, replace(sn, encoding=encoding)
    raise DataError("cannot decode the text (tried UTF-8 and latin-1)", path=sn.path)


def _has_quote(sn: SniffResult, source: object) -> bool:
    """Does the text hold a double quote at all? (Only then can a field span lines.)"""
    if isinstance(source, pa.Buffer):
        return b'"' in source.to_pybytes()
    buf = np.memmap(sn.path, dtype=np.uint8, mode="r")
    step = 1 << 24
    return any((np.asarray(buf[s : s + step]) == 34).any() for s in range(0, len(buf), step))


def _delimiter(sn: SniffResult) -> str:
    """The one-character delimiter Arrow sees (after '::' or whitespace were rewritten)."""
    if sn.sep == "whitespace":
        return "\t"
    return sn.sep if sn.sep is not None and len(sn.sep) == 1 else _SPLIT_CHAR


def _iter_lines(sn: SniffResult) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of each non-blank physical line after the header."""
    enc = "latin-1" if sn.encoding == "latin-1" else "utf-8-sig"
    with open(sn.path, encoding=enc, errors="replace", newline="") as f:
        for lineno, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            if lineno > sn.skip_rows and text:
                yield lineno, text


def _line_of_record(sn: SniffResult, index: int) -> int | None:
    """File line of the index-th data record (Arrow skips blank lines, so count them out)."""
    if sn.format == "parquet":
        return index + 1
    for k, (lineno, _text) in enumerate(_iter_lines(sn)):
        if k == index:
            return lineno
    return None


def _ragged_error(sn: SniffResult) -> DataError:
    width = len(sn.columns)
    what = "the header" if sn.header else "the first rows"
    for lineno, text in _iter_lines(sn):
        n = len(_split_line(text, sn.sep or ",", sn.quoting))
        if n != width:
            return DataError(f"expected {width} fields (as in {what}), found {n}", path=sn.path, row=lineno)
    hint = '; an unbalanced quote (") may join lines' if sn.quoting else ""
    return DataError(f"rows have different numbers of fields (expected {width}){hint}", path=sn.path)


def _maybe_leading_zeros(sn: SniffResult) -> bool:
    """Could a field start with "0<digit>" or "-0" ("007")? Then ids must be read as text.

    A vectorised byte scan (16 MiB at a time) costs far less than reading ids as strings; a field
    start is a byte after the separator or any byte below '-' (newline, quote, space, comma...).
    A false alarm only costs speed.
    """
    buf = np.memmap(sn.path, dtype=np.uint8, mode="r")
    sep = 32 if sn.sep in (None, "whitespace") else ord(sn.sep[-1])  # '::' -> the byte before a field
    step, n = 1 << 24, len(buf)
    for s in range(0, n, step):
        e = min(s + step, n)
        pre = np.asarray(buf[s - 2 : s]) if s >= 2 else np.array([10, 10], dtype=np.uint8)
        post = np.asarray(buf[e : e + 1]) if e < n else np.array([10], dtype=np.uint8)
        seg = np.concatenate([pre, np.asarray(buf[s:e]), post])
        zero, prev = seg[2:-1] == 48, seg[1:-2]
        if (zero & ((prev < 45) | (prev == sep)) & ((seg[3:] - 48) < 10)).any():
            return True
        minus = np.flatnonzero(zero & (prev == 45)) + 2
        if minus.size and ((seg[minus - 2] < 45) | (seg[minus - 2] == sep)).any():
            return True
    return False


def read_table(
    path: str | Path, options: LoadOptions | None = None, *, nrows: int | None = None
) -> tuple[pd.DataFrame, SniffResult]:
    """The file as a DataFrame (all columns; id columns as text), for previews and metadata."""
    options = options or LoadOptions()
    sn = sniff(path, options)
    with _guard(sn.path):
        if sn.format == "parquet":
            import pyarrow.parquet as pq

            if nrows is None:
                return pq.read_table(sn.path).to_pandas(), sn
            batch = next(pq.ParquetFile(sn.path).iter_batches(batch_size=max(nrows, 1)), None)
            frame = pq.read_schema(sn.path).empty_table().to_pandas() if batch is None else batch.to_pandas()
            return frame.head(nrows), sn
        types = {c: pa.string() for r, c in sn.roles.items() if r in ("user", "item") and c}
        source = None
        if nrows is not None:
            source = _head_buffer(sn, nrows)
        try:
            table, sn = _arrow_read(sn, None, types, source=source)
        except _TypedReadFailed:
            table, sn = _arrow_read(sn, None, {c: pa.string() for c in sn.columns}, source=source)
        return table.to_pandas(), sn


def _head_buffer(sn: SniffResult, nrows: int) -> pa.Buffer:
    lines: list[str] = []
    enc = "latin-1" if sn.encoding == "latin-1" else "utf-8-sig"
    with open(sn.path, encoding=enc, errors="replace", newline="") as f:
        taken = 0
        for k, line in enumerate(f):
            lines.append(line)
            taken += k >= sn.skip_rows and bool(line.strip())
            if taken >= nrows:
                break
    text = "".join(lines)
    if sn.sep == "whitespace":
        text = "\n".join("\t".join(x.split()) for x in text.splitlines())
    elif sn.sep is not None and len(sn.sep) > 1:
        text = text.replace(sn.sep, _SPLIT_CHAR)
    return pa.py_buffer(text.encode("utf-8"))


# --------------------------------------------------------------------------------------- converting


@dataclass
class _Parsed:
    """One file's rows as dense codes (-1 = missing) plus the raw ids, before any filtering."""

    users: np.ndarray
    user_ids: pd.Index
    items: np.ndarray
    item_ids: pd.Index
    values: np.ndarray | None  # float32, NaN = missing; None = no rating column
    timestamps: np.ndarray | None  # int64 seconds
    ts_missing: np.ndarray | None
    rows: int
    sniff: SniffResult
    warnings: list[str] = field(default_factory=list)


def _check_memory(sn: SniffResult) -> None:
    """Refuse, before reading, a file whose import would not fit in free RAM (MemoryLimitError)."""
    from recsys_gui.core import memory

    p = Path(sn.path)
    size = p.stat().st_size
    if sn.format == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(p).metadata
        raw = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
        need = memory.csv_load_bytes(raw, raw / max(meta.num_rows, 1))
    else:
        with p.open("rb") as f:
            head = f.read(_SAMPLE_BYTES)
        need = memory.csv_load_bytes(size, len(head) / max(head.count(b"\n"), 1))
    memory.check_fits(need, f"Reading {p.name} ({memory.format_bytes(size)})", "cpu",
                      (memory.SAMPLE_ROWS, memory.CLOSE_OTHERS))


def _read_parsed(path: str | Path, options: LoadOptions, progress: ProgressFn | None) -> _Parsed:
    sn = sniff(path, options)
    _check_memory(sn)
    _tick(progress, 0.05, "reading")
    roles = sn.roles
    needed = [c for c in (roles[r] for r in ROLES) if c is not None]
    if sn.format == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(sn.path, columns=needed)
    else:
        ints = all(
            _kind(
                [
                    r[sn.columns.index(roles[x])]
                    for r in sn.sample_rows  # type: ignore[arg-type]
                    if len(r) == len(sn.columns)
                ]
            )
            in ("int", "epoch")
            for x in ("user", "item")
        )
        id_type = pa.int64() if ints and not _maybe_leading_zeros(sn) else pa.string()
        types: dict[str, pa.DataType] = {roles["user"]: id_type, roles["item"]: id_type}  # type: ignore[dict-item]
        if roles["rating"]:
            types[roles["rating"]] = pa.float32()
        try:
            table, sn = _arrow_read(sn, needed, types)
        except _TypedReadFailed:  # some value does not convert: read it all as text to say where
            table, sn = _arrow_read(sn, needed, {c: pa.string() for c in needed})
    _tick(progress, 0.6, "mapping ids")
    rows = table.num_rows
    if rows == 0:
        raise DataError("the file has no data rows", path=sn.path)
    warnings = list(sn.warnings)
    users, user_ids = _encode_ids(table.column(roles["user"]))
    items, item_ids = _encode_ids(table.column(roles["item"]))
    values = None
    if roles["rating"]:
        values = _to_float(table.column(roles["rating"]), sn, roles["rating"])
    timestamps = ts_missing = None
    if roles["timestamp"]:
        timestamps, ts_missing, note = _to_seconds(table.column(roles["timestamp"]), sn, roles["timestamp"])
        if note:
            warnings.append(note)
    return _Parsed(users, user_ids, items, item_ids, values, timestamps, ts_missing, rows, sn, warnings)


def _tick(progress: ProgressFn | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)


def _numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False)


def _encode_ids(col: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
    """Dense codes (-1 where missing) in sorted raw-id order, and the raw ids (int or exact text)."""
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.cast(t.value_type), t.value_type
    if pa.types.is_floating(t):
        col = pc.if_else(pc.is_nan(col), pa.scalar(None, t), col)  # NaN ids are missing ids
        valid = pc.drop_null(col)
        if (
            len(valid)
            and pc.all(pc.equal(pc.floor(valid), valid)).as_py()
            and pc.max(pc.abs(valid)).as_py() < 2**53
        ):
            col, t = col.cast(pa.int64()), pa.int64()
    if pa.types.is_integer(t):
        return _encode_ints(col.cast(pa.int64()))
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = col.cast(pa.string())
    return _encode_text(col)


def _encode_ints(col: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
    """Integer ids -> codes in sorted id order. Ids span a moderate range almost always, so a lookup
    table (O(n), chunk by chunk, no sort and no full-size temporaries) does it."""
    n = len(col)
    mm = pc.min_max(col)
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    if lo is None:
        return np.full(n, -1, dtype=np.int64), pd.Index([], dtype=np.int64)
    if hi - lo > max(4 * n, 1 << 20):  # sparse ids (hashes, ...): sort instead
        vals = _numpy(pc.fill_null(col, lo)).astype(np.int64, copy=False)
        uniq = np.unique(vals[~_numpy(pc.is_null(col))] if col.null_count else vals)
        codes = np.searchsorted(uniq, vals).astype(np.int64)
        if col.null_count:
            codes[_numpy(pc.is_null(col))] = -1
        return codes, pd.Index(uniq, dtype=np.int64)
    parts = []
    for chunk in col.chunks:
        missing = _numpy(pc.is_null(chunk)) if chunk.null_count else None
        vals = _numpy(pc.fill_null(chunk, lo) if missing is not None else chunk).astype(np.int64, copy=False)
        parts.append((vals - lo if lo else vals, missing))
    seen = np.zeros(hi - lo + 1, dtype=bool)
    for vals, missing in parts:
        seen[vals if missing is None else vals[~missing]] = True
    remap = np.cumsum(seen, dtype=np.int64) - 1
    codes = np.empty(n, dtype=np.int64)
    pos = 0
    for vals, missing in parts:
        out = codes[pos : pos + len(vals)]
        np.take(remap, vals, out=out, mode="clip")  # "clip" does not buffer; vals are in range
        if missing is not None:
            out[missing] = -1
        pos += len(vals)
    return codes, pd.Index(np.flatnonzero(seen) + lo, dtype=np.int64)


_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")  # exactly what str(int) gives back ("-0" is text)


def _encode_text(col: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
    enc = pc.dictionary_encode(col)
    chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
    if not chunks:
        return np.zeros(0, dtype=np.int64), pd.Index([], dtype=object)
    dictionary = chunks[0].dictionary
    if any(len(ch.dictionary) != len(dictionary) for ch in chunks):  # not shared: merge explicitly
        return _encode_text(pa.chunked_array([col.combine_chunks()]))
    idx = np.concatenate([_numpy(pc.fill_null(ch.indices, -1)).astype(np.int64) for ch in chunks])
    raw = [s.strip() for s in dictionary.to_pylist()]
    # stripping may merge "7" and " 7", and may leave "" (missing): map to canonical ids first
    canon_codes, canon = pd.factorize(pd.Index(raw, dtype=object))
    canon_list = list(canon)
    empty = canon_list.index("") if "" in canon_list else -1
    keep = [k for k, s in enumerate(canon_list) if k != empty]
    names = [canon_list[k] for k in keep]
    if names and all(_CANONICAL_INT.fullmatch(s) for s in names):
        ids_vals: np.ndarray = np.array([int(s) for s in names], dtype=np.int64)
        order = np.argsort(ids_vals, kind="stable")
    else:
        ids_vals = np.array(names, dtype=object)
        order = _numpy(pc.array_sort_indices(pa.array(names, type=pa.string()))).astype(np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    to_final = np.full(len(canon_list), -1, dtype=np.int64)
    to_final[keep] = rank
    lookup = np.append(to_final[canon_codes], -1)  # position -1 (missing) maps to -1
    codes = lookup[idx]
    ids = pd.Index(ids_vals[order], dtype=np.int64 if ids_vals.dtype == np.int64 else object)
    return codes, ids


def _bad_value_index(col: pa.ChunkedArray, target: pa.DataType) -> tuple[int, str]:
    """Position and text of the first value that does not convert (only on the error path)."""
    offset = 0
    for chunk in col.chunks:
        try:
            pc.cast(pc.utf8_trim_whitespace(chunk), target)
        except pa.ArrowInvalid:
            for k, v in enumerate(chunk.to_pylist()):
                if v is None or not v.strip():
                    continue
                try:
                    pc.cast(pa.array([v.strip()]), target)
                except pa.ArrowInvalid:
                    return offset + k, v
        offset += len(chunk)
    return -1, ""


def _to_float(col: pa.ChunkedArray, sn: SniffResult, name: str) -> np.ndarray:
    t = col.type
    if pa.types.is_null(t):
        return np.full(len(col), np.nan, dtype=np.float32)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = _blank_to_null(col)
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            k, v = _bad_value_index(col, pa.float64())
            raise DataError(
                f"expected a number, got '{v[:40]}'", path=sn.path, row=_line_of_record(sn, k), column=name
            ) from None
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        raise DataError(f"expected numbers, found {t}", path=sn.path, column=name)
    out = _numpy(pc.cast(col, pa.float32()))
    out = out.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, np.float32(np.nan))
    return out


def _to_seconds(
    col: pa.ChunkedArray, sn: SniffResult, name: str
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Epoch numbers (s/ms/us/ns, told apart by size) or dates -> int64 seconds, plus a missing mask."""
    t = col.type
    if pa.types.is_null(t):
        return np.zeros(len(col), dtype=np.int64), np.ones(len(col), dtype=bool), None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = _blank_to_null(col)
        for target in (pa.int64(), pa.float64()):
            with contextlib.suppress(pa.ArrowInvalid):
                col, t = pc.cast(col, target), target
                break
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        secs = pc.cast(
            col.cast(pa.timestamp("s")) if pa.types.is_date(t) else col.cast(pa.timestamp("s"), safe=False),
            pa.int64(),
        )
        vals, missing = _missing_split(secs)
        return vals, missing, None
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        vals, missing = _missing_split(
            col.cast(pa.float64()) if pa.types.is_floating(t) else col.cast(pa.int64())
        )
        return _scale_epoch(vals, missing)
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        col = col.cast(pa.string())
    return _parse_dates(col, sn, name)


def _blank_to_null(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed text where blank means missing, as Arrow already does for empty numeric fields."""
    col = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _missing_split(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    if col.null_count == 0:
        vals = _numpy(col)
        if vals.dtype.kind == "f" and np.isnan(vals).any():
            return np.nan_to_num(vals), np.isnan(vals)
        return vals, None
    missing = (
        _numpy(pc.is_null(col, nan_is_null=True))
        if pa.types.is_floating(col.type)
        else _numpy(pc.is_null(col))
    )
    return _numpy(pc.fill_null(col, 0)), missing


def _scale_epoch(
    vals: np.ndarray, missing: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    if vals.dtype.kind == "f":
        bad = ~np.isfinite(vals) | (np.abs(np.nan_to_num(vals)) >= 9e18)
        if bad.any():
            missing = bad if missing is None else (missing | bad)
            vals = np.where(bad, 0.0, vals)
    present = vals if missing is None else vals[~missing]
    note = None
    if present.size:
        sample = present[:: max(1, present.size // 100_000)].astype(np.float64)
        mid = float(np.median(np.abs(sample)))
        for limit, div, unit in (
            (1e17, 10**9, "nanoseconds"),
            (1e14, 10**6, "microseconds"),
            (1e11, 10**3, "milliseconds"),
        ):
            if mid >= limit:
                vals = vals // div
                note = f"timestamps look like {unit} since 1970; converted to seconds"
                break
    if vals.dtype.kind == "f":
        vals = np.floor(vals)
    return vals.astype(np.int64, copy=False), missing, note


def _parse_dates(
    col: pa.ChunkedArray, sn: SniffResult, name: str
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Date strings (any pandas-readable form, UTC unless stated), parsed once per distinct value;
    plain numbers among them are epoch seconds."""
    enc = pc.dictionary_encode(col).combine_chunks()
    uniques = pd.Series(enc.dictionary.to_pylist(), dtype=object)
    numbers = pd.to_numeric(uniques, errors="coerce")
    numbers = numbers.where(np.isfinite(numbers) & (numbers.abs() < 9e18))
    parsed = pd.to_datetime(uniques.where(numbers.isna()), errors="coerce", utc=True, format="mixed")
    bad = (parsed.isna() & numbers.isna()).to_numpy()
    idx = _numpy(pc.fill_null(enc.indices, -1)).astype(np.int64)
    if bad.any():
        first_bad = int(np.flatnonzero(np.isin(idx, np.flatnonzero(bad)))[0])
        raise DataError(
            f"expected a date or a number, got '{uniques[idx[first_bad]]!s:.40}'",
            path=sn.path,
            row=_line_of_record(sn, first_bad),
            column=name,
        )
    secs = np.where(numbers.notna(), np.floor(numbers.fillna(0)), _seconds(parsed)).astype(np.int64)
    secs = np.append(secs, 0)
    missing = idx < 0
    return secs[idx], (missing if missing.any() else None), None


def _seconds(parsed: pd.Series) -> np.ndarray:
    """UTC datetimes (NaT allowed) -> int64 seconds, NaT -> 0."""
    ok = parsed.notna().to_numpy()
    out = np.zeros(len(parsed), dtype=np.int64)
    if ok.any():
        out[ok] = parsed[ok].astype("datetime64[s, UTC]").astype("int64").to_numpy()
    return out


# --------------------------------------------------------------------------------------- cleaning


@dataclass
class _Rows:
    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray | None
    ratings: np.ndarray | None = None  # the ratings behind implicit values (for the report only)

    def take(self, keep: np.ndarray) -> _Rows:
        def sub(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return _Rows(
            self.users[keep], self.items[keep], self.values[keep], sub(self.timestamps), sub(self.ratings)
        )


def _clean(parsed: _Parsed, options: LoadOptions, dropped: dict[str, int]) -> tuple[_Rows, list[str]]:
    """Missing ids/ratings/times, duplicates, rating threshold: in that order, each counted."""
    warnings: list[str] = []
    n = parsed.rows
    values = parsed.values if parsed.values is not None else np.ones(n, dtype=np.float32)
    rows = _Rows(parsed.users, parsed.items, values, parsed.timestamps)
    bad_id = (rows.users < 0) | (rows.items < 0)
    n_bad = int(bad_id.sum())
    dropped["missing id"] += n_bad
    if n_bad == n:
        raise DataError("no row has both a user id and an item id", path=parsed.sniff.path)
    keep = ~bad_id
    if parsed.values is not None:
        miss = np.isnan(values) & keep
        dropped["missing rating"] += int(miss.sum())
        keep &= ~miss
    if parsed.ts_missing is not None:
        miss = parsed.ts_missing & keep
        dropped["missing timestamp"] += int(miss.sum())
        keep &= ~miss
    if not keep.all():
        rows = rows.take(keep)
    rows, merged = _dedupe(rows, len(parsed.item_ids), options.dedupe)
    dropped["duplicate merged"] += merged
    if options.min_rating is not None:
        if parsed.values is None:
            warnings.append("no rating column, so the rating threshold was not applied")
        else:
            keep = rows.values >= options.min_rating
            dropped["below rating threshold"] += int((~keep).sum())
            rows = rows.take(keep)
            rows.ratings, rows.values = rows.values, np.ones(len(rows.users), dtype=np.float32)
    return rows, warnings


def _dedupe(rows: _Rows, n_items: int, policy: str) -> tuple[_Rows, int]:
    """Merge repeated user-item rows. A sort (SIMD, ~0.2 s per 10M) proves most files have none."""
    key = rows.users * max(n_items, 1) + rows.items
    s = np.sort(key)
    if s.size < 2 or not (s[1:] == s[:-1]).any():
        return rows, 0
    if policy == "last":
        keep = ~pd.Series(key).duplicated(keep="last").to_numpy()
        return rows.take(keep), int((~keep).sum())
    codes, uniq = pd.factorize(key)  # groups in order of first appearance
    if policy == "max":
        values = pd.Series(rows.values).groupby(codes, sort=True).max().to_numpy(np.float32)
    else:
        sums = np.bincount(codes, weights=rows.values, minlength=len(uniq))
        values = (sums if policy == "sum" else sums / np.bincount(codes, minlength=len(uniq))).astype(
            np.float32
        )
    ts = None
    if rows.timestamps is not None:  # a merged row happened when its latest part did
        ts = pd.Series(rows.timestamps).groupby(codes, sort=True).max().to_numpy(np.int64)
    uniq = np.asarray(uniq, dtype=np.int64)
    out = _Rows(uniq // max(n_items, 1), uniq % max(n_items, 1), values, ts)
    return out, len(key) - len(uniq)


def _k_core(rows: _Rows, n_users: int, n_items: int, min_u: int, min_i: int) -> tuple[_Rows, int]:
    """Iterative k-core: drop users/items under the minimum until every one left passes."""
    before = len(rows.users)
    while min_u > 1 or min_i > 1:
        uc = np.bincount(rows.users, minlength=n_users)
        ic = np.bincount(rows.items, minlength=n_items)
        keep = (uc[rows.users] >= min_u) & (ic[rows.items] >= min_i)
        if keep.all():
            break
        rows = rows.take(keep)
    return rows, before - len(rows.users)


def _compact(codes: np.ndarray, ids: pd.Index) -> tuple[np.ndarray, pd.Index]:
    present = np.bincount(codes, minlength=len(ids)) > 0
    if present.all():
        return codes, ids
    remap = np.cumsum(present) - 1
    return remap[codes], ids[present]


def _check_enough(path: object, n_users: int, n_items: int, n_rows: int) -> None:
    if n_rows == 0:
        raise DataError("no interactions left after filtering", path=path)
    if n_users < 2:
        raise DataError("only one user: nothing to recommend (need at least two users)", path=path)
    if n_items < 2:
        raise DataError("only one item: nothing to recommend (need at least two items)", path=path)


# --------------------------------------------------------------------------------------- public API


def load_interactions(
    path: str | Path,
    options: LoadOptions | None = None,
    *,
    item_metadata: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[InteractionData, LoadReport]:
    """Read, map ids, clean (missing, duplicates, threshold, k-core) and report what was dropped."""
    options = options or LoadOptions()
    start = time.perf_counter()
    with _guard(path):
        parsed = _read_parsed(path, options, progress)
        _tick(progress, 0.75, "cleaning")
        dropped = dict.fromkeys(DROP_REASONS, 0)
        rows, warnings = _clean(parsed, options, dropped)
        rows, dropped["k-core"] = _k_core(
            rows, len(parsed.user_ids), len(parsed.item_ids), options.min_user_count, options.min_item_count
        )
        users, user_ids = _compact(rows.users, parsed.user_ids)
        items, item_ids = _compact(rows.items, parsed.item_ids)
        _check_enough(parsed.sniff.path, len(user_ids), len(item_ids), len(users))
        meta = None
        if item_metadata is not None:
            _tick(progress, 0.9, "reading item metadata")
            meta = load_item_metadata(item_metadata, item_ids)
        data = InteractionData(
            users=users,
            items=items,
            values=rows.values,
            timestamps=rows.timestamps,
            user_ids=user_ids,
            item_ids=item_ids,
            item_meta=meta,
        )
        report = _report(
            parsed.sniff,
            data,
            parsed.rows,
            dropped,
            parsed.warnings + warnings,
            options,
            has_rating=parsed.values is not None,
            start=start,
            ratings=rows.ratings,
        )
    _tick(progress, 1.0, "done")
    return data, report


def _report(
    sn: SniffResult,
    data: InteractionData,
    rows: int,
    dropped: dict[str, int],
    warnings: list[str],
    options: LoadOptions,
    *,
    has_rating: bool,
    start: float,
    parts: dict[str, int] | None = None,
    ratings: np.ndarray | None = None,
) -> LoadReport:
    v, t = (data.values if ratings is None else ratings), data.timestamps
    meta_count = None
    if data.item_meta is not None and "title" in data.item_meta.columns:
        meta_count = int(data.item_meta["title"].notna().sum())
        if meta_count < data.n_items:
            warnings = [*warnings, f"no metadata for {data.n_items - meta_count:,} of {data.n_items:,} items"]
    return LoadReport(
        path=sn.path,
        rows=rows,
        users=data.n_users,
        items=data.n_items,
        interactions=len(data),
        density=len(data) / max(data.n_users * data.n_items, 1),
        rating_min=float(v.min()) if has_rating and len(v) else None,
        rating_max=float(v.max()) if has_rating and len(v) else None,
        time_min=int(t.min()) if t is not None and len(t) else None,
        time_max=int(t.max()) if t is not None and len(t) else None,
        columns=dict(sn.roles),
        dropped=dropped,
        warnings=list(warnings),
        format=sn.format,
        sep=sn.sep,
        header=sn.header,
        encoding=sn.encoding,
        implicit=options.min_rating is not None and has_rating,
        dedupe=options.dedupe,
        items_with_metadata=meta_count,
        parts=parts,
        seconds=round(time.perf_counter() - start, 3),
    )


def load_predefined_split(
    train: str | Path,
    valid: str | Path | None,
    test: str | Path,
    options: LoadOptions | None = None,
    *,
    item_metadata: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[Split, LoadReport]:
    """Ready-made train/valid/test files in one id space.

    Users and items are the union over all files (and the metadata file, for items), so an item
    seen only in test is still in the catalogue. Duplicates are merged within a file, never across;
    no k-core (it would change the published split).
    """
    options = options or LoadOptions()
    if options.min_user_count > 1 or options.min_item_count > 1:
        raise ConfigError("k-core filtering cannot be applied to a predefined split")
    start = time.perf_counter()
    named = [("train", train), ("valid", valid), ("test", test)]
    named = [(n, p) for n, p in named if p is not None]
    with _guard(train):
        parsed, cleaned, dropped, warnings = [], [], dict.fromkeys(DROP_REASONS, 0), []
        for k, (name, p) in enumerate(named):
            _tick(progress, 0.8 * k / len(named), f"reading {name}")
            one = _read_parsed(p, options, None)
            rows, w = _clean(one, options, dropped)
            parsed.append(one)
            cleaned.append(rows)
            warnings += [f"{name}: {x}" for x in one.warnings + w]
        meta_frame = _metadata_frame(item_metadata) if item_metadata is not None else None
        used_users = [_used(p.user_ids, r.users) for p, r in zip(parsed, cleaned, strict=True)]
        used_items = [_used(p.item_ids, r.items) for p, r in zip(parsed, cleaned, strict=True)]
        user_ids = _union_ids(used_users)
        item_ids = _union_ids(used_items + ([meta_frame.index] if meta_frame is not None else []))
        parts: dict[str, InteractionData] = {}
        for (name, _p), one, rows in zip(named, parsed, cleaned, strict=True):
            umap = _positions(user_ids, one.user_ids)
            imap = _positions(item_ids, one.item_ids)
            parts[name] = InteractionData(
                users=umap[rows.users],
                items=imap[rows.items],
                values=rows.values,
                timestamps=rows.timestamps,
                user_ids=user_ids,
                item_ids=item_ids,
            )
        total = sum(len(x) for x in parts.values())
        _check_enough(parsed[0].sniff.path, len(user_ids), len(item_ids), total)
        meta = _align_metadata(meta_frame, item_ids) if meta_frame is not None else None
        if meta is not None:
            parts = {k: replace(v, item_meta=meta) for k, v in parts.items()}
        split = Split(
            train=parts["train"], valid=parts.get("valid"), test=parts["test"], protocol="predefined"
        )
        everything = split.train.concat(*[p for p in (split.valid, split.test) if p is not None])
        report = _report(
            parsed[0].sniff,
            everything,
            sum(p.rows for p in parsed),
            dropped,
            warnings,
            options,
            has_rating=all(p.values is not None for p in parsed),
            start=start,
            parts={k: len(v) for k, v in parts.items()},
            ratings=None
            if any(r.ratings is None for r in cleaned)
            else np.concatenate([r.ratings for r in cleaned]),
        )  # type: ignore[misc]
        report.path = ", ".join(str(p) for _n, p in named)
    _tick(progress, 1.0, "done")
    return split, report


def _used(ids: pd.Index, codes: np.ndarray) -> pd.Index:
    """The ids that still have rows (a row dropped for a missing item may leave its user with none)."""
    return ids[np.bincount(codes, minlength=len(ids)) > 0]


def _union_ids(indexes: list[pd.Index]) -> pd.Index:
    """Sorted union; if any file has text ids, all ids are compared as text (exact raw strings)."""
    if any(ix.dtype != np.int64 for ix in indexes if len(ix)):
        indexes = [ix.astype(str).astype(object) if ix.dtype == np.int64 else ix for ix in indexes]
        values = np.unique(np.concatenate([np.asarray(ix, dtype=object) for ix in indexes]).astype(str))
        return pd.Index(values.astype(object), dtype=object)
    return pd.Index(
        np.unique(np.concatenate([np.asarray(ix, dtype=np.int64) for ix in indexes])), dtype=np.int64
    )


def _positions(union: pd.Index, part: pd.Index) -> np.ndarray:
    if union.dtype == object and part.dtype == np.int64:
        part = pd.Index(part.astype(str), dtype=object)
    pos = union.get_indexer(part)
    return pos.astype(np.int64)


# --------------------------------------------------------------------------------------- metadata

_ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_TITLE_NAMES = (
    "title",
    "name",
    "movietitle",
    "itemname",
    "gamename",
    "artistname",
    "booktitle",
    "producttitle",
    "producttitle",
    "songname",
    "trackname",
)
_META_ID_NAMES = _words("id itemid movieid gameid artistid bookid productid trackid songid asin isbn")
_GENRE_NAMES = ("genres", "genre", "class", "classes", "category", "categories", "tags", "tag")


def load_item_metadata(path: str | Path, item_ids: pd.Index) -> pd.DataFrame:
    """Item titles/genres (and any other columns) indexed by dense item index, joined on raw id.

    Reads ml-100k ``u.item`` (19 genre flags), ``movies.csv``/``movies.dat`` (id, title, genres),
    RecBole ``.item`` files and plain id/name tables. Items without a row get missing values.
    """
    with _guard(path):
        return _align_metadata(_metadata_frame(path), item_ids)


def _align_metadata(meta: pd.DataFrame, item_ids: pd.Index) -> pd.DataFrame:
    index = meta.index
    if item_ids.dtype == np.int64 and index.dtype != np.int64:
        as_int = [int(s) if isinstance(s, str) and _CANONICAL_INT.fullmatch(s) else None for s in index]
        meta = meta[[v is not None for v in as_int]]
        meta.index = pd.Index([v for v in as_int if v is not None], dtype=np.int64)
    elif item_ids.dtype != np.int64 and index.dtype == np.int64:
        meta.index = pd.Index(index.astype(str), dtype=object)
    out = meta.reindex(item_ids)
    out.index = pd.RangeIndex(len(item_ids), name="item")
    return out


def _metadata_frame(path: str | Path) -> pd.DataFrame:
    """Metadata rows indexed by normalised raw item id (int when every id is a plain integer)."""
    sn = sniff(path)
    if sn.format == "parquet":
        df, _ = read_table(path)
        df = df.astype(object).where(df.notna(), None)
    else:
        table, sn = _arrow_read(sn, None, {c: pa.string() for c in sn.columns})
        df = table.to_pandas()
    cols = list(df.columns)
    names = {c: _norm(c) for c in cols}
    genre_flags: list[str] = []
    if (
        not sn.header
        and len(cols) >= 20
        and all(set(df[c].dropna().unique()) <= {"0", "1"} for c in cols[-19:])
    ):
        genre_flags = cols[-19:]  # ml-100k u.item: id|title|date|video date|url|19 flags
    id_col = next((c for c in cols if names[c] in _META_ID_NAMES), None)
    if id_col is None:
        id_col = next(
            (
                c
                for c in cols
                if _name_matches(c)
                and _name_matches(c)[0][0] == "item"
                and names[c] not in (*_TITLE_NAMES, "title")
            ),
            cols[0],
        )
    title_col = next((c for c in cols if names[c] in _TITLE_NAMES), None)
    if title_col is None:
        title_col = next(
            (c for c in cols if c != id_col and ("title" in names[c] or "name" in names[c])), None
        )
    if title_col is None and not sn.header and len(cols) > 1:
        title_col = cols[1]
    genre_col = next((c for c in cols if names[c] in _GENRE_NAMES), None)
    if genre_col is None and not sn.header and len(cols) == 3 and not genre_flags:
        genre_col = cols[2]
    out = pd.DataFrame(index=df.index)
    out["title"] = df[title_col] if title_col is not None else None
    if genre_flags:
        labels = _genre_labels(Path(sn.path))
        flags = df[genre_flags].to_numpy() == "1"
        out["genres"] = ["|".join(g for g, on in zip(labels, row, strict=True) if on) for row in flags]
        extra = (
            {cols[2]: "release_date", cols[3]: "video_release_date", cols[4]: "imdb_url"}
            if len(cols) >= 24
            else {}
        )
        for c, new in extra.items():
            out[new] = df[c]
    else:
        if genre_col is not None:
            g = df[genre_col]
            out["genres"] = g.str.split().str.join("|") if ":token_seq" in str(genre_col) else g
        for c in cols:
            if c not in (id_col, title_col, genre_col):
                out[str(c).split(":", 1)[0] if ":" in str(c)[1:] else str(c)] = df[c]
    raw_ids = [None if pd.isna(x) else str(x) for x in df[id_col]]
    ids, raw = _encode_ids(pa.chunked_array([pa.array(raw_ids, type=pa.string())]))
    ok = ids >= 0
    out = out[ok]
    out.index = raw.take(ids[ok])
    return out[~out.index.duplicated(keep="first")]


def _genre_labels(path: Path) -> tuple[str, ...]:
    """Genre names for u.item's flags: from a sibling u.genre when present, else ML-100K's list."""
    genre_file = path.with_name("u.genre")
    if genre_file.is_file():
        with contextlib.suppress(OSError, ValueError):
            pairs = [
                line.rsplit("|", 1) for line in genre_file.read_text("latin-1").splitlines() if "|" in line
            ]
            labels = [name for name, _ in sorted(pairs, key=lambda x: int(x[1]))]
            if len(labels) == 19:
                return tuple(labels)
    return _ML100K_GENRES


__all__ = [
    "DROP_REASONS",
    "SEPARATORS",
    "LoadOptions",
    "LoadReport",
    "SniffResult",
    "load_interactions",
    "load_item_metadata",
    "load_predefined_split",
    "read_table",
    "sniff",
]
