"""Hand-written fast paths of hot training code, each beside the plain torch code it must equal.

On CPU, autograd's generic backward of a few lines spends much of a step creating, zero-filling and
copying temporaries, and some of torch's CPU kernels are slow for our shapes (sorting indices for an
embedding gradient, one 32-bit draw per dropout element, tanh). Each function below therefore has a
fast version and a ``_reference`` version written the obvious way. The reference is the
specification: ``RECSYS_REFERENCE_KERNELS=1`` (read at every call) or ``with reference_kernels():``
runs every function here the plain way, and the contract tests run the models both ways and compare
values and gradients. Why each fast path pays off, in figures: benchmarks/README.md.

The fast paths equal the references in value and gradient up to float rounding; the dropout
functions draw their random numbers differently (same rate, same expectation, same seeding by
``torch.manual_seed``), so a training run's figures differ between the two paths by the luck of the
draws only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor
from torch.nn import functional as F

REFERENCE_ENV = "RECSYS_REFERENCE_KERNELS"
_forced_reference: ContextVar[bool] = ContextVar("reference_kernels", default=False)


def use_reference() -> bool:
    """Whether the plain versions run: inside ``reference_kernels()`` or with the variable set."""
    return _forced_reference.get() or os.environ.get(REFERENCE_ENV, "0") not in ("", "0")


@contextmanager
def reference_kernels() -> Iterator[None]:
    """Run the plain reference versions inside this block (this thread's context only)."""
    token = _forced_reference.set(True)
    try:
        yield
    finally:
        _forced_reference.reset(token)


# --- embedding lookup -------------------------------------------------------------------------------
def embedding(weight: Tensor, index: Tensor) -> Tensor:
    """``weight[index]``; on CPU with autograd on, the gradient is a zero table plus ``index_add_``
    (torch's CPU embedding backward sorts the indices first)."""
    if use_reference() or weight.device.type != "cpu" or not torch.is_grad_enabled():
        return embedding_reference(weight, index)
    return _RowLookup.apply(weight, index)


def embedding_reference(weight: Tensor, index: Tensor) -> Tensor:
    return F.embedding(index, weight)


class _RowLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(index)
        ctx.rows = weight.shape[0]
        return weight.index_select(0, index.reshape(-1)).view(*index.shape, weight.shape[1])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (index,) = ctx.saved_tensors
        flat = grad.reshape(-1, grad.shape[-1])
        return flat.new_zeros(ctx.rows, flat.shape[1]).index_add_(0, index.reshape(-1), flat), None


# --- tanh -------------------------------------------------------------------------------------------
def tanh(x: Tensor) -> Tensor:
    """``torch.tanh``; on CPU as ``2·sigmoid(2x) − 1`` (equal to 2e-7): torch's CPU tanh is slower
    than its sigmoid on AVX2 machines."""
    if use_reference() or x.device.type != "cpu":
        return tanh_reference(x)
    return _SigmoidTanh.apply(x)


def tanh_reference(x: Tensor) -> Tensor:
    return torch.tanh(x)


class _SigmoidTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


# --- dropout ----------------------------------------------------------------------------------------
def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout``; on CPU in training the mask costs a quarter of the random draws (four 15-bit
    uniforms from each 64-bit draw, p rounded to 1/32768) and no float comparison."""
    if use_reference() or not training or x.device.type != "cpu" or not 0.0 < p < 1.0:
        return dropout_reference(x, p, training)
    return x * dropout_mask(x.shape, p, x.dtype)


def dropout_reference(x: Tensor, p: float, training: bool) -> Tensor:
    return F.dropout(x, p, training)


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """Keep-mask scaled by 1/(1-p), from the global CPU generator (so ``manual_seed`` fixes it)."""
    return dropout_keep(shape, p).to(dtype).mul_(1.0 / (1.0 - p))


def dropout_keep(shape: torch.Size | tuple[int, ...], p: float) -> Tensor:
    """The unscaled keep-mask of ``dropout_mask`` (the same draws): int16, 1 where kept.

    ``bits >= t`` is computed as ``clamp(bits - (t - 1), 0, 1)`` in int16: torch's CPU comparison
    and its bool-to-float cast are not vectorised.
    """
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()  # [0, 2**63): 4 × 15 uniform bits
    bits = words.view(torch.int16)[:n].view(shape).bitwise_and_(0x7FFF)
    return bits.sub_(round(p * 32768) - 1).clamp_(0, 1)  # 1 where bits >= round(p * 32768)


# --- BPR with L2 ------------------------------------------------------------------------------------
def bpr_with_l2(pu: Tensor, q: Tensor, reg: float) -> tuple[Tensor, Tensor]:
    """BPR over k sampled negatives plus L2 on the rows used: (loss to train on, the BPR term alone).

    ``pu`` [B, d] user rows; ``q`` [B, 1 + k, d] the positive item's row, then the negatives'.
    """
    if use_reference():
        return bpr_with_l2_reference(pu, q, reg)
    loss, bpr = _BPRWithL2.apply(pu, q, float(reg))
    return loss, bpr.detach()


def bpr_with_l2_reference(pu: Tensor, q: Tensor, reg: float) -> tuple[Tensor, Tensor]:
    s = (q * pu.unsqueeze(1)).sum(-1)
    bpr = -F.logsigmoid(s[:, :1] - s[:, 1:]).mean()
    loss = bpr + reg * (pu.pow(2).sum() + q.pow(2).sum()) / pu.shape[0]
    return loss, bpr.detach()


class _BPRWithL2(torch.autograd.Function):
    """The closed-form gradient needs two [B, 1 + k, d] temporaries where autograd's slice and
    broadcast backward create, zero-fill and copy many more. The gradient flows from ``loss`` only."""

    @staticmethod
    def forward(ctx, pu: Tensor, q: Tensor, reg: float) -> tuple[Tensor, Tensor]:
        s = (q * pu.unsqueeze(1)).sum(-1)  # [B, 1 + k]; broadcast beats tiny batched matmuls on CPU
        diff = s[:, :1] - s[:, 1:]
        bpr = -F.logsigmoid(diff).mean()
        n = pu.shape[0]
        # Two distinct tensors even without L2: returned twice, one tensor would carry only the
        # second output's gradient slot, and ``loss`` would train nothing.
        loss = bpr + reg * (pu.pow(2).sum() + q.pow(2).sum()) / n if reg else bpr.clone()
        ctx.save_for_backward(pu, q, diff)
        ctx.reg = reg
        return loss, bpr

    @staticmethod
    def backward(ctx, g_loss: Tensor, _g_bpr: Tensor) -> tuple[Tensor, Tensor, None]:
        pu, q, diff = ctx.saved_tensors
        n, k = diff.shape
        g_diff = torch.sigmoid(-diff).mul_(-g_loss / (n * k))  # d loss / d (s_pos - s_neg)
        g_s = torch.cat([g_diff.sum(1, keepdim=True), g_diff.neg_()], 1)  # [B, 1 + k]
        g_pu = (g_s.unsqueeze(2) * q).sum(1)
        g_q = g_s.unsqueeze(2) * pu.unsqueeze(1)
        if ctx.reg:
            scale = g_loss * (2.0 * ctx.reg / n)
            g_pu.add_(pu * scale)
            g_q.add_(q * scale)
        return g_pu, g_q, None


# --- weighted bag of rows (Mult-VAE's first layer) ---------------------------------------------------
def bag_product(table: Tensor, items: Tensor, offsets: Tensor, weights: Tensor, row_of: Tensor) -> Tensor:
    """``X @ table`` for sparse weighted rows given as EmbeddingBag lists (``items``, row ``offsets``,
    ``weights``; ``row_of`` names each entry's row). The fast gradient of ``table`` is a second
    EmbeddingBag over the transposed lists, not one scaled gradient row per entry."""
    if use_reference():
        return bag_product_reference(table, items, offsets, weights, row_of)
    return _BagProduct.apply(table, items, offsets, weights, row_of)


def bag_product_reference(table: Tensor, items: Tensor, offsets: Tensor, weights: Tensor,
                          row_of: Tensor) -> Tensor:
    return F.embedding_bag(items, table, offsets, mode="sum", per_sample_weights=weights)


def dropout_bag_product(table: Tensor, items: Tensor, offsets: Tensor, row_weights: Tensor, row_of: Tensor,
                        p: float, training: bool) -> Tensor:
    """``bag_product`` with each entry weighted by its row's weight, under dropout ``p``.

    On CPU the entries dropout zeroes are left out of the lists: they add nothing to either
    product, which are gathers of whole table rows and shorter without them. On a GPU the lists
    stay whole (cutting them would wait for the device).
    """
    if use_reference():
        return dropout_bag_product_reference(table, items, offsets, row_weights, row_of, p, training)
    if training and 0.0 < p < 1.0 and items.device.type == "cpu":
        kept = dropout_keep(items.shape, p).bool().nonzero().squeeze(1)  # the draws ``dropout`` makes
        row_of, items = row_of.index_select(0, kept), items.index_select(0, kept)
        weights = row_weights.index_select(0, row_of).mul_(1.0 / (1.0 - p))
        per_row = torch.bincount(row_of, minlength=offsets.numel())
        offsets = torch.cumsum(per_row, 0) - per_row
    else:
        weights = dropout(row_weights.index_select(0, row_of), p, training)
    return _BagProduct.apply(table, items, offsets, weights, row_of)


def dropout_bag_product_reference(table: Tensor, items: Tensor, offsets: Tensor, row_weights: Tensor,
                                  row_of: Tensor, p: float, training: bool) -> Tensor:
    weights = dropout_reference(row_weights[row_of], p, training)
    return bag_product_reference(table, items, offsets, weights, row_of)


class _BagProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: Tensor, items: Tensor, offsets: Tensor, weights: Tensor,
                row_of: Tensor) -> Tensor:
        ctx.save_for_backward(items, weights, row_of)
        ctx.n_items = table.shape[0]
        return F.embedding_bag(items, table, offsets, mode="sum", per_sample_weights=weights)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        items, weights, row_of = ctx.saved_tensors
        # The narrowest integer type that holds the ids sorts the same way, and faster.
        key_type = torch.int16 if ctx.n_items <= 2**15 else torch.int32
        order = torch.argsort(items.to(key_type), stable=True)
        per_item = torch.bincount(items, minlength=ctx.n_items)
        starts = torch.cumsum(per_item, 0) - per_item
        grad_table = F.embedding_bag(row_of.index_select(0, order), grad.contiguous(), starts, mode="sum",
                                     per_sample_weights=weights.index_select(0, order))
        return grad_table, None, None, None, None


# --- output layer and multinomial log-likelihood (Mult-VAE's decoder) --------------------------------
_ALIGN = 8  # output rows padded to a multiple of this many columns: MKL's SGEMM writes those faster


def output_logits(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``h @ weight.T + bias`` ([n, m])."""
    if use_reference():
        return output_logits_reference(h, weight, bias)
    return _padded_logits(h, weight, bias)[:, : weight.shape[0]]


def output_logits_reference(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    return F.linear(h, weight, bias)


def _padded_logits(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """The logits in a buffer whose rows are padded to a multiple of ``_ALIGN`` columns holding
    -inf, which take no share of a softmax and sort last; the product writes into the padded rows
    directly, so no padded copy of the weight is made."""
    n, m = h.shape[0], weight.shape[0]
    width = m + (-m % _ALIGN)
    buf = weight.new_empty(n, width)
    buf.copy_(F.pad(bias, (0, width - m), value=-math.inf).expand(n, width))
    buf[:, :m].addmm_(h, weight.T)
    return buf


def softmax_nll(h: Tensor, weight: Tensor, bias: Tensor, rows: Tensor, items: Tensor,
                counts: Tensor) -> Tensor:
    """Mean over rows of ``-Σᵢ xᵤᵢ log softmax(h Wᵀ + b)ᵤᵢ`` for binary rows given by their entries
    (``rows``, ``items``; ``counts`` per row). The softmax runs in ``weight``'s precision.

    The fast version allocates the [rows, items] matrix once: the softmax is taken in place and its
    backward writes ``softmax·count − x`` over it, where autograd keeps logits and log-softmax side
    by side and exponentiates again.
    """
    if use_reference():
        return softmax_nll_reference(h, weight, bias, rows, items, counts)
    return _SoftmaxNLL.apply(h, weight, bias, rows, items, counts)


def softmax_nll_reference(h: Tensor, weight: Tensor, bias: Tensor, rows: Tensor, items: Tensor,
                          counts: Tensor) -> Tensor:
    logp = F.log_softmax(F.linear(h.to(weight.dtype), weight, bias), 1)
    return -logp[rows, items].sum() / h.shape[0]


class _SoftmaxNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor, rows: Tensor, items: Tensor,
                counts: Tensor) -> Tensor:
        h = h.to(weight.dtype)  # under autocast the hidden layer may be half precision: softmax in full
        p = _padded_logits(h, weight, bias)
        torch.softmax(p, 1, out=p)  # row by row (max, exp, scale): safe in place
        flat = rows * p.shape[1] + items  # positions of the positives in p, for one-dimensional gathers
        ctx.save_for_backward(h, weight, p, flat, counts)
        # A positive whose probability underflows counts as the smallest normal float, not -inf.
        picked = p.view(-1).index_select(0, flat).clamp_(min=torch.finfo(p.dtype).tiny)
        return -picked.log_().sum() / h.shape[0]

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor | None, ...]:
        h, weight, p, flat, counts = ctx.saved_tensors
        scale = g / h.shape[0]
        grad = p.mul_((counts * scale)[:, None])
        grad.view(-1).index_add_(0, flat, -scale.expand(flat.numel()))
        grad = grad[:, : weight.shape[0]]  # the padding columns' gradient is zero: softmax there is 0
        need = ctx.needs_input_grad
        return (grad @ weight if need[0] else None, grad.T @ h if need[1] else None,
                grad.sum(0) if need[2] else None, None, None, None)
