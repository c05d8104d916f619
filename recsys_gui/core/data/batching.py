"""Training batches built on the device from device-resident index tensors.

No DataLoader and no per-sample Python: an epoch is a permutation plus slicing, negatives are
drawn with ``torch.randint`` on the device and redrawn where they hit a known positive (found with
``searchsorted`` over sorted ``user * n_items + item`` keys). Under torchrun each rank takes its
own slice of every epoch's permutation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core.data.interactions import InteractionData


@dataclass(frozen=True)
class PairBatch:
    users: Tensor
    pos: Tensor
    neg: Tensor  # [B] or [B, k]


@dataclass(frozen=True)
class PointBatch:
    users: Tensor
    items: Tensor
    labels: Tensor  # 1/0 for implicit, ratings for explicit


@dataclass(frozen=True)
class RowBatch:
    """Users' history rows as EmbeddingBag lists; the dense rows are built on first use only
    (the GAN reads them, Mult-VAE works from the lists: a [B, n_items] fill it does not pay)."""

    users: Tensor
    items: Tensor  # the rows' items, row after row ...
    offsets: Tensor  # ... and where each row starts in ``items``
    n_items: int

    @cached_property
    def counts(self) -> Tensor:
        """Items per row."""
        return torch.diff(self.offsets, append=self.offsets.new_tensor([self.items.numel()]))

    @cached_property
    def row_of_items(self) -> Tensor:
        """For each entry of ``items``, its row in the batch."""
        rows = torch.arange(self.counts.numel(), device=self.items.device)
        return torch.repeat_interleave(rows, self.counts)

    @cached_property
    def rows(self) -> Tensor:
        """Dense [B, n_items] binary history rows."""
        rows = torch.zeros(self.users.numel(), self.n_items, device=self.items.device)
        rows[self.row_of_items, self.items] = 1.0
        return rows


class PositiveIndex:
    """Membership test for (user, item) pairs on the device.

    Small matrices use a dense table of booleans. Large ones keep the sorted pair keys for an exact
    binary search, and a one-hash Bloom filter (16 bits a pair) in front of it: a uniform negative
    almost never hits a positive, so the filter answers "no" for about 94% of the queries with one
    memory read, and only the rest pay the ~24 scattered reads of the search (at ML-20M's 13M pairs
    the search alone was 2.4 ms of a 4096-pair batch; benchmarks/README.md "Scale").
    """

    DENSE_LIMIT = 2**26  # up to 64 MB of booleans a dense table beats binary search
    _HASH = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64: Fibonacci hashing

    def __init__(self, users: Tensor, items: Tensor, n_items: int) -> None:
        self.n_items = n_items
        self.keys = torch.unique(users.long() * n_items + items.long())  # sorted
        n_users = int(users.max()) + 1 if users.numel() else 0
        self.table: Tensor | None = None
        self.bloom: Tensor | None = None
        if n_users * n_items <= self.DENSE_LIMIT:
            self.table = torch.zeros(n_users * n_items, dtype=torch.bool, device=users.device)
            self.table[self.keys] = True
            return
        self.bloom_bits = max(int(self.keys.numel() * 16 - 1).bit_length(), 6)
        slots = torch.unique(self._slot(self.keys))  # distinct bits: their sum within a word is their OR
        words = torch.zeros(2 ** (self.bloom_bits - 6), dtype=torch.int64, device=users.device)
        self.bloom = words.index_add_(0, slots >> 6, torch.ones_like(slots).bitwise_left_shift_(slots & 63))

    def _slot(self, keys: Tensor) -> Tensor:
        """The key's bit in the filter: the top ``bloom_bits`` bits of ``key × golden ratio``."""
        return (keys * self._HASH).bitwise_right_shift_(64 - self.bloom_bits).bitwise_and_(
            (1 << self.bloom_bits) - 1)

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        q = users.long() * self.n_items + items.long()
        if self.table is not None:
            return self.table[q.clamp(max=self.table.numel() - 1)] & (q < self.table.numel())
        assert self.bloom is not None
        flat = q.reshape(-1)
        slot = self._slot(flat)
        found = self.bloom[slot >> 6].bitwise_right_shift_(slot & 63).bitwise_and_(1).bool()
        at = found.nonzero().view(-1)  # the filter's "maybe": settle each with the exact search
        if at.numel():
            sub = flat[at]
            pos = torch.searchsorted(self.keys, sub).clamp_(max=self.keys.numel() - 1)
            found[at] = self.keys[pos] == sub
        return found.view(q.shape)

    def contains_reference(self, users: Tensor, items: Tensor) -> Tensor:
        """The plain binary search every answer of ``contains`` must equal."""
        q = users.long() * self.n_items + items.long()
        pos = torch.searchsorted(self.keys, q).clamp_(max=self.keys.numel() - 1)
        return self.keys[pos] == q


