"""Per-user losses of the families that train privately, written from the models' public parameters.

Each objective says which parameter tables are a user's own (row u belongs to user u: the user
embeddings), which shared tables are read by row (item embeddings: the loss gets the rows the user's
examples use, so a user's gradient on a table is a few rows, not a dense table), and treats every
other parameter as shared and dense (towers, heads, the VAE's layers). It draws each sampled user's
examples and gives the loss of ONE user as a pure function of the parameters, so ``torch.func`` can
take one gradient per user. The losses are the models' own objectives restricted to one user's
examples (mean over that user's examples), in plain torch ops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import functional_call
from torch.nn import functional as F

from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.training.privacy.sampling import UserSampler

# loss(dense shared params by name, shared table rows by name [r, d], own rows by name [d],
#      *one user's other example tensors) -> scalar
UserLoss = Callable[..., Tensor]


@dataclass
class UserExamples:
    """The examples of the sampled users: which rows of each shared table they read, and the rest."""

    rows: dict[str, Tensor]  # shared table name -> [U, r] row indices
    other: tuple[Tensor, ...]  # per-user tensors [U, ...] (labels, history rows)

SUPPORTED = ("mf", "nmf", "mlp", "vae")


@dataclass
class PrivateObjective:
    own_tables: tuple[str, ...]  # parameter names whose row u is user u's own vector
    row_tables: tuple[str, ...]  # shared tables the loss reads by row (UserExamples.rows)
    examples: Callable[[Tensor, UserSampler, int], UserExamples]
    loss: UserLoss
    after_step: Callable[[], None] | None = None  # schedules the model keeps (Mult-VAE's β)


def objective_for(model: Recommender) -> PrivateObjective:
    """The private objective of ``model``; a family or setting without one is refused by name."""
    name, cfg = model.name, model.config
    if name not in SUPPORTED:
        raise ConfigError(
            f"Private training ('dp_epsilon') is not available for {model.label}: its updates cannot be "
            f"bounded per user and accounted for. Use one of: {', '.join(SUPPORTED)}.")
    if name == "mf":
        if getattr(cfg, "loss", "bpr") != "bpr":
            raise ConfigError("Private training ('dp_epsilon') supports MF with loss=bpr only, not "
                              f"loss={cfg.loss}.")
        return PrivateObjective(("P.weight",), ("Q.weight",), _bpr_examples(cfg.negatives), _mf_loss(model))
    if name == "mlp":
        return PrivateObjective(("P.weight",), ("Q.weight",), _point_examples(cfg.negatives, ("Q.weight",)),
                                _mlp_loss(model))
    if name == "nmf":
        if cfg.pretrain_epochs:
            raise ConfigError("Private training ('dp_epsilon') cannot account for NeuMF pre-training: "
                              "set pretrain_epochs=0.")
        return PrivateObjective(("P_gmf.weight", "P_mlp.weight"), ("Q_gmf.weight", "Q_mlp.weight"),
                                _point_examples(cfg.negatives, ("Q_gmf.weight", "Q_mlp.weight")),
                                _neumf_loss(model))
    return PrivateObjective((), (), _row_examples, _vae_loss(model), after_step=lambda: model.step.add_(1))


# --- examples -----------------------------------------------------------------------------------
def _bpr_examples(k: int):
    def draw(users: Tensor, sampler: UserSampler, m: int) -> UserExamples:
        pos = sampler.positives(users, m)
        neg = sampler.negatives(users, (users.numel(), m, k))
        return UserExamples({"Q.weight": torch.cat([pos.unsqueeze(2), neg], 2).flatten(1)}, ())

    return draw


def _point_examples(k: int, tables: tuple[str, ...]):
    def draw(users: Tensor, sampler: UserSampler, m: int) -> UserExamples:
        pos = sampler.positives(users, m)
        neg = sampler.negatives(users, (users.numel(), m * k))
        items = torch.cat([pos, neg], 1)
        labels = torch.cat([torch.ones_like(pos, dtype=torch.float32),
                            torch.zeros_like(neg, dtype=torch.float32)], 1)
        return UserExamples(dict.fromkeys(tables, items), (labels,))

    return draw


def _row_examples(users: Tensor, sampler: UserSampler, m: int) -> UserExamples:
    return UserExamples({}, (sampler.rows(users),))


# --- losses -------------------------------------------------------------------------------------
def _mf_loss(model) -> UserLoss:
    reg = float(model.config.reg)

    k = int(model.config.negatives)

    def loss(shared: dict[str, Tensor], rows: dict[str, Tensor], own: dict[str, Tensor]) -> Tensor:
        pu = own["P.weight"]  # [d]
        q = rows["Q.weight"].unflatten(0, (-1, 1 + k))  # [m, 1 + k, d]: the positive's row, then negatives'
        s = (q * pu).sum(-1)
        bpr = -F.logsigmoid(s[:, :1] - s[:, 1:]).mean()
        m = q.shape[0]  # MF's L2 on the rows a batch uses, per example: as in kernels.bpr_with_l2
        return bpr + reg * (m * pu.pow(2).sum() + q.pow(2).sum()) / m

    return loss


def _tower(model_tower, shared: dict[str, Tensor], prefix: str, u: Tensor, i: Tensor) -> Tensor:
    """The tower's training path (dropout, first layer on concat(u, i), the rest) from ``shared``."""
    x = F.dropout(torch.cat([u, i], -1), model_tower.dropout.p, model_tower.training)
    h = torch.relu(F.linear(x, shared[f"{prefix}first.weight"], shared[f"{prefix}first.bias"]))
    rest = {k[len(prefix) + 5:]: v for k, v in shared.items() if k.startswith(f"{prefix}rest.")}
    return functional_call(model_tower.rest, rest, (h,))


