"""Ranking metrics on a batch of top-k hit matrices, per user, with the definitions of PROTOCOLS.md.

Each function takes ``hits`` [B, k] (1.0 where the ranked item is relevant, ranks 1..k) and
``n_rel`` [B] (the user's number of relevant items) and returns one value per user.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from recsys_gui.core.errors import ConfigError

MetricFn = Callable[[Tensor, Tensor], Tensor]


def _discounts(k: int, device: torch.device) -> Tensor:
    return 1.0 / torch.log2(torch.arange(2, k + 2, device=device, dtype=torch.float64))


def precision(hits: Tensor, n_rel: Tensor) -> Tensor:
    return hits.sum(1) / hits.shape[1]


def recall(hits: Tensor, n_rel: Tensor) -> Tensor:
    return hits.sum(1) / n_rel.clamp(min=1)


def hit(hits: Tensor, n_rel: Tensor) -> Tensor:
    return (hits.sum(1) > 0).to(hits.dtype)


def mrr(hits: Tensor, n_rel: Tensor) -> Tensor:
    ranks = torch.arange(1, hits.shape[1] + 1, device=hits.device, dtype=hits.dtype)
    first = torch.where(hits > 0, ranks, torch.full_like(hits, math.inf)).min(1).values
    return torch.where(torch.isinf(first), torch.zeros_like(first), 1.0 / first)


def ndcg(hits: Tensor, n_rel: Tensor) -> Tensor:
    k = hits.shape[1]
    disc = _discounts(k, hits.device).to(hits.dtype)
    dcg = (hits * disc).sum(1)
    ideal_cum = torch.cumsum(disc, 0)
    idcg = ideal_cum[(n_rel.clamp(min=1, max=k) - 1).long()]
    return dcg / idcg


def average_precision(hits: Tensor, n_rel: Tensor) -> Tensor:
    """MAP@k as RecBole defines it: sum of precision at each hit over min(#relevant, k)."""
    k = hits.shape[1]
    ranks = torch.arange(1, k + 1, device=hits.device, dtype=hits.dtype)
    prec_at = torch.cumsum(hits, 1) / ranks
    return (prec_at * hits).sum(1) / n_rel.clamp(min=1, max=k).to(hits.dtype)


RANKING_METRICS: dict[str, MetricFn] = {
    "precision": precision, "recall": recall, "hit": hit, "mrr": mrr, "ndcg": ndcg, "map": average_precision,
}
ALIASES = {"hr": "hit", "hitrate": "hit", "p": "precision", "r": "recall"}
# Metrics over the whole top-k lists rather than per user (beyond accuracy), and over all items.
LIST_METRICS = ("coverage", "gini", "novelty", "ild", "arp")
FULL_METRICS = ("auc",)
RATING_METRICS = ("rmse", "mae")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    k: int | None
    higher_is_better: bool = True

    @property
    def key(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"


def parse_metric(text: str) -> MetricSpec:
    """'ndcg@10' → MetricSpec('ndcg', 10). Rating metrics take no k."""
    raw = text.strip().lower()
    name, _, k = raw.partition("@")
    name = ALIASES.get(name, name)
    if name in RATING_METRICS:
        return MetricSpec(name, None, higher_is_better=False)
    if name == "auc":
        return MetricSpec(name, None)
    known = sorted([*RANKING_METRICS, *LIST_METRICS, *FULL_METRICS, *RATING_METRICS])
    if name not in RANKING_METRICS and name not in LIST_METRICS:
        raise ConfigError(f"Unknown metric '{text}'. Known metrics: {', '.join(known)} (e.g. ndcg@10).")
    if not k:
        raise ConfigError(f"Metric '{text}' needs a cut-off, e.g. {name}@10.")
    try:
        kk = int(k)
    except ValueError:
        raise ConfigError(f"Metric '{text}': the cut-off after '@' must be a whole number.") from None
    if kk < 1:
        raise ConfigError(f"Metric '{text}': the cut-off must be at least 1.")
    better = name not in ("arp", "gini")
    return MetricSpec(name, kk, higher_is_better=better)


def parse_metrics(items: Sequence[str] | str) -> list[MetricSpec]:
    if isinstance(items, str):
        items = [s for s in items.replace(" ", ",").split(",") if s]
    out, seen = [], set()
    for s in items:
        m = parse_metric(s)
        if m.key not in seen:
            out.append(m)
            seen.add(m.key)
    return out


def gini(exposure: Tensor) -> float:
    """Gini coefficient of item exposure counts (0 = every item equally recommended)."""
    x = torch.sort(exposure.double()).values
    n = x.numel()
    if n == 0 or float(x.sum()) == 0:
        return 0.0
    idx = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    return float(((2 * idx - n - 1) * x).sum() / (n * x.sum()))
