"""Every metric the app knows (FAMILIES: name, label, direction, cut-off) and the per-user ranking metrics.

FAMILIES is the single source for metric names, their order, labels and whether higher is better;
the CLI, the trainer's early stopping and the GUI pages read it rather than keeping their own lists.

The ranking metrics follow the definitions of PROTOCOLS.md. Each takes ``hits`` [B, k] (1.0 where
the ranked item is relevant, ranks 1..k) and ``n_rel`` [B] (the user's number of relevant items)
and returns one value per user.
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


def f1(hits: Tensor, n_rel: Tensor) -> Tensor:
    """Per-user harmonic mean of precision and recall at k: 2PR/(P+R), 0 for a user with no hit."""
    p, r = precision(hits, n_rel), recall(hits, n_rel)
    total = p + r
    return torch.where(total > 0, 2 * p * r / total, torch.zeros_like(total))


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


@dataclass(frozen=True)
class MetricFamily:
    """One metric family: its user-facing label, which way is better, and how it is computed.

    ``group`` says how: "ranking" per user from the top-k hits (``per_user`` computes it), "beyond"
    over the whole top-k lists (beyond accuracy), "full" over every item (AUC), "rating" on predicted
    ratings. Ranking and beyond-accuracy metrics need a cut-off (ndcg@10); the others take none.
    """

    name: str
    label: str
    group: str
    higher_is_better: bool = True
    per_user: MetricFn | None = None

    @property
    def takes_k(self) -> bool:
        return self.group in ("ranking", "beyond")


# The one list of metrics: every other list, direction and label in the app comes from here.
# Order is the order users see them in (plots, tables, menus).
FAMILIES: dict[str, MetricFamily] = {
    f.name: f
    for f in (
        MetricFamily("ndcg", "nDCG", "ranking", per_user=ndcg),
        MetricFamily("recall", "Recall", "ranking", per_user=recall),
        MetricFamily("precision", "Precision", "ranking", per_user=precision),
        MetricFamily("f1", "F1", "ranking", per_user=f1),
        MetricFamily("hit", "Hit rate", "ranking", per_user=hit),
        MetricFamily("mrr", "MRR", "ranking", per_user=mrr),
        MetricFamily("map", "MAP", "ranking", per_user=average_precision),
        MetricFamily("coverage", "Catalogue coverage", "beyond"),
        MetricFamily("gini", "Gini of exposure (0 = even)", "beyond", higher_is_better=False),
        MetricFamily("novelty", "Novelty (bits)", "beyond"),
        MetricFamily("ild", "Intra-list diversity", "beyond"),
        MetricFamily("arp", "Average recommended popularity", "beyond", higher_is_better=False),
        MetricFamily("auc", "AUC", "full"),
        MetricFamily("rmse", "RMSE", "rating", higher_is_better=False),
        MetricFamily("mae", "MAE", "rating", higher_is_better=False),
    )
}
ALIASES = {"hr": "hit", "hitrate": "hit", "p": "precision", "r": "recall"}


def _names(group: str) -> tuple[str, ...]:
    return tuple(f.name for f in FAMILIES.values() if f.group == group)


def ranking_metric_names() -> tuple[str, ...]:
    """Accuracy metrics computed per user from the top-k hits: ndcg, recall, precision, f1, hit, mrr, map."""
    return _names("ranking")


def beyond_accuracy_metric_names() -> tuple[str, ...]:
    """Metrics over the whole top-k lists: coverage, gini, novelty, ild, arp."""
    return _names("beyond")


def rating_metric_names() -> tuple[str, ...]:
    """Errors on predicted ratings (lower is better): rmse, mae."""
    return _names("rating")


# What a run is evaluated on when nobody asks for more. ILD is left out of the beyond-accuracy
# defaults: it needs an item basis and a k x k similarity per list; ask for it by name.
DEFAULT_METRICS = ("ndcg@10", "recall@10", "mrr@10", "hit@10", "precision@10", "f1@10", "map@10")
DEFAULT_BEYOND_ACCURACY = ("coverage", "gini", "novelty", "arp")

# The evaluator's lookup tables, derived from FAMILIES.
RANKING_METRICS: dict[str, MetricFn] = {n: f.per_user for n, f in FAMILIES.items() if f.per_user is not None}
LIST_METRICS = beyond_accuracy_metric_names()
FULL_METRICS = _names("full")
RATING_METRICS = rating_metric_names()


def metric_family(key: str) -> MetricFamily:
    """The family of a metric name or key, any case, aliases allowed: 'NDCG@10', 'hr@5', 'rmse'."""
    name = key.strip().lower().partition("@")[0]
    family = FAMILIES.get(ALIASES.get(name, name))
    if family is None:
        known = ", ".join(sorted(FAMILIES))
        raise ConfigError(f"Unknown metric '{key}'. Known metrics: {known} (e.g. ndcg@10).")
    return family


def higher_is_better(key: str) -> bool:
    """False for errors and popularity concentration (rmse, mae, gini@10, arp@10), True for the rest."""
    return metric_family(key).higher_is_better


@dataclass(frozen=True)
class MetricSpec:
    name: str
    k: int | None
    higher_is_better: bool = True

    @property
    def key(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"


def parse_metric(text: str) -> MetricSpec:
    """'ndcg@10' → MetricSpec('ndcg', 10). Rating metrics and AUC take no k."""
    family = metric_family(text)
    _, _, k = text.strip().partition("@")
    if not family.takes_k:
        return MetricSpec(family.name, None, higher_is_better=family.higher_is_better)
    if not k:
        raise ConfigError(f"Metric '{text}' needs a cut-off, e.g. {family.name}@10.")
    try:
        kk = int(k)
    except ValueError:
        raise ConfigError(f"Metric '{text}': the cut-off after '@' must be a whole number.") from None
    if kk < 1:
        raise ConfigError(f"Metric '{text}': the cut-off must be at least 1.")
    return MetricSpec(family.name, kk, higher_is_better=family.higher_is_better)


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
