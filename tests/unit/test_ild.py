"""Intra-list diversity: its basis (exact SVD through torch) and the metric over top-K lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.sparse.linalg import svds

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.evaluation import ild_basis
from recsys_gui.core.evaluation.evaluator import Evaluator
from tests.unit.test_metrics import FixedScores


def _random(n_users: int, n_items: int, n: int, seed: int) -> InteractionData:
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n_users, n)
    i = rng.integers(0, n_items, n)  # duplicates on purpose: the matrix is binary
    return InteractionData(u, i, np.ones(n, np.float32), None, pd.RangeIndex(n_users), pd.RangeIndex(n_items))


def _svds_cosines(data: InteractionData, d: int) -> np.ndarray:
    _, s, vt = svds(data.to_csr().astype(np.float64), k=d, random_state=0)
    v = vt.T * s
    v /= np.linalg.norm(v, axis=1, keepdims=True).clip(1e-12)
    return v @ v.T


@pytest.mark.parametrize("shape", [(60, 90), (90, 60)], ids=["fewer users", "fewer items"])
def test_basis_from_the_gram_matrix_equals_scipy_svds(shape):
    data = _random(*shape, n=900, seed=3)
    v = ild_basis.item_basis(data, "cpu").double().numpy()
    d = min(64, min(shape) - 1)
    assert v.shape == (shape[1], d)
    # singular vectors are defined up to sign and rotation within equal values: compare cosines
    np.testing.assert_allclose(v @ v.T, _svds_cosines(data, d), atol=1e-4)


def test_the_last_basis_is_reused_for_the_same_data():
    data = _random(40, 50, 400, seed=1)
    assert ild_basis.item_basis(data, "cpu") is ild_basis.item_basis(data, "cpu")
    other = _random(40, 50, 400, seed=2)
    assert ild_basis.item_basis(other, "cpu") is not ild_basis.item_basis(data, "cpu")


def test_ild_is_one_minus_the_mean_pairwise_cosine_of_each_list():
    history = _random(30, 12, 200, seed=5)
    n_users, n_items = history.n_users, history.n_items
    table = torch.randn(n_users, n_items, generator=torch.Generator().manual_seed(0))
    empty = InteractionData(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), None,
                            pd.RangeIndex(n_users), pd.RangeIndex(n_items))
    target = InteractionData(np.arange(n_users), np.zeros(n_users, np.int64), np.ones(n_users, np.float32),
                             None, pd.RangeIndex(n_users), pd.RangeIndex(n_items))
    res = Evaluator(["ild@4"]).evaluate(FixedScores(table), history=history, exclude=empty, target=target,
                                        device=torch.device("cpu"))
    cos = _svds_cosines(history, min(64, min(n_users, n_items) - 1))
    top = torch.topk(table, 4, dim=1).indices.numpy()
    expected = np.mean([1 - (cos[np.ix_(t, t)].sum() - 4) / 12 for t in top])
    assert res.metrics["ild@4"] == pytest.approx(expected, abs=1e-5)
