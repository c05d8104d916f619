"""The fast kernels equal their plain references (values and gradients), and one switch picks the path.

Every function of ``recsys_gui.core.models.kernels`` is run both ways on the same inputs; the
hand-written backward functions are also checked by float64 gradcheck.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from recsys_gui.core.data.batching import RowBatch
from recsys_gui.core.models import kernels
from recsys_gui.core.models.kernels import reference_kernels, use_reference

ROOT = Path(__file__).resolve().parents[2]


def both(fn, *args):
    """``fn(*args)`` on the fast path, then on the reference path, each with fresh leaf gradients."""
    out = []
    for path in ("fast", "reference"):
        leaves = [a.detach().clone().requires_grad_() if torch.is_tensor(a) and a.requires_grad else a
                  for a in args]
        if path == "reference":
            with reference_kernels():
                y = fn(*leaves)
        else:
            y = fn(*leaves)
        y0 = y[0] if isinstance(y, tuple) else y
        g = torch.randn_like(y0, generator=torch.Generator().manual_seed(7)) if y0.dim() else torch.ones(())
        (y0 * g).sum().backward()
        grads = [a.grad for a in leaves if torch.is_tensor(a) and a.requires_grad]
        out.append((y, grads))
    return out


def assert_same(pair, **tol):
    (y_fast, g_fast), (y_ref, g_ref) = pair
    torch.testing.assert_close(y_fast, y_ref, **tol)
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, **tol)


def row_batch(n_rows: int, n_items: int, seed: int = 0) -> tuple[RowBatch, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    rows = (torch.rand(n_rows, n_items, generator=gen) < 0.2).float()
    rows[3] = 0.0  # a user with nothing in this batch
    counts = rows.sum(1).long()
    offsets = torch.cumsum(counts, 0) - counts
    return RowBatch(torch.arange(n_rows), rows.nonzero()[:, 1], offsets, n_items), rows


# --- the switch -----------------------------------------------------------------------------------
def test_the_switch_is_read_at_call_time(monkeypatch):
    monkeypatch.delenv(kernels.REFERENCE_ENV, raising=False)
    assert not use_reference()
    with reference_kernels():
        assert use_reference()
    assert not use_reference()
    monkeypatch.setenv(kernels.REFERENCE_ENV, "1")
    assert use_reference()
    monkeypatch.setenv(kernels.REFERENCE_ENV, "0")
    assert not use_reference()


def test_the_reference_path_really_runs_the_reference(monkeypatch):
    """Guards the comparisons below: inside the switch the hand-written functions are not called."""
    calls = []
    monkeypatch.setattr(kernels._BPRWithL2, "apply", lambda *a: calls.append(a) or (a[0].sum(), a[0].sum()))
    pu, q = torch.randn(4, 3), torch.randn(4, 2, 3)
    with reference_kernels():
        kernels.bpr_with_l2(pu, q, 0.1)
    assert not calls
    kernels.bpr_with_l2(pu, q, 0.1)
    assert len(calls) == 1


def test_a_wrong_fast_kernel_is_caught(monkeypatch):
    """The comparison fails when a fast path's gradient is off (here: doubled)."""
    real = kernels._RowLookup.backward

    def doubled(ctx, grad):
        g, none = real(ctx, grad)
        return 2 * g, none

    monkeypatch.setattr(kernels._RowLookup, "backward", staticmethod(doubled))
    w = torch.randn(10, 4, requires_grad=True)
    with pytest.raises(AssertionError):
        assert_same(both(kernels.embedding, w, torch.tensor([1, 2, 2, 9])))


# --- each kernel both ways ------------------------------------------------------------------------
@pytest.mark.parametrize("reg", [0.01, 0.0])
def test_bpr_with_l2(reg):
    gen = torch.Generator().manual_seed(0)
    pu = torch.randn(7, 5, dtype=torch.double, generator=gen, requires_grad=True)
    q = torch.randn(7, 4, 5, dtype=torch.double, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: kernels._BPRWithL2.apply(a, b, reg)[0], (pu, q))
    assert_same(both(lambda a, b: kernels.bpr_with_l2(a, b, reg), pu, q))


@pytest.mark.parametrize("index", [torch.randint(0, 50, (300,)), torch.randint(0, 50, (40, 6)),
                                   torch.tensor([7, 7, 7])])
