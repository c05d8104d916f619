"""Next-item training batches: each user's items in time order, built on the device.

Sequential models (GRU4Rec, SASRec) learn "what comes next", so the order of a user's items is the
signal. Rows are sorted once with a numpy ``lexsort`` (user, then timestamp, then item id; file
order when there are no timestamps) into a flat CSR-like layout; every batch is then a vectorised
gather from that layout, left-padded with ``pad = n_items``. No per-user Python loops.

Two ways to cut a user's sequence into examples (``mode``):

* ``"windows"`` (SASRec's way, the default): non-overlapping windows of ``max_len`` targets
  tiled back from the end of the sequence; the input is the window shifted by one item, and every
  position has a target. One forward pass trains ``max_len`` next-item predictions.
* ``"prefixes"`` (GRU4Rec/RecBole augmentation): every prefix is an example whose only target is
  the item right after it (earlier target positions hold ``pad``).

Either way a target never precedes its inputs in time: no future leakage.

Without timestamps a user's items have no order to learn, and a fixed file order teaches transitions
that do not exist (on ml-1m's unordered files GRU4Rec and SASRec scored half of popularity's
NDCG@10). There each epoch reads every user's items in a fresh random order instead, so the models
learn "which items go with these" from any order, as set models do; scoring likewise reads such a
user's items in keyed random orders (``last_items`` draws, the same as fold-in's), not file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core.data.interactions import InteractionData

SequenceMode = Literal["windows", "prefixes"]


@dataclass(frozen=True)
class SequenceBatch:
    """``items`` [B, L] inputs, left-padded with ``n_items``; ``targets`` [B, L], ``n_items`` = no target.

    ``targets[b, j]`` is the item that follows ``items[b, :j + 1]``.
    """

    users: Tensor  # [B]
    items: Tensor  # [B, L]
    targets: Tensor  # [B, L]


def time_order(data: InteractionData) -> np.ndarray:
    """Row order that groups rows by user, each user's rows by time, ties by item id.

    Without timestamps, each user's rows keep their file order (stable sort on the user alone).
    """
    if data.timestamps is not None:
        return np.lexsort((data.items, np.asarray(data.timestamps), data.users))
    return np.argsort(data.users, kind="stable")


def sequence_order_warning(data: InteractionData) -> str | None:
    """The warning to show when a sequential model is trained on data without timestamps."""
    if data.timestamps is not None:
        return None
    return ("This data has no timestamps, so sequential models read each user's items in a new random "
            "order every epoch and learn which items go together, not what comes next; load a "
            "timestamp column for a true next-item model.")


_MASK31 = 0x7FFFFFFF


def _mix31(x: Tensor) -> Tensor:
    """A cheap integer hash of non-negative int64 values into [0, 2^31) (products stay below 2^62)."""
    x = (x * 1103515245 + 12345) & _MASK31
    x = x ^ (x >> 13)
    x = (x * 69069 + 907633385) & _MASK31
    return x ^ (x >> 16)


def shuffled_by_history(rows: Tensor, items: Tensor, n_rows: int, draw: int = 0) -> Tensor:
    """A random-looking permutation of the entries (``rows``, ``items``) that groups them by row.

    For histories without an order. Each row's order is a hash of its own item set, the item and
    ``draw``: the same history reads the same way in any batch and on every call (deterministic
    scores), different histories and different draws read differently, and no item id is favoured
    (sorting by id would keep a long history's highest ids only).
    """
    if rows.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=rows.device)
    items = items.long()
    row_key = torch.zeros(n_rows, dtype=torch.long, device=rows.device)
    row_key.index_add_(0, rows, _mix31(items + 1))
    row_key = _mix31((row_key & _MASK31) + draw * 40503)
    key = _mix31(items ^ row_key[rows])
    return torch.argsort(rows.long() * (_MASK31 + 1) + key, stable=True)


def ordered_sequences(data: InteractionData) -> tuple[np.ndarray, np.ndarray]:
    """(items in user-then-time order, CSR ``indptr`` of length n_users + 1)."""
    order = time_order(data)
    items = np.asarray(data.items, dtype=np.int64)[order]
    counts = np.bincount(np.asarray(data.users, dtype=np.int64), minlength=data.n_users)
    indptr = np.zeros(data.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return items, indptr


def last_items(data: InteractionData, max_len: int, device: torch.device | str = "cpu",
               draw: int = 0) -> Tensor:
    """[n_users, max_len]: each user's last ``max_len`` items in time order, left-padded with n_items.

    This is what a sequential model scores from ("the user's sequence so far"). Without timestamps
    there is no "last": each user's items are read in the keyed random order of fold-in
    (:func:`shuffled_by_history`, ``draw``), so a long history is represented by a fair sample of
    its items, not by the end of the file's order (often sorted by item id).
    """
    items, indptr = ordered_sequences(data)
    flat = torch.as_tensor(items, device=device)
    if data.timestamps is None:
        counts = torch.as_tensor(np.diff(indptr), device=device)
        rows = torch.repeat_interleave(torch.arange(data.n_users, device=device), counts)
        flat = flat[shuffled_by_history(rows, flat, data.n_users, draw)]
    ends = torch.as_tensor(indptr[1:], device=device)
    starts = torch.as_tensor(indptr[:-1], device=device)
    pos = ends.unsqueeze(1) - max_len + torch.arange(max_len, device=device)  # [U, L] flat positions
    valid = pos >= starts.unsqueeze(1)
    out = torch.full(pos.shape, data.n_items, dtype=torch.long, device=device)
    if flat.numel():
        out[valid] = flat[pos[valid]]
    return out


class SequenceBatcher:
    """Serves :class:`SequenceBatch` es for one epoch at a time; ``batch_size`` counts sequences."""

    def __init__(self, train: InteractionData, *, batch_size: int, device: torch.device, seed: int,
                 max_len: int = 50, rank: int = 0, world_size: int = 1,
                 mode: SequenceMode = "windows") -> None:
        if mode not in ("windows", "prefixes"):
            raise ValueError(f"unknown sequence mode {mode!r}")
        self.batch_size, self.device, self.max_len, self.mode = int(batch_size), device, int(max_len), mode
        self.rank, self.world_size = rank, world_size
        self.n_users, self.n_items = train.n_users, train.n_items
        self.pad = train.n_items
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(int(seed) * 7919 + rank)
        items, indptr = ordered_sequences(train)
        self.flat = self.ordered = torch.as_tensor(items, device=device)
        starts = torch.as_tensor(indptr[:-1], device=device)
        lengths = torch.as_tensor(np.diff(indptr), device=device)
        # without timestamps: each flat position's user, to reshuffle within users every epoch
        self.flat_users = (None if train.timestamps is not None else
                           torch.repeat_interleave(torch.arange(self.n_users, device=device), lengths))
        # An example is (user, index of its last target in the user's sequence).
        if mode == "prefixes":
            n_ex = (lengths - 1).clamp(min=0)
            users = torch.repeat_interleave(torch.arange(self.n_users, device=device), n_ex)
            first = torch.cumsum(n_ex, 0) - n_ex
            rank_in_user = torch.arange(int(n_ex.sum()), device=device) - first[users]
            last_target = rank_in_user + 1  # targets 1 .. n-1
        else:
            n_ex = (lengths - 1).clamp(min=0).add(self.max_len - 1).div(self.max_len, rounding_mode="floor")
            users = torch.repeat_interleave(torch.arange(self.n_users, device=device), n_ex)
            first = torch.cumsum(n_ex, 0) - n_ex
            w = torch.arange(int(n_ex.sum()), device=device) - first[users]
            last_target = lengths[users] - 1 - w * self.max_len
        self.ex_users = users
        self.ex_start = starts[users]  # flat offset of the user's first item
        self.ex_last = last_target  # index (within the user) of the example's last target
        # first target index covered by each example (targets before it belong to another example)
        self.ex_first = (last_target - self.max_len + 1).clamp(min=1) if mode == "windows" else last_target

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def n_examples(self) -> int:
        return int(self.ex_users.numel())

    def _shard(self, n: int) -> tuple[int, int]:
        per = -(-n // self.world_size)
        lo = min(self.rank * per, n)
        return lo, min(lo + per, n)

    def __len__(self) -> int:
        lo, hi = self._shard(self.n_examples)
        return -(-(hi - lo) // self.batch_size) if hi > lo else 0

    # --- epochs ---------------------------------------------------------------------------------
    def epoch(self, epoch: int) -> Iterator[SequenceBatch]:
        """Batches of a permutation seeded by (seed, epoch); each rank keeps its contiguous slice."""
        perm_gen = torch.Generator(device="cpu")
        perm_gen.manual_seed(int(self.generator.initial_seed()) - self.rank + 104729 * (epoch + 1))
        n = self.n_examples
        perm = torch.randperm(n, generator=perm_gen).to(self.device)
        if self.flat_users is not None:
            self.flat = self.ordered[self._shuffled_within_users(epoch)]
        lo, hi = self._shard(n)
        perm = perm[lo:hi]
        for s in range(0, perm.numel(), self.batch_size):
            yield self.batch(perm[s:s + self.batch_size])

    def _shuffled_within_users(self, epoch: int) -> Tensor:
        """A permutation of the flat items that keeps each user's block and shuffles inside it (the
        same on every rank: seeded by the run's seed and the epoch only)."""
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(self.generator.initial_seed()) - self.rank + 7 * 104729 * (epoch + 1))
        noise = torch.rand(self.ordered.numel(), generator=gen, dtype=torch.float64).to(self.device)
        return torch.argsort(self.flat_users.double() + noise)  # users stay sorted; random inside each

    def batch(self, idx: Tensor) -> SequenceBatch:
        """The examples ``idx`` as one left-padded batch (pure gathers)."""
        L = self.max_len
        ar = torch.arange(L, device=self.device)
        last = self.ex_last[idx].unsqueeze(1)
        tpos = last - (L - 1) + ar  # target index within the user, per column
        ipos = tpos - 1  # input index = one before its target
        start = self.ex_start[idx].unsqueeze(1)
        in_ok = ipos >= 0
        items = torch.where(in_ok, self.flat[(start + ipos.clamp(min=0))], self.pad)
        t_ok = in_ok & (tpos >= self.ex_first[idx].unsqueeze(1))
        targets = torch.where(t_ok, self.flat[(start + tpos.clamp(min=0))], self.pad)
        return SequenceBatch(self.ex_users[idx], items, targets)
