"""Fold-in sequences for histories without an order: a keyed random sample of the whole history.

A history row has no order, and sorting it by item id kept a long history's highest ids only (on
ml-1m's held-out users SASRec then scored below 1.5x popularity); training reads unordered data in
random orders, so fold-in does too, deterministically and independently of the batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.sequences import last_items
from recsys_gui.core.models import build_model, foldin

N_ITEMS, MAX_LEN = 400, 20


def histories(n_users: int, per_user: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    h = torch.zeros(n_users, N_ITEMS)
    for row in h:
        row[torch.randperm(N_ITEMS, generator=gen)[:per_user]] = 1.0
    return h


def test_a_long_history_is_represented_by_a_sample_of_all_its_items_not_its_highest_ids():
    h = histories(200, 100)
    seqs = foldin.sequences_from(h, None, MAX_LEN, pad=N_ITEMS)
    assert seqs.shape == (200, MAX_LEN) and bool((seqs != N_ITEMS).all())
    assert bool((h.gather(1, seqs) == 1).all())  # only the user's own items
    assert all(row.unique().numel() == MAX_LEN for row in seqs)  # each at most once
    top_ids = torch.stack([row.nonzero().squeeze(1)[-MAX_LEN:] for row in h])
    in_top = (seqs.unsqueeze(2) == top_ids.unsqueeze(1)).any(2).float().mean()
    assert float(in_top) < 0.5  # the old id order kept exactly the top ids (share 1.0); a fair sample ~0.2
    # no id is favoured: the sampled items' mean id is the histories' mean id
    mean_history_id = float((h * torch.arange(N_ITEMS)).sum() / h.sum())
    assert abs(float(seqs.float().mean()) - mean_history_id) < 10


def test_the_sequence_depends_on_the_history_alone_not_on_the_batch_or_the_call():
    h = histories(6, 60, seed=1)
    batch = foldin.sequences_from(h, None, MAX_LEN, pad=N_ITEMS)
    assert torch.equal(batch, foldin.sequences_from(h, None, MAX_LEN, pad=N_ITEMS))
    alone = torch.cat([foldin.sequences_from(h[i:i + 1], None, MAX_LEN, pad=N_ITEMS) for i in range(6)])
    assert torch.equal(batch, alone)
    assert torch.equal(batch[[3, 1]], foldin.sequences_from(h[[3, 1]], None, MAX_LEN, pad=N_ITEMS))


def test_draws_read_a_history_in_different_orders_that_together_cover_more_of_it():
    h = histories(1, 100, seed=2)
    draws = [foldin.sequences_from(h, None, MAX_LEN, pad=N_ITEMS, draw=k)[0] for k in range(8)]
    assert len({tuple(d.tolist()) for d in draws}) == 8
    assert torch.cat(draws).unique().numel() > 60  # one draw sees 20 of the 100 items


def test_a_short_history_keeps_all_its_items_left_padded_and_a_given_order_is_kept():
    h = torch.zeros(2, N_ITEMS)
    h[0, [8, 1, 300]] = 1.0
    seqs = foldin.sequences_from(h, None, 5, pad=N_ITEMS)
    assert seqs[0, :2].tolist() == [N_ITEMS] * 2 and sorted(seqs[0, 2:].tolist()) == [1, 8, 300]
    assert seqs[1].tolist() == [N_ITEMS] * 5
    order = torch.tensor([[300, 8, 1, -1], [-1, -1, -1, -1]])
    assert foldin.sequences_from(h, order, 5, pad=N_ITEMS)[0].tolist() == [N_ITEMS, N_ITEMS, 300, 8, 1]


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_unordered_fold_in_averages_the_states_of_several_orders(name):
    torch.manual_seed(0)
    model = build_model(name, {"embedding_dim": 8, "max_len": MAX_LEN, "dropout": 0.0}, 3, N_ITEMS).eval()
    h = histories(5, 70, seed=3)
    k = type(model).FOLD_IN_ORDERS
    assert k > 1
    with torch.no_grad():
        states = torch.stack([model.encode(foldin.sequences_from(h, None, MAX_LEN, model.pad, draw=d))[:, -1]
                              for d in range(k)])
        expected = states.mean(0) @ model.item_embeddings().T
    got = model.score_new_users(h)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.score_new_users(h[[4, 0]]), got[[4, 0]], rtol=1e-5, atol=1e-5)


def unordered_data(n_users: int = 30, seed: int = 4) -> InteractionData:
    """Histories of 0 to 119 items without timestamps, each user's rows in ascending item id."""
    gen = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        chosen = np.sort(gen.choice(N_ITEMS, int(gen.integers(0, 120)), replace=False))
        users += [u] * len(chosen)
        items += chosen.tolist()
    return InteractionData(np.asarray(users, np.int64), np.asarray(items, np.int64),
                           np.ones(len(users), np.float32), None, pd.Index(range(n_users)),
                           pd.Index(range(N_ITEMS)))


def test_a_trained_users_unordered_sequence_is_the_fold_in_sequence_not_the_end_of_the_file():
    d = unordered_data()
    h = torch.zeros(d.n_users, N_ITEMS)
    h[torch.as_tensor(d.users), torch.as_tensor(d.items)] = 1.0
    for draw in (0, 2):
        assert torch.equal(last_items(d, MAX_LEN, draw=draw),
                           foldin.sequences_from(h, None, MAX_LEN, N_ITEMS, draw=draw))
    long_users = [u for u in range(d.n_users) if (d.users == u).sum() >= 2 * MAX_LEN]
    file_end = torch.stack([torch.as_tensor(d.items[d.users == u][-MAX_LEN:]) for u in long_users])
    assert long_users and not torch.equal(last_items(d, MAX_LEN)[long_users], file_end)


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_a_trained_user_without_timestamps_scores_as_the_same_history_folded_in(name):
    torch.manual_seed(0)
    d = unordered_data()
    model = build_model(name, {"embedding_dim": 8, "max_len": MAX_LEN, "dropout": 0.0}, d.n_users,
                        N_ITEMS).eval()
    model.set_context(d)
    h = torch.zeros(d.n_users, N_ITEMS)
    h[torch.as_tensor(d.users), torch.as_tensor(d.items)] = 1.0
    users = torch.arange(d.n_users)
    with torch.no_grad():
        known = model.score(users, None)
        one_order = model.encode(model.sequences)[:, -1] @ model.item_embeddings().T
    torch.testing.assert_close(known, model.score_new_users(h), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(known, one_order, atol=1e-5)  # several orders, averaged
