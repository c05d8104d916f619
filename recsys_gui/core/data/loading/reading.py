"""Reading a sniffed file with Arrow: encodings, ragged rows, quoted line breaks, line numbers.

Why this shape: one Arrow CSV reader serves every text format. Single-character separators are
read straight from disk; '::' (MovieLens .dat) and whitespace-separated files are rewritten in
memory to a one-character separator first. So the fast path and the error path see the same rows
and the same line numbers. Problems become a DataError naming the file and the 1-based line.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys_gui.core import memory
from recsys_gui.core.data.loading.guards import guard
from recsys_gui.core.data.loading.options import NULLS, SAMPLE_BYTES, LoadOptions, SniffResult
from recsys_gui.core.data.loading.sniffing import sniff, split_line
from recsys_gui.core.errors import DataError

SPLIT_CHAR = "\x1f"  # what '::' and other multi-character separators become in memory


class TypedReadFailed(Exception):
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
    return pa.py_buffer(data.replace(str(sn.sep).encode("utf-8"), SPLIT_CHAR.encode())), SPLIT_CHAR, "utf8"


def arrow_read(
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
                    null_values=NULLS,
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
                raise TypedReadFailed(msg) from None
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
    return sn.sep if sn.sep is not None and len(sn.sep) == 1 else SPLIT_CHAR


def _iter_lines(sn: SniffResult) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of each non-blank physical line after the header."""
    enc = "latin-1" if sn.encoding == "latin-1" else "utf-8-sig"
    with open(sn.path, encoding=enc, errors="replace", newline="") as f:
        for lineno, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            if lineno > sn.skip_rows and text:
                yield lineno, text


def line_of_record(sn: SniffResult, index: int) -> int | None:
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
        n = len(split_line(text, sn.sep or ",", sn.quoting))
        if n != width:
            return DataError(f"expected {width} fields (as in {what}), found {n}", path=sn.path, row=lineno)
    hint = '; an unbalanced quote (") may join lines' if sn.quoting else ""
    return DataError(f"rows have different numbers of fields (expected {width}){hint}", path=sn.path)


def ids_need_text(sn: SniffResult) -> bool:
    """Must ids be read as text? Yes when a field may start with "0<digit>" or "-0" ("007") or
    have a blank (space, tab) at either end (" 7"): Arrow's integer parser would turn each into 7.

    A vectorised byte scan (16 MiB at a time) costs far less than reading ids as strings. A field
    start is a byte after the separator or any byte below '-' (newline, quote, space, comma...);
    a blank touches a field's edge when it sits next to the separator, a quote or a line end
    (runs of blanks are the separator of a whitespace-separated file, so not there). A false
    alarm only costs speed.
    """
    buf = np.memmap(sn.path, dtype=np.uint8, mode="r")
    sep = 32 if sn.sep in (None, "whitespace") else ord(sn.sep[-1])  # '::' -> the byte before a field
    blanks = sn.sep not in (None, "whitespace")
    step, n = 1 << 24, len(buf)
    with open(sn.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
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
            # memchr-fast finds skip the blank check in chunks that hold no blank at all
            if not blanks:
                continue
            tab = sep != 9 and text.find(b"\t", s, e) >= 0
            quoted_tab = sep == 9 and text.find(b'"', s, e) >= 0
            if (text.find(b" ", s, e) >= 0 or tab or quoted_tab) and _blank_at_field_edge(
                seg, sep, tab=tab, quoted_tab=quoted_tab
            ):
                return True
    return False


def _blank_at_field_edge(seg: np.ndarray, sep: int, *, tab: bool, quoted_tab: bool) -> bool:
    """Is a space (or a tab, where tab is not the separator) next to a separator, quote or line end?

    In a tab-separated file a tab is only part of a field inside quotes, so only there, next to
    the quote, can it be an id's edge ("\t7").
    """
    body = seg[2:-1]
    is_blank = body == 32
    if tab:
        is_blank |= body == 9
    if quoted_tab:
        tabs = np.flatnonzero(body == 9) + 2
        if ((seg[tabs - 1] == 34) | (seg[tabs + 1] == 34)).any():
            return True
    at = np.flatnonzero(is_blank) + 2
    near = np.concatenate([seg[at - 1], seg[at + 1]])
    return bool(((near == sep) | (near == 10) | (near == 13) | (near == 34)).any())


def read_table(
    path: str | Path, options: LoadOptions | None = None, *, nrows: int | None = None
) -> tuple[pd.DataFrame, SniffResult]:
    """The file as a DataFrame (all columns; id columns as text), for previews and metadata."""
    options = options or LoadOptions()
    sn = sniff(path, options)
    with guard(sn.path):
        if sn.format == "parquet":
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
            table, sn = arrow_read(sn, None, types, source=source)
        except TypedReadFailed:
            table, sn = arrow_read(sn, None, {c: pa.string() for c in sn.columns}, source=source)
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
        text = text.replace(sn.sep, SPLIT_CHAR)
    return pa.py_buffer(text.encode("utf-8"))


def check_memory(sn: SniffResult) -> None:
    """Refuse, before reading, a file whose import would not fit in free RAM (MemoryLimitError)."""
    p = Path(sn.path)
    size = p.stat().st_size
    if sn.format == "parquet":
        meta = pq.ParquetFile(p).metadata
        raw = sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
        need = memory.csv_load_bytes(raw, raw / max(meta.num_rows, 1))
    else:
        with p.open("rb") as f:
            head = f.read(SAMPLE_BYTES)
        need = memory.csv_load_bytes(size, len(head) / max(head.count(b"\n"), 1))
    memory.check_fits(need, f"Reading {p.name} ({memory.format_bytes(size)})", "cpu",
                      (memory.SAMPLE_ROWS, memory.CLOSE_OTHERS))


def to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False)
