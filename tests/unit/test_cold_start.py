"""Cold start: the cold-items split, ranking only the held-out items, the genre-pop baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.splits import held_out_items, make_split, parse_split_spec
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models import build_model
from recsys_gui.core.models.base import Capabilities, ModelConfig, Recommender


def genre_data(n_users: int = 80, n_items: int = 60, per_user: int = 15, seed: int = 0) -> InteractionData:
    """Two tastes: even users like 'A' items (even ids), odd users 'B' items; item metadata says which."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(np.arange(u % 2, n_items, 2), per_user, replace=False)
                            for u in range(n_users)])
    meta = pd.DataFrame({"title": [f"t{i}" for i in range(n_items)],
                         "genres": ["A|X" if i % 2 == 0 else "B|X" for i in range(n_items)]})
    return InteractionData(users, items, np.ones(users.size, np.float32), None,
                           pd.Index(np.arange(n_users)), pd.Index(np.arange(n_items)), item_meta=meta)


def test_cold_items_split_holds_out_whole_items_seeded():
    data = genre_data()
    assert parse_split_spec("cold-items:0.2").text == "cold-items:0.2"
    with pytest.raises(ConfigError):
        parse_split_spec("cold-items:1.5")
    a = make_split(data, "cold-items:0.2", seed=3)
    b = make_split(data, "cold-items:0.2", seed=3)
    assert np.array_equal(a.test.items, b.test.items)
    valid_items, test_items = held_out_items(a, "valid"), held_out_items(a, "test")
    assert len(valid_items) + len(test_items) == 12 and abs(len(valid_items) - len(test_items)) <= 1
    trained = set(a.train.items.tolist())
    assert not trained & set(valid_items.tolist()) and not trained & set(test_items.tolist())
    assert not set(valid_items.tolist()) & set(test_items.tolist())
    assert len(a.train) + len(a.valid) + len(a.test) == len(data)  # every row of a held-out item is kept
    assert held_out_items(make_split(data, "ratio:8,1,1", seed=3)) is None


class _Fixed(Recommender):
    """Scores items by a fixed ranking (0 best) for every user."""

    name = label = family = description = "fixed"
    capabilities = Capabilities(batch_kind="none", iterative=False)

    def __init__(self, order: np.ndarray) -> None:
        super().__init__(ModelConfig(), 1, len(order))
        self.s = torch.as_tensor(-order.astype(np.float32))

    def score(self, users, history):
        return self.s.expand(users.numel(), -1).clone()


def test_candidates_restrict_the_ranking_to_the_held_out_items():
    data = genre_data()
    split = make_split(data, "cold-items:0.2", seed=1)
    cold = held_out_items(split, "test")
    order = np.arange(data.n_items)
    order[cold] += 1000  # every trained item outranks the cold ones
    model = _Fixed(order)
    kw = {"history": split.train, "exclude": split.known_for_test(), "target": split.test,
          "device": torch.device("cpu")}
    mixed = Evaluator(["ndcg@10"]).evaluate(model, **kw).metrics["ndcg@10"]
    cold_only = Evaluator(["ndcg@10"], candidates=cold).evaluate(model, **kw).metrics["ndcg@10"]
    assert mixed == 0.0 and cold_only > 0.3


def test_genre_pop_ranks_cold_items_by_the_users_favourite_features():
    data = genre_data()
    split = make_split(data, "cold-items:0.2", seed=1)
    model = build_model("genre-pop", {}, split.n_users, split.n_items)
    model.prepare(split.train)
    cold = held_out_items(split, "test")
    kw = {"history": split.train, "exclude": split.known_for_test(), "target": split.test,
          "device": torch.device("cpu")}
    got = Evaluator(["hit@3"], candidates=cold).evaluate(model, **kw).metrics["hit@3"]
    pop = build_model("pop", {}, split.n_users, split.n_items)
    pop.prepare(split.train)
    base = Evaluator(["hit@3"], candidates=cold).evaluate(pop, **kw).metrics["hit@3"]
    assert got > 0.95 and got > base
    # a new item by its features: even users (taste A) before odd users
    rows = model.item_rows.features.encode_text("genres=A")
    hist = torch.as_tensor(split.train.to_csr().toarray())
    s = model.score_new_items(rows, torch.arange(split.n_users), hist)[:, 0]
    assert s[0::2].min() > s[1::2].max()


def test_item_segments_count_the_test_rows_of_each_segment_found_in_the_top_k():
    from recsys_gui.core.evaluation.item_segments import item_segments

    data = genre_data()
    split = make_split(data, "cold-items:0.2", seed=1)
    seg = item_segments(split.train)
    cold = held_out_items(split, "test")
    assert (seg[cold] == 0).all() and (seg == 2).sum() == int(np.ceil(0.2 * (seg > 0).sum()))
    order = np.argsort(np.argsort(-seg, kind="stable"), kind="stable")  # head first, then tail, cold last
    model = _Fixed(order)
    kw = {"history": split.known_for_valid(), "exclude": split.known_for_test(), "target": split.test,
          "device": torch.device("cpu")}
    res = Evaluator(["hit@5"], item_segments=seg).evaluate(model, **kw)
    assert res.item_segments["cold"]["targets"] == len(split.test)
    assert res.item_segments["cold"]["recall@5"] == 0.0  # cold items rank last, behind 48 trained ones
    res = Evaluator(["hit@5"], item_segments=seg, candidates=cold).evaluate(model, **kw)
    assert res.item_segments["cold"]["recall@5"] > 0.2