def _mlp_loss(model) -> UserLoss:
    def loss(shared: dict[str, Tensor], rows: dict[str, Tensor], own: dict[str, Tensor],
             labels: Tensor) -> Tensor:
        n = labels.shape[0]
        u = own["P.weight"].expand(n, -1)
        h = _tower(model.tower, shared, "tower.", u, rows["Q.weight"])
        logits = F.linear(h, shared["head.weight"], shared["head.bias"]).squeeze(-1)
        return F.binary_cross_entropy_with_logits(logits, labels)

    return loss


def _neumf_loss(model) -> UserLoss:
    def loss(shared: dict[str, Tensor], rows: dict[str, Tensor], own: dict[str, Tensor],
             labels: Tensor) -> Tensor:
        n = labels.shape[0]
        gmf = own["P_gmf.weight"] * rows["Q_gmf.weight"]
        u = own["P_mlp.weight"].expand(n, -1)
        mlp = _tower(model.tower, shared, "tower.", u, rows["Q_mlp.weight"])
        logits = F.linear(torch.cat([gmf, mlp], -1), shared["head.weight"], shared["head.bias"]).squeeze(-1)
        return F.binary_cross_entropy_with_logits(logits, labels)

    return loss


def _vae_loss(model) -> UserLoss:
    """Mult-VAE/DAE on one user's row: multinomial NLL of the row plus β·KL (β read per step)."""
    latent, variational = model.config.latent, model.config.variant == "vae"

    def loss(shared: dict[str, Tensor], rows: dict[str, Tensor], own: dict[str, Tensor],
             row: Tensor) -> Tensor:
        x = F.dropout(F.normalize(row, dim=0), model.drop.p, model.training)
        first = torch.tanh(x @ shared["enc_items"] + shared["enc_bias"])
        out = F.linear(first, shared["enc_out.weight"], shared["enc_out.bias"])
        if variational:
            mu, logvar = out[:latent], out[latent:]
            z = model.sample(mu, logvar)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
        else:
            z, kl = torch.tanh(out), torch.zeros((), device=row.device)
        hidden = torch.tanh(F.linear(z, shared["dec.weight"], shared["dec.bias"]))
        logp = F.log_softmax(F.linear(hidden, shared["dec_out.weight"], shared["dec_out.bias"]), 0)
        return -(logp * row).sum() + model.beta() * kl

    return loss
