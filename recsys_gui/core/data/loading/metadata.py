"""Item metadata (titles, genres, any other columns) joined to the items on their raw ids.

Reads ml-100k ``u.item`` (19 genre flags), ``movies.csv``/``movies.dat`` (id, title, genres),
RecBole ``.item`` files and plain id/name tables.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys_gui.core.data.loading.columns import name_matches, norm_name, words
from recsys_gui.core.data.loading.guards import guard
from recsys_gui.core.data.loading.ids import CANONICAL_INT, encode_ids
from recsys_gui.core.data.loading.reading import arrow_read, read_table
from recsys_gui.core.data.loading.sniffing import sniff

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
_META_ID_NAMES = words("id itemid movieid gameid artistid bookid productid trackid songid asin isbn")
_GENRE_NAMES = ("genres", "genre", "class", "classes", "category", "categories", "tags", "tag")


def load_item_metadata(path: str | Path, item_ids: pd.Index) -> pd.DataFrame:
    """Item titles/genres (and any other columns) indexed by dense item index, joined on raw id.

    Reads ml-100k ``u.item`` (19 genre flags), ``movies.csv``/``movies.dat`` (id, title, genres),
    RecBole ``.item`` files and plain id/name tables. Items without a row get missing values.
    """
    with guard(path):
        return align_metadata(metadata_frame(path), item_ids)


def align_metadata(meta: pd.DataFrame, item_ids: pd.Index) -> pd.DataFrame:
    """Metadata rows in dense item order. Integer item ids are looked up by the number a text id
    writes, blanks around it allowed ("1, Toy Story" in a hand-made CSV): a lookup, not an id."""
    index = meta.index
    if item_ids.dtype == np.int64 and index.dtype != np.int64:
        as_int = [
            int(s) if isinstance(s, str) and CANONICAL_INT.fullmatch(s.strip()) else None for s in index
        ]
        meta = meta[[v is not None for v in as_int]]
        meta.index = pd.Index([v for v in as_int if v is not None], dtype=np.int64)
        meta = meta[~meta.index.duplicated(keep="first")]
    elif item_ids.dtype != np.int64 and index.dtype == np.int64:
        meta.index = pd.Index(index.astype(str), dtype=object)
    out = meta.reindex(item_ids)
    out.index = pd.RangeIndex(len(item_ids), name="item")
    return out


def metadata_frame(path: str | Path) -> pd.DataFrame:
    """Metadata rows indexed by normalised raw item id (int when every id is a plain integer)."""
    sn = sniff(path)
    if sn.format == "parquet":
        df, _ = read_table(path)
        df = df.astype(object).where(df.notna(), None)
    else:
        table, sn = arrow_read(sn, None, {c: pa.string() for c in sn.columns})
        df = table.to_pandas()
    cols = list(df.columns)
    names = {c: norm_name(c) for c in cols}
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
                if name_matches(c)
                and name_matches(c)[0][0] == "item"
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
    ids, raw = encode_ids(pa.chunked_array([pa.array(raw_ids, type=pa.string())]))
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
