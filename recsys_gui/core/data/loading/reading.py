"""Reading a sniffed file with Arrow: encodings, ragged rows, quoted line breaks, line numbers.

Why this shape: one Arrow CSV reader serves every text format. Single-character separators are
read straight from disk; '::' (MovieLens .dat) and whitespace-separated files are rewritten in
memory to a one-character separator first. So the fast path and the error path see the same rows
and the same line numbers. Problems become a DataError naming the file and the 1-based line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys_gui.core import memory
from recsys_gui.core.data.loading.arrays import read_pool
from recsys_gui.core.data.loading.guards import guard
from recsys_gui.core.data.loading.options import NULLS, SAMPLE_BYTES, LoadOptions, SniffResult
from recsys_gui.core.data.loading.sampling import UserSample
from recsys_gui.core.data.loading.sniffing import sniff, split_line
from recsys_gui.core.data.loading.sources import parquet_fragments, read_source, source_bytes
from recsys_gui.core.data.loading.streams import (
    arrow_input,
    compressed_size_ratio,
    iter_chunks,
    open_text,
    read_all,
    read_head,
)
from recsys_gui.core.errors import DataError

SPLIT_CHAR = "\x1f"  # what '::' and other multi-character separators become in memory


class TypedReadFailed(Exception):
    """The typed fast path hit a value it could not convert; re-read as text to say where."""


def _source(sn: SniffResult, encoding: str) -> tuple[object, str, str]:
    """(what Arrow reads, its one-character delimiter, its encoding)."""
    if sn.sep is not None and len(sn.sep) == 1:
        return arrow_input(sn.path), sn.sep, ("utf8" if encoding.startswith("utf-8") else "latin1")
    # '::', other multi-character separators and whitespace runs: rewrite to one character in memory
    data = read_all(sn.path)
    if encoding == "latin-1":
        data = data.decode("latin-1").encode("utf-8")
    if sn.sep == "whitespace":
        data = re.sub(rb"[ \t\f\v]+", b"\t", data)
        data = re.sub(rb"(?m)^\t|\t(?=\r?$)", b"", data)
        return pa.py_buffer(data), "\t", "utf8"
    return pa.py_buffer(data.replace(str(sn.sep).encode("utf-8"), SPLIT_CHAR.encode())), SPLIT_CHAR, "utf8"


def arrow_read(
    sn: SniffResult,
    columns: list[str] | None,
    types: dict[str, pa.DataType],
    *,
    source: object = None,
    sample: UserSample | None = None,
) -> tuple[pa.Table, object]:
    """Read with Arrow; ragged rows and encoding trouble are handled here, conversions by callers.

    With ``sample`` only the sampled users' rows are kept, batch by batch as the text is parsed,
    so a sample of a file too large to read whole needs memory only for what it keeps.
    """
    if sn.format != "text":
        table = read_source(sn, columns)
        if sample is not None:
            user = str(sn.roles["user"])
            taken, rows = sample.take(table, user)
            table, rows = sample.finish(taken, user, rows)  # type: ignore[arg-type]
            sn = replace(sn, kept_rows=rows)
        for c, t in types.items():
            if c in table.column_names and table.schema.field(c).type != t:
                table = table.set_column(table.column_names.index(c), c, table.column(c).cast(t))
        return table, sn
    encoding = sn.encoding or "utf-8"
    multiline = False  # quoted fields with line breaks: a slower parse, only when a file needs it
    attempt = 0
    while attempt < 2:
        src, delim, enc = _source(sn, encoding) if source is None else (source, _delimiter(sn), "utf8")
        try:
            table, kept_rows = _read_csv(
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
                sample=sample,
                user=sn.roles["user"],
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
        return table, replace(sn, encoding=encoding, kept_rows=kept_rows)
    raise DataError("cannot decode the text (tried UTF-8 and latin-1)", path=sn.path)


def _read_csv(
    src: object,
    read_options: pacsv.ReadOptions,
    parse_options: pacsv.ParseOptions,
    convert_options: pacsv.ConvertOptions,
    *,
    sample: UserSample | None,
    user: str | None,
) -> tuple[pa.Table, np.ndarray | None]:
    """The whole text at once (all cores), or, for a sample, batch by batch keeping its users'
    rows (and their positions in the file)."""
    options = {"read_options": read_options, "parse_options": parse_options,
               "convert_options": convert_options, "memory_pool": read_pool()}
    if sample is None or user is None:
        return pacsv.read_csv(src, **options), None
    sample.reset()
    reader = pacsv.open_csv(src, **options)
    kept, rows, offset = [], [], 0
    for batch in reader:
        part, at = sample.take(batch, user, offset)
        kept.append(part)
        rows.append(at)
        offset += batch.num_rows
    table = pa.Table.from_batches(kept, schema=reader.schema)  # type: ignore[arg-type]
    return sample.finish(table, user, np.concatenate(rows) if rows else np.zeros(0, np.int64))


def _has_quote(sn: SniffResult, source: object) -> bool:
    """Does the text hold a double quote at all? (Only then can a field span lines.)"""
    if isinstance(source, pa.Buffer):
        return b'"' in source.to_pybytes()
    return any(b'"' in chunk for chunk in iter_chunks(sn.path))


def _delimiter(sn: SniffResult) -> str:
    """The one-character delimiter Arrow sees (after '::' or whitespace were rewritten)."""
    if sn.sep == "whitespace":
        return "\t"
    return sn.sep if sn.sep is not None and len(sn.sep) == 1 else SPLIT_CHAR


def _iter_lines(sn: SniffResult) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of each non-blank physical line after the header."""
    enc = "latin-1" if sn.encoding == "latin-1" else "utf-8-sig"
    with open_text(sn.path, enc) as f:
        for lineno, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            if lineno > sn.skip_rows and text:
                yield lineno, text