def test_embedding(index):
    w = torch.randn(50, 8, requires_grad=True)
    assert_same(both(kernels.embedding, w, index), rtol=0, atol=1e-6)


def test_embedding_layer_keeps_torchs_parameters():
    from torch import nn

    from recsys_gui.core.models.layers import Embedding

    ours, ref = Embedding(50, 8), nn.Embedding(50, 8)
    ref.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == ["weight"]
    index = torch.randint(0, 50, (30,))
    torch.testing.assert_close(ours(index), ref(index), rtol=0, atol=0)


def test_tanh():
    x = torch.linspace(-20, 20, 4001, dtype=torch.double, requires_grad=True)
    assert_same(both(kernels.tanh, x))
    assert torch.autograd.gradcheck(kernels._SigmoidTanh.apply, (x[::200].detach().clone().requires_grad_(),))
    x32 = torch.randn(300, 50)
    assert (kernels.tanh(x32) - torch.tanh(x32)).abs().max() < 1e-6


@pytest.mark.parametrize("n_items", [37, 40])  # padded to 40 for the output product, or not padded
def test_output_logits(n_items):
    gen = torch.Generator().manual_seed(1)
    shapes = ((20, 5), (n_items, 5), (n_items,))
    h, w, b = (torch.randn(*s, generator=gen, requires_grad=True) for s in shapes)
    assert_same(both(kernels.output_logits, h, w, b))
    assert kernels.output_logits(h, w, b).shape == (20, n_items)


@pytest.mark.parametrize("n_items", [37, 40])
def test_softmax_nll(n_items):
    batch, rows = row_batch(20, n_items)
    gen = torch.Generator().manual_seed(1)
    h, w, b = (torch.randn(*s, dtype=torch.double, generator=gen, requires_grad=True)
               for s in ((20, 5), (n_items, 5), (n_items,)))
    args = (batch.row_of_items, batch.items, batch.counts.double())
    assert_same(both(lambda *x: kernels.softmax_nll(*x, *args), h, w, b))
    ref = -(F.log_softmax(F.linear(h, w, b), 1) * rows.double()).sum(1).mean()
    torch.testing.assert_close(kernels.softmax_nll(h, w, b, *args), ref)
    # Its backward writes over the saved softmax, so it runs once per graph.
    loss = kernels.softmax_nll(h, w, b, *args)
    torch.autograd.grad(loss, (h,), retain_graph=True)
    with pytest.raises(RuntimeError, match="inplace"):
        torch.autograd.grad(loss, (h,))


def test_softmax_nll_takes_a_half_precision_hidden_layer():
    """Under CUDA autocast the decoder's hidden layer arrives in bfloat16: the softmax runs in the
    weight's precision and the hidden layer's gradient goes back in its own."""
    batch, _ = row_batch(20, 37)
    args = (batch.row_of_items, batch.items, batch.counts.float())
    h = torch.randn(20, 5, dtype=torch.bfloat16, requires_grad=True)
    w, b = torch.randn(37, 5, requires_grad=True), torch.randn(37, requires_grad=True)
    pair = both(lambda *x: kernels.softmax_nll(*x, *args), h, w, b)
    assert pair[0][0].dtype == pair[1][0].dtype == torch.float32
    assert pair[0][1][0].dtype == torch.bfloat16
    assert_same(pair)


def test_bag_product():
    batch, _ = row_batch(20, 37)
    gen = torch.Generator().manual_seed(1)
    table = torch.randn(37, 6, dtype=torch.double, generator=gen, requires_grad=True)
    weights = torch.rand(batch.items.numel(), dtype=torch.double, generator=gen)
    args = (batch.items, batch.offsets, weights, batch.row_of_items)
    assert torch.autograd.gradcheck(lambda t: kernels._BagProduct.apply(t, *args), (table,))
    assert_same(both(lambda t: kernels.bag_product(t, *args), table))


