"""Hyper-parameter search: each trial an ordinary run through ``run_training``, chosen on validation.

The data is read and split once; every trial trains on that split with the settings the sampler
suggests, in the workspace's run store (named "<study> #N", tagged with the study's name), so the
best trial is a run like any other. The first trial of a new study is the model's defaults, so the
tuned result is never worse on validation than the untuned one. Selection reads only the
validation metric; the chosen trial's test figures are read once, at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from recsys_gui.core.errors import ConfigError, RecsysError, RunNotFound
from recsys_gui.core.session import RunSpec, load_split, run_training
from recsys_gui.core.store.run_store import RunStore, new_run_id
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.training.control import StopToken
from recsys_gui.core.training.trainer import Callback
from recsys_gui.core.tuning import studies
from recsys_gui.core.tuning.pruning import TrialMonitor, make_pruner
from recsys_gui.core.tuning.space import SearchSpace

TUNE_TAG = "tune"
LOWER_IS_BETTER = ("rmse", "mae")


@dataclass
class TuneResult:
    study: str
    storage: str
    metric: str
    best_run_id: str
    best_trial: int
    best_params: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float]
    trials: int  # finished trials of the study, this session's and earlier ones
    pruned: int
    failed: int
    trials_run: int  # trials this call ran
    seconds: float
    stopped: bool

    def summary(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tune(
    spec: RunSpec,
    space: SearchSpace,
    *,
    workspace: Workspace | str | None = None,
    trials: int = 20,
    timeout_s: float | None = None,
    sampler: str = "tpe",
    pruner: str | Any = "median",
    study_name: str | None = None,
    stop: StopToken | None = None,
    callbacks: Sequence[Callback] = (),
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search ``space`` for ``spec``'s model until the study has ``trials`` finished trials or
    ``timeout_s`` of training passes (a trial running then ends after its next validation and keeps
    its best epoch so far).

    ``pruner`` is a name (median, halving, none) or an Optuna pruner; ``on_trial`` gets one small
    JSON-ready dict per finished trial (the live table of a front end).
    """
    import optuna

    t0 = time.monotonic()
    if trials < 1:
        raise ConfigError("--trials must be at least 1.")
    ws = Workspace(workspace).ensure() if not isinstance(workspace, Workspace) else workspace.ensure()
    tcfg = spec.train_config()
    metric = tcfg.early_stop_metric
    if not metric:
        raise ConfigError("A search chooses on a validation metric; give one with --early-stop (not 'none').")
    maximize = metric.split("@")[0].lower() not in LOWER_IS_BETTER
    split, _ = load_split(spec, seed=tcfg.seed)
    deadline = time.monotonic() + timeout_s if timeout_s else None  # the trials' time, once the data is read
    if split.valid is None:
        raise ConfigError("A search chooses on validation, and this split has none: give --valid, or a "
                          "--split with a validation part (ratio:8,1,1, loo, temporal:0.8,0.9).")
    name = study_name or f"{spec.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    identity = {"model": spec.model, "data": spec.data.describe(), "fingerprint": split.train.fingerprint(),
                "metric": metric, "direction": "maximize" if maximize else "minimize",
                "space": space.to_dict(), "fixed": _fixed_settings(spec, space)}
    known = studies.study_names(ws)
    done_before = 0
    if name in known:
        done_before = sum(studies.trial_counts(optuna.load_study(study_name=name,
                                                                 storage=studies.storage_for(ws))).values())
    chosen_pruner = make_pruner(pruner, epochs_per_validation=tcfg.eval_every_n_epochs) \
        if isinstance(pruner, str) else pruner
    study, is_new = studies.open_study(
        ws, name, identity, pruner=chosen_pruner,
        sampler=studies.make_sampler(sampler, seed=tcfg.seed, space=space, trials_done=done_before,
                                     budget=trials))
    if is_new and sampler != "grid":  # a grid holds every default already (its middle points)
        study.enqueue_trial(space.defaults())
    remaining = trials - sum(studies.trial_counts(study).values())
    store = RunStore(ws)
    ran = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal ran
        ran += 1
        model_cfg, train_cfg = space.suggest(trial)
        trial_spec = dataclasses.replace(spec, model_config={**spec.model_config, **model_cfg},
                                         train={**spec.train, **train_cfg},
                                         name=f"{name} #{trial.number + 1}")
        run_id = new_run_id(spec.model)
        trial.set_user_attr("run_id", run_id)
        monitor = TrialMonitor(trial, metric, maximize=maximize, deadline=deadline, outer=stop,
                               grace_s=max(60.0, 0.1 * (timeout_s or 0)))
        started = time.monotonic()
        try:
            out = run_training(trial_spec, workspace=ws, callbacks=[monitor, *callbacks], stop=monitor.stop,
                               split=split, run_id=run_id)
        except RecsysError as exc:  # settings that do not go together, a diverged loss: this trial only
            trial.set_user_attr("error", str(exc))
            if monitor.user_stopped:
                study.stop()
            raise
        finally:
            trial.set_user_attr("seconds", round(time.monotonic() - started, 3))
            with contextlib.suppress(RunNotFound):  # refused before its run was recorded
                store.tag_run(run_id, add=[name, TUNE_TAG])
        if monitor.user_stopped:
            trial.set_user_attr("error", "The search was stopped during this trial.")
            study.stop()
            raise SearchStopped("stopped")
        if monitor.pruned:
            store.update_run(run_id, status="pruned")
            raise optuna.TrialPruned()
        value = out.valid.get(metric)
        if value is None or not math.isfinite(value):
            raise SearchStopped(f"no validation {metric} (stopped before its first validation)")
        if monitor.out_of_time:
            trial.set_user_attr("out_of_time", True)  # its best epoch so far is a real, if short, result
        return float(value)

    def after_trial(st: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            on_trial(trial_event(name, frozen, st))

    if remaining > 0 and not (stop is not None and stop.stop_requested):
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if left is None or left > 0:
            study.optimize(objective, n_trials=remaining, timeout=left, catch=(RecsysError, SearchStopped),
                           callbacks=[after_trial])
    return _result(study, store, name, ws, metric, ran, time.monotonic() - t0,
                   stopped=stop is not None and stop.stop_requested)


def _fixed_settings(spec: RunSpec, space: SearchSpace) -> dict[str, Any]:
    """The settings every trial shares (--set, --epochs, …): trials made under others are not comparable.
    Where the work runs (device, threads) changes no result and may differ between sessions."""
    searched = set(space.names())
    train = {k: v for k, v in spec.train.items() if k not in searched and k not in ("device", "threads")}
    model = {k: v for k, v in spec.model_config.items() if k not in searched}
    return {"model": model, "train": train, "split": spec.split, "options": spec.data.options}


class SearchStopped(Exception):
    """A trial with no result to give (the search was stopped; no validation happened): it fails."""


def trial_event(study_name: str, t, study) -> dict[str, Any]:
    """One finished trial as a small JSON-ready dict (state, value, settings, run, time, best so far)."""
    try:
        best = study.best_trial
        best_value, best_number = best.value, best.number
    except ValueError:  # no completed trial yet
        best_value, best_number = None, None
    return {"kind": "trial", "study": study_name, "number": t.number, "state": t.state.name.lower(),
            "value": t.value, "params": dict(t.params), "run_id": t.user_attrs.get("run_id"),
            "seconds": t.user_attrs.get("seconds"), "error": t.user_attrs.get("error"),
            "best_value": best_value, "best_number": best_number}


def _result(study, store: RunStore, name: str, ws: Workspace, metric: str, ran: int, seconds: float,
            *, stopped: bool) -> TuneResult:
    counts = studies.trial_counts(study)
    try:
        best = study.best_trial  # COMPLETE trials only, by their validation value
    except ValueError:
        errors = [t.user_attrs["error"] for t in study.get_trials(deepcopy=False)
                  if t.user_attrs.get("error")]
        hint = f" Last error: {errors[-1]}" if errors else ""
        raise RecsysError(f"Study '{name}' has no finished trial yet ({counts.get('PRUNED', 0)} pruned, "
                          f"{counts.get('FAIL', 0)} failed).{hint}") from None
    run_id = best.user_attrs["run_id"]
    row = store.get_run(run_id)  # the chosen trial's test figures: read once, never compared
    return TuneResult(
        study=name, storage=str(ws.root / studies.STUDY_FILE), metric=metric, best_run_id=run_id,
        best_trial=best.number, best_params=dict(best.params), valid=row.get("valid") or {},
        test=row.get("test") or {}, trials=sum(counts.values()), pruned=counts.get("PRUNED", 0),
        failed=counts.get("FAIL", 0), trials_run=ran, seconds=round(seconds, 3), stopped=stopped)
