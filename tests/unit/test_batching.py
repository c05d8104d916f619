"""User-row batches: each row holds exactly the user's training items, in any batch layout."""

from __future__ import annotations

import torch

from recsys_gui.core.data.batching import DeviceBatcher
from tests.conftest import tiny_split


def _train_rows(split) -> torch.Tensor:
    rows = torch.zeros(split.n_users, split.n_items)
    rows[torch.as_tensor(split.train.users), torch.as_tensor(split.train.items)] = 1.0
    return rows


def test_one_batch_of_every_user_is_built_once_in_user_order():
    split = tiny_split()
    batcher = DeviceBatcher(split.train, "user_rows", batch_size=split.n_users, device=torch.device("cpu"),
                            seed=0)
    first, second = list(batcher.epoch(0)), list(batcher.epoch(1))
    assert len(first) == len(second) == len(batcher) == 1
    assert first[0] is second[0]  # nothing to shuffle: the same batch, lists and all
    assert torch.equal(first[0].users, torch.arange(split.n_users))
    assert torch.equal(first[0].rows, _train_rows(split))


def test_smaller_batches_shuffle_users_between_epochs():
    split = tiny_split()
    batcher = DeviceBatcher(split.train, "user_rows", batch_size=16, device=torch.device("cpu"), seed=0)
    truth = _train_rows(split)
    orders = []
    for epoch in range(2):
        batches = list(batcher.epoch(epoch))
        assert len(batches) == len(batcher) == 4
        for batch in batches:
            assert torch.equal(batch.rows, truth[batch.users])
        orders.append(torch.cat([b.users for b in batches]))
        assert torch.equal(orders[-1].sort().values, torch.arange(split.n_users))
    assert not torch.equal(orders[0], orders[1])
