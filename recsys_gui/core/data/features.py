"""Item and user features from the files analysts have, as sparse row × feature matrices.

A metadata table (items' ``--items-meta``, users' ``--users-meta``) becomes one CSR matrix per side
whose columns are named ``column=value``: categorical columns one-hot, multi-valued lists
(``Action|Comedy``) multi-hot, numeric columns binned at their quantiles, and optionally a text
column (a title, a description) as TF-IDF terms (``column~term``). The encoder that made a matrix is
kept with it, so a stored run re-encodes a new item from its text (``genres=Comedy|Romance``) the same
way, and the report says which columns became features and how many values each has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_gui.core.errors import ConfigError

MULTI_SEPARATOR = "|"
MAX_CATEGORIES = 1000  # a column with more distinct values than this is an identifier, not a feature
NUMERIC_BINS = 10
TEXT_TERMS = 2000
_SKIPPED_NAMES = ("title", "name", "url", "imdburl", "zip", "zipcode", "zip-code")


@dataclass(frozen=True)
class FeatureOptions:
    """Which columns become features. ``columns``: only these (None: every usable column);
    ``exclude``: never these (the Data page's unticked boxes); ``text``: columns read as TF-IDF."""

    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    numeric_bins: int = NUMERIC_BINS

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> FeatureOptions:
        """Options from a run spec's ``features`` object; a wrong key is a ConfigError."""
        values = dict(values or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"feature option '{unknown[0]}' is unknown (known: {', '.join(sorted(known))})")
        for key in ("columns", "exclude", "text"):
            if values.get(key) is not None:
                values[key] = tuple(str(c) for c in values[key])
        return cls(**values)


@dataclass(frozen=True)
class ColumnEncoding:
    """How one metadata column turns into feature columns (kept with a run to encode new rows)."""

    column: str
    kind: str  # "category" | "multi" | "numeric" | "text"
    values: tuple[str, ...]  # category values, bin labels, or text terms
    edges: tuple[float, ...] = ()  # numeric: inner bin edges
    idf: tuple[float, ...] = ()  # text: inverse document frequencies of ``values``

    @property
    def names(self) -> list[str]:
        sep = "~" if self.kind == "text" else "="
        return [f"{self.column}{sep}{v}" for v in self.values]

    def encode(self, cells: Sequence[Any]) -> sp.csr_matrix:
        """Rows [len(cells), len(values)]; a missing or unknown value is an empty row."""
        n, width = len(cells), len(self.values)
        if self.kind == "text":
            return _tfidf(self, cells)
        series = pd.Series(list(cells), dtype=object)
        if self.kind == "numeric":
            nums = pd.to_numeric(series, errors="coerce").to_numpy(float)
            ok = np.isfinite(nums)
            rows = np.flatnonzero(ok)
            cols = np.searchsorted(np.asarray(self.edges), nums[ok], side="right")
        else:
            values = _values_by_row(series, self.kind == "multi")
            codes = pd.Index(self.values).get_indexer(values.to_numpy())
            rows, cols = values.index.to_numpy()[codes >= 0], codes[codes >= 0]
        m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, width))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m


