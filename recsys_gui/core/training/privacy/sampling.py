"""Poisson sampling of users, and each sampled user's bounded set of training examples.

A step takes every user independently with probability q (the sampling the accountant assumes), so
the batch size varies; each sampled user then contributes a fixed number of examples drawn from that
user's own interactions, on the device and without a per-user Python loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from recsys_gui.core.data.batching import PositiveIndex, sample_negatives
from recsys_gui.core.data.interactions import InteractionData


@dataclass
class UserBatch:
    """The users one private step sampled (dense indices, each once)."""

    users: Tensor


class UserSampler:
    """Per step: a Poisson sample of users; per sampled user: examples from that user's data alone."""

    def __init__(self, train: InteractionData, n_users: int, n_items: int, *, sample_rate: float,
                 device: torch.device, seed: int) -> None:
        csr = train.to_csr()
        self.n_users, self.n_items, self.sample_rate = n_users, n_items, float(sample_rate)
        self.device = device
        self.indptr = torch.as_tensor(csr.indptr, dtype=torch.long, device=device)
        self.indices = torch.as_tensor(csr.indices, dtype=torch.long, device=device)
        self.degree = self.indptr[1:] - self.indptr[:-1]
        users = torch.as_tensor(train.users, dtype=torch.long, device=device)
        items = torch.as_tensor(train.items, dtype=torch.long, device=device)
        self.index = PositiveIndex(users, items, n_items)
        # CPU generator: its state goes into last.pt like the ordinary batcher's.
        self.generator = torch.Generator().manual_seed(seed)
        self.steps_per_epoch = max(1, round(1.0 / self.sample_rate))

    def __len__(self) -> int:
        return self.steps_per_epoch

    def epoch(self, epoch: int) -> Iterator[UserBatch]:
        for _ in range(self.steps_per_epoch):
            yield UserBatch(self.sample_users())

    def sample_users(self) -> Tensor:
        """Every user in with probability q; users without training data add nothing and are left out."""
        taken = torch.rand(self.n_users, generator=self.generator) < self.sample_rate
        taken = taken.to(self.device) & (self.degree > 0)
        return taken.nonzero().squeeze(1)

    def positives(self, users: Tensor, m: int) -> Tensor:
        """[U, m] items drawn uniformly (with replacement) from each user's own training items."""
        u = torch.rand(users.numel(), m, generator=self.generator).to(self.device)
        offset = (u * self.degree[users].unsqueeze(1)).long()
        offset = torch.minimum(offset, self.degree[users].unsqueeze(1) - 1)
        return self.indices[self.indptr[users].unsqueeze(1) + offset]

    def negatives(self, users: Tensor, shape: tuple[int, ...]) -> Tensor:
        """Items none of which the user interacted with, uniform over the catalogue; ``shape[0]`` = U."""
        gen = self.generator if self.device.type == "cpu" else None
        if gen is None:
            return sample_negatives(self.index, users, shape, self.n_items, _device_generator(self))
        return sample_negatives(self.index, users, shape, self.n_items, gen)

    def rows(self, users: Tensor) -> Tensor:
        """[U, n_items] binary training rows of ``users`` (Mult-VAE's one example per user)."""
        start, deg = self.indptr[users], self.degree[users]
        row_of = torch.repeat_interleave(torch.arange(users.numel(), device=self.device), deg)
        first = torch.repeat_interleave(start - torch.cumsum(deg, 0) + deg, deg)
        pos = first + torch.arange(int(deg.sum()), device=self.device)
        out = torch.zeros(users.numel(), self.n_items, device=self.device)
        out[row_of, self.indices[pos]] = 1.0
        return out


def _device_generator(sampler: UserSampler) -> torch.Generator:
    gen = getattr(sampler, "_device_gen", None)
    if gen is None:
        gen = torch.Generator(sampler.device).manual_seed(int(torch.randint(0, 2**62, (1,),
                                                                            generator=sampler.generator)))
        sampler._device_gen = gen
    return gen
