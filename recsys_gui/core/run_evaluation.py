"""Evaluating a stored run again: reload its data and best model, rank, and compare with another run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recsys_gui.core.data.splits import held_out_items
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation.evaluator import Evaluator, breakdown_by_activity, held_out_users
from recsys_gui.core.session import load_run_model, load_run_split
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.utils.devices import resolve_device


def evaluate_run(
    workspace: Workspace | Path | str | None,
    run_id: str,
    *,
    metrics: str | None = None,
    part: str = "test",
    sampled_negatives: int | None = None,
    device: str = "auto",
    compare_with: str | None = None,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    dev = resolve_device(device)
    model, spec, row = load_run_model(workspace, run_id, device=dev)
    check_sampled_negatives(sampled_negatives, model.n_items)
    split = load_run_split(spec, row, allow_changed_data=allow_changed_data)
    if part == "valid" and split.valid is None:
        raise ConfigError(f"Run {row['id']} has no validation part.")
    target = split.test if part == "test" else split.valid
    exclude = split.known_for_test() if part == "test" else split.known_for_valid()
    model.set_context(exclude)
    keys = metrics or ",".join(spec.metrics)
    # a held-out-users split's users were never trained on: they are scored through fold-in, as in training
    # and a cold-items split ranks its held-out items only, as training reported it
    ev = Evaluator(keys, sampled_negatives=sampled_negatives, seed=spec.train_config().seed,
                   new_users=held_out_users(split), candidates=held_out_items(split, part))
    res = ev.evaluate(
        model, history=split.known_for_valid(), exclude=exclude, target=target, device=dev, keep_per_user=True
    )
    train_counts = split.train.user_counts()
    out: dict[str, Any] = {
        "run_id": row["id"],
        "model": row["model"],
        "part": part,
        "users": res.n_users,
        "protocol": f"1 + {sampled_negatives} sampled negatives (compatibility)"
        if sampled_negatives
        else "full ranking",
        "metrics": res.metrics,
        "by_activity": {
            k: breakdown_by_activity(res.users, v, train_counts) for k, v in res.per_user.items()
        },
    }
    if compare_with:
        out["comparison"] = compare_runs(
            workspace,
            row["id"],
            compare_with,
            res.users,
            res.per_user,
            keys,
            sampled_negatives,
            part,
            dev,
            allow_changed_data,
        )
    return out


def check_sampled_negatives(n: int | None, n_items: int) -> None:
    """The "1 + N sampled" protocol needs at least one negative and fewer than the catalogue holds.

    A negative N failed in torch (a traceback), 0 silently ranked against 99 while the report said
    full ranking, and a huge N tried to allocate terabytes.
    """
    if n is not None and not 1 <= n < n_items:
        raise ConfigError(
            f"The number of sampled negatives must be at least 1 and below the run's "
            f"{n_items:,} items (99 is the usual choice); got {n}."
        )


def paired_tests(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Paired t-test and Wilcoxon signed-rank test on per-user values of two runs."""
    from scipy import stats

    diff = a - b
    t_p = float(stats.ttest_rel(a, b).pvalue) if np.any(diff != 0) else 1.0
    w_p = float(stats.wilcoxon(a, b).pvalue) if np.any(diff != 0) else 1.0
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "mean_diff": float(diff.mean()),
        "t_p": t_p,
        "wilcoxon_p": w_p,
        "users": int(a.size),
    }


def compare_runs(
    workspace,
    run_a: str,
    run_b: str,
    users: np.ndarray,
    per_user: dict[str, np.ndarray],
    keys: str,
    sampled_negatives: int | None,
    part: str,
    dev,
    allow_changed_data: bool = False,
) -> dict[str, Any]:
    model_b, spec_b, row_b = load_run_model(workspace, run_b, device=dev)
    check_sampled_negatives(sampled_negatives, model_b.n_items)
    split_b = load_run_split(spec_b, row_b, allow_changed_data=allow_changed_data)
    target = split_b.test if part == "test" else split_b.valid
    model_b.set_context(split_b.known_for_test() if part == "test" else split_b.known_for_valid())
    ev = Evaluator(keys, sampled_negatives=sampled_negatives, seed=spec_b.train_config().seed,
                   new_users=held_out_users(split_b), candidates=held_out_items(split_b, part))
    res_b = ev.evaluate(
        model_b,
        history=split_b.known_for_valid(),
        exclude=split_b.known_for_test() if part == "test" else split_b.known_for_valid(),
        target=target,
        device=dev,
        keep_per_user=True,
    )
    if not np.array_equal(res_b.users, users):
        raise ConfigError(
            f"Runs {run_a} and {row_b['id']} were evaluated on different users; paired tests "
            "need the same split."
        )
    return {k: paired_tests(per_user[k], res_b.per_user[k]) for k in per_user if k in res_b.per_user}
