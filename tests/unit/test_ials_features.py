"""iALS with features: the ridge map against its exact solution, cold items scored from their feature
part, a stored run scoring a new item, user features, and a checkpoint that carries the map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_gui.core.data.features import FeatureSet, fit_features
from recsys_gui.core.data.splits import held_out_items, make_split
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models import build_model
from recsys_gui.core.models.feature_embeddings import FeatureRows
from recsys_gui.core.models.ials import FEATURE_RIDGE, ridge_map
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from tests.unit.test_cold_start import genre_data
from tests.unit.test_cold_start_session import _files

CPU = torch.device("cpu")


def test_the_ridge_map_reaches_the_exact_ridge_solution():
    rng = np.random.default_rng(0)
    dense = (rng.random((50, 7)) < 0.3).astype(np.float32) * rng.random((50, 7)).astype(np.float32)
    dense[3] = 0.0  # a row left out (an untrained item) contributes nothing
    x = torch.as_tensor(dense).to_sparse()
    y = torch.randn(50, 4)
    w = ridge_map(x, y, torch.zeros(7, 4), steps=30)
    xd = torch.as_tensor(dense, dtype=torch.float64)
    mu = FEATURE_RIDGE * float((xd ** 2).sum()) / 7
    exact = torch.linalg.solve(xd.T @ xd + mu * torch.eye(7, dtype=torch.float64), xd.T @ y.double())
    assert torch.allclose(w.double(), exact, atol=1e-4)


def _trained(split, **cfg):
    torch.manual_seed(0)
    # λ for 100 users, not ml-1m's thousands: the default would shrink every vector to nothing
    # λ for 100 users, not ml-1m's thousands: the default would shrink every vector to nothing
    model = build_model("ials", {"embedding_dim": 8, "reg": 1.0, **cfg}, split.n_users, split.n_items)
    model.attach_features(FeatureSet(items=fit_features(split.train.item_meta)))
    model.prepare(split.train)
    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.training.trainer import Trainer

    Trainer(TrainConfig(epochs=8, seed=0, device="cpu")).fit(model, split, CPU)
    return model.eval()


def test_cold_items_take_their_feature_part_and_rank_by_the_users_taste():
    data = genre_data(n_users=100, n_items=120, per_user=20)
    split = make_split(data, "cold-items:0.2", seed=1)
    cold = torch.as_tensor(held_out_items(split, "test"))
    hybrid = _trained(split, features="items")
    rows = hybrid.item_rows.sparse()
    assert torch.allclose(hybrid.item_factors[cold], torch.sparse.mm(rows, hybrid.item_map)[cold])
    assert hybrid.item_factors[cold].abs().sum() > 0
    kw = {"history": split.train, "exclude": split.known_for_test(), "target": split.test, "device": CPU}
    got = Evaluator(["ndcg@10"], candidates=cold.numpy()).evaluate(hybrid, **kw).metrics["ndcg@10"]
    plain = _trained(split, features="none")
    base = Evaluator(["ndcg@10"], candidates=cold.numpy()).evaluate(plain, **kw).metrics["ndcg@10"]
    genre_pop = build_model("genre-pop", {}, split.n_users, split.n_items)
    genre_pop.prepare(split.train)
    bar = Evaluator(["ndcg@10"], candidates=cold.numpy()).evaluate(genre_pop, **kw).metrics["ndcg@10"]
    assert got >= 0.9 * bar and got > base + 0.1  # as good as the features' own baseline, far above ids
    # a new item by its features: even users (taste A) before odd users
    s = hybrid.score_new_items(hybrid.item_rows.features.encode_text("genres=A"), torch.arange(split.n_users))
    assert s[0::2, 0].min() > s[1::2, 0].max()


def test_a_model_without_features_refuses_a_new_item_and_plain_ials_is_unchanged():
    data = genre_data()
    split = make_split(data, "ratio:8,1,1", seed=1)
    torch.manual_seed(0)
    a = build_model("ials", {"embedding_dim": 8, "features": "none"}, split.n_users, split.n_items)
    a.prepare(split.train)
    assert not a.uses_features and a.item_map is None
    with pytest.raises(ConfigError, match="without item features"):
        a.score_new_items(FeatureRows(fit_features(split.train.item_meta)).features.encode_text("genres=A"),
                          torch.arange(3))


def test_a_stored_hybrid_ials_run_scores_a_new_item_and_user_features_train(tmp_path):
    from recsys_gui.core.serving import load_run

    data, movies, users = _files(tmp_path, n_users=100, n_items=200, per_user=20)
    train = {"epochs": 6, "seed": 1, "device": "cpu", "threads": 1}
    spec = RunSpec(DataSpec(path=str(data), item_metadata=str(movies), user_metadata=str(users)),
                   model="ials", split="cold-items:0.2", metrics=("ndcg@10",), train=train,
                   model_config={"features": "both", "embedding_dim": 8})
    out = run_training(spec, workspace=tmp_path / "ws", run_id="ih")
    assert out.test["ndcg@10"] > 0.35
    run = load_run("ih", tmp_path / "ws")  # the maps and features come back from the checkpoint
    assert run.model.user_map is not None and run.model.item_map.abs().sum() > 0
    top = run.top_users_for_new_item("genres=Drama|Romance", top=10)
    assert all(u.user % 2 == 0 for u in top)  # even users like the even items' genres
