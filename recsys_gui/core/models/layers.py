"""Blocks the neural families share: an MLP tower that can score a user×item grid cheaply, and init helpers.

Why a dedicated tower: NCF-style models score ``tower(concat(p_u, q_i))`` for every item. The first
layer is linear, so ``W [p; q] = W_u p + W_i q``: the user half is computed once per user and the
item half once per item, and only the (cheap) broadcast sum and the deeper layers run per pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.errors import ConfigError


def parse_layers(value: Sequence[int] | str) -> tuple[int, ...]:
    """``"128,64"`` or ``(128, 64)`` → ``(128, 64)``."""
    if isinstance(value, str):
        return tuple(int(v) for v in value.strip("()[] ").split(",") if v.strip())
    return tuple(int(v) for v in value)


def check_layers(value: Sequence[int] | str, owner: str) -> None:
    """A user-given tower must list at least one positive size."""
    sizes = parse_layers(value)
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"The 'layers' parameter of {owner} needs positive sizes. Got {value!r}.")


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU mask costs a quarter of the random draws.

    On CPU ``bernoulli_`` draws one 32-bit number per element and was a third of NeuMF's training
    step. Here one 64-bit draw gives four 15-bit uniforms (p is rounded to 1/32768); elsewhere,
    and in eval mode, this is ``nn.Dropout``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or self.p >= 1.0 or self.inplace:
            return F.dropout(x, self.p, self.training, self.inplace)
        return x * dropout_mask(x.shape, self.p, x.dtype)


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """Keep-mask scaled by 1/(1-p), from the global CPU generator (so ``manual_seed`` fixes it).

    ``bits >= t`` is computed as ``clamp(bits - (t - 1), 0, 1)`` in int16: torch's comparison and
    its bool-to-float cast are not vectorised on CPU (0.68 ms against 0.12 for a 4096 x 128 mask).
    """
    return dropout_keep(shape, p).to(dtype).mul_(1.0 / (1.0 - p))


def dropout_keep(shape: torch.Size | tuple[int, ...], p: float) -> Tensor:
    """The unscaled keep-mask of ``dropout_mask`` (the same draws): int16, 1 where kept."""
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()  # [0, 2**63): 4 × 15 uniform bits
    bits = words.view(torch.int16)[:n].view(shape).bitwise_and_(0x7FFF)
    return bits.sub_(round(p * 32768) - 1).clamp_(0, 1)  # 1 where bits >= round(p * 32768)


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


class Embedding(nn.Embedding):
    """``nn.Embedding`` whose CPU gradient is a zero table plus ``index_add_``.

    Torch's CPU ``embedding_dense_backward`` sorts the indices first: 0.52 ms against 0.17 for a
    4096-row batch of a 1682 x 64 table, and NeuMF takes four lookups a step. Same values and
    gradients (P1 figures of MF, NeuMF, MLP and ConvNCF unchanged to the last digit), same
    parameters and state dict; on GPU, with a padding row, ``max_norm`` or sparse gradients, and
    without autograd this is ``nn.Embedding``.
    """

    def forward(self, index: Tensor) -> Tensor:
        w = self.weight
        if (w.device.type != "cpu" or self.padding_idx is not None or self.max_norm is not None
                or self.sparse or not torch.is_grad_enabled()):
            return super().forward(index)
        return _RowLookup.apply(w, index)


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


def tanh(x: Tensor) -> Tensor:
    """``torch.tanh``; on CPU as ``2·sigmoid(2x) − 1`` (equal to 2e-7), because torch's CPU tanh ran
    at a quarter of sigmoid's speed on the AVX2 test machine (forward and backward of a 943 × 600
    activation: 3.2 ms against 1.6)."""
    if x.device.type != "cpu":
        return torch.tanh(x)
    return _SigmoidTanh.apply(x)


def init_embedding(emb: nn.Embedding, std: float = 0.01) -> None:
    """Small normal init (NCF, RecBole): large initial dot products saturate the sigmoid."""
    nn.init.normal_(emb.weight, 0.0, std)


def init_linear(layer: nn.Linear, kind: str = "xavier") -> None:
    """Xavier for tanh/sigmoid heads, Kaiming for ReLU stacks; zero biases either way."""
    if kind == "kaiming":
        nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    else:
        nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class Tower(nn.Module):
    """Dropout → Linear → ReLU per layer over ``concat(user_part, item_part)``."""

    def __init__(self, user_dim: int, item_dim: int, layers: Sequence[int], dropout: float) -> None:
        super().__init__()
        if not layers:
            raise ValueError("a tower needs at least one layer")
        self.user_dim, self.item_dim = user_dim, item_dim
        self.dropout = Dropout(dropout)
        self.first = nn.Linear(user_dim + item_dim, layers[0])
        rest: list[nn.Module] = []
        for a, b in pairwise(layers):
            rest += [Dropout(dropout), nn.Linear(a, b), nn.ReLU()]
        self.rest = nn.Sequential(*rest)
        self.out_dim = layers[-1]
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init_linear(m, "xavier")

    def forward(self, u: Tensor, i: Tensor) -> Tensor:
        """Per pair: ``u`` [N, du], ``i`` [N, di] → [N, out_dim] (training path, dropout active).

        The first layer on ``concat(u, i)`` as two products, which skips building the concatenation
        and splitting its gradient (a tenth of a CPU step); dropout on each half is the same draw.
        """
        w_u, w_i = self.first.weight[:, : self.user_dim], self.first.weight[:, self.user_dim :]
        h = torch.addmm(self.first.bias, self.dropout(u), w_u.T)
        h.addmm_(self.dropout(i), w_i.T)  # in place: an out-of-place addmm first copies h
        return self.rest(torch.relu(h))

    def grid(self, u: Tensor, i: Tensor) -> Tensor:
        """All pairs: ``u`` [B, du], ``i`` [C, di] → [B, C, out_dim]; inference only (no dropout)."""
        w_u = self.first.weight[:, : self.user_dim]
        w_i = self.first.weight[:, self.user_dim :]
        hu = u @ w_u.T + self.first.bias  # [B, h]
        hi = i @ w_i.T  # [C, h]
        h = torch.relu(hu.unsqueeze(1) + hi.unsqueeze(0))
        return self.rest(h)


def chunked_over_items(
    fn: Callable[[Tensor], Tensor], n_items: int, chunk: int, device: torch.device
) -> Tensor:
    """``cat([fn(items[a:b]) for chunks], dim=1)``: bounds the [B, C, ·] intermediates of grid scoring."""
    items = torch.arange(n_items, device=device)
    return torch.cat([fn(items[s : s + chunk]) for s in range(0, n_items, max(1, chunk))], dim=1)
