"""Seeded synthetic interaction data with structure a model can learn (the shipped sample data).

Why synthetic: the real datasets cannot be redistributed, yet a first-time user and the tests need
data where personalisation visibly pays off. Users and items live in one low-dimensional taste
space built around genre clusters; item popularity follows a power law; each user picks items by
taste plus popularity (Gumbel top-k sampling), rates them by taste, and does so over time after
each item's release. So a matrix-factorisation model beats popularity, but popularity is a real
baseline, as in real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_gui.core.utils.atomic import atomic_target, check_target, resolved_target

GENRES = ("Action", "Comedy", "Drama", "Sci-Fi", "Romance", "Horror", "Documentary", "Animation")
_ADJECTIVES = (
    "Silent",
    "Golden",
    "Last",
    "Broken",
    "Hidden",
    "Crimson",
    "Endless",
    "Frozen",
    "Lost",
    "Wild",
    "Midnight",
    "Electric",
    "Distant",
    "Secret",
    "Burning",
    "Quiet",
    "Iron",
    "Paper",
    "Velvet",
    "Hollow",
    "Bright",
    "Northern",
    "Savage",
    "Gentle",
    "Final",
)
_NOUNS = (
    "Harbor",
    "Kingdom",
    "Signal",
    "River",
    "Garden",
    "Machine",
    "Summer",
    "Empire",
    "Witness",
    "Horizon",
    "Orchard",
    "Circuit",
    "Lantern",
    "Frontier",
    "Mirror",
    "Voyage",
    "Station",
    "Letter",
    "Forest",
    "Island",
    "Protocol",
    "Carnival",
    "Compass",
    "Tide",
    "Archive",
)
_START = 1_546_300_800  # 2019-01-01 UTC
_DAY = 86_400


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape of a generated data set; the defaults give the shipped ``interactions.csv``."""

    n_users: int = 1000
    n_items: int = 500
    mean_per_user: float = 50.0
    dim: int = 12
    taste_weight: float = 3.0  # how much taste (vs popularity) decides what a user picks
    popularity_exponent: float = 1.2  # Zipf-like exponent of item popularity
    days: int = 3 * 365


def generate(config: SyntheticConfig | None = None, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items): columns user_id,item_id,rating,timestamp and item_id,title,genres."""
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(seed)
    n_u, n_i, k = cfg.n_users, cfg.n_items, len(GENRES)

    centroids = rng.normal(size=(k, cfg.dim))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    genre_p = rng.dirichlet(np.full(k, 3.0))
    g1 = rng.choice(k, size=n_i, p=genre_p)
    g2 = np.where(rng.random(n_i) < 0.35, rng.choice(k, size=n_i, p=genre_p), -1)
    g2 = np.where(g2 == g1, -1, g2)
    item_vec = centroids[g1] + 0.5 * np.where(g2[:, None] >= 0, centroids[np.maximum(g2, 0)], 0.0)
    item_vec += 0.35 * rng.normal(size=(n_i, cfg.dim))

    fav = rng.choice(k, size=(n_u, 2), p=genre_p)
    user_vec = centroids[fav[:, 0]] + 0.6 * rng.random((n_u, 1)) * centroids[fav[:, 1]]
    user_vec += 0.35 * rng.normal(size=(n_u, cfg.dim))

    pop_rank = rng.permutation(n_i)
    log_pop = -cfg.popularity_exponent * np.log1p(pop_rank)
    affinity = user_vec @ item_vec.T
    affinity = (affinity - affinity.mean()) / affinity.std()

    sigma = 0.7
    counts = rng.lognormal(np.log(cfg.mean_per_user) - sigma**2 / 2, sigma, size=n_u)
    counts = np.clip(np.rint(counts), min(8, n_i - 1), n_i // 2).astype(np.int64)
    gumbel = -np.log(-np.log(rng.random((n_u, n_i))))
    score = cfg.taste_weight * affinity + log_pop + gumbel
    order = np.argsort(-score, axis=1, kind="stable")
    chosen = np.arange(n_i)[None, :] < counts[:, None]
    users = np.repeat(np.arange(n_u), counts)
    items = order[chosen]

    quality = rng.normal(0, 0.35, size=n_i)
    leniency = rng.normal(0, 0.35, size=n_u)
    raw = (
        2.4 + 0.9 * affinity[users, items] + quality[items] + leniency[users] + rng.normal(0, 0.6, users.size)
    )
    ratings = np.clip(np.rint(raw), 1, 5).astype(np.int64)

    release = _START + (rng.random(n_i) * 0.7 * cfg.days * _DAY).astype(np.int64)
    joined = _START + (rng.random(n_u) * 0.6 * cfg.days * _DAY).astype(np.int64)
    begin = np.maximum(release[items], joined[users])
    delay = rng.exponential(45 * _DAY, size=users.size).astype(np.int64)
    end = _START + cfg.days * _DAY
    times = np.minimum(begin + delay, end - 1)

    inter = pd.DataFrame({"user_id": users + 1, "item_id": items + 1, "rating": ratings, "timestamp": times})
    inter = inter.sort_values(["user_id", "timestamp", "item_id"], kind="stable").reset_index(drop=True)
    items_df = pd.DataFrame(
        {
            "item_id": np.arange(1, n_i + 1),
            "title": _titles(rng, n_i, release),
            "genres": [_genres(a, b) for a, b in zip(g1, g2, strict=True)],
        }
    )
    return inter, items_df


def _genres(a: int, b: int) -> str:
    return GENRES[a] if b < 0 else f"{GENRES[a]}|{GENRES[b]}"


def _titles(rng: np.random.Generator, n: int, release: np.ndarray) -> list[str]:
    years = pd.to_datetime(release, unit="s").year
    seen: dict[str, int] = {}
    out = []
    for k in range(n):
        base = f"The {_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {_NOUNS[rng.integers(len(_NOUNS))]}"
        seen[base] = seen.get(base, 0) + 1
        part = f" {_roman(seen[base])}" if seen[base] > 1 else ""
        out.append(f"{base}{part} ({years[k]})")
    return out


def _roman(n: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    text = ""
    for value, sym in numerals:
        while n >= value:
            text, n = text + sym, n - value
    return text


TINY = SyntheticConfig(n_users=50, n_items=40, mean_per_user=12.0, dim=6)


SAMPLE_FILES = {"interactions": "interactions.csv", "items": "items.csv", "tiny": "tiny.csv"}


def write_sample_data(out_dir: str | Path, *, seed: int = 0, overwrite: bool = False) -> dict[str, Path]:
    """Write interactions.csv, items.csv and tiny.csv into ``out_dir``; same seed, same bytes.

    The folder may hold the user's own data under these names, so an existing file is refused
    (``ExportError`` naming it) unless ``overwrite``, by the same rule as every export
    (``utils.atomic``); all three are checked before the first is written. Each file is written
    atomically, so an interrupted run never leaves half a CSV behind.
    """
    out = Path(out_dir).expanduser()
    paths = {key: resolved_target(out / name) for key, name in SAMPLE_FILES.items()}
    for path in paths.values():
        check_target(path, overwrite=overwrite)
    inter, items = generate(seed=seed)
    tiny, _ = generate(TINY, seed=seed + 1)
    for key, frame in (("interactions", inter), ("items", items), ("tiny", tiny)):
        with atomic_target(paths[key], overwrite=overwrite) as tmp:
            frame.to_csv(tmp, index=False, lineterminator="\n")
    return paths


__all__ = ["GENRES", "SAMPLE_FILES", "TINY", "SyntheticConfig", "generate", "write_sample_data"]
