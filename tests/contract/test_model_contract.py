"""Every registered model honours the contract (sklearn's check_estimator idea, RecBole's model tests)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.models import available_models, build_model
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.training.trainer import Trainer
from tests.conftest import tiny_split

MODELS = sorted(available_models())
SMALL = {"embedding_dim": 8, "hidden": 16, "latent": 8, "layers": "16,8", "channels": 4, "max_len": 20,
         "d_hidden": 8, "d_lr_scale": 0.1, "mlp_embedding_dim": 8, "pretrain_epochs": 2}


def small_model(name: str, split) -> Recommender:
    cls = available_models()[name]
    fields = {f.name for f in dataclasses.fields(cls.config_cls)}
    cfg = {k: v for k, v in SMALL.items() if k in fields}
    return build_model(name, cfg, split.n_users, split.n_items)


def history_rows(split, users):
    dense = torch.zeros(len(users), split.n_items)
    csr = split.train.to_csr()
    for r, u in enumerate(users.tolist()):
        dense[r, csr.indices[csr.indptr[u]:csr.indptr[u + 1]]] = 1.0
    return dense


def train_a_little(model, split, epochs=3, seed=0):
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=5e-3, seed=seed, device="cpu", early_stop_metric=None,
                      log_every_n_steps=1)
    losses = []

    class Grab:
        def on_event(self, e):
            if type(e).__name__ == "EpochEnded":
                losses.append(e.losses.get("loss", next(iter(e.losses.values()))))

    torch.manual_seed(seed)
    Trainer(cfg, callbacks=[Grab()]).fit(model, split, torch.device("cpu"))
    return losses


@pytest.mark.parametrize("name", MODELS)
def test_builds_and_scores_shape(name):
    split = tiny_split()
    model = small_model(name, split)
    train_a_little(model, split, epochs=1)
    users = torch.arange(7)
    scores = model.score(users, history_rows(split, users))
    assert scores.shape == (7, split.n_items)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", [n for n in MODELS if available_models()[n].capabilities.iterative
                                  and not available_models()[n].capabilities.manual_optimization])
def test_training_lowers_the_loss(name):
    split = tiny_split()
    model = small_model(name, split)
    losses = train_a_little(model, split, epochs=6)
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name, tmp_path):
    split = tiny_split()
    model = small_model(name, split)
    train_a_little(model, split, epochs=1)
    model.eval()
    path = tmp_path / "m.pt"
    torch.save(model.to_checkpoint(), path)
    back = Recommender.from_checkpoint(torch.load(path, weights_only=True))
    back.eval()
    users = torch.arange(10)
    h = history_rows(split, users)
    torch.testing.assert_close(model.score(users, h), back.score(users, h))


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_scores(name):
    split = tiny_split()
    out = []
    for _ in range(2):
        torch.manual_seed(3)
        model = small_model(name, split)
        train_a_little(model, split, epochs=2, seed=3)
        model.eval()
        users = torch.arange(10)
        out.append(model.score(users, history_rows(split, users)))
    torch.testing.assert_close(out[0], out[1])


@pytest.mark.parametrize("name", MODELS)
def test_batched_scoring_equals_one_call(name):
    split = tiny_split()
    model = small_model(name, split)
    train_a_little(model, split, epochs=1)
    model.eval()
    users = torch.arange(split.n_users)
    h = history_rows(split, users)
    whole = model.score(users, h)
    parts = torch.cat([model.score(users[s:s + 7], h[s:s + 7]) for s in range(0, len(users), 7)])
    torch.testing.assert_close(whole, parts, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_embeddings_match_capabilities(name):
    split = tiny_split()
    model = small_model(name, split)
    train_a_little(model, split, epochs=1)
    users = torch.arange(5)
    ue = model.user_embeddings(users, history_rows(split, users))
    ie = model.item_embeddings()
    assert (ue is not None) == model.capabilities.user_embeddings
    assert (ie is not None) == model.capabilities.item_embeddings
    if ue is not None:
        assert ue.shape[0] == 5
    if ie is not None:
        assert ie.shape[0] == split.n_items


@pytest.mark.parametrize("name", [n for n in MODELS if available_models()[n].capabilities.manual_optimization])
def test_adversarial_models_report_finite_losses_of_both_players(name):
    """A GAN's losses need not fall monotonically; both players must report finite losses."""
    split = tiny_split()
    model = small_model(name, split)
    seen = []

    class Grab:
        def on_event(self, e):
            if type(e).__name__ == "EpochEnded":
                seen.append(e.losses)

    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-3, seed=0, device="cpu", early_stop_metric=None)
    Trainer(cfg, callbacks=[Grab()]).fit(model, split, torch.device("cpu"))
    assert seen and all(len(d) >= 2 and all(v == v and abs(v) < 1e9 for v in d.values()) for d in seen)
