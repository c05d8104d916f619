"""One step of user-level DP-SGD: per-user gradients, per-user clipping, Gaussian noise.

For the sampled users U (Poisson, rate q) the gradient on the shared parameters is

    g = ( Σ_u clip_C(∇_shared L_u) + N(0, σ²C²·I) ) / (q·N)

where ``L_u`` is user u's loss on that user's bounded set of examples, ``clip_C`` scales a vector
down to norm C over ALL shared parameters together, N is the number of users and q·N the expected
batch (the divisor must not depend on who was sampled). A user's own vector gets the gradient of
that user's loss alone, unclipped and without noise (joint DP, see the package docstring).

Per-user gradients come from ``torch.func`` (vmap of grad over users). A shared embedding table is
differentiated through the rows a user's examples read: the user's gradient on the table is those
row gradients added into their rows, so its norm is taken after summing rows that repeat an item,
and the clipped sum is one ``index_add_``; no user ever holds a dense copy of a table. Dense shared
parameters are handled in chunks of users so that memory stays at ``chunk × parameters`` floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import grad_and_value, vmap

from recsys_gui.core.training.privacy.objectives import PrivateObjective, UserExamples
from recsys_gui.core.training.privacy.sampling import UserSampler

CHUNK_FLOATS = 2**25  # per-user gradients held at once: 128 MiB of float32


@dataclass
class PerUserGradients:
    dense: dict[str, Tensor]  # dense shared parameter -> [U, *shape]
    rows: dict[str, Tensor]  # shared table -> [U, r, d], the gradient on the rows examples.rows names
    own: dict[str, Tensor]  # own table -> [U, d]
    losses: Tensor  # [U]


def split_parameters(model: nn.Module, objective: PrivateObjective) -> tuple[dict[str, nn.Parameter], ...]:
    """(dense shared, row-read shared tables, own tables) trainable parameters by name."""
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    own = {k: params[k] for k in objective.own_tables}
    tables = {k: params[k] for k in objective.row_tables}
    dense = {k: p for k, p in params.items() if k not in own and k not in tables}
    return dense, tables, own


def per_user_gradients(objective: PrivateObjective, dense: dict[str, Tensor], tables: dict[str, Tensor],
                       own: dict[str, Tensor], users: Tensor, examples: UserExamples) -> PerUserGradients:
    """Each user's gradient of that user's loss: on the dense shared parameters, on the table rows the
    user's examples read, and on the user's own rows."""
    own_rows = {k: t.detach()[users] for k, t in own.items()}
    rows = {k: tables[k].detach()[idx] for k, idx in examples.rows.items()}  # [U, r, d]
    fn = vmap(grad_and_value(objective.loss, argnums=(0, 1, 2)),
              in_dims=(None, 0, 0, *([0] * len(examples.other))), randomness="different")
    (g_dense, g_rows, g_own), losses = fn({k: p.detach() for k, p in dense.items()}, rows, own_rows,
                                          *examples.other)
    return PerUserGradients(g_dense, g_rows, g_own, losses)


def row_norms_squared(row_grads: Tensor, index: Tensor, n_rows: int) -> Tensor:
    """Per user, the squared norm of ``row_grads`` [U, r, d] added into a table at ``index`` [U, r]:
    rows a user reads twice (an item drawn twice) are summed before squaring."""
    n_users = index.shape[0]
    keys = (torch.arange(n_users, device=index.device).unsqueeze(1) * n_rows + index).flatten()
    unique, inverse = torch.unique(keys, return_inverse=True)
    summed = row_grads.new_zeros(unique.numel(), row_grads.shape[-1])
    summed.index_add_(0, inverse, row_grads.flatten(0, 1))
    out = row_grads.new_zeros(n_users)
    return out.index_add_(0, unique // n_rows, summed.pow(2).sum(1))


def clip_factors(g: PerUserGradients, examples: UserExamples, tables: dict[str, Tensor],
                 clip_norm: float) -> Tensor:
    """Per user: min(1, C / ‖g_u‖) with the norm taken over all shared parameters together."""
    sq = g.losses.new_zeros(g.losses.shape[0])
    for gk in g.dense.values():
        sq = sq + gk.flatten(1).pow(2).sum(1)
    for k, gk in g.rows.items():
        sq = sq + row_norms_squared(gk, examples.rows[k], tables[k].shape[0])
    return (clip_norm / (torch.sqrt(sq) + 1e-12)).clamp(max=1.0)


class PrivateStep:
    """Computes the noisy clipped gradient of one step and writes it into the parameters' ``.grad``."""

    def __init__(self, model: nn.Module, objective: PrivateObjective, sampler: UserSampler, *,
                 clip_norm: float, noise_multiplier: float, examples_per_user: int, n_users: int,
                 seed: int) -> None:
        self.model, self.objective, self.sampler = model, objective, sampler
        self.dense, self.tables, self.own = split_parameters(model, objective)
        self.clip_norm, self.sigma, self.m = float(clip_norm), float(noise_multiplier), int(examples_per_user)
        self.expected_users = max(sampler.sample_rate * n_users, 1e-12)
        n_dense = sum(p.numel() for p in self.dense.values())
        self.chunk = max(1, CHUNK_FLOATS // max(n_dense, 1))
        device = next(model.parameters()).device
        self.noise_gen = torch.Generator(device).manual_seed(seed + 1)

    @property
    def shared(self) -> dict[str, nn.Parameter]:
        return {**self.dense, **self.tables}

    def clipped_sum(self, users: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
        """(Σ_u clip_C(shared gradient of u), own-table gradients, Σ_u loss) over ``users``, no noise."""
        summed = {k: torch.zeros_like(p) for k, p in self.shared.items()}
        own_grads = {k: torch.zeros_like(p) for k, p in self.own.items()}
        loss_sum = next(iter(summed.values())).new_zeros(())
        examples = self.objective.examples(users, self.sampler, self.m)
        for start in range(0, users.numel(), self.chunk):
            part = slice(start, start + self.chunk)
            ex = UserExamples({k: v[part] for k, v in examples.rows.items()},
                              tuple(e[part] for e in examples.other))
            g = per_user_gradients(self.objective, self.dense, self.tables, self.own, users[part], ex)
            factor = clip_factors(g, ex, self.tables, self.clip_norm)
            for k, gk in g.dense.items():
                summed[k] += torch.tensordot(factor, gk, dims=1)
            for k, gk in g.rows.items():
                weighted = (gk * factor.view(-1, 1, 1)).flatten(0, 1)
                summed[k].index_add_(0, ex.rows[k].flatten(), weighted)
            for k, gk in g.own.items():
                own_grads[k].index_add_(0, users[part], gk)
            loss_sum += g.losses.detach().sum()
        return summed, own_grads, loss_sum

    def gradients(self, users: Tensor) -> Tensor:
        """Set ``.grad`` of every trainable parameter for this step; returns the mean user loss."""
        summed, own_grads, loss_sum = self.clipped_sum(users)
        scale = 1.0 / self.expected_users
        for k, p in self.shared.items():
            noise = torch.randn(p.shape, generator=self.noise_gen, device=p.device, dtype=p.dtype)
            p.grad = (summed[k] + noise * (self.sigma * self.clip_norm)) * scale
        for k, p in self.own.items():
            p.grad = own_grads[k] * scale
        return loss_sum / max(users.numel(), 1)

    def __call__(self, users: Tensor, optimizers: list[torch.optim.Optimizer]) -> dict[str, Tensor]:
        loss = self.gradients(users)
        for opt in optimizers:
            opt.step()
            opt.zero_grad(set_to_none=True)
        if self.objective.after_step is not None:
            self.objective.after_step()
        return {"loss": loss}
