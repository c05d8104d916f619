"""What the inspection pages show, computed without Qt: data statistics, one user's history next
to their top-N, and a run's embeddings drawn in 2-D with neighbours, search and colour groups.

The GUI pages call these from worker threads; the CLI and notebooks can call them as they are.
A user's top-N comes from ``export.top_k.recommend_frames``, so the inspector shows exactly the
list an export writes, and the 2-D drawing from ``export.projection``, as the export's does.
Neighbours are searched in the model's full embedding space (cosine), never in the 2-D
projection, whose distances are distorted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ConfigError, RecsysError
from recsys_gui.core.export.embeddings import model_embeddings
from recsys_gui.core.export.ids import Labels, match_ids
from recsys_gui.core.export.projection import project_embeddings, projection_methods, projection_sample
from recsys_gui.core.export.top_k import recommend_frames
from recsys_gui.core.models.base import Recommender

__all__ = [
    "ColourCoding",
    "EmbeddingView",
    "UserInspection",
    "colour_coding",
    "embedding_view",
    "find_user",
    "first_genre",
    "inspect_user",
    "interaction_statistics",
    "log_histogram",
    "nearest_neighbours",
    "projection_methods",
    "search_ids",
    "unit_rows",
    "user_history",
    "user_top_n",
]

ProgressFn = Callable[[float, str], None]
GENRE_SEPARATORS = r"[|,;]"


# --- statistics ---------------------------------------------------------------------------------
def log_histogram(counts: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(edges, counts) on logarithmic bins: interactions per user/item span several decades."""
    counts = np.asarray(counts)
    counts = counts[counts > 0]
    if counts.size == 0:
        return np.array([1.0, 2.0]), np.array([0.0])
    edges = np.unique(np.logspace(0, np.log10(max(counts.max(), 2)) + 1e-9, bins + 1))
    hist, edges = np.histogram(counts, bins=edges)
    return edges, hist.astype(float)


def interaction_statistics(data: InteractionData) -> dict[str, Any]:
    """Histograms of interactions per user and per item (log bins), of the values, and over time."""
    out: dict[str, Any] = {
        "users": log_histogram(data.user_counts()),
        "items": log_histogram(data.item_counts()),
    }
    vals = np.asarray(data.values, dtype=float)
    uniq = np.unique(vals)
    if uniq.size <= 20:
        out["ratings"] = (uniq, np.array([(vals == u).sum() for u in uniq], dtype=float))
    else:
        hist, edges = np.histogram(vals, bins=20)
        out["ratings"] = ((edges[:-1] + edges[1:]) / 2, hist.astype(float))
    if data.timestamps is not None and len(data.timestamps):
        ts = np.asarray(data.timestamps, dtype=float)
        hist, edges = np.histogram(ts, bins=min(60, max(5, int(np.sqrt(len(ts))))))
        out["time"] = (edges, hist.astype(float))
    else:
        out["time"] = None
    return out


# --- one user -----------------------------------------------------------------------------------
def find_user(ids: pd.Index, raw: object) -> int:
    """Dense index of a raw user id, compared by text ("7" finds integer id 7); a clear error if unknown."""
    text = str(raw).strip()
    if not text:
        raise RecsysError("Type a user id.")
    dense, _unknown = match_ids([text], ids)
    if dense.size == 0:
        sample = ", ".join(str(v) for v in ids[:3])
        raise RecsysError(f"No user '{text}' in this run's data (user ids look like: {sample}).")
    return int(dense[0])


