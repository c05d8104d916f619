"""The statistics a report states: intervals of means, groups of seeds, and paired tests with Holm.

A comparison of k runs makes k(k-1)/2 paired tests; without a correction some "significant"
difference turns up by chance alone, so every p-value in a report's matrix is Holm-adjusted
across all the pairs it shows (Holm controls the family-wise error like Bonferroni, with more
power).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    mean: float
    lower: float
    upper: float
    n: int

    def text(self) -> str:
        if self.n < 2 or not math.isfinite(self.lower):
            return f"{self.mean:.4f}"
        return f"{self.mean:.4f} [{self.lower:.4f}, {self.upper:.4f}]"


def mean_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Mean with its Student-t confidence interval (NaN bounds with fewer than two values)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(v.mean())
    if v.size < 2:
        return Interval(mean, float("nan"), float("nan"), int(v.size))
    half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return Interval(mean, mean - half, mean + half, int(v.size))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (NaN stays NaN and is not counted)."""
    p = np.asarray(pvalues, dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, np.nan)
    m = ok.size
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


@dataclass(frozen=True)
class PairTest:
    a: str
    b: str
    users: int
    mean_diff: float  # a − b
    t_p: float
    wilcoxon_p: float
    t_p_holm: float = float("nan")
    wilcoxon_p_holm: float = float("nan")
    reason: str = ""  # why the pair was not tested


def paired_matrix(per_user: Mapping[str, Any], groups: Mapping[str, str], metric: str) -> list[PairTest]:
    """Paired tests of ``metric`` for every pair of runs, Holm-adjusted across the pairs tested.

    ``per_user`` maps a run to its per-user frame (a ``user`` column and one column per metric, or
    None); ``groups`` maps a run to what makes users comparable (its data fingerprint and split):
    runs of different groups rank different users and are not paired.
    """
    from recsys_gui.core.run_evaluation import paired_tests

    runs = list(per_user)
    tests: list[PairTest] = []
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            fa, fb = per_user[a], per_user[b]
            nan = float("nan")
            if fa is None or fb is None or metric not in fa or metric not in fb:
                tests.append(PairTest(a, b, 0, nan, nan, nan, reason=f"no per-user {metric}"))
                continue
            if groups.get(a) != groups.get(b):
                tests.append(PairTest(a, b, 0, nan, nan, nan, reason="different data or split"))
                continue
            joined = fa[["user", metric]].merge(fb[["user", metric]], on="user", suffixes=("_a", "_b"))
            if len(joined) < 2:
                tests.append(PairTest(a, b, len(joined), nan, nan, nan, reason="fewer than two common users"))
                continue
            r = paired_tests(joined[f"{metric}_a"].to_numpy(float), joined[f"{metric}_b"].to_numpy(float))
            tests.append(PairTest(a, b, r["users"], r["mean_diff"], r["t_p"], r["wilcoxon_p"]))
    t_adj = holm([t.t_p for t in tests])
    w_adj = holm([t.wilcoxon_p for t in tests])
    return [
        PairTest(t.a, t.b, t.users, t.mean_diff, t.t_p, t.wilcoxon_p, ta, wa, t.reason)
        for t, ta, wa in zip(tests, t_adj, w_adj, strict=True)
    ]


def seed_groups(specs: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Runs whose settings differ only in the seed (and the name), in groups of at least two."""
    keyed: dict[str, list[str]] = {}
    for run, spec in specs.items():
        d = dict(spec)
        d.pop("name", None)
        d["train"] = {k: v for k, v in dict(d.get("train") or {}).items() if k != "seed"}
        keyed.setdefault(json.dumps(d, sort_keys=True, default=str), []).append(run)
    return [runs for runs in keyed.values() if len(runs) > 1]
