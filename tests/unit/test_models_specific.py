"""Behaviour specific to the neural families: schedules, GAN bookkeeping, pre-training, chunked scoring."""

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


@pytest.mark.parametrize("reg", [0.01, 0.0])
def test_mf_hand_written_bpr_gradient_matches_autograd(reg):
    """The closed-form BPR + L2 gradient equals autograd's on the same lines (float64 gradcheck)."""
    import torch
    from torch.nn import functional as F

    from recsys_gui.core.models.mf import _BPRWithL2

    gen = torch.Generator().manual_seed(0)
    pu = torch.randn(7, 5, dtype=torch.double, generator=gen, requires_grad=True)
    q = torch.randn(7, 4, 5, dtype=torch.double, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _BPRWithL2.apply(a, b, reg)[0], (pu, q))
    s = (pu.unsqueeze(1) * q).sum(-1)
    ref = -F.logsigmoid(s[:, :1] - s[:, 1:]).mean() + reg * (pu.pow(2).sum() + q.pow(2).sum()) / 7
    assert torch.allclose(_BPRWithL2.apply(pu, q, reg)[0], ref)


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


def _row_batch(n_rows: int, n_items: int, seed: int = 0):
    from recsys_gui.core.data.batching import RowBatch

    gen = torch.Generator().manual_seed(seed)
    rows = (torch.rand(n_rows, n_items, generator=gen) < 0.2).float()
    rows[3] = 0.0  # a user with nothing in this batch
    counts = rows.sum(1).long()
    offsets = torch.cumsum(counts, 0) - counts
    return RowBatch(torch.arange(n_rows), rows.nonzero()[:, 1], offsets, n_items), rows


@pytest.mark.parametrize("n_items", [37, 40])  # padded to 40 for the output product, or not padded
def test_vae_hand_written_loss_and_first_layer_match_autograd(n_items):
    """Mult-VAE's first layer's transposed-bag gradient (float64 gradcheck), and its output layer with
    the multinomial NLL: value and gradients those of ``-(log_softmax(h Wᵀ + b) * x).sum(1).mean()``."""
    from torch.nn import functional as F

    from recsys_gui.core.models.vae import _BagProduct, _SoftmaxNLL

    batch, rows = _row_batch(20, n_items)
    assert torch.equal(batch.rows, rows)
    gen = torch.Generator().manual_seed(1)
    table = torch.randn(n_items, 6, dtype=torch.double, generator=gen, requires_grad=True)
    weights = torch.rand(batch.items.numel(), dtype=torch.double, generator=gen)
    assert torch.autograd.gradcheck(
        lambda t: _BagProduct.apply(t, batch.items, batch.offsets, weights, batch.row_of_items), (table,))
    h, w, b = (torch.randn(*shape, dtype=torch.double, generator=gen, requires_grad=True)
               for shape in ((20, 5), (n_items, 5), (n_items,)))

    # Its backward writes over the saved softmax, so it runs once per graph (autograd's version
    # check refuses a second run): compared with autograd's gradients instead of gradcheck's.
    loss = _SoftmaxNLL.apply(h, w, b, batch.row_of_items, batch.items, batch.counts.double())
    ref = -(F.log_softmax(F.linear(h, w, b), 1) * rows.double()).sum(1).mean()
    torch.testing.assert_close(loss, ref)
    got = torch.autograd.grad(3 * loss, (h, w, b), retain_graph=True)
    for g, r in zip(got, torch.autograd.grad(3 * ref, (h, w, b)), strict=True):
        torch.testing.assert_close(g, r)
    with pytest.raises(RuntimeError, match="inplace"):
        torch.autograd.grad(loss, (h, w, b))


def test_vae_output_layer_takes_a_half_precision_hidden_layer():
    """Under CUDA autocast the decoder's hidden layer arrives in bfloat16: the output layer and its
    softmax run in the weight's precision and the hidden layer's gradient goes back in its own."""
    from recsys_gui.core.models.vae import _SoftmaxNLL

    batch, _ = _row_batch(20, 37)
    h = torch.randn(20, 5, dtype=torch.bfloat16, requires_grad=True)
    w, b = torch.randn(37, 5, requires_grad=True), torch.randn(37, requires_grad=True)
    loss = _SoftmaxNLL.apply(h, w, b, batch.row_of_items, batch.items, batch.counts.float())
    ref = _SoftmaxNLL.apply(h.detach().float(), w.detach(), b.detach(), batch.row_of_items, batch.items,
                            batch.counts.float())
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert h.grad.dtype == torch.bfloat16 and w.grad.dtype == torch.float32


