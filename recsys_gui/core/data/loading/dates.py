"""Date text -> int64 UTC seconds: day-first or month-first as the values show, or a given format.

Why: "03.04.2020" is 3 April in most of the world and March 4 in the US, and pandas (dateutil)
reads it month-first without a word. A column's own values usually tell: a first field above 12
can only be a day (day-first), a second field above 12 only a day in second place (month-first).
When they tell nothing the reading is a guess and the report says so; when they tell both, the
column mixes two forms and the load stops, naming the file and the column and asking for
``--date-format``. All of it runs once per distinct value and vectorised (Arrow's regex, pandas'
ISO parser): parsing each value with dateutil took 21 s for a million distinct times.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys_gui.core.data.loading.options import SniffResult
from recsys_gui.core.data.loading.reading import line_of_record, to_numpy
from recsys_gui.core.errors import ConfigError, DataError

DAY_FIRST, MONTH_FIRST = "day-first", "month-first"
# Day and month as 1-2 digits in either order, one separator used twice, the year last.
_NUMERIC_DATE = (
    r"^(?P<a>\d{1,2})(?P<s1>[./ -])(?P<b>\d{1,2})(?P<s2>[./ -])(?P<y>\d{4}|\d{2})(?P<rest>(?:[ T].*)?)$"
)
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"  # epoch seconds among the dates
_TIME = re.compile(r"([ T])\d{1,2}:\d{2}(:\d{2})?(\.\d+)?")


def parse_dates(
    col: pa.ChunkedArray, sn: SniffResult, name: str, date_format: str | None = None
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Trimmed date text -> (int64 seconds, missing mask or None, a note for the report or None).

    Without ``date_format`` plain numbers among the dates are epoch seconds and anything else
    pandas can read is accepted (UTC unless stated); with it every value must match it.
    """
    enc = pc.dictionary_encode(col).combine_chunks()
    uniques = enc.dictionary.cast(pa.string())
    idx = to_numpy(pc.fill_null(enc.indices, -1)).astype(np.int64)
    note = None
    if date_format is not None:
        secs, bad = _with_format(uniques, date_format)
        expected = f"a date written as '{date_format}' (--date-format)"
    else:
        secs, bad, note = _inferred(uniques, idx, sn, name)
        expected = "a date or a number"
    if bad.any():
        first_bad = int(np.flatnonzero(np.isin(idx, np.flatnonzero(bad)))[0])
        raise DataError(
            f"expected {expected}, got '{uniques[int(idx[first_bad])].as_py()!s:.40}'",
            path=sn.path,
            row=line_of_record(sn, first_bad),
            column=name,
        )
    secs = np.append(secs, 0)
    missing = idx < 0
    return secs[idx], (missing if missing.any() else None), note


def _with_format(uniques: pa.Array, date_format: str) -> tuple[np.ndarray, np.ndarray]:
    text = pd.Series(uniques.to_numpy(zero_copy_only=False), dtype=object)
    try:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
    except ValueError as exc:  # a bad directive ('%Q') is refused whatever the values
        raise ConfigError(f"cannot use the date format '{date_format}': {exc}") from None
    return _seconds(parsed), parsed.isna().to_numpy()