@dataclass(frozen=True)
class FeatureMatrix:
    """One side's features: ``matrix`` [rows in dense id order, features] and the encoders.

    ``matrix`` holds 1 for categorical/multi-valued/binned values and TF-IDF weights for text.
    """

    matrix: sp.csr_matrix
    encodings: tuple[ColumnEncoding, ...]
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature

    @property
    def names(self) -> list[str]:
        return [n for e in self.encodings for n in e.names]

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]

    def report(self) -> dict[str, Any]:
        """Which columns became features, of what kind and with how many values; which were skipped."""
        covered = int((self.matrix.getnnz(axis=1) > 0).sum())
        return {
            "columns": {e.column: {"kind": e.kind, "values": len(e.values)} for e in self.encodings},
            "features": self.n_features,
            "rows_with_features": covered,
            "rows": int(self.matrix.shape[0]),
            "skipped": dict(self.skipped),
        }

    def row_normalised(self) -> sp.csr_matrix:
        """Each row scaled to sum 1 (LightFM's normalisation: an item with many genres is not louder)."""
        sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ self.matrix)

    def encode_text(self, text: str) -> sp.csr_matrix:
        """One new row [1, n_features] from ``"genres=Comedy|Romance; year=1995"``.

        Columns are separated by ';'. An unknown column or a row with no known value is a ConfigError
        that lists what the run knows, so a typo is never silently a featureless item.
        """
        given = parse_feature_text(text)
        by_column = {e.column.lower(): e for e in self.encodings}
        parts = []
        for e in self.encodings:
            parts.append(e.encode([given.get(e.column.lower())]))
        unknown = [c for c in given if c not in by_column]
        if unknown:
            raise ConfigError(f"feature column '{unknown[0]}' is not one of this run's: "
                              f"{', '.join(e.column for e in self.encodings) or 'none'}")
        row = sp.hstack(parts, format="csr") if parts else sp.csr_matrix((1, 0), dtype=np.float32)
        if row.nnz == 0:
            known = "; ".join(f"{e.column}: {', '.join(e.values[:8])}{'…' if len(e.values) > 8 else ''}"
                              for e in self.encodings if e.kind != "text")
            raise ConfigError(f"'{text}' matches none of this run's feature values ({known})")
        return row.astype(np.float32)

    def to_state(self) -> dict[str, Any]:
        """Plain lists and numbers (fits a weights-only checkpoint and JSON)."""
        m = self.matrix.tocsr()
        return {"shape": list(m.shape), "indptr": m.indptr.tolist(), "indices": m.indices.tolist(),
                "data": m.data.astype(float).tolist(), "encodings": [asdict(e) for e in self.encodings],
                "skipped": dict(self.skipped)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FeatureMatrix:
        m = sp.csr_matrix((np.asarray(state["data"], np.float32), np.asarray(state["indices"], np.int64),
                           np.asarray(state["indptr"], np.int64)), shape=tuple(state["shape"]))
        encodings = tuple(ColumnEncoding(**{**e, "values": tuple(e["values"]), "edges": tuple(e["edges"]),
                                            "idf": tuple(e["idf"])}) for e in state["encodings"])
        return cls(m, encodings, dict(state.get("skipped") or {}))


@dataclass(frozen=True)
class FeatureSet:
    """The features a run has: items' and users' (either may be None)."""

    items: FeatureMatrix | None = None
    users: FeatureMatrix | None = None

    def report(self) -> dict[str, Any]:
        sides = (("items", self.items), ("users", self.users))
        return {side: m.report() for side, m in sides if m is not None}


def parse_feature_text(text: str) -> dict[str, str]:
    """``"genres=Comedy|Romance; year=1995"`` -> {"genres": "Comedy|Romance", "year": "1995"}."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in str(text).split(";")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"'{part}': describe an item as column=value (several: "
                              "'genres=Comedy|Romance; year=1995')")
        out[name.strip().lower()] = value.strip()
    if not out:
        raise ConfigError("no features given: describe the item as column=value, e.g. 'genres=Comedy'")
    return out


def fit_features(frame: pd.DataFrame | None, options: FeatureOptions | None = None) -> FeatureMatrix | None:
    """Features of every row of ``frame`` (rows in dense id order, missing rows all-NaN); None when no
    column is usable. Column kinds are inferred; ``options`` picks columns and text columns."""
    if frame is None:
        return None
    options = options or FeatureOptions()
    wanted = list(frame.columns) if options.columns is None else list(options.columns)
    missing = [c for c in [*wanted, *options.text] if c not in frame.columns]
    if missing:
        raise ConfigError(f"feature column '{missing[0]}' is not in the metadata (columns: "
                          f"{', '.join(map(str, frame.columns))})")
    encodings: list[ColumnEncoding] = []
    skipped: dict[str, str] = {}
    for col in wanted:
        if col in options.exclude:
            skipped[str(col)] = "unticked"
            continue
        if col in options.text:
            enc = _fit_text(str(col), frame[col])
        else:
            enc, why = _infer(str(col), frame[col], options)
            if enc is None:
                skipped[str(col)] = why
                continue
        if enc is not None and enc.values:
            encodings.append(enc)
        else:
            skipped[str(col)] = "no usable values"
    if not encodings:
        return None
    blocks = [e.encode(frame[e.column].tolist()) for e in encodings]
    return FeatureMatrix(sp.hstack(blocks, format="csr").astype(np.float32), tuple(encodings), skipped)


def _infer(col: str, series: pd.Series, options: FeatureOptions) -> tuple[ColumnEncoding | None, str]:
    """The encoding an analyst would pick for a column, or None and the reason it is skipped."""
    present = series.dropna()
    present = present[present.astype(str).str.strip() != ""]
    if present.empty:
        return None, "empty"
    if options.columns is None and re.sub(r"[^a-z]", "", col.lower()) in _SKIPPED_NAMES:
        return None, "a name, address or code (tick it, or read it as text)"
    text = present.astype(str).str.strip()
    if text.str.contains(MULTI_SEPARATOR, regex=False).mean() > 0.05:
        values = sorted(set(_values_by_row(text, True)))
        return ColumnEncoding(col, "multi", tuple(values)), ""
    nums = pd.to_numeric(text, errors="coerce")
    distinct = text.nunique()
    integer_codes = nums.notna().all() and bool((nums.dropna() % 1 == 0).all()) and distinct <= 30
    if nums.notna().mean() > 0.95 and distinct > options.numeric_bins and not integer_codes:
        qs = np.quantile(nums.dropna().to_numpy(float), np.linspace(0, 1, options.numeric_bins + 1)[1:-1])
        edges = tuple(float(x) for x in np.unique(qs))
        lows = ("-inf", *[f"{e:g}" for e in edges])
        highs = (*[f"{e:g}" for e in edges], "inf")
        labels = tuple(f"[{lo},{hi})" for lo, hi in zip(lows, highs, strict=True))
        return ColumnEncoding(col, "numeric", labels, edges=edges), ""
    if distinct > min(MAX_CATEGORIES, max(2, len(present) // 2)):
        return None, f"{distinct:,} distinct values: an identifier or free text (read it as text?)"
    return ColumnEncoding(col, "category", tuple(sorted(text.unique()))), ""


def _values_by_row(cells: pd.Series, multi: bool) -> pd.Series:
    """Each non-blank value of the cells, indexed by the cell's position (several per cell when
    ``multi``): vectorised in pandas, no loop over rows."""
    cells = cells.reset_index(drop=True)
    text = cells[cells.notna()].astype(str).str.strip()
    if multi:
        text = text.str.split(MULTI_SEPARATOR, regex=False).explode().str.strip()
    return text[text.notna() & (text != "")]


def _text_cells(cells: Sequence[Any]) -> list[str]:
    return ["" if c is None or (isinstance(c, float) and np.isnan(c)) else str(c) for c in cells]


def _fit_text(col: str, series: pd.Series) -> ColumnEncoding:
    """TF-IDF terms of a text column (scikit-learn; terms in at least two rows, the most frequent kept)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(min_df=2, max_features=TEXT_TERMS, lowercase=True)
    try:
        vec.fit(_text_cells(series.tolist()))
    except ValueError:  # no term in two rows
        return ColumnEncoding(col, "text", ())
    terms = vec.get_feature_names_out()
    return ColumnEncoding(col, "text", tuple(str(t) for t in terms), idf=tuple(float(x) for x in vec.idf_))