def user_history(split: Split, user: int) -> pd.DataFrame:
    """Everything known about ``user`` before the test part (newest first), with titles when known."""
    parts = [("train", split.train), ("valid", split.valid), ("fold-in", split.fold_in)]
    frames = []
    for name, part in parts:
        if part is None:
            continue
        rows = np.flatnonzero(part.users == user)
        if rows.size == 0:
            continue
        f = pd.DataFrame({"_idx": part.items[rows], "value": part.values[rows].astype(float), "part": name})
        if part.timestamps is not None:
            f["_ts"] = np.asarray(part.timestamps[rows], dtype=float)
        frames.append(f)
    ref = split.train
    cols = ["item_id", *(["title"] if ref.item_titles() is not None else []), "value", "part"]
    if not frames:
        return pd.DataFrame(columns=cols)
    hist = pd.concat(frames, ignore_index=True)
    if "_ts" in hist:
        hist = hist.sort_values("_ts", ascending=False, kind="stable")
        cols.append("when")
        hist["when"] = pd.to_datetime(hist["_ts"], unit="s", errors="coerce").dt.strftime("%Y-%m-%d %H:%M")
    idx = hist["_idx"].to_numpy()
    hist["item_id"] = np.asarray(ref.item_ids.take(idx)).astype(str)
    titles = ref.item_titles()
    if titles is not None:
        hist["title"] = titles.reindex(idx).fillna("").astype(str).to_numpy()
    return hist[cols].reset_index(drop=True)


def user_top_n(
    model: Recommender, split: Split, user: int, k: int = 20, *, include_seen: bool = False
) -> pd.DataFrame:
    """The user's top-``k`` as the export writes it, with ``in_test`` True where a held-out item was hit."""
    frame = next(
        iter(
            recommend_frames(
                model, split, k=k, users=np.array([user]), exclude_seen=not include_seen, device=model.device
            )
        )
    )
    frame = frame.drop(columns="user_id").reset_index(drop=True)
    test_items = split.test.items[split.test.users == user]
    held_out = set(np.asarray(split.train.item_ids.take(test_items)).astype(str).tolist())
    frame["item_id"] = frame["item_id"].astype(str)
    frame["score"] = frame["score"].astype(float)
    frame["in_test"] = frame["item_id"].isin(held_out)
    return frame


@dataclass
class UserInspection:
    """One user's history next to their top-N."""

    user: str
    history: pd.DataFrame
    recs: pd.DataFrame
    n_test: int  # held-out test items of this user

    @property
    def hits(self) -> int:
        return int(self.recs["in_test"].sum()) if len(self.recs) else 0


def inspect_user(model: Recommender, split: Split, raw_user: object, k: int = 20) -> UserInspection:
    """History and top-``k`` (seen items excluded) of the user with raw id ``raw_user``."""
    u = find_user(split.train.user_ids, raw_user)
    model.set_context(split.known_for_test())  # sequence models: rank after everything known
    return UserInspection(
        user=str(raw_user).strip(),
        history=user_history(split, u),
        recs=user_top_n(model, split, u, k),
        n_test=int(np.count_nonzero(split.test.users == u)),
    )


# --- embeddings: neighbours, search, colours ----------------------------------------------------
def unit_rows(emb: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32) so a dot product is the cosine; zero rows stay zero."""
    x = np.asarray(emb, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def nearest_neighbours(
    unit: np.ndarray, query: int, k: int = 10, *, exclude_self: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine similarities) of the ``k`` rows most similar to row ``query``, best first.

    ``unit`` comes from ``unit_rows``. One matrix-vector product and ``argpartition``: linear in
    the number of rows, no full sort, so 100,000 items answer in milliseconds.
    """
    n = unit.shape[0]
    if not 0 <= query < n:
        raise ConfigError(f"Row {query} is outside the {n} embeddings.")
    sims = unit @ unit[query]
    if exclude_self:
        sims[query] = -np.inf
    k = max(0, min(k, n - (1 if exclude_self else 0)))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-sims, k - 1)[:k]
    order = np.lexsort((top, -sims[top]))  # ties broken by index, so results are stable
    top = top[order]
    return top.astype(np.int64), sims[top].astype(np.float32)


