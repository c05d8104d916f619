"""Raw ids -> dense codes in sorted raw-id order, keeping every raw id exactly as written.

Integer ids take a typed fast path (``reading.ids_need_text`` sends "007" and " 7" to the text
path first, so neither silently becomes 7); anything else is read as text and round-trips
exactly, surrounding blanks included.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys_gui.core.data.loading import arrays
from recsys_gui.core.data.loading.reading import to_numpy


def encode_ids(col: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
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
        vals = to_numpy(pc.fill_null(col, lo)).astype(np.int64, copy=False)
        uniq = np.unique(vals[~to_numpy(pc.is_null(col))] if col.null_count else vals)
        codes = np.searchsorted(uniq, vals).astype(np.int64)
        if col.null_count:
            codes[to_numpy(pc.is_null(col))] = -1
        return codes, pd.Index(uniq, dtype=np.int64)
    # Small non-negative ids index the table directly: no shifted copy of every chunk.
    base = 0 if lo >= 0 and hi <= max(4 * n, 1 << 20) else lo
    parts = []
    for chunk in col.chunks:
        missing = to_numpy(pc.is_null(chunk)) if chunk.null_count else None
        filled = pc.fill_null(chunk, lo) if missing is not None else chunk
        vals = to_numpy(filled).astype(np.int64, copy=False)
        parts.append((vals - base if base else vals, missing))
    seen = np.zeros(hi - base + 1, dtype=bool)
    for vals, missing in parts:
        seen[vals if missing is None else vals[~missing]] = True
    remap = np.cumsum(seen, dtype=np.int64) - 1
    codes = arrays.empty(n, np.int64)
    pos = 0
    for vals, missing in parts:
        out = codes[pos : pos + len(vals)]
        np.take(remap, vals, out=out, mode="clip")  # "clip" does not buffer; vals are in range
        if missing is not None:
            out[missing] = -1
        pos += len(vals)
    return codes, pd.Index(np.flatnonzero(seen) + base, dtype=np.int64)


CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")  # exactly what str(int) gives back ("-0" is text)


def _encode_text(col: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index]:
    """Text ids, kept byte for byte: " 7", "7" and "7\\t" are three ids. Only an id that is all
    blanks counts as missing, as an empty field does. When every id is a canonical integer the
    ids become integers (so "7" here and 7 in a Parquet file are the same id)."""
    enc = pc.dictionary_encode(col)
    chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
    if not chunks:
        return np.zeros(0, dtype=np.int64), pd.Index([], dtype=object)
    dictionary = chunks[0].dictionary
    if any(len(ch.dictionary) != len(dictionary) for ch in chunks):  # not shared: merge explicitly
        return _encode_text(pa.chunked_array([col.combine_chunks()]))
    idx = np.concatenate([to_numpy(pc.fill_null(ch.indices, -1)).astype(np.int64) for ch in chunks])
    dictionary = dictionary.cast(pa.string())
    blank = to_numpy(pc.equal(pc.utf8_trim_whitespace(dictionary), "")).astype(bool)
    keep = np.flatnonzero(~blank)
    names = dictionary.take(pa.array(keep, type=pa.int64()))
    if len(names) and pc.all(pc.match_substring_regex(names, f"^(?:{CANONICAL_INT.pattern})$")).as_py():
        ids_vals: np.ndarray = to_numpy(pc.cast(names, pa.int64())).astype(np.int64)
        order = np.argsort(ids_vals, kind="stable")
    else:
        ids_vals = np.array(names.to_pylist(), dtype=object)
        order = to_numpy(pc.array_sort_indices(names)).astype(np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    to_final = np.full(len(dictionary), -1, dtype=np.int64)
    to_final[keep] = rank
    lookup = np.append(to_final, -1)  # position -1 (missing) maps to -1
    codes = lookup[idx]
    ids = pd.Index(ids_vals[order], dtype=np.int64 if ids_vals.dtype == np.int64 else object)
    return codes, ids


def blank_edged(ids: pd.Index) -> tuple[int, str | None]:
    """How many text ids start or end with a blank, and the first of them (for the report).

    They are kept as written, but a user who did not mean them should hear of it: " 7" and "7"
    are then two users.
    """
    if ids.dtype != object or not len(ids):
        return 0, None
    text = pa.array(ids.to_numpy(), type=pa.string())
    edged = to_numpy(pc.not_equal(pc.utf8_trim_whitespace(text), text)).astype(bool)
    count = int(edged.sum())
    return count, (str(ids[int(np.argmax(edged))]) if count else None)
