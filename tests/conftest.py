"""Shared fixtures: offscreen Qt, a tiny deterministic dataset, and the shared datasets folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def tiny_split(n_users: int = 60, n_items: int = 40, seed: int = 0):
    """A small learnable dataset (two taste clusters) split 8:1:1 per user, built in memory."""
    from recsys_gui.core.data.interactions import InteractionData, Split

    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        group = u % 2
        pool = np.arange(n_items)[(np.arange(n_items) % 2) == group]
        chosen = rng.choice(pool, size=12, replace=False)
        users += [u] * len(chosen)
        items += list(chosen)
    users, items = np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)
    perm = rng.permutation(len(users))
    users, items = users[perm], items[perm]
    uid = pd.Index([f"u{i}" for i in range(n_users)])
    iid = pd.Index([f"i{i}" for i in range(n_items)])
    data = InteractionData(users, items, np.ones(len(users), np.float32), None, uid, iid)
    # 10 train, 1 valid, 1 test per user
    order = np.lexsort((np.arange(len(users)), users))
    rank = np.empty(len(users), dtype=np.int64)
    starts = np.searchsorted(users[order], users[order], side="left")
    rank[order] = np.arange(len(users)) - starts
    return Split(data.subset(rank < 10), data.subset(rank == 10), data.subset(rank == 11), protocol="tiny")


@pytest.fixture
def tiny():
    return tiny_split()


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.exists():
        pytest.skip(f"the shared datasets folder is not beside this clone ({SHARED_DATASETS}); "
                    "it holds licensed data we may not redistribute")
    return SHARED_DATASETS