def _inferred(
    uniques: pa.Array, idx: np.ndarray, sn: SniffResult, name: str
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Epoch numbers, then d/m/y or m/d/y text (rewritten as ISO text), then anything pandas reads.

    Returns seconds per distinct value, which ones could not be read, and the report's note.
    """
    no_text = pa.scalar(None, pa.string())
    number_text = pc.if_else(pc.match_substring_regex(uniques, _NUMBER), uniques, no_text)
    numbers = to_numpy(pc.cast(number_text, pa.float64())).astype(np.float64)  # null -> NaN
    numbers = np.where(np.isfinite(numbers) & (np.abs(numbers) < 9e18), numbers, np.nan)
    is_number = ~np.isnan(numbers)
    fields = pc.extract_regex(uniques, _NUMERIC_DATE)
    shaped = to_numpy(pc.is_valid(fields)).astype(bool) & ~is_number
    parts = {k: pc.struct_field(fields, k) for k in ("a", "s1", "b", "s2", "y", "rest")}
    shaped &= to_numpy(pc.fill_null(pc.equal(parts["s1"], parts["s2"]), False)).astype(bool)
    order, note = _day_order(uniques, idx, shaped, _small_int(parts["a"]), _small_int(parts["b"]), sn, name)
    day, month = (parts["a"], parts["b"]) if order == DAY_FIRST else (parts["b"], parts["a"])
    two_digits = {"width": 2, "padding": "0"}
    ymd = pc.binary_join_element_wise(
        parts["y"], pc.utf8_lpad(month, **two_digits), pc.utf8_lpad(day, **two_digits), "-"
    )
    iso = pc.binary_join_element_wise(ymd, parts["rest"], "")
    four_digit_year = to_numpy(pc.fill_null(pc.equal(pc.utf8_length(parts["y"]), 4), False)).astype(bool)
    rewrite = shaped & four_digit_year
    secs = np.where(is_number, np.floor(np.nan_to_num(numbers)), 0).astype(np.int64)
    todo = ~is_number
    if rewrite.any():
        try:  # Arrow's strict ISO parser takes the usual "yyyy-mm-dd[ hh:mm[:ss]]" without a copy to Python
            stamps = pc.cast(iso.filter(pa.array(rewrite)), pa.timestamp("s"))
            secs[rewrite] = to_numpy(pc.cast(stamps, pa.int64()))
            todo &= ~rewrite
        except pa.ArrowInvalid:
            pass  # "7:05", a zone, a fraction or 30 February: pandas below says which
    bad = np.zeros(len(uniques), dtype=bool)
    if todo.any():
        keep = pa.array(todo)
        text = pc.if_else(pa.array(rewrite), iso, uniques).filter(keep).to_numpy(zero_copy_only=False)
        parsed = pd.to_datetime(pd.Series(text, dtype=object), format="ISO8601", errors="coerce", utc=True)
        got, left = _seconds(parsed), parsed.isna().to_numpy().copy()
        if left.any():  # other forms ("Mar 5, 2020", 2-digit years): dateutil, value by value
            written = uniques.filter(keep).filter(pa.array(left)).to_numpy(zero_copy_only=False)
            rest = pd.to_datetime(
                pd.Series(written, dtype=object), format="mixed", dayfirst=order == DAY_FIRST,
                errors="coerce", utc=True,
            )
            got[left] = _seconds(rest)
            left[left] = rest.isna().to_numpy()
        secs[todo], bad[todo] = got, left
    return secs, bad, note


def _small_int(digits: pa.Array) -> np.ndarray:
    """1-2 digit text -> int (0 where missing)."""
    return to_numpy(pc.fill_null(pc.cast(digits, pa.int64()), 0)).astype(np.int64)


def _day_order(
    uniques: pa.Array,
    idx: np.ndarray,
    shaped: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    sn: SniffResult,
    name: str,
) -> tuple[str, str | None]:
    """Day-first or month-first for the d/m/y-shaped values, and a warning when it is a guess."""
    says_day_first = shaped & (first > 12) & (second >= 1) & (second <= 12)
    says_month_first = shaped & (second > 12) & (first >= 1) & (first <= 12)
    if says_day_first.any() and says_month_first.any():
        d, m = int(np.argmax(says_day_first)), int(np.argmax(says_month_first))
        dv, mv = uniques[d].as_py(), uniques[m].as_py()
        raise DataError(
            f"dates are written both day-first ('{dv}', line {_line_of_value(sn, idx, d)}) and "
            f"month-first ('{mv}', line {_line_of_value(sn, idx, m)}); give the form with "
            f"--date-format, e.g. '{_format_of(dv, DAY_FIRST)}' or '{_format_of(mv, MONTH_FIRST)}'",
            path=sn.path,
            column=name,
        )
    if says_day_first.any():
        return DAY_FIRST, None
    if says_month_first.any():
        return MONTH_FIRST, None
    unclear = shaped & (first != second)
    if not unclear.any():
        return MONTH_FIRST, None  # no d/m/y text, or only days equal to their month: either reading
    k = int(np.argmax(unclear))
    example = uniques[k].as_py()
    # Dots are written day-first wherever they are used; '/' and '-' stay month-first, as pandas reads them.
    order = DAY_FIRST if re.match(r"\d{1,2}\.", example) else MONTH_FIRST
    other = MONTH_FIRST if order == DAY_FIRST else DAY_FIRST
    day, month = (first[k], second[k]) if order == DAY_FIRST else (second[k], first[k])
    year = re.split(r"[./ -]", example)[2][:4]
    return order, (
        f"column '{name}': dates such as '{example}' fit both day-first and month-first (no day "
        f"above 12 tells which); read {order} ({year}-{month:02d}-{day:02d}). If they are {other}, "
        f"give --date-format '{_format_of(example, other)}'"
    )


def _line_of_value(sn: SniffResult, idx: np.ndarray, unique: int) -> int | None:
    return line_of_record(sn, int(np.flatnonzero(idx == unique)[0]))


def _format_of(example: str, order: str) -> str:
    """The strptime format of a d/m/y-shaped value read in ``order`` (for messages)."""
    m = re.fullmatch(_NUMERIC_DATE.strip("^$"), example)
    if m is None:
        return "%d.%m.%Y %H:%M"
    s, year = m["s1"], "%Y" if len(m["y"]) == 4 else "%y"
    date = f"%d{s}%m{s}{year}" if order == DAY_FIRST else f"%m{s}%d{s}{year}"
    t = _TIME.fullmatch(m["rest"])
    if not m["rest"] or t is None:
        return date
    return f"{date}{t[1]}%H:%M" + (":%S" if t[2] else "") + (".%f" if t[3] else "")


def _seconds(parsed: pd.Series) -> np.ndarray:
    """UTC datetimes (NaT allowed) -> int64 seconds, NaT -> 0."""
    ok = parsed.notna().to_numpy()
    out = np.zeros(len(parsed), dtype=np.int64)
    if ok.any():
        out[ok] = parsed[ok].astype("datetime64[s, UTC]").astype("int64").to_numpy()
    return out
