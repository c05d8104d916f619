"""The one place where scores are masked and cut to a top-k list.

Users are ranked in batches: one ``score`` call, known items set to -inf, ``torch.topk``. Users a
model did not train on (the held-out-users split) are scored through fold-in (``FoldInScorer``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core import memory
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.models.base import Recommender


class DeviceCSR:
    """A user × item matrix on the device that hands out dense rows for a batch of users: binary, or
    the interactions' values (ratings) with ``values=True``."""

    def __init__(self, data: InteractionData, device: torch.device, *, values: bool = False) -> None:
        csr = data.to_csr(binary=not values)
        csr.sort_indices()  # a no-op after ``to_csr``'s merge of duplicates; ``contains`` relies on it
        self.n_users, self.n_items = csr.shape
        self.device = device
        self.indptr = torch.as_tensor(csr.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(csr.indices.astype(np.int64), device=device)
        self.values = torch.as_tensor(csr.data.astype(np.float32), device=device) if values else None

    def row_lengths(self, users: Tensor) -> Tensor:
        return self.indptr[users + 1] - self.indptr[users]

    def _entries(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """(local row, position in ``indices``) of every stored entry of the given users' rows."""
        starts = self.indptr[users]
        counts = self.indptr[users + 1] - starts
        local = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), counts)
        first = torch.cumsum(counts, 0) - counts
        pos = torch.arange(int(counts.sum()), device=self.device) - torch.repeat_interleave(first, counts)
        return local, torch.repeat_interleave(starts, counts) + pos

    def coords(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """(local row, item) of every stored entry of the given users' rows, vectorised."""
        local, at = self._entries(users)
        return local, self.indices[at]

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        """Bool [B, k]: whether user ``users[b]`` has item ``items[b, j]`` stored. A sorted search over
        the batch's entries: no dense [B, n_items] row (0.4 GB a batch for ML-20M's catalogue in the
        float64 the metrics take, most of a full evaluation's time in allocating it)."""
        local, at = self._entries(users)
        keys = local * self.n_items + self.indices[at]  # ascending: rows in order, items sorted in a row
        if keys.numel() == 0:
            return torch.zeros(items.shape, dtype=torch.bool, device=items.device)
        query = torch.arange(users.numel(), device=items.device).unsqueeze(1) * self.n_items + items
        pos = torch.searchsorted(keys, query).clamp_(max=keys.numel() - 1)
        return keys[pos] == query

    def dense(self, users: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        out = torch.zeros(users.numel(), self.n_items, dtype=dtype, device=self.device)
        r, at = self._entries(users)
        out[r, self.indices[at]] = 1 if self.values is None else self.values[at].to(dtype)
        return out


class FoldInScorer:
    """A model seen through fold-in for the users it did not train on (strong generalisation).

    ``score(users, history)`` scores the ``new_users`` from their history rows with
    ``model.score_new_users`` and the others with ``model.score``: the evaluator's one scoring call
    per batch. History rows carry the ratings for a rating model; given none, it reads them itself.
    """

    def __init__(self, model: Recommender, new_users: Tensor, history: DeviceCSR) -> None:
        self.model = model
        self.new_users = new_users  # bool [n_users] on the device
        self.history = history
        self.n_users, self.n_items = model.n_users, model.n_items
        self.capabilities = dataclasses.replace(model.capabilities, scoring_needs_history=True)
        self.uses_ratings = model.capabilities.uses_ratings

    def score(self, users: Tensor, history: Tensor | None = None) -> Tensor:
        new = self.new_users[users]
        if history is None:
            history = self.history.dense(users)
        if bool(new.all()):
            return self.model.score_new_users(history)
        rows = history[new]
        out = torch.empty(users.numel(), self.n_items, device=users.device)
        with torch.no_grad():
            needs = self.model.capabilities.scoring_needs_history
            out[~new] = self.model.score(users[~new], history[~new] if needs else None).float()
        if rows.shape[0]:
            out[new] = self.model.score_new_users(rows).float()
        return out

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        once, where = torch.unique(users, return_inverse=True)
        return self.score(once)[where, items]


def fold_in_view(model: Recommender, new_users: Tensor | None, history: DeviceCSR | InteractionData,
                 device: torch.device) -> Recommender | FoldInScorer:
    """``model`` itself, or a :class:`FoldInScorer` when some of the ``new_users`` (bool [n_users]) must
    be scored from their history through fold-in: the models with a trained vector per user (the others
    score any user from the history row ``score`` is given)."""
    if new_users is None or not type(model).keeps_user_vectors() or not bool(new_users.any()):
        return model
    if isinstance(history, InteractionData):
        history = DeviceCSR(history, device, values=model.capabilities.uses_ratings)
    return FoldInScorer(model, new_users.to(device), history)


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
    model: Recommender | FoldInScorer,
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
    model: Recommender | FoldInScorer, users: Tensor, *, history: DeviceCSR | None, exclude: DeviceCSR | None
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