def sample_negatives(index: PositiveIndex, users: Tensor, shape: tuple[int, ...], n_items: int,
                     generator: torch.Generator, rounds: int = 4) -> Tensor:
    """Uniform negatives for ``users`` (broadcast to ``shape``), redrawn where they hit a positive.

    Each round after the first looks only at the draws it just replaced: a heavy user's redraws
    keep hitting for several rounds, and re-testing the whole batch each time cost as much as the
    first test again.
    """
    neg = torch.randint(0, n_items, shape, device=users.device, generator=generator)
    u = users.view(-1, *([1] * (len(shape) - 1))).expand(shape).reshape(-1)
    flat = neg.view(-1)
    at = index.contains(u, flat).nonzero().view(-1)
    for _ in range(rounds):
        if at.numel() == 0:  # one sync per round; rounds end quickly on sparse data
            break
        flat[at] = torch.randint(0, n_items, (at.numel(),), device=users.device, generator=generator)
        at = at[index.contains(u[at], flat[at])]
    return neg


class DeviceBatcher:
    """Serves one batch kind for one epoch at a time, on ``device``.

    ``batch_size`` counts positive interactions (pairs, pointwise) or users (user_rows).
    """

    def __init__(self, train: InteractionData, kind: str, *, batch_size: int, device: torch.device,
                 seed: int, neg_per_pos: int = 1, use_values: bool = False, rank: int = 0,
                 world_size: int = 1, min_value: float | None = None) -> None:
        self.kind, self.batch_size, self.device = kind, int(batch_size), device
        self.n_users, self.n_items = train.n_users, train.n_items
        self.neg_per_pos, self.use_values = int(neg_per_pos), use_values
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(int(seed) * 7919 + rank)
        self.users = torch.as_tensor(np.array(train.users, dtype=np.int64), device=device)
        self.items = torch.as_tensor(np.array(train.items, dtype=np.int64), device=device)
        self.values = torch.as_tensor(np.array(train.values, dtype=np.float32), device=device)
        self.index = PositiveIndex(self.users, self.items, self.n_items)
        if kind == "user_rows":
            self._build_user_csr()

    # --- sizes ----------------------------------------------------------------------------------
    def _n_units(self) -> int:
        return self.n_users if self.kind == "user_rows" else int(self.users.numel())

    def _shard(self, n: int) -> tuple[int, int]:
        per = -(-n // self.world_size)
        lo = min(self.rank * per, n)
        return lo, min(lo + per, n)

    def __len__(self) -> int:
        lo, hi = self._shard(self._n_units())
        return -(-(hi - lo) // self.batch_size) if hi > lo else 0

    # --- epochs ---------------------------------------------------------------------------------
    def epoch(self, epoch: int) -> Iterator[PairBatch | PointBatch | RowBatch]:
        if self.kind == "user_rows" and self.world_size == 1 and self.n_users <= self.batch_size:
            # One batch holds every user: shuffling would only change which row each user takes.
            yield self._every_row
            return
        perm_gen = torch.Generator(device="cpu")  # seeded the same on every rank
        perm_gen.manual_seed(int(self.generator.initial_seed()) - self.rank + 104729 * (epoch + 1))
        n = self._n_units()
        # Every rank draws the same permutation and keeps its own contiguous slice.
        perm = torch.randperm(n, generator=perm_gen).to(self.device)
        lo, hi = self._shard(n)
        perm = perm[lo:hi]
        if self.kind == "user_rows":
            yield from self._row_batches(perm)
            return
        for s in range(0, perm.numel(), self.batch_size):
            idx = perm[s:s + self.batch_size]
            yield self._pair_or_point(idx)

    def _pair_or_point(self, idx: Tensor) -> PairBatch | PointBatch:
        u, i = self.users[idx], self.items[idx]
        if self.kind == "pairs":
            shape = (idx.numel(),) if self.neg_per_pos == 1 else (idx.numel(), self.neg_per_pos)
            neg = sample_negatives(self.index, u, shape, self.n_items, self.generator)
            return PairBatch(u, i, neg)
        if self.use_values:  # explicit ratings: observed pairs only
            return PointBatch(u, i, self.values[idx])
        k = self.neg_per_pos
        neg = sample_negatives(self.index, u, (idx.numel(), k), self.n_items, self.generator)
        users = torch.cat([u, u.repeat_interleave(k)])
        items = torch.cat([i, neg.reshape(-1)])
        labels = torch.cat([torch.ones_like(i, dtype=torch.float32),
                            torch.zeros(neg.numel(), device=self.device)])
        return PointBatch(users, items, labels)

    # --- user rows ------------------------------------------------------------------------------
    def _build_user_csr(self) -> None:
        keys = self.index.keys  # unique, sorted by user then item
        self.csr_users = keys // self.n_items
        self.csr_items = keys % self.n_items
        counts = torch.bincount(self.csr_users, minlength=self.n_users)
        self.crow = torch.zeros(self.n_users + 1, dtype=torch.long, device=self.device)
        self.crow[1:] = torch.cumsum(counts, 0)

    @cached_property
    def _every_row(self) -> RowBatch:
        """All users' rows in user order: built once, with the lists derived from them."""
        return RowBatch(torch.arange(self.n_users, device=self.device), self.csr_items, self.crow[:-1],
                        self.n_items)

    def _row_batches(self, perm: Tensor) -> Iterator[RowBatch]:
        # Relabel users by the permutation so each batch's rows are one contiguous CSR slice.
        counts = (self.crow[1:] - self.crow[:-1])[perm]
        crow = torch.zeros(perm.numel() + 1, dtype=torch.long, device=self.device)
        crow[1:] = torch.cumsum(counts, 0)
        starts = self.crow[:-1][perm]
        # Gather the items of the permuted users in order (vectorised ragged gather).
        offsets = torch.repeat_interleave(starts - crow[:-1], counts)
        items = self.csr_items.index_select(0, torch.arange(int(crow[-1]), device=self.device) + offsets)
        crow_h = crow.cpu().numpy()
        for s in range(0, perm.numel(), self.batch_size):
            e = min(s + self.batch_size, perm.numel())
            a0, a1 = int(crow_h[s]), int(crow_h[e])
            yield RowBatch(perm[s:e], items[a0:a1], crow[s:e] - a0, self.n_items)


def dense_rows(csr_indptr: np.ndarray, csr_indices: np.ndarray, users: np.ndarray, n_items: int,
               device: torch.device) -> Tensor:
    """Dense binary history rows for the given users from a scipy CSR's arrays."""
    starts, ends = csr_indptr[users], csr_indptr[users + 1]
    counts = ends - starts
    total = int(counts.sum())
    row = np.repeat(np.arange(len(users)), counts)
    offs = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    cols = csr_indices[np.arange(total) + offs]
    out = torch.zeros(len(users), n_items, device=device)
    if total:
        out[torch.as_tensor(row, device=device), torch.as_tensor(cols, dtype=torch.long, device=device)] = 1.0
    return out