def test_vae_training_leaves_dropped_entries_out_of_the_first_layer():
    """On CPU the entries input dropout zeroed are cut from the bag lists: the layer and its
    gradient are those of the full lists with the same dropout mask."""
    from recsys_gui.core.models.vae import _BagProduct

    split = tiny_split()
    model = build_model("vae", {"hidden": 16, "latent": 8}, split.n_users, split.n_items).train()
    batch = next(iter(DeviceBatcher(split.train, "user_rows", batch_size=50, device=torch.device("cpu"),
                                    seed=0).epoch(0)))
    torch.manual_seed(3)
    cut = model._first_layer_sparse(batch)
    (cut * torch.arange(16.0)).sum().backward()
    grad_cut, model.enc_items.grad = model.enc_items.grad, None
    torch.manual_seed(3)
    weights = model.drop(batch.counts.clamp(min=1).float().rsqrt()[batch.row_of_items])
    assert 0.3 < (weights == 0).float().mean() < 0.7  # dropout 0.5 took about half
    full = _BagProduct.apply(model.enc_items, batch.items, batch.offsets, weights, batch.row_of_items)
    full = full + model.enc_bias
    (full * torch.arange(16.0)).sum().backward()
    torch.testing.assert_close(cut, full)
    torch.testing.assert_close(grad_cut, model.enc_items.grad)


def test_vae_scores_cover_the_items_exactly():
    """The decoder's padding columns never reach the scores or the item vectors."""
    model = build_model("vae", {"hidden": 16, "latent": 8}, 20, 37).eval()
    _, rows = _row_batch(20, 37)
    assert model.score(torch.arange(20), rows).shape == (20, 37)
    assert model.item_embeddings().shape[0] == 37


def test_cpu_dropout_keeps_the_rate_and_the_expectation():
    from recsys_gui.core.models.layers import Dropout

    torch.manual_seed(0)
    x = torch.ones(400, 500)
    for p in (0.1, 0.5):
        y = Dropout(p)(x)
        assert (y == 0).float().mean().item() == pytest.approx(p, abs=0.005)
        assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    torch.manual_seed(1)
    a = Dropout(0.3)(x)
    torch.manual_seed(1)
    assert torch.equal(a, Dropout(0.3)(x))  # seeded like nn.Dropout
    assert torch.equal(Dropout(0.3).eval()(x), x)


def test_dropout_mask_keeps_exactly_the_draws_at_or_above_the_threshold():
    """The int16 clamp that replaced ``bits >= t`` keeps the same elements (t = round(p * 32768))."""
    from recsys_gui.core.models.layers import dropout_mask

    for p in (0.1, 0.5, 1 / 32768, 0.999):
        torch.manual_seed(3)
        mask = dropout_mask((64, 33), p)
        torch.manual_seed(3)
        words = torch.empty((64 * 33 + 3) // 4, dtype=torch.int64).random_()
        bits = words.view(torch.int16)[: 64 * 33].view(64, 33) & 0x7FFF
        keep = bits >= round(p * 32768)
        assert torch.equal(mask != 0, keep), p
        assert torch.allclose(mask[keep], torch.tensor(1 / (1 - p))), p


def test_cpu_embedding_gradient_equals_torch_embedding():
    """Our CPU lookup (zero table + index_add_) gives nn.Embedding's values, gradients and state dict."""
    from torch import nn

    from recsys_gui.core.models.layers import Embedding

    torch.manual_seed(0)
    ours, ref = Embedding(50, 8), nn.Embedding(50, 8)
    ref.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == ["weight"]
    for index in (torch.randint(0, 50, (300,)), torch.randint(0, 50, (40, 6)), torch.tensor([7, 7, 7])):
        ours.zero_grad(), ref.zero_grad()
        out, expected = ours(index), ref(index)
        torch.testing.assert_close(out, expected, rtol=0, atol=0)
        g = torch.randn_like(out)
        (out * g).sum().backward()
        (expected * g).sum().backward()
        torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
    with torch.no_grad():
        assert torch.equal(ours(torch.tensor([1, 2])), ref.weight[[1, 2]])


def test_cpu_tanh_equals_torch_tanh_and_its_gradient():
    from recsys_gui.core.models.layers import tanh

    x = torch.linspace(-20, 20, 4001, dtype=torch.double, requires_grad=True)
    torch.testing.assert_close(tanh(x), torch.tanh(x))
    assert torch.autograd.gradcheck(tanh, (x[::200].detach().clone().requires_grad_(),))
    x32 = torch.randn(300, 50)
    assert (tanh(x32) - torch.tanh(x32)).abs().max() < 1e-6
