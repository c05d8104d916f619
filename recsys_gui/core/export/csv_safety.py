"""CSV cells that spreadsheets would run as formulas are neutralised ("CSV injection").

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-`` or ``@`` as a
formula, and tab or carriage return can smuggle one in. Raw user/item ids and titles come from
files we do not control, so every *text* cell starting with one of those characters gets a
leading ``'`` (OWASP's advice), which spreadsheets show as plain text.

Numbers stay numbers: numeric columns are never touched, and a text cell that is a plain numeric
literal (``-5``, ``+1.5e3``) cannot run as a formula and is left as it is.

Quoting of commas, quotes and newlines is the CSV writer's job (``csv.QUOTE_MINIMAL``); this
module only changes what a cell *starts* with. The CSV writers call ``neutralise_frame`` on every
chunk they write, so no caller can forget it. One gap in the writer: with ``\n`` line ends,
Python's csv module leaves a bare carriage return inside a field unquoted, and every reader then
splits the row there. ``csv_quoting`` picks ``QUOTE_NONNUMERIC`` (text quoted, numbers bare) for
files whose text holds one, so such ids still round-trip.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def needs_neutralising(value: object) -> bool:
    """True for a text value a spreadsheet could execute."""
    return isinstance(value, str) and value.startswith(DANGEROUS_FIRST) and _NUMBER.fullmatch(value) is None


def neutralise(value: object) -> object:
    """``'`` + value for dangerous text; anything else unchanged."""
    return "'" + value if needs_neutralising(value) else value  # type: ignore[operator]


def neutralise_values(values: pd.Index | pd.Series) -> pd.Index | pd.Series:
    """A copy of an id index or text column with dangerous text cells neutralised.

    Numeric dtypes are returned unchanged, so integer ids keep their type and their CSV form.
    A vectorised prefix test finds the few candidates first (about 50 ms per million cells); only
    those get the per-value numeric-literal check.
    """
    if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)):
        return values
    series = values.to_series(index=None) if isinstance(values, pd.Index) else values
    try:
        candidates = series.str.startswith(DANGEROUS_FIRST, na=False).to_numpy(dtype=bool)
    except AttributeError:  # an object column without any text (e.g. all None)
        return values
    if not candidates.any():
        return values
    arr = np.asarray(values, dtype=object).copy()
    for i in np.flatnonzero(candidates):
        arr[i] = neutralise(arr[i])
    if isinstance(values, pd.Index):
        return pd.Index(arr, dtype=object, name=values.name)
    return pd.Series(arr, index=values.index, name=values.name, dtype=object)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Neutralise every text column of a (small) frame: metadata tables, embedding id columns."""
    out = frame.copy()
    for col in out.columns:
        out[col] = neutralise_values(out[col])
    return out


def csv_quoting(*texts: Iterable[object] | None) -> int:
    """``csv.QUOTE_NONNUMERIC`` when any text value holds a carriage return, else ``QUOTE_MINIMAL``.

    Called once per export on the id arrays (not per row), so it costs one pass over the ids.
    """
    for values in texts:
        if values is None:
            continue
        if any(isinstance(v, str) and "\r" in v for v in values):
            return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


def frame_quoting(frame: pd.DataFrame) -> int:
    """``csv_quoting`` over the text columns of a frame."""
    cols = [frame[c] for c in frame.columns
            if pd.api.types.is_object_dtype(frame[c].dtype) or pd.api.types.is_string_dtype(frame[c].dtype)]
    return csv_quoting(*cols)