def _tfidf(enc: ColumnEncoding, cells: Sequence[Any]) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not enc.values:
        return sp.csr_matrix((len(cells), 0), dtype=np.float32)
    vec = TfidfVectorizer(vocabulary={t: j for j, t in enumerate(enc.values)}, lowercase=True)
    vec.idf_ = np.asarray(enc.idf, dtype=np.float64)
    return sp.csr_matrix(vec.transform(_text_cells(list(cells))), dtype=np.float32)


def load_user_metadata(path: str, user_ids: pd.Index) -> pd.DataFrame:
    """User attributes in dense user order, joined on raw user id.

    Reads MovieLens ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``), ml-100k ``u.user``
    (``id|age|gender|occupation|zip``) and any CSV/TSV whose first column (or a column named like
    ``user_id``) is the user id. Users without a row get missing values.
    """
    from recsys_gui.core.data.loading.metadata import align_metadata

    frame = _read_user_table(path)
    return align_metadata(frame, user_ids)


_USERS_DAT = ("gender", "age", "occupation", "zip")
_U_USER = ("age", "gender", "occupation", "zip")


def _read_user_table(path: str) -> pd.DataFrame:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"user metadata file {path}: not found")
    with p.open("r", encoding="latin-1") as fh:
        first = fh.readline().rstrip("\r\n")
    if "::" in first:
        raw = pd.read_csv(p, sep="::", engine="python", header=None, dtype=str, encoding="latin-1")
        names = ["user_id", *_USERS_DAT, *[f"col{i}" for i in range(5, raw.shape[1])]][: raw.shape[1]]
        raw.columns = names
    elif "|" in first and not _looks_like_header(first.split("|")):
        raw = pd.read_csv(p, sep="|", header=None, dtype=str, encoding="latin-1")
        raw.columns = ["user_id", *_U_USER, *[f"col{i}" for i in range(5, raw.shape[1])]][: raw.shape[1]]
    else:
        sep = "\t" if "\t" in first else ("|" if "|" in first else ",")
        raw = pd.read_csv(p, sep=sep, dtype=str, encoding="latin-1")
    if raw.shape[1] < 2:
        raise ConfigError(f"user metadata file {path}: expected a user id column and at least one more")
    id_names = ("userid", "user", "id")
    plain = {c: re.sub(r"[^a-z]", "", str(c).lower()) for c in raw.columns}
    id_col = next((c for c in raw.columns if plain[c] in id_names), raw.columns[0])
    raw = raw.dropna(subset=[id_col])
    ids = raw[id_col].astype(str).str.strip()
    as_int = pd.to_numeric(ids, errors="coerce")
    out = raw.drop(columns=[id_col])
    out.index = pd.Index(as_int.astype("int64"), dtype=np.int64) if as_int.notna().all() else pd.Index(ids)
    return out[~out.index.duplicated(keep="first")]


def _looks_like_header(cells: list[str]) -> bool:
    return not cells[0].strip().lstrip("-").isdigit()


__all__ = ["ColumnEncoding", "FeatureMatrix", "FeatureOptions", "FeatureSet", "fit_features",
           "load_user_metadata", "parse_feature_text"]
