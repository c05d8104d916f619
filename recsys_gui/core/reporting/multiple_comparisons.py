"""Pairwise paired tests across any number of runs, Holm-corrected, with repeated seeds merged.

Comparing k runs makes k(k-1)/2 tests: at α = 0.05 some "significant" gap turns up by chance alone
unless the p-values are corrected over all the pairs (Holm: the family-wise error of Bonferroni,
with more power). A model trained with several seeds is one arm: its runs are paired with the other
model's runs of the same seed (each seed draws its own split), and each user's values are averaged
over those seeds before the test, so a verdict rests on seeds as well as users.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recsys_gui.core.reporting.stats import holm, seed_groups

__all__ = ["ALPHA", "Arm", "PairCell", "arms_of", "holm", "load_per_user", "pairwise_matrix"]

ALPHA = 0.05


@dataclass(frozen=True)
class Arm:
    """One contestant: a run, or the runs of one spec over several seeds (``seeds[i]`` is ``runs[i]``'s)."""

    label: str
    runs: tuple[str, ...]
    seeds: tuple[Any, ...]
    comparable: tuple[str, ...]  # per run: what makes its users comparable (data and split)


@dataclass(frozen=True)
class PairCell:
    """Arm ``a`` against arm ``b``: ``diff`` is mean(a) − mean(b) over the users (and seeds) paired."""

    a: int
    b: int
    users: int = 0
    seeds: int = 0
    mean_a: float = math.nan
    mean_b: float = math.nan
    t_p: float = math.nan
    wilcoxon_p: float = math.nan
    t_p_holm: float = math.nan
    wilcoxon_p_holm: float = math.nan
    reason: str = ""  # why the pair was not tested

    @property
    def diff(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def p_holm(self) -> float:
        """The larger of the two Holm-adjusted p-values: a difference survives only if both tests agree."""
        return max(self.t_p_holm, self.wilcoxon_p_holm)

    def survives(self, alpha: float = ALPHA) -> bool:
        return not self.reason and self.p_holm < alpha


@dataclass
class Matrix:
    arms: list[Arm]
    metric: str
    cells: list[PairCell] = field(default_factory=list)

    def cell(self, i: int, j: int) -> PairCell | None:
        """Arm ``i`` against arm ``j``, oriented so that ``diff`` is i − j (None on the diagonal)."""
        for c in self.cells:
            if (c.a, c.b) == (i, j):
                return c
            if (c.a, c.b) == (j, i):
                return PairCell(
                    i, j, c.users, c.seeds, c.mean_b, c.mean_a, c.t_p, c.wilcoxon_p,
                    c.t_p_holm, c.wilcoxon_p_holm, c.reason,
                )
        return None


def arms_of(rows: Sequence[Mapping[str, Any]], label: Any = None) -> list[Arm]:
    """Store rows as arms, in the order given: runs whose specs differ only in the seed form one arm."""
    label = label or (lambda r: str(r.get("name") or r["id"]))
    specs = {str(r["id"]): r["spec"] for r in rows if isinstance(r.get("spec"), dict)}
    group_of = {rid: tuple(g) for g in seed_groups(specs) for rid in g}
    by_id = {str(r["id"]): r for r in rows}
    arms, seen = [], set()
    for r in rows:
        rid = str(r["id"])
        if rid in seen:
            continue
        members = group_of.get(rid, (rid,))
        seen.update(members)
        rs = [by_id[m] for m in members]
        name = label(r) if len(rs) == 1 else f"{label(r)} ×{len(rs)} seeds"
        arms.append(
            Arm(
                name,
                tuple(members),
                tuple(_seed(x) for x in rs),
                tuple(f"{x.get('data_fingerprint') or x['id']}|{x.get('split') or ''}" for x in rs),
            )
        )
    return arms


def _seed(row: Mapping[str, Any]) -> Any:
    if row.get("seed") is not None:
        return row["seed"]
    spec = row.get("spec") if isinstance(row.get("spec"), dict) else {}
    return (spec.get("train") or {}).get("seed")


def pairwise_matrix(
    per_user_by_run: Mapping[str, pd.DataFrame | None], arms: Sequence[Arm], metric: str
) -> Matrix:
    """Paired t-test and Wilcoxon of ``metric`` for every pair of arms, both Holm-adjusted over all pairs.

    ``per_user_by_run`` maps a run to its per-user frame (a ``user`` column, one column per metric).
    A single run and a seeded arm are paired seed by seed where both have the seed; two single runs
    are paired directly. Either way only runs on the same data and split are paired.
    """
    from recsys_gui.core.run_evaluation import paired_tests

    cells: list[PairCell] = []
    for i in range(len(arms)):
        for j in range(i + 1, len(arms)):
            joined, n_seeds, reason = _paired_values(per_user_by_run, arms[i], arms[j], metric)
            if reason:
                cells.append(PairCell(i, j, reason=reason))
                continue
            r = paired_tests(joined["a"].to_numpy(float), joined["b"].to_numpy(float))
            cells.append(
                PairCell(i, j, r["users"], n_seeds, r["mean_a"], r["mean_b"], r["t_p"], r["wilcoxon_p"])
            )
    t_adj = holm([c.t_p for c in cells])
    w_adj = holm([c.wilcoxon_p for c in cells])
    cells = [
        PairCell(c.a, c.b, c.users, c.seeds, c.mean_a, c.mean_b, c.t_p, c.wilcoxon_p, ta, wa, c.reason)
        for c, ta, wa in zip(cells, t_adj, w_adj, strict=True)
    ]
    return Matrix(list(arms), metric, cells)


def _paired_values(
    per_user: Mapping[str, pd.DataFrame | None], a: Arm, b: Arm, metric: str
) -> tuple[pd.DataFrame, int, str]:
    """Per user, the mean over the paired seeds of each arm's value (columns user, a, b)."""
    if len(a.runs) == 1 and len(b.runs) == 1:
        pairs = [(0, 0)]
    else:
        seeds_b = {s: k for k, s in enumerate(b.seeds)}
        pairs = [(k, seeds_b[s]) for k, s in enumerate(a.seeds) if s in seeds_b]
        if not pairs:
            return pd.DataFrame(), 0, "no seed in common"
    pairs = [(x, y) for x, y in pairs if a.comparable[x] == b.comparable[y]]
    if not pairs:
        return pd.DataFrame(), 0, "different data or split"
    parts = []
    for x, y in pairs:
        fa, fb = per_user.get(a.runs[x]), per_user.get(b.runs[y])
        if fa is None or fb is None or metric not in fa or metric not in fb:
            return pd.DataFrame(), 0, f"no stored per-user {metric}"
        parts.append(
            fa[["user", metric]].rename(columns={metric: "a"}).merge(
                fb[["user", metric]].rename(columns={metric: "b"}), on="user"
            )
        )
    joined = pd.concat(parts, ignore_index=True).groupby("user", sort=True)[["a", "b"]].mean().reset_index()
    if len(joined) < 2:
        return joined, len(pairs), "fewer than two common users"
    return joined, len(pairs), ""


def load_per_user(workspace: Any, run_ids: Sequence[str]) -> dict[str, pd.DataFrame | None]:
    """The per-user test values each run stored when it finished (None where a run has none)."""
    from recsys_gui.core.reporting.collect import collect_run
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return {rid: collect_run(store, rid, with_sample=False).per_user for rid in run_ids}
    finally:
        store.close()

