"""Behaviour specific to the families: schedules, GAN bookkeeping, pre-training, chunked scoring, ratings."""

from __future__ import annotations

import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.batching import DeviceBatcher
from recsys_gui.core.models import build_model
from recsys_gui.core.models.base import StepContext
from tests.conftest import tiny_split


def test_vae_kl_weight_rises_linearly_to_the_cap():
    split = tiny_split()
    model = build_model(
        "vae",
        {"hidden": 16, "latent": 8, "anneal_cap": 0.2, "total_anneal_steps": 10},
        split.n_users,
        split.n_items,
    )
    batcher = DeviceBatcher(split.train, "user_rows", batch_size=16, device=torch.device("cpu"), seed=0)
    batch = next(iter(batcher.epoch(0)))
    betas = [float(model(batch)["beta"]) for _ in range(5)]
    assert betas == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2])
    out = model(batch)
    assert {"loss", "nll", "kl", "beta"} <= set(out)
    model.eval()
    model(batch)  # evaluation passes do not advance the schedule
    assert int(model.step) == 6


def test_vae_latent_noise_scales_the_sampling():
    """latent_noise=0 trains on the mean itself (two passes agree); 1 samples the posterior."""
    split = tiny_split()
    batcher = DeviceBatcher(split.train, "user_rows", batch_size=16, device=torch.device("cpu"), seed=0)
    batch = next(iter(batcher.epoch(0)))

    def two_passes(noise: float) -> tuple[float, float]:
        torch.manual_seed(0)
        model = build_model("vae", {"hidden": 16, "latent": 8, "dropout": 0.0, "latent_noise": noise},
                            split.n_users, split.n_items)
        with torch.no_grad():
            model.enc_out.bias[8:] = 1.0  # a wide posterior, so sampling shows
        return float(model(batch)["nll"]), float(model(batch)["nll"])

    first, second = two_passes(0.0)
    assert first == second
    first, second = two_passes(1.0)
    assert first != second


def test_dae_has_no_kl_term():
    split = tiny_split()
    model = build_model(
        "multdae", {"variant": "dae", "hidden": 16, "latent": 8}, split.n_users, split.n_items
    )
    batch = next(
        iter(
            DeviceBatcher(split.train, "user_rows", batch_size=16, device=torch.device("cpu"), seed=0).epoch(
                0
            )
        )
    )
    out = model(batch)
    assert float(out["kl"]) == 0.0 and float(out["beta"]) == 0.0


def test_gan_step_reports_both_losses_and_moves_both_networks():
    split = tiny_split()
    model = build_model("cfgan", {"hidden": 16, "d_hidden": 8}, split.n_users, split.n_items)
    opts = model.configure_optimizers(TrainConfig(lr=1e-2))
    g0 = model.g_out.weight.detach().clone()
    d0 = model.d_out.weight.detach().clone()

    def step(opt):
        opt.step()
        opt.zero_grad(set_to_none=True)

    ctx = StepContext(
        epoch=0,
        global_step=0,
        device=torch.device("cpu"),
        optimizers=opts,
        backward=lambda loss: loss.backward(),
        step=step,
    )
    batch = next(
        iter(
            DeviceBatcher(split.train, "user_rows", batch_size=16, device=torch.device("cpu"), seed=0).epoch(
                0
            )
        )
    )
    losses = model.training_step(batch, ctx)
    assert {"loss", "g_loss", "d_loss"} <= set(losses)
    assert torch.isfinite(losses["g_loss"]) and torch.isfinite(losses["d_loss"])
    assert not torch.equal(g0, model.g_out.weight) and not torch.equal(d0, model.d_out.weight)
    assert all(p.requires_grad for p in model.parameters())


def test_neumf_pretraining_starts_as_the_alpha_mix():
    split = tiny_split()
    n_u, n_i = split.n_users, split.n_items
    torch.manual_seed(0)
    mlp = build_model("mlp", {"embedding_dim": 8, "layers": "16,8"}, n_u, n_i).eval()
    gmf = {
        "P.weight": torch.randn(n_u, 8),
        "Q.weight": torch.randn(n_i, 8),
        "head.weight": torch.randn(1, 8),
        "head.bias": torch.randn(1),
    }
    nmf = build_model(
        "neumf", {"embedding_dim": 8, "mlp_embedding_dim": 8, "layers": "16,8"}, n_u, n_i
    ).eval()
    nmf.load_pretrained(gmf, mlp.state_dict(), alpha=0.3)
    users = torch.arange(5)
    gmf_logits = (gmf["P.weight"][users] * gmf["head.weight"]) @ gmf["Q.weight"].T + gmf["head.bias"]
    expected = 0.3 * gmf_logits + 0.7 * mlp.score(users, None)
    torch.testing.assert_close(nmf.score(users, None), expected, rtol=1e-4, atol=1e-5)


