"""Metric code against hand-computed cases and an independent implementation (scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation import metrics as M
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models.base import Capabilities, ModelConfig, Recommender


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_hand_computed_single_user():
    # ranks 1..5, relevant at ranks 2 and 4, 3 relevant items in total
    hits, n_rel = t([[0, 1, 0, 1, 0]]), t([3])
    assert M.precision(hits, n_rel).item() == pytest.approx(2 / 5)
    assert M.recall(hits, n_rel).item() == pytest.approx(2 / 3)
    assert M.hit(hits, n_rel).item() == 1.0
    assert M.mrr(hits, n_rel).item() == pytest.approx(1 / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg(hits, n_rel).item() == pytest.approx(dcg / idcg)
    assert M.average_precision(hits, n_rel).item() == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_no_hits_and_idcg_capped_at_k():
    hits, n_rel = t([[0, 0, 0], [1, 1, 1]]), t([2, 10])
    assert M.mrr(hits, n_rel).tolist() == [0.0, 1.0]
    assert M.ndcg(hits, n_rel).tolist() == pytest.approx([0.0, 1.0])  # IDCG over min(10, 3) positions


def test_ndcg_agrees_with_sklearn():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    n_users, n_items, k = 30, 50, 10
    scores = rng.normal(size=(n_users, n_items))
    truth = (rng.random((n_users, n_items)) < 0.1).astype(float)
    truth[truth.sum(1) == 0, 0] = 1.0
    order = np.argsort(-scores, axis=1)[:, :k]
    hits = torch.tensor(np.take_along_axis(truth, order, 1))
    ours = M.ndcg(hits, torch.tensor(truth.sum(1))).numpy()
    theirs = [ndcg_score(truth[u:u + 1], scores[u:u + 1], k=k) for u in range(n_users)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_parse_metric_errors_are_clear():
    assert M.parse_metric("HR@5").key == "hit@5"
    with pytest.raises(ConfigError, match="Unknown metric"):
        M.parse_metric("foo@10")
    with pytest.raises(ConfigError, match="cut-off"):
        M.parse_metric("ndcg")


def test_registry_directions_are_the_ones_users_expect():
    lower = {name for name, family in M.FAMILIES.items() if not family.higher_is_better}
    assert lower == {"rmse", "mae", "gini", "arp"}
    assert M.higher_is_better("NDCG@10") and M.higher_is_better("hr@5") and M.higher_is_better("auc")
    assert not M.higher_is_better("gini@20") and not M.higher_is_better("RMSE")
    with pytest.raises(ConfigError, match="Unknown metric 'loss'"):
        M.higher_is_better("loss")


def test_registry_names_parse_with_their_direction_and_cut_off():
    for name, family in M.FAMILIES.items():
        key = f"{name}@10" if family.takes_k else name
        assert [m.key for m in M.parse_metrics(key)] == [key]
        assert M.parse_metric(key).higher_is_better == family.higher_is_better == M.higher_is_better(key)
        assert family.label
        if family.takes_k:
            with pytest.raises(ConfigError, match="cut-off"):
                M.parse_metric(name)


def test_registry_lists_are_ordered_and_cover_every_family():
    ranking, beyond = M.ranking_metric_names(), M.beyond_accuracy_metric_names()
    rating = M.rating_metric_names()
    assert ranking == ("ndcg", "recall", "precision", "f1", "hit", "mrr", "map")
    assert beyond == ("coverage", "gini", "novelty", "ild", "arp")
    assert rating == ("rmse", "mae")
    assert [*ranking, *beyond, "auc", *rating] == list(M.FAMILIES)
    assert set(M.RANKING_METRICS) == set(ranking)  # each ranking family can be computed per user
    defaults = M.parse_metrics(M.DEFAULT_METRICS)
    assert [m.key for m in defaults] == list(M.DEFAULT_METRICS) and {m.name for m in defaults} == set(ranking)
    assert set(M.DEFAULT_BEYOND_ACCURACY) <= set(beyond)


class FixedScores(Recommender):
    name = "fixed"
    label = family = description = "test"
    capabilities = Capabilities(batch_kind="none", iterative=False)

    def __init__(self, table):
        super().__init__(ModelConfig(), table.shape[0], table.shape[1])
        self.table = table

    def score(self, users, history):
        return self.table[users].clone()


def _data(pairs, n_users, n_items):
    u = np.array([p[0] for p in pairs], dtype=np.int64)
    i = np.array([p[1] for p in pairs], dtype=np.int64)
    import pandas as pd

    return InteractionData(u, i, np.ones(len(u), np.float32), None, pd.RangeIndex(n_users),
                           pd.RangeIndex(n_items))


def test_evaluator_masks_known_items_and_averages_over_test_users():
    table = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    known = _data([(0, 0), (1, 4)], 3, 5)  # item 0 known for user 0, item 4 for user 1
    target = _data([(0, 1), (1, 2)], 3, 5)  # user 2 has no test item: not averaged
    res = Evaluator(["hit@1", "mrr@3", "auc"]).evaluate(FixedScores(table), history=known, exclude=known,
                                                         target=target, device=torch.device("cpu"),
                                                         keep_per_user=True)
    # user 0: item 0 masked → item 1 ranks first. user 1: item 4 masked → 3, 2: item 2 ranks second.
    assert res.metrics["hit@1"] == pytest.approx(0.5)
    assert res.metrics["mrr@3"] == pytest.approx((1 + 0.5) / 2)
    # AUC user 0: pos item1 above all 3 negatives → 1; user 1: pos item2 above items 1, 0, below 3 → 2/3
    assert res.metrics["auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert res.users.tolist() == [0, 1]


def test_beyond_accuracy_metrics():
    table = torch.tensor([[3.0, 2.0, 1.0, 0.0]] * 4)
    known = _data([(0, 3), (1, 3), (2, 3), (3, 2)], 4, 4)
    target = _data([(0, 0), (1, 1), (2, 2), (3, 0)], 4, 4)
    res = Evaluator(["coverage@2", "gini@2", "arp@2", "novelty@2"]).evaluate(
        FixedScores(table), history=known, exclude=known, target=target, device=torch.device("cpu"))
    assert res.metrics["coverage@2"] == pytest.approx(2 / 4)  # everyone gets items 0 and 1
    assert res.metrics["gini@2"] > 0.4
    assert res.metrics["arp@2"] == pytest.approx(0.0)  # items 0, 1 never seen in history


def test_sampled_protocol_is_labelled_and_ranks_against_negatives():
    table = torch.arange(20, dtype=torch.float32).repeat(2, 1)  # item 19 best
    known = _data([(0, 0), (1, 1)], 2, 20)
    target = _data([(0, 19), (1, 2)], 2, 20)  # 19 beats every negative; 2 beats only item 0
    res = Evaluator(["hit@1"], sampled_negatives=5).evaluate(FixedScores(table), history=known, exclude=known,
                                                              target=target, device=torch.device("cpu"))
    assert res.metrics["hit@1"] == pytest.approx(0.5)


def test_membership_of_the_top_k_matches_the_dense_rows_it_replaces():
    from recsys_gui.core.evaluation.ranking import DeviceCSR

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 50, 400)  # duplicates and empty rows
    data = InteractionData(users, items, np.ones(400, np.float32), None, pd.RangeIndex(35), pd.RangeIndex(50))
    csr = DeviceCSR(data, torch.device("cpu"))
    batch = torch.tensor([3, 0, 31, 7, 3])  # a repeated user, a user with no rows
    top = torch.as_tensor(rng.integers(0, 50, (5, 12)))
    expected = csr.dense(batch, dtype=torch.bool).gather(1, top)
    assert torch.equal(csr.contains(batch, top), expected)
    assert expected.any()
