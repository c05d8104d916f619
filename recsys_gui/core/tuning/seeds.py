"""Repeated seeds: the same run with seeds s, s+1, …, and the spread of every metric across them.

One seed's figure is one draw: two models a few thousandths apart may swap places with the next
seed. Mean, sample standard deviation and a 95% interval (Student's t) over N seeds say how far a
figure can be trusted. Each seed is an ordinary run in the store; a split that depends on the seed
(a random per-user split) is made again from each run's own seed, so every stored run can be
re-evaluated from its own spec.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from recsys_gui.core.errors import ConfigError
from recsys_gui.core.session import RunOutcome, RunSpec, load_split, run_training
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.training.control import StopToken
from recsys_gui.core.training.trainer import Callback

PARTS = ("valid", "test")


def seed_list(first: int, n: int) -> list[int]:
    if n < 1:
        raise ConfigError("--seeds must be at least 1.")
    return [first + i for i in range(n)]


def run_seeds(
    spec: RunSpec,
    n: int,
    *,
    workspace: Workspace | str | None = None,
    callbacks: Sequence[Callback] = (),
    stop: StopToken | None = None,
    done: Sequence[Mapping[str, Any]] = (),
) -> tuple[list[RunOutcome], dict[str, Any]]:
    """Train ``spec`` with ``n`` seeds from its own; returns the new outcomes and ``summarise``'s dict.

    ``done`` are records (``run_id``, ``valid``, ``test``) of runs already made for the first seeds
    (a search's best trial is its first seed). A stop request ends the series after the current
    run; the summary covers the runs that finished.
    """
    base = spec.train_config().seed
    seeds = seed_list(base, n)
    records = [dict(r) for r in done][:n]
    outcomes: list[RunOutcome] = []
    predefined_split = load_split(spec, seed=base)[0] if spec.data.predefined else None
    for seed in seeds[len(records):]:
        if stop is not None and stop.stop_requested:
            break
        name = f"{spec.name} (seed {seed})" if spec.name else None
        seeded = dataclasses.replace(spec, train={**spec.train, "seed": seed}, name=name)
        out = run_training(seeded, workspace=workspace, callbacks=callbacks, stop=stop,
                           split=predefined_split)
        outcomes.append(out)
        if out.status == "cancelled":
            break
        records.append({"run_id": out.run_id, "valid": out.valid, "test": out.test})
    run_ids = [r["run_id"] for r in records] + [o.run_id for o in outcomes if o.status == "cancelled"]
    return outcomes, summarise(records, run_ids, seeds[: len(records)])


def summarise(records: Sequence[Mapping[str, Any]], run_ids: Sequence[str],
              seeds: Sequence[int]) -> dict[str, Any]:
    """``{"runs", "seeds", "n", "mean", "std", "ci95"}``; each of the last three ``{part: {metric: …}}``.

    ``records`` hold each finished run's ``valid`` and ``test`` dicts. ``std`` is the sample
    standard deviation (n − 1); ``ci95`` the interval [low, high] of the mean. Only metrics every
    run reports are summarised.
    """
    out: dict[str, Any] = {"runs": list(run_ids), "seeds": list(seeds), "n": len(records),
                           "mean": {}, "std": {}, "ci95": {}}
    for part in PARTS:
        per_run = [r.get(part) or {} for r in records]
        keys = [k for k in (per_run[0] if per_run else {}) if all(k in r for r in per_run)]
        mean, std, ci = {}, {}, {}
        for k in keys:
            m, s, half = mean_std_ci([float(r[k]) for r in per_run])
            mean[k], std[k] = m, s
            ci[k] = [m - half, m + half] if half is not None else None
        out["mean"][part], out["std"][part], out["ci95"][part] = mean, std, ci
    return out


def mean_std_ci(values: Sequence[float]) -> tuple[float, float, float | None]:
    """Mean, sample standard deviation, and the 95% half-width of the mean (None for one value)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, None
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0, None
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.stats import t

    return mean, std, float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