def test_pointwise_grid_scoring_matches_pairs():
    split = tiny_split()
    for name in ("mlp", "nmf"):
        model = build_model(
            name, {"embedding_dim": 8, "layers": "16,8", "item_chunk": 7}, split.n_users, split.n_items
        ).eval()
        users = torch.arange(3)
        rows = model.score(users, None)
        items = torch.arange(split.n_items)
        pairs = model.predict_pairs(users.repeat_interleave(len(items)), items.repeat(3)).view(3, -1)
        torch.testing.assert_close(rows, pairs, rtol=1e-4, atol=1e-5)


def test_cnn_chunked_scoring_equals_unchunked_and_pairs():
    split = tiny_split()
    torch.manual_seed(0)
    small = build_model(
        "cnn",
        {"embedding_dim": 16, "channels": 4, "pretrain_epochs": 0, "item_chunk": 3, "trace_init": False},
        split.n_users,
        split.n_items,
    ).eval()
    big = build_model(
        "cnn",
        {"embedding_dim": 16, "channels": 4, "pretrain_epochs": 0, "item_chunk": 1000, "trace_init": False},
        split.n_users,
        split.n_items,
    ).eval()
    big.load_state_dict(small.state_dict())
    users = torch.arange(6)
    torch.testing.assert_close(small.score(users, None), big.score(users, None))
    items = torch.arange(split.n_items)
    pairs = small.predict_pairs(users.repeat_interleave(len(items)), items.repeat(6)).view(6, -1)
    torch.testing.assert_close(small.score(users, None), pairs, rtol=1e-4, atol=1e-5)


def test_cnn_trace_init_starts_as_the_dot_product():
    split = tiny_split()
    model = build_model(
        "cnn", {"embedding_dim": 32, "channels": 4, "pretrain_epochs": 0}, split.n_users, split.n_items
    ).eval()
    users = torch.arange(8)
    torch.testing.assert_close(
        model.score(users, None), model.P(users) @ model.Q.weight.T, rtol=1e-4, atol=1e-5
    )


def test_mf_without_l2_still_learns():
    """reg=0 (RecBole's BPR setting) once returned one tensor as both outputs and trained nothing."""
    import torch

    from recsys_gui.core.data.batching import PairBatch
    from recsys_gui.core.models.mf import MF, MFConfig

    torch.manual_seed(0)
    model = MF(MFConfig(reg=0.0), n_users=20, n_items=30)
    users, pos, neg = torch.arange(20), torch.arange(20), torch.arange(10, 30)
    model(PairBatch(users=users, pos=pos, neg=neg))["loss"].backward()
    assert model.P.weight.grad.abs().sum() > 0 and model.Q.weight.grad.abs().sum() > 0


def test_vae_sparse_first_layer_equals_the_dense_one():
    """Training sums item rows (EmbeddingBag); scoring multiplies dense rows: the same layer."""
    split = tiny_split()
    model = build_model("vae", {"hidden": 16, "latent": 8}, split.n_users, split.n_items).eval()
    batcher = DeviceBatcher(split.train, "user_rows", batch_size=7, device=torch.device("cpu"), seed=0)
    for batch in batcher.epoch(0):
        assert batch.rows.sum() == batch.items.numel()
        torch.testing.assert_close(model._first_layer_sparse(batch), model._first_layer(batch.rows))


