"""Writes an ML-20M-shaped interaction file, seeded, so everyone measures scale on the same data.

MovieLens-20M's shape without its licence: 138,493 users x 26,744 items and 20,000,263 rows, item
popularity Zipf-like (exponent 0.9) and user activity Pareto-tailed, so the largest users and items
are as heavy as the real ones; ratings 1-5 and timestamps uniform. About 13.2M distinct pairs (the
rest are repeats, merged by the import). ``--fraction`` keeps the first share of the rows, which
keeps the shape: the 1% and 10% files of the scale benchmark are prefixes of the full one.

    python benchmarks/ml20m_shaped.py /tmp/ml20m.csv [--fraction 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_USERS, N_ITEMS, N_ROWS = 138_493, 26_744, 20_000_263


def ml20m_shaped(n_rows: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """The interaction table: userId, movieId (1-based), rating, timestamp."""
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.9
    user_p = rng.pareto(1.2, N_USERS) + 1.0
    users = rng.choice(N_USERS, size=n_rows, p=user_p / user_p.sum()) + 1
    items = rng.choice(N_ITEMS, size=n_rows, p=item_p / item_p.sum()) + 1
    return pd.DataFrame({
        "userId": users.astype(np.int32),
        "movieId": items.astype(np.int32),
        "rating": rng.integers(1, 6, n_rows, dtype=np.int8),
        "timestamp": rng.integers(1_100_000_000, 1_450_000_000, n_rows),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--fraction", type=float, default=1.0, help="share of the 20M rows to write")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t = time.perf_counter()
    df = ml20m_shaped(N_ROWS, args.seed)
    df = df.iloc[: max(1, round(len(df) * args.fraction))]
    df.to_csv(args.out, index=False)
    print(f"wrote {len(df):,} rows to {args.out} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
