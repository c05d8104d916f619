"""The one place where scores are masked and cut to a top-k list.

Users are ranked in batches: one ``score`` call, known items set to -inf, ``torch.topk``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core import memory
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.models.base import Recommender


class DeviceCSR:
    """A user × item binary matrix on the device that hands out dense rows for a batch of users."""

    def __init__(self, data: InteractionData, device: torch.device) -> None:
        csr = data.to_csr()
        self.n_users, self.n_items = csr.shape
        self.device = device
        self.indptr = torch.as_tensor(csr.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(csr.indices.astype(np.int64), device=device)

    def row_lengths(self, users: Tensor) -> Tensor:
        return self.indptr[users + 1] - self.indptr[users]

    def coords(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """(local row, item) of every stored entry of the given users' rows, vectorised."""
        starts = self.indptr[users]
        counts = self.indptr[users + 1] - starts
        local = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), counts)
        first = torch.cumsum(counts, 0) - counts
        pos = torch.arange(int(counts.sum()), device=self.device) - torch.repeat_interleave(first, counts)
        return local, self.indices[torch.repeat_interleave(starts, counts) + pos]

    def dense(self, users: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        out = torch.zeros(users.numel(), self.n_items, dtype=dtype, device=self.device)
        r, c = self.coords(users)
        out[r, c] = 1
        return out


def user_batches(
    users: Tensor, batch: int, *, n_items: int | None = None, bytes_per_cell: int = memory.RANK_BYTES_PER_CELL
) -> Iterator[Tensor]:
    """Slices of ``users`` of at most ``batch``; given ``n_items``, fewer when a batch's score rows
    would not fit in the device's free memory (a ``MemoryLimitError`` only if one row does not)."""
    if n_items is not None and users.numel():
        batch = memory.batch_that_fits(
            batch,
            n_items * bytes_per_cell,
            f"Scoring one user against {n_items:,} items",
            users.device,
            remedies=(memory.KCORE, memory.USE_CPU) if users.device.type == "cuda" else (memory.KCORE,),
        )
    for s in range(0, users.numel(), batch):
        yield users[s : s + batch]


@torch.no_grad()
def topk_for_users(
    model: Recommender,
    users: Tensor,
    *,
    k: int,
    history: DeviceCSR | None,
    exclude: DeviceCSR | None,
    allow_items: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Top-k item indices and scores [B, k] for one batch of users (k is clipped to the catalogue)."""
    hist = (
        history.dense(users) if (history is not None and model.capabilities.scoring_needs_history) else None
    )
    scores = model.score(users, hist).float()
    if exclude is not None:
        r, c = exclude.coords(users)
        scores[r, c] = -torch.inf
    if allow_items is not None:
        keep = torch.zeros(scores.shape[1], dtype=torch.bool, device=scores.device)
        keep[allow_items] = True
        scores[:, ~keep] = -torch.inf
    k = min(k, scores.shape[1])
    vals, idx = torch.topk(scores, k, dim=1)
    return idx, vals


@torch.no_grad()
def full_scores(
    model: Recommender, users: Tensor, *, history: DeviceCSR | None, exclude: DeviceCSR | None
) -> Tensor:
    """Masked score rows (for AUC and the sampled protocol, which need more than the top-k)."""
    hist = (
        history.dense(users) if (history is not None and model.capabilities.scoring_needs_history) else None
    )
    scores = model.score(users, hist).float()
    if exclude is not None:
        r, c = exclude.coords(users)
        scores[r, c] = -torch.inf
    return scores
