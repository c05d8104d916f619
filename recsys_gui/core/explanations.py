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

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recsys_gui.core.models.base import Recommender
from recsys_gui.core.models.baselines import EASE, ItemKNN

ReasonKind = Literal["contribution", "similarity"]
PAIRS_BUDGET = 1 << 22  # floats of one block of [users, recommended, history slots] reason values


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
def top_reasons(model: Recommender, history: Tensor, recommended: Tensor, n: int) -> TopReasons:
    """The ``n`` history items that explain each recommended item best.

    ``history`` [B, n_items] is what the model scored from (nonzero = a history item);
    ``recommended`` [B, R] dense item indices (-1 slots are skipped). Reasons are the history
    items with a positive share, best first, never the recommended item itself.

    Only candidates are looked at, never the whole catalogue: a row's own history items (EASE,
    similarity), or each recommended item's stored neighbours (ItemKNN, whose contributions are
    exactly the neighbours' votes). Rows go in blocks of similar history length, so padding the
    ragged histories costs little and memory stays near ``PAIRS_BUDGET``.
    """
    b, r = recommended.shape
    kind = reason_kind(model)
    n = max(0, min(int(n), model.n_items))
    dev = history.device
    items = torch.full((b, r, n), -1, dtype=torch.long, device=dev)
    shares = torch.zeros((b, r, n), device=dev)
    if kind is None or n == 0 or b * r == 0:
        return TopReasons(items, shares, kind)
    unit = None
    if kind == "similarity":
        emb = model.item_embeddings()
        assert emb is not None  # reason_kind said so
        unit = F.normalize(emb.detach().float(), dim=1)
    if isinstance(model, ItemKNN):
        widths = torch.full((b,), model.nbr_index.shape[1], device=dev)
    else:
        widths = (history != 0).sum(1)
    order = torch.argsort(widths, stable=True)
    sorted_widths = widths[order].clamp(min=1).cpu().numpy()
    lo = 0
    while lo < b:
        cost = np.arange(1, b - lo + 1) * sorted_widths[lo:] * r  # cells of a block of rows lo..lo+s-1
        size = max(1, int(np.searchsorted(cost, PAIRS_BUDGET, side="right")))
        rows = order[lo : lo + size]
        key, share, cand = _candidates(model, kind, unit, history[rows].float(), recommended[rows])
        if kind == "similarity":  # the share of positive similarity among the usable history items
            share = share / share.sum(2, keepdim=True).clamp(min=1e-12)
        m = min(n, key.shape[2])
        vals, pos = torch.topk(key, m, dim=2)
        keep = (vals > 0) & torch.isfinite(vals)
        items[rows, :, :m] = torch.where(keep, cand.gather(2, pos), torch.full_like(pos, -1))
        shares[rows, :, :m] = torch.where(keep, share.gather(2, pos), torch.zeros_like(vals))
        lo += size
    return TopReasons(items, shares, kind)


def packed_history(history: Tensor) -> tuple[Tensor, Tensor]:
    """Each row's history items as (item indices [B, L] right-padded with -1, their values [B, L])."""
    nonzero = history != 0
    rows, cols = nonzero.nonzero(as_tuple=True)  # row-major: each row's items in index order
    counts = nonzero.sum(1)
    width = max(1, int(counts.max())) if counts.numel() else 1
    place = torch.arange(rows.numel(), device=history.device) - (torch.cumsum(counts, 0) - counts)[rows]
    slots = torch.full((history.shape[0], width), -1, dtype=torch.long, device=history.device)
    values = torch.zeros((history.shape[0], width), dtype=torch.float32, device=history.device)
    slots[rows, place] = cols
    values[rows, place] = history[rows, cols].float()
    return slots, values


def _candidates(
    model: Recommender, kind: ReasonKind, unit: Tensor | None, history: Tensor, recommended: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """(ranking key, share, candidate item) [B, R, C] for one block of rows; unusable cells have key -inf."""
    targets = recommended.clamp(min=0)
    if isinstance(model, ItemKNN):  # score_j = Σ over j's neighbours i of weight_ij · h_i
        cand = model.nbr_index[targets]  # [B, R, k]
        rated = history.gather(1, cand.view(cand.shape[0], -1)).view_as(cand)
        key = _shares(model.nbr_weight[targets] * rated)
        unusable = rated == 0
    else:
        slots, values = packed_history(history)
        cand = slots.unsqueeze(1).expand(-1, targets.shape[1], -1)
        safe = slots.clamp(min=0)
        if unit is not None:  # similarity
            key = unit[targets] @ unit[safe].transpose(1, 2)  # [B, R, d] × [B, d, L]
        else:  # EASE: W[i, j] for the history items i and the recommended items j
            key = _shares(values.unsqueeze(1) * model.B[safe.unsqueeze(1), targets.unsqueeze(2)])
        unusable = cand < 0
    # padding, a missing recommendation and the recommended item itself are no reasons
    unusable = unusable | (cand == targets.unsqueeze(2)) | (recommended < 0).unsqueeze(2)
    share = key.clamp(min=0) if unit is not None else key
    return key.masked_fill(unusable, -torch.inf), share.masked_fill(unusable, 0.0), cand


def _shares(contrib: Tensor) -> Tensor:
    """Contributions [B, R, C] over their sum (the item's score); 0 where the score is 0."""
    total = contrib.sum(2, keepdim=True)
    return torch.where(total != 0, contrib / total.where(total != 0, torch.ones_like(total)), 0.0)
