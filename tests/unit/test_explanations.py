"""core.explanations: exact contributions for EASE/ItemKNN, embedding similarity otherwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recsys_gui.core import explanations as ex
from recsys_gui.core.models.base import build_model
from tests.conftest import tiny_split


def _fitted(name: str, split=None):
    split = split or tiny_split()
    torch.manual_seed(0)
    model = build_model(name, {}, split.n_users, split.n_items)
    model.prepare(split.train)
    return model.eval()


def _histories(n_items: int, rows: int = 4, seed: int = 0) -> torch.Tensor:
    """Rated histories (values 1-5, not only ones) so that a contribution must carry its rating."""
    g = torch.Generator().manual_seed(seed)
    h = torch.zeros(rows, n_items)
    for r in range(rows):
        items = torch.randperm(n_items, generator=g)[:6]
        h[r, items] = torch.randint(1, 6, (6,), generator=g).float()
    return h


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_contributions_of_all_history_items_sum_to_the_score(name):
    model = _fitted(name)
    history = _histories(model.n_items)
    scores = model.score(torch.zeros(4, dtype=torch.long), history)
    targets = torch.topk(scores.masked_fill(history > 0, -torch.inf), 5, dim=1).indices  # [4, 5]
    rows = torch.arange(4).repeat_interleave(5)
    contrib = ex.contributions(model, history[rows], targets.reshape(-1))
    assert torch.all(contrib[history[rows] == 0] == 0)  # only history items contribute
    expected = scores[rows, targets.reshape(-1)]
    assert torch.allclose(contrib.sum(1), expected, atol=1e-5)
    assert ex.reason_kind(model) == "contribution"


@pytest.mark.parametrize("name", ["ease", "itemknn"])
def test_top_reasons_are_the_largest_shares_sorted_and_never_the_item_itself(name):
    model = _fitted(name)
    history = _histories(model.n_items)
    recommended = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
    history[0, 0] = 4.0  # a recommended item inside the history must not explain itself
    found = ex.top_reasons(model, history, recommended, 3)
    assert found.kind == "contribution"
    for b in range(4):
        for r in range(3):
            t = int(recommended[b, r])
            c = ex.contributions(model, history[b : b + 1], torch.tensor([t]))[0]
            share = c / c.sum()
            share[history[b] == 0] = -torch.inf
            share[t] = -torch.inf
            items, shares = found.items[b, r], found.shares[b, r]
            kept = items >= 0
            assert torch.all(shares[kept][:-1] >= shares[kept][1:])  # best first
            best = torch.sort(share, descending=True).values
            positive = best[torch.isfinite(best) & (best > 0)][:3]
            assert torch.allclose(shares[kept], positive, atol=1e-6)
            assert torch.allclose(share[items[kept]], shares[kept], atol=1e-6)
            assert t not in items.tolist()


def test_a_batch_gives_what_each_row_gives_alone():
    model = _fitted("ease")
    history = _histories(model.n_items, rows=5)
    recommended = torch.randint(0, model.n_items, (5, 4), generator=torch.Generator().manual_seed(1))
    together = ex.top_reasons(model, history, recommended, 2)
    for b in range(5):
        alone = ex.top_reasons(model, history[b : b + 1], recommended[b : b + 1], 2)
        assert torch.equal(alone.items[0], together.items[b])
        assert torch.allclose(alone.shares[0], together.shares[b])


def test_blocks_of_pairs_give_what_one_block_gives(monkeypatch):
    model = _fitted("itemknn")
    history = _histories(model.n_items, rows=3)
    recommended = torch.arange(12).view(3, 4)
    whole = ex.top_reasons(model, history, recommended, 3)
    monkeypatch.setattr(ex, "PAIRS_BUDGET", 1)  # one user per block
    split = ex.top_reasons(model, history, recommended, 3)
    assert torch.equal(whole.items, split.items) and torch.allclose(whole.shares, split.shares)


def test_embedding_models_give_the_most_similar_history_items():
    model = _fitted("mf")
    history = _histories(model.n_items, rows=2)
    recommended = torch.tensor([[0, 1], [2, 3]])
    history[0, 0] = history[1, 3] = 1.0  # its own embedding is the closest: it must not count
    found = ex.top_reasons(model, history, recommended, 2)
    assert found.kind == "similarity" and ex.reason_kind(model) == "similarity"
    unit = F.normalize(model.item_embeddings().detach(), dim=1).numpy()
    for b in range(2):
        hist = np.flatnonzero(history[b].numpy())
        for r in range(2):
            t = int(recommended[b, r])
            cand = hist[hist != t]
            sims = unit[cand] @ unit[t]
            order = cand[np.argsort(-sims, kind="stable")]
            expected = [int(i) for i in order if unit[i] @ unit[t] > 0][:2]
            assert found.items[b, r][found.items[b, r] >= 0].tolist() == expected
            positive = np.clip(sims, 0, None)
            want = positive[np.isin(cand, expected)] / positive.sum()
            got = found.shares[b, r][: len(expected)].numpy()
            assert np.allclose(sorted(got), sorted(want), atol=1e-5)


def test_popularity_has_no_reasons():
    model = _fitted("pop")
    found = ex.top_reasons(model, _histories(model.n_items, rows=1), torch.tensor([[0, 1]]), 3)
    assert found.kind is None and torch.all(found.items == -1)
