"""Why an item was recommended: the history items that contributed most, with their share.

Two kinds of reason, never mixed up:

* ``"contribution"`` (EASE, ItemKNN): the score is a sum over the history, ``score_j = Σ_i h_i·W_ij``,
  so ``h_i·W_ij`` is exactly what history item ``i`` added to item ``j``; its share is that
  contribution over the score, and the contributions of all history items add up to the score.
* ``"similarity"`` (models with item embeddings): the history items whose embeddings are closest
  (cosine) to the recommended item's. The share is the item's part of the positive similarity
  mass over the history: a ranking aid, not a decomposition of the score.

Models with neither (popularity) have no reasons. Everything works on blocks of (history row,
recommended item) pairs at once: one gather or matrix product per block, one ``topk``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from recsys_gui.core.models.base import Recommender
from recsys_gui.core.models.baselines import EASE, ItemKNN

ReasonKind = Literal["contribution", "similarity"]
PAIRS_BUDGET = 1 << 22  # floats of one block of [pairs, n_items] reason values


@dataclass(frozen=True)
class TopReasons:
    """The ``n`` best reasons of each (row, recommended item) pair: dense item indices (-1 where a
    row has fewer history items) and shares, both [B, R, n]; ``kind`` is None for no reasons."""

    items: Tensor
    shares: Tensor
    kind: ReasonKind | None


def reason_kind(model: Recommender) -> ReasonKind | None:
    """How ``model``'s recommendations can be explained, or None when they cannot."""
    if isinstance(model, (EASE, ItemKNN)):
        return "contribution"
    if model.item_embeddings() is not None:
        return "similarity"
    return None


def item_weight_columns(model: Recommender, targets: Tensor) -> Tensor:
    """``W[:, targets].T`` [R, n_items] of a linear item-to-item model (score = history @ W)."""
    if isinstance(model, EASE):
        return model.B.index_select(1, targets).t()
    if isinstance(model, ItemKNN):
        # column j of W holds j's neighbours: nbr_index[j] with weights nbr_weight[j]
        out = torch.zeros(targets.numel(), model.n_items, device=targets.device)
        return out.scatter_add_(1, model.nbr_index[targets], model.nbr_weight[targets])
    raise TypeError(f"{model.label} is not a sum over history items; its scores have no exact contributions.")


@torch.no_grad()
def contributions(model: Recommender, history: Tensor, targets: Tensor) -> Tensor:
    """What each item of ``history`` [M, n_items] adds to the score of ``targets`` [M]: [M, n_items].

    Exact for EASE and ItemKNN: row m sums to the model's score of item ``targets[m]`` for
    history row m (items outside the history contribute 0).
    """
    return history * item_weight_columns(model, targets)


@torch.no_grad()
def similarities(model: Recommender, targets: Tensor) -> Tensor:
    """Cosine similarity [M, n_items] of each target item's embedding to every item's."""
    emb = model.item_embeddings()
    if emb is None:
        raise TypeError(f"{model.label} has no item embeddings to compare.")
    unit = F.normalize(emb.detach().float(), dim=1)
    return unit.index_select(0, targets) @ unit.t()


@torch.no_grad()
def top_reasons(model: Recommender, history: Tensor, recommended: Tensor, n: int) -> TopReasons:
    """The ``n`` history items that explain each recommended item best.

    ``history`` [B, n_items] is what the model scored from (nonzero = a history item);
    ``recommended`` [B, R] dense item indices (-1 slots are skipped). Reasons are the history
    items with a positive share, best first; pairs are handled in blocks of bounded memory.
    """
    b, r = recommended.shape
    kind = reason_kind(model)
    n = max(0, min(int(n), model.n_items))
    dev = history.device
    items = torch.full((b, r, n), -1, dtype=torch.long, device=dev)
    shares = torch.zeros((b, r, n), device=dev)
    if kind is None or n == 0 or b * r == 0:
        return TopReasons(items, shares, kind)
    flat_items, flat_shares = items.view(b * r, n), shares.view(b * r, n)
    rows = torch.arange(b, device=dev).repeat_interleave(r)
    targets = recommended.reshape(-1)
    step = max(1, PAIRS_BUDGET // max(model.n_items, 1))
    for lo in range(0, b * r, step):
        t = targets[lo : lo + step]
        valid = t >= 0
        h = history.index_select(0, rows[lo : lo + step]).float()
        key, share = _reason_values(model, kind, h, t.clamp(min=0))
        key = key.masked_fill((h == 0) | ~valid.unsqueeze(1), -torch.inf)
        key.scatter_(1, t.clamp(min=0).view(-1, 1), -torch.inf)  # an item is not its own reason
        vals, idx = torch.topk(key, n, dim=1)
        keep = (vals > 0) & torch.isfinite(vals)
        flat_items[lo : lo + step] = torch.where(keep, idx, torch.full_like(idx, -1))
        flat_shares[lo : lo + step] = torch.where(keep, share.gather(1, idx), torch.zeros_like(vals))
    return TopReasons(items, shares, kind)


def _reason_values(
    model: Recommender, kind: ReasonKind, history: Tensor, targets: Tensor
) -> tuple[Tensor, Tensor]:
    """(ranking key, share) per history item for each pair of a block."""
    if kind == "contribution":
        c = contributions(model, history, targets)
        total = c.sum(1, keepdim=True)
        share = torch.where(
            total != 0, c / total.where(total != 0, torch.ones_like(total)), torch.zeros_like(c)
        )
        return share, share
    sim = similarities(model, targets)
    positive = (sim.clamp(min=0) * (history != 0)).scatter_(1, targets.view(-1, 1), 0.0)
    mass = positive.sum(1, keepdim=True).clamp(min=1e-12)
    return sim, positive / mass