def test_vae_scores_cover_the_items_exactly():
    """The decoder's padding columns never reach the scores or the item vectors."""
    model = build_model("vae", {"hidden": 16, "latent": 8}, 20, 37).eval()
    rows = (torch.rand(20, 37, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    assert model.score(torch.arange(20), rows).shape == (20, 37)
    assert model.item_embeddings().shape[0] == 37


def _messages_of_a_run(model, split, **train):
    from recsys_gui.core.training import events as ev
    from recsys_gui.core.training.trainer import Trainer

    said = []

    class Grab:
        def on_event(self, e):
            if isinstance(e, ev.Message):
                said.append(e.text)

    cfg = TrainConfig(**{"epochs": 1, "batch_size": 64, "seed": 0, "device": "cpu", "early_stop_metric": None,
                         **train})
    fit = Trainer(cfg, callbacks=[Grab()]).fit(model, split, torch.device("cpu"))
    return fit, said


def test_neumf_pretraining_trains_gmf_and_mlp_through_the_trainer_and_starts_from_them(monkeypatch):
    """``pretrain_epochs`` (it replaced two run-id settings nothing read) trains a GMF and an MLP model
    with the trainer's loop, reported as messages, and NeuMF starts as their α-mix."""
    from recsys_gui.core.models.mlp import MLP
    from recsys_gui.core.models.neumf import GMF, NeuMF

    split = tiny_split()
    seen = {}
    real = NeuMF.start_from

    def spy(self, pretrained):
        real(self, pretrained)
        seen["models"] = list(pretrained)
        seen["P_gmf"], seen["head"] = self.P_gmf.weight.detach().clone(), self.head.weight.detach().clone()

    monkeypatch.setattr(NeuMF, "start_from", spy)
    torch.manual_seed(0)
    model = build_model("nmf", {"embedding_dim": 8, "mlp_embedding_dim": 8, "layers": "16,8",
                                "pretrain_epochs": 2, "pretrain_alpha": 0.25}, split.n_users, split.n_items)
    fit, said = _messages_of_a_run(model, split)
    assert fit.status == "completed"
    assert [m.split(",")[0] for m in said] == [
        "Pre-training GMF: 2 epochs.", "Pre-training GMF: epoch 1/2", "Pre-training GMF: epoch 2/2",
        "Pre-training MLP: 2 epochs.", "Pre-training MLP: epoch 1/2", "Pre-training MLP: epoch 2/2"]
    gmf, mlp = seen["models"]
    assert isinstance(gmf, GMF) and isinstance(mlp, MLP)
    torch.testing.assert_close(seen["P_gmf"], gmf.P.weight.detach())
    torch.testing.assert_close(seen["head"][0, :8], 0.25 * gmf.head.weight.detach()[0])


def test_neumf_without_pretraining_trains_nothing_first():
    split = tiny_split()
    model = build_model("nmf", {"embedding_dim": 8, "mlp_embedding_dim": 8, "layers": "16,8"}, split.n_users,
                        split.n_items)
    assert model.config.pretrain_epochs == 0 and not model.pretraining()
    assert _messages_of_a_run(model, split)[1] == []


def test_neumf_checkpoints_and_specs_with_the_retired_run_id_settings_still_load():
    from recsys_gui.core.models import make_config
    from recsys_gui.core.models.base import Recommender

    old = {"pretrain_gmf_run": None, "pretrain_mlp_run": "run-1", "embedding_dim": 8}
    assert make_config("nmf", old).embedding_dim == 8
    model = build_model("nmf", {"embedding_dim": 8}, 5, 7)
    ckpt = model.to_checkpoint()
    ckpt["config"].update(pretrain_gmf_run=None, pretrain_mlp_run=None)
    back = Recommender.from_checkpoint(ckpt)
    assert torch.equal(back.P_gmf.weight, model.P_gmf.weight)


def test_convncf_pretrains_mf_through_the_trainer_and_starts_from_its_vectors(monkeypatch):
    from recsys_gui.core.models.cnn import ConvNCF
    from recsys_gui.core.models.mf import MF

    split = tiny_split()
    seen = {}
    real = ConvNCF.start_from

    def spy(self, pretrained):
        real(self, pretrained)
        seen["mf"], seen["P"] = pretrained[0], self.P.weight.detach().clone()

    monkeypatch.setattr(ConvNCF, "start_from", spy)
    model = build_model("cnn", {"embedding_dim": 8, "channels": 4, "pretrain_epochs": 3}, split.n_users,
                        split.n_items)
    _, said = _messages_of_a_run(model, split)
    assert sum("Pre-training BPR-MF embeddings: epoch" in m for m in said) == 3
    assert isinstance(seen["mf"], MF)
    torch.testing.assert_close(seen["P"], seen["mf"].P.weight.detach())


def test_explicit_mf_declares_ratings_in_its_capabilities_and_trains_on_them():
    """MF with loss='mse' says so in its capabilities: the trainer's batches carry the ratings."""
    from recsys_gui.core.data.batching import PointBatch
    from recsys_gui.core.models.mf import MF
    from recsys_gui.core.training.distributed import DistContext
    from recsys_gui.core.training.model_checks import synthetic_split
    from recsys_gui.core.training.trainer import make_batcher

    split = synthetic_split()
    model = build_model("mf", {"loss": "mse", "embedding_dim": 4}, split.n_users, split.n_items)
    assert model.capabilities.uses_ratings and model.capabilities.batch_kind == "pointwise"
    assert not MF.capabilities.uses_ratings  # the class's default is the BPR one
    batch = next(iter(make_batcher(model, split, TrainConfig(batch_size=1000), torch.device("cpu"),
                                   DistContext()).epoch(0)))
    assert isinstance(batch, PointBatch)
    assert sorted(batch.labels.tolist()) == sorted(split.train.values.tolist())


def test_itemknn_gathers_a_basket_and_takes_the_sparse_product_for_batches_with_the_same_scores():
    """The what-if path (a gather over each item's neighbours) against the evaluation path (one
    sparse product with the cached vote matrix), on weighted histories, and the cache follows a
    reloaded neighbour table."""
    from recsys_gui.core.models import make_config

    split = tiny_split()
    model = build_model("itemknn", make_config("itemknn", {"k": 7}), split.n_users, split.n_items)
    model.prepare(split.train)
    history = torch.as_tensor(split.train.to_csr().toarray(), dtype=torch.float32) * torch.rand(
        split.n_users, split.n_items, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model._score_gather(history), model._score_sparse(history), atol=1e-5, rtol=0)
    assert torch.equal(model.score(None, history[:2]), model._score_gather(history[:2]))
    before = model._score_sparse(history)
    model.load_state_dict({"nbr_index": model.nbr_index, "nbr_weight": model.nbr_weight * 2})
    torch.testing.assert_close(model._score_sparse(history), 2 * before)
