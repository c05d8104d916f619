"""Blocks the neural families share: an MLP tower that can score a user×item grid cheaply, and init helpers.

Why a dedicated tower: NCF-style models score ``tower(concat(p_u, q_i))`` for every item. The first
layer is linear, so ``W [p; q] = W_u p + W_i q``: the user half is computed once per user and the
item half once per item, and only the (cheap) broadcast sum and the deeper layers run per pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import kernels


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
    """``nn.Dropout`` through ``kernels.dropout`` (a cheaper CPU mask; same rate and seeding)."""

    def forward(self, x: Tensor) -> Tensor:
        if self.inplace:
            return super().forward(x)
        return kernels.dropout(x, self.p, self.training)


class Embedding(nn.Embedding):
    """``nn.Embedding`` through ``kernels.embedding`` (a cheaper CPU gradient); same parameters and
    state dict. With a padding row, ``max_norm`` or sparse gradients this is ``nn.Embedding``."""

    def forward(self, index: Tensor) -> Tensor:
        if self.padding_idx is not None or self.max_norm is not None or self.sparse:
            return super().forward(index)
        return kernels.embedding(self.weight, index)


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
        and splitting its gradient; dropout on each half is the same draw.
        """
        w_u, w_i = self.first.weight[:, : self.user_dim], self.first.weight[:, self.user_dim :]
        h = torch.addmm(self.first.bias, self.dropout(u), w_u.T)
        x_i = self.dropout(i)
        if torch.is_autocast_enabled(h.device.type):  # in-place addmm is outside autocast's casting rules
            h = torch.addmm(h, x_i, w_i.T)
        else:
            h.addmm_(x_i, w_i.T)  # in place: an out-of-place addmm first copies h
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