def test_dropout_bag_product_without_dropout_equals_the_reference():
    batch, rows = row_batch(30, 37)
    table = torch.randn(37, 6, requires_grad=True)
    norm = batch.counts.clamp(min=1).float().rsqrt()
    for p, training in ((0.5, False), (0.0, True)):
        pair = both(lambda t, p=p, tr=training: kernels.dropout_bag_product(
            t, batch.items, batch.offsets, norm, batch.row_of_items, p, tr), table)
        assert_same(pair)
        torch.testing.assert_close(pair[0][0], (rows * norm[:, None]) @ table.detach())


def test_dropout_bag_product_leaves_dropped_entries_out():
    """On CPU the entries dropout zeroed are cut from the lists: the layer and its gradient are those
    of the full lists with the same keep-mask."""
    batch, _ = row_batch(50, 37)
    table = torch.randn(37, 16, requires_grad=True)
    norm = batch.counts.clamp(min=1).float().rsqrt()
    torch.manual_seed(3)
    cut = kernels.dropout_bag_product(table, batch.items, batch.offsets, norm, batch.row_of_items, 0.5, True)
    (cut * torch.arange(16.0)).sum().backward()
    grad_cut, table.grad = table.grad, None
    torch.manual_seed(3)
    weights = kernels.dropout(norm[batch.row_of_items], 0.5, True)
    assert 0.3 < (weights == 0).float().mean() < 0.7
    full = kernels.bag_product_reference(table, batch.items, batch.offsets, weights, batch.row_of_items)
    (full * torch.arange(16.0)).sum().backward()
    torch.testing.assert_close(cut, full)
    torch.testing.assert_close(grad_cut, table.grad)


@pytest.mark.parametrize("path", ["fast", "reference"])
def test_dropout_keeps_the_rate_the_expectation_and_the_seed(path):
    x = torch.ones(400, 500)
    with reference_kernels() if path == "reference" else nullcontext():
        for p in (0.1, 0.5):
            torch.manual_seed(0)
            y = kernels.dropout(x, p, True)
            assert (y == 0).float().mean().item() == pytest.approx(p, abs=0.005)
            assert y.mean().item() == pytest.approx(1.0, abs=0.01)
        torch.manual_seed(1)
        a = kernels.dropout(x, 0.3, True)
        torch.manual_seed(1)
        assert torch.equal(a, kernels.dropout(x, 0.3, True))
        assert torch.equal(kernels.dropout(x, 0.3, False), x)


def test_dropout_mask_keeps_exactly_the_draws_at_or_above_the_threshold():
    """The int16 clamp that replaced ``bits >= t`` keeps the same elements (t = round(p * 32768))."""
    for p in (0.1, 0.5, 1 / 32768, 0.999):
        torch.manual_seed(3)
        mask = kernels.dropout_mask((64, 33), p)
        torch.manual_seed(3)
        words = torch.empty((64 * 33 + 3) // 4, dtype=torch.int64).random_()
        bits = words.view(torch.int16)[: 64 * 33].view(64, 33) & 0x7FFF
        keep = bits >= round(p * 32768)
        assert torch.equal(mask != 0, keep), p
        assert torch.allclose(mask[keep], torch.tensor(1 / (1 - p))), p


# --- where the kernels may live -------------------------------------------------------------------
def _sources(under: str):
    return [(p, p.read_text()) for p in sorted((ROOT / under).rglob("*.py"))]


def test_no_private_aten_ops_anywhere():
    found = [str(p.relative_to(ROOT)) for p, text in _sources("recsys_gui")
             if re.search(r"torch\.ops\.aten\._", text)]
    assert not found


def test_hand_written_autograd_functions_live_in_the_kernels_module_only():
    found = [str(p.relative_to(ROOT)) for p, text in _sources("recsys_gui")
             if "torch.autograd.Function" in text and p.name != "kernels.py"]
    assert not found


def test_the_core_changes_no_process_wide_setting():
    """Allocator, GIL switch interval and warning filters are the entry points' to set, and so is the
    thread count for the models and the trainer (recsys_gui/process_setup.py)."""
    pattern = re.compile(r"mallopt|setswitchinterval|warnings\.(filterwarnings|simplefilter)")
    found = [str(p.relative_to(ROOT)) for p, text in _sources("recsys_gui/core") if pattern.search(text)]
    found += [str(p.relative_to(ROOT)) for under in ("recsys_gui/core/models", "recsys_gui/core/training")
              for p, text in _sources(under) if "set_num_threads" in text]
    assert not found