def search_ids(ids: np.ndarray, titles: np.ndarray | None, text: str, limit: int = 50) -> np.ndarray:
    """Rows whose raw id equals ``text`` first, then rows whose title contains it (case-insensitive)."""
    q = text.strip()
    if not q:
        return np.zeros(0, dtype=np.int64)
    id_text = np.asarray(ids).astype(str)
    exact = np.flatnonzero(id_text == q)
    found = [exact]
    if titles is not None:
        low = pd.Series(np.asarray(titles, dtype=object)).fillna("").astype(str).str.lower()
        sub = np.flatnonzero(low.str.contains(q.lower(), regex=False).to_numpy())
        found.append(sub[~np.isin(sub, exact)])
    out = np.concatenate(found).astype(np.int64)
    return out[:limit]


@dataclass(frozen=True)
class ColourCoding:
    """Each point's group (-1 = no value) and the groups' labels, in legend order."""

    codes: np.ndarray
    labels: list[str]
    ordered: bool  # True for binned numbers (a colour ramp), False for categories


def first_genre(values: pd.Series) -> pd.Series:
    """'Action|Comedy' → 'Action': one colour per point needs one genre per item."""
    return values.astype("string").str.split(GENRE_SEPARATORS, regex=True).str[0].str.strip()


def colour_coding(
    values: pd.Series | np.ndarray, *, max_categories: int = 10, bins: int = 8, log: bool = False
) -> ColourCoding:
    """Numbers → ``bins`` quantile bins; text → the ``max_categories - 1`` most frequent values + "other"."""
    s = pd.Series(values).reset_index(drop=True)
    codes = np.full(len(s), -1, dtype=np.int64)
    numeric = None
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        numeric = s.astype(float)
    elif not pd.api.types.is_bool_dtype(s):
        as_num = pd.to_numeric(s, errors="coerce")
        if s.notna().any() and as_num.notna().sum() >= 0.9 * s.notna().sum():
            numeric = as_num
    if numeric is not None and numeric.nunique() > max_categories:
        x = numeric.to_numpy(dtype=float)
        ok = np.isfinite(x)
        v = np.log1p(np.clip(x, 0, None)) if log else x
        edges = np.unique(np.quantile(v[ok], np.linspace(0, 1, bins + 1)))
        codes[ok] = np.clip(np.searchsorted(edges, v[ok], side="right") - 1, 0, edges.size - 2)
        real = np.expm1(edges) if log else edges
        labels = [f"{_fmt(real[i])} – {_fmt(real[i + 1])}" for i in range(edges.size - 1)]
        return ColourCoding(codes, labels, True)
    if numeric is not None:  # a few distinct numbers: categories in numeric order
        keep = sorted(numeric.dropna().unique())
        lookup = {v: i for i, v in enumerate(keep)}
        mapped = numeric.map(lookup)
        codes[mapped.notna().to_numpy()] = mapped.dropna().astype(int).to_numpy()
        return ColourCoding(codes, [_fmt(v) for v in keep], True)
    text = s.astype("string")
    counts = text.value_counts(dropna=True)
    keep = list(counts.index[: max_categories - 1]) if len(counts) > max_categories else list(counts.index)
    lookup = {v: i for i, v in enumerate(keep)}
    mapped = text.map(lookup)
    codes[mapped.notna().to_numpy()] = mapped.dropna().astype(int).to_numpy()
    labels = [str(v) for v in keep]
    if len(counts) > len(keep):
        other = text.notna().to_numpy() & mapped.isna().to_numpy()
        codes[other] = len(keep)
        labels.append(f"other ({len(counts) - len(keep)} values)")
    return ColourCoding(codes, labels, False)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:.3g}"


