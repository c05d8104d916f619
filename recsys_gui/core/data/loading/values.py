"""Converting ratings and times: text or numbers -> numpy, where an empty field means missing.

Ratings become float32 (NaN = missing); times become int64 seconds since 1970 (epoch numbers in
s/ms/us/ns told apart by size; date text goes to ``dates``).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recsys_gui.core.data.loading import arrays
from recsys_gui.core.data.loading.dates import parse_dates
from recsys_gui.core.data.loading.options import SniffResult
from recsys_gui.core.data.loading.reading import line_of_record, to_numpy
from recsys_gui.core.errors import DataError

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def bad_value_index(col: pa.ChunkedArray, target: pa.DataType) -> tuple[int, str]:
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


def to_ratings(col: pa.ChunkedArray, sn: SniffResult, name: str) -> tuple[np.ndarray, str | None]:
    """Ratings as float32 (NaN = missing: an empty or null-marker field, nothing else), and a note.

    Infinity is refused with its line: no model can learn from it. A finite value beyond
    float32's range (1e308) is kept, at float32's largest value, and the note says so: dropping
    it as "missing" (as a plain cast to float32 would make it) lost a row that was there.
    """
    t = col.type
    if pa.types.is_null(t):
        return np.full(len(col), np.nan, dtype=np.float32), None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = blank_to_null(col)
        try:
            col = pc.cast(col, pa.float64())
        except pa.ArrowInvalid:
            k, v = bad_value_index(col, pa.float64())
            raise DataError(
                f"expected a number, got '{v[:40]}'", path=sn.path, row=line_of_record(sn, k), column=name
            ) from None
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        raise DataError(f"expected numbers, found {t}", path=sn.path, column=name)
    elif not pa.types.is_floating(t):
        col = pc.cast(col, pa.float64())
    out = arrays.empty(len(col), np.float32)
    capped, first_capped, pos = 0, -1, 0
    for chunk in col.chunks:  # chunk by chunk: no full-size float64 copy next to Arrow's column
        vals = chunk.to_numpy(zero_copy_only=False)  # nulls become NaN
        infinite = np.isinf(vals)
        if infinite.any():
            k = int(np.argmax(infinite))
            raise DataError(
                f"expected a finite number, got {'-' if vals[k] < 0 else ''}infinity",
                path=sn.path, row=line_of_record(sn, pos + k), column=name,
            )
        big = np.abs(vals) > _FLOAT32_MAX
        if big.any():
            first_capped = pos + int(np.argmax(big)) if first_capped < 0 else first_capped
            capped += int(big.sum())
            vals = np.clip(vals, -_FLOAT32_MAX, _FLOAT32_MAX)
        out[pos : pos + len(vals)] = vals
        pos += len(vals)
    note = None
    if capped:
        note = (
            f"column '{name}': {capped:,} rating(s) beyond ±3.4e38 (the largest a model can hold; "
            f"the first on line {line_of_record(sn, first_capped)}) were set to ±3.4e38"
        )
    return out, note


def to_seconds(
    col: pa.ChunkedArray, sn: SniffResult, name: str, date_format: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Epoch numbers (s/ms/us/ns, told apart by size) or dates -> int64 seconds, plus a missing mask.

    With ``date_format`` every value that is not already a date is text in that format.
    """
    t = col.type
    if pa.types.is_null(t):
        return np.zeros(len(col), dtype=np.int64), np.ones(len(col), dtype=bool), None
    if date_format is not None and not (pa.types.is_timestamp(t) or pa.types.is_date(t)):
        return parse_dates(blank_to_null(col.cast(pa.string())), sn, name, date_format)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = blank_to_null(col)
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
    return parse_dates(col, sn, name)


def blank_to_null(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed text where blank means missing, as Arrow already does for empty numeric fields."""
    col = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _missing_split(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    if col.null_count == 0:
        vals = to_numpy(col)
        if vals.dtype.kind == "f" and np.isnan(vals).any():
            return np.nan_to_num(vals), np.isnan(vals)
        return vals, None
    missing = (
        to_numpy(pc.is_null(col, nan_is_null=True))
        if pa.types.is_floating(col.type)
        else to_numpy(pc.is_null(col))
    )
    return to_numpy(pc.fill_null(col, 0)), missing


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
