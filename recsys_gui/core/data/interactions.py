"""Interaction data as an immutable value object with one shared id space.

Every part of a split (train, valid, test, fold-in) shares the same ``user_ids`` and ``item_ids``
indexes, so dense indices mean the same thing everywhere and nothing is ever remapped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class InteractionData:
    """User–item interactions: dense index arrays plus the raw-id maps.

    ``values`` holds the rating, count or weight (1.0 for plain implicit feedback).
    ``item_meta`` is indexed by dense item index (columns such as ``title`` and ``genres``).
    """

    users: np.ndarray  # int64 [n]
    items: np.ndarray  # int64 [n]
    values: np.ndarray  # float32 [n]
    timestamps: np.ndarray | None  # int64/float64 [n] or None
    user_ids: pd.Index  # dense user index -> raw id
    item_ids: pd.Index  # dense item index -> raw id
    item_meta: pd.DataFrame | None = field(default=None)

    def __post_init__(self) -> None:
        n = len(self.users)
        if len(self.items) != n or len(self.values) != n:
            raise ValueError("users, items and values must have the same length")
        if self.timestamps is not None and len(self.timestamps) != n:
            raise ValueError("timestamps must have the same length as users")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def has_timestamps(self) -> bool:
        return self.timestamps is not None

    def subset(self, mask_or_index: np.ndarray) -> InteractionData:
        """Rows selected by a boolean mask or an index array; the id space is kept."""
        ts = None if self.timestamps is None else self.timestamps[mask_or_index]
        return replace(self, users=self.users[mask_or_index], items=self.items[mask_or_index],
                       values=self.values[mask_or_index], timestamps=ts)

    def concat(self, *others: InteractionData) -> InteractionData:
        """Rows of this and the others (same id space), in that order."""
        parts = [self, *others]
        ts = None
        if all(p.timestamps is not None for p in parts):
            ts = np.concatenate([p.timestamps for p in parts])  # type: ignore[misc]
        return replace(self, users=np.concatenate([p.users for p in parts]),
                       items=np.concatenate([p.items for p in parts]),
                       values=np.concatenate([p.values for p in parts]), timestamps=ts)

    def to_csr(self, *, binary: bool = True) -> sp.csr_matrix:
        """User × item matrix; duplicates summed, then set to 1 when ``binary``."""
        vals = np.ones(len(self), dtype=np.float32) if binary else self.values.astype(np.float32)
        m = sp.csr_matrix((vals, (self.users, self.items)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def fingerprint(self) -> str:
        """Stable hash of the rows and the id space, recorded with every run."""
        h = hashlib.sha256()
        for arr in (self.users, self.items, self.values):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(str(self.n_users).encode())
        h.update(str(self.n_items).encode())
        h.update("\x1f".join(map(str, self.item_ids[:1000])).encode())
        return h.hexdigest()[:16]

    def item_titles(self) -> pd.Series | None:
        """Titles by dense item index, when metadata with a title column is known."""
        if self.item_meta is None or "title" not in self.item_meta.columns:
            return None
        return self.item_meta["title"]

    def to_frame(self) -> pd.DataFrame:
        """Rows with raw ids, for previews and predefined-split files."""
        df = pd.DataFrame({"user": self.user_ids.take(self.users), "item": self.item_ids.take(self.items),
                           "value": self.values})
        if self.timestamps is not None:
            df["timestamp"] = self.timestamps
        return df


@dataclass(frozen=True)
class Split:
    """Train / valid / test parts in one id space.

    ``fold_in`` holds the known interactions of held-out users (strong generalisation): they
    are history for scoring and masking, never training rows.
    """

    train: InteractionData
    valid: InteractionData | None
    test: InteractionData
    fold_in: InteractionData | None = None
    protocol: str = ""

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def known_for_test(self) -> InteractionData:
        """What the model may know when ranking for the test set (train, valid, fold-in)."""
        parts = [p for p in (self.valid, self.fold_in) if p is not None]
        return self.train.concat(*parts) if parts else self.train

    def known_for_valid(self) -> InteractionData:
        return self.train.concat(self.fold_in) if self.fold_in is not None else self.train

    def describe(self) -> dict[str, int]:
        """Sizes and cold users/items (in an eval part but absent from train) of each part."""
        train_users = np.zeros(self.n_users, dtype=bool)
        train_users[self.train.users] = True
        train_items = np.zeros(self.n_items, dtype=bool)
        train_items[self.train.items] = True
        out: dict[str, int] = {
            "users": self.n_users, "items": self.n_items, "train_rows": len(self.train),
            "train_users": int(train_users.sum()), "train_items": int(train_items.sum()),
        }
        for name, part in (("valid", self.valid), ("test", self.test), ("fold_in", self.fold_in)):
            if part is None:
                continue
            out[f"{name}_rows"] = len(part)
            out[f"{name}_users"] = int(np.unique(part.users).size)
            out[f"{name}_cold_users"] = int(np.unique(part.users[~train_users[part.users]]).size)
            out[f"{name}_cold_items"] = int(np.unique(part.items[~train_items[part.items]]).size)
        return out