@dataclass
class EmbeddingView:
    """One side's embeddings of a run, ready to draw and to query.

    ``rows`` are the dense indices drawn (a sample of large catalogues) and ``xy`` their 2-D
    coordinates; ``ids``, ``titles``, ``popularity``, ``meta`` and ``unit`` cover every row, so
    neighbours and search reach points that are not drawn.
    """

    side: str
    method: str
    model: str
    rows: np.ndarray
    xy: np.ndarray
    ids: np.ndarray
    titles: np.ndarray | None
    popularity: np.ndarray
    unit: np.ndarray
    meta: pd.DataFrame | None = None

    def label(self, row: int) -> str:
        """'raw id · title' for a dense row."""
        t = self.titles[row] if self.titles is not None else None
        return f"{self.ids[row]} · {t}" if t not in (None, "") and t == t else str(self.ids[row])

    def colour_options(self) -> list[str]:
        """Ways to colour the points: popularity, genre (items with genres), other metadata columns."""
        opts = ["popularity"]
        if self.meta is not None:
            cols = [str(c) for c in self.meta.columns if str(c) not in ("title", "item_id")]
            if "genres" in cols:
                opts.append("genre")
            opts += [c for c in cols if c != "genres"]
        return opts

    def colours(self, option: str, **kw: Any) -> ColourCoding:
        """Colour groups of the drawn points for one of ``colour_options()``."""
        if option == "popularity":
            return colour_coding(self.popularity[self.rows], log=True, **kw)
        if self.meta is None:
            raise ConfigError(f"No item metadata to colour by '{option}'.")
        col = "genres" if option == "genre" else option
        if col not in self.meta.columns:
            raise ConfigError(f"No metadata column '{option}'.")
        values = self.meta[col].reindex(self.rows)
        return colour_coding(first_genre(values) if option == "genre" else values, **kw)

    def neighbours(self, row: int, k: int = 10) -> pd.DataFrame:
        """The ``k`` nearest rows to ``row`` by cosine in the full space (the row itself excluded)."""
        idx, sims = nearest_neighbours(self.unit, row, k)
        out = pd.DataFrame({"rank": np.arange(1, idx.size + 1), f"{self.side}_id": self.ids[idx].astype(str)})
        if self.titles is not None:
            out["title"] = pd.Series(self.titles[idx], dtype=object).fillna("").astype(str).to_numpy()
        out["cosine"] = sims.astype(float)
        out["_row"] = idx
        return out

    def search(self, text: str, limit: int = 50) -> np.ndarray:
        return search_ids(self.ids, self.titles, text, limit)


def embedding_view(
    model: Recommender,
    split: Split,
    side: str = "item",
    *,
    method: str = "pca",
    sample: int | None = 20_000,
    seed: int = 0,
    model_name: str = "",
    progress: ProgressFn | None = None,
) -> EmbeddingView:
    """Embeddings of ``side`` ('item' or 'user'), a projection of at most ``sample`` of them, and labels."""
    tick = progress or (lambda _f, _t: None)
    if side not in ("item", "user"):
        raise ConfigError(f"Side must be 'item' or 'user', not '{side}'.")
    tick(0.1, f"Computing {side} embeddings")
    emb = model_embeddings(model, split, sides=(side,))[side]  # type: ignore[arg-type]
    name = model_name or getattr(type(model), "label", type(model).__name__)
    if emb is None:
        raise RecsysError(f"{name} has no {side} embeddings to show.")
    known = split.known_for_valid()
    rows = projection_sample(emb.shape[0], sample, seed)
    rows = np.arange(emb.shape[0]) if rows is None else rows
    label = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get(method, method)
    tick(0.3, f"Projecting {rows.size:,} {side}s with {label}")
    xy = project_embeddings(emb[rows], method, sample=None, seed=seed)
    ok = np.isfinite(xy).all(axis=1)
    tick(0.9, "Indexing for neighbour search")
    labels = Labels.from_data(split.train)
    ids = labels.users if side == "user" else labels.items
    titles = labels.titles if side == "item" else None
    pop = known.user_counts() if side == "user" else known.item_counts()
    meta = (
        split.train.item_meta.reindex(range(split.n_items))
        if (side == "item" and split.train.item_meta is not None)
        else None
    )
    view = EmbeddingView(
        side=side,
        method=method,
        model=name,
        rows=rows[ok],
        xy=xy[ok],
        ids=np.asarray(ids),
        titles=titles,
        popularity=pop,
        unit=unit_rows(emb),
        meta=meta,
    )
    tick(1.0, "Done")
    return view