def line_of_record(sn: SniffResult, index: int) -> int | None:
    """File line of the index-th data record (Arrow skips blank lines, so count them out)."""
    if sn.kept_rows is not None:  # a sample: the index-th row kept
        index = int(sn.kept_rows[index])
    if sn.format == "excel":
        return index + 1 + int(sn.header)  # the sheet's own row number
    if sn.format != "text":
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

    A vectorised byte scan (1 MiB at a time) costs far less than reading ids as strings. A field
    start is a byte after the separator or any byte below '-' (newline, quote, space, comma...);
    a blank touches a field's edge when it sits next to the separator, a quote or a line end
    (runs of blanks are the separator of a whitespace-separated file, so not there). A false
    alarm only costs speed.
    """
    sep = 32 if sn.sep in (None, "whitespace") else ord(sn.sep[-1])  # '::' -> the byte before a field
    blanks = sn.sep not in (None, "whitespace")
    # Each chunk is scanned with the 2 bytes before it and the 1 after it, so no field is cut.
    before, current = b"\n\n", None
    for chunk in _then_empty(iter_chunks(sn.path)):
        if current is not None:
            seg = before + current + (chunk[:1] or b"\n")
            if _zero_led_field(np.frombuffer(seg, dtype=np.uint8), sep):
                return True
            tab = sep != 9 and b"\t" in current
            quoted_tab = sep == 9 and b'"' in current
            if (
                blanks
                and (b" " in current or tab or quoted_tab)
                and _blank_at_field_edge(
                    np.frombuffer(seg, dtype=np.uint8), sep, tab=tab, quoted_tab=quoted_tab
                )
            ):
                return True
            before = seg[-3:-1]
        current = chunk
    return False


def _then_empty(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from chunks
    yield b""


def _zero_led_field(seg: np.ndarray, sep: int) -> bool:
    """Does a field in ``seg`` (2 bytes of context before, 1 after) start with "0<digit>" or "-0"?

    Byte pairs (field start, '0') are found as 16-bit words, at even and at odd offsets: a third
    of the passes over the bytes that comparing byte by byte takes.
    """
    body = seg[1:-1]  # pairs start here: their '0' lies in seg[2:-1]
    for offset in (0, 1):
        words = body[offset : offset + (len(body) - offset) // 2 * 2].view("<u2")
        hit = (words - np.uint16(0x3000)) < 46  # '0' after a byte below '.' (incl. '-')
        if sep >= 46:
            hit |= words == 0x3000 + sep
        if not hit.any():
            continue
        at = np.flatnonzero(hit) * 2 + offset + 1  # seg index of the byte before the '0'
        prev = seg[at]
        minus = prev == 45
        led_by_digit = (seg[at + 2] - np.uint8(48)) < 10
        if (led_by_digit & ((~minus) | (sep == 45))).any():
            return True
        before_minus = seg[at[minus] - 1]
        if ((before_minus < 45) | (before_minus == sep)).any():
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
        if sn.format != "text":
            return read_source(sn, None, limit=nrows).to_pandas(), sn
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
    with open_text(sn.path, enc) as f:
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


def check_memory(sn: SniffResult, sample_users: float | None = None) -> None:
    """Refuse, before reading, a file whose import would not fit in free RAM (MemoryLimitError).

    What grows with the rows scales with a sample's share (the reader keeps only its rows), so the
    refusal names the largest share of the users that would fit.
    """
    p = Path(sn.path)
    size = source_bytes(p)
    if sn.format == "text":
        size = int(size * compressed_size_ratio(p))
        head, _more = read_head(p, SAMPLE_BYTES)
        need = memory.csv_load_bytes(size, len(head) / max(head.count(b"\n"), 1))
    elif sn.format == "parquet":
        metas = [f.metadata for f in parquet_fragments(sn)]
        raw = sum(m.row_group(g).total_byte_size for m in metas for g in range(m.num_row_groups))
        need = memory.csv_load_bytes(raw, raw / max(sum(m.num_rows for m in metas), 1))
    else:  # SQLite, Excel: rows pass through Python objects, about 40 file bytes a row
        need = memory.csv_load_bytes(size, 40)
    per_share = need - memory.LOAD_FIXED
    share = sample_users if sample_users is not None and sample_users < 1 else 1.0
    fits = memory.share_that_fits(memory.LOAD_FIXED, per_share)
    ways = [memory.CLOSE_OTHERS]
    if fits is None:
        ways.append(memory.sample_users_remedy(None, memory.LOAD_FIXED))
    elif fits < share:
        ways.insert(0, memory.sample_users_remedy(fits, memory.LOAD_FIXED))
    memory.check_fits(memory.LOAD_FIXED + share * per_share,
                      f"Reading {p.name} ({memory.format_bytes(size)})", "cpu", ways)


def to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """One numpy array (read-only when Arrow's memory is shared); chunks are joined in the read pool."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks != 1 and col.null_count == 0 and pa.types.is_primitive(col.type):
            col = col.combine_chunks(memory_pool=read_pool())
        else:
            return col.to_numpy()
    return col.to_numpy(zero_copy_only=False)
