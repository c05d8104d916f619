"""The search as the Tune mode runs it on a worker thread: core ``tune`` plus what the page draws.

Qt-free on purpose: it takes a progress callable (fraction, JSON text of one event) and a
``should_stop`` callable, as ``gui.threading.run_in_thread`` hands them, so it can be driven and
tested without a window. Each finished trial's event carries the settings' importance so far
(Optuna's fANOVA), computed here so the GUI thread never waits on it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

from recsys_gui.core.training.control import StopToken

MIN_TRIALS_FOR_IMPORTANCE = 3


class _TaskStop(StopToken):
    """A stop token that also reads the worker task's own stop flag (the Stop button, shutdown)."""

    def __init__(self, should_stop: Callable[[], bool]) -> None:
        super().__init__()
        self._should_stop = should_stop

    @property
    def stop_requested(self) -> bool:
        return self._event.is_set() or bool(self._should_stop())


def run_search(
    workspace: str,
    spec: Any,
    search: str | None,
    trials: int,
    minutes: float | None,
    seeds: int = 1,
    *,
    progress: Callable[[float, str], None],
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """Search ``spec``'s model over ``search`` (``--search`` syntax; None: the model's default space).

    Returns the core result's summary (``best_run_id``, ``best_params``, ``valid``, ``test``, …) plus,
    with ``seeds`` > 1, the best settings' mean and std over that many seeds.
    """
    import optuna

    from recsys_gui.core.store.run_store import RunStore
    from recsys_gui.core.store.workspace import Workspace
    from recsys_gui.core.tuning.search import tune
    from recsys_gui.core.tuning.seeds import run_seeds
    from recsys_gui.core.tuning.space import search_space

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = search_space(spec.model, search, base_model=spec.model_config, base_train=spec.train)
    ws = Workspace(workspace)
    stop = _TaskStop(should_stop)
    progress(0.0, json.dumps({"kind": "space", "params": space.to_dict()}, default=str))

    def on_trial(event: dict[str, Any]) -> None:
        event = dict(event)
        event["importance"] = importance(ws, event["study"])
        progress(min(1.0, (event["number"] + 1) / trials), json.dumps(_finite(event), default=str))

    result = tune(spec, space, workspace=ws, trials=trials, timeout_s=minutes * 60 if minutes else None,
                  stop=stop, on_trial=on_trial)
    out = result.summary()
    if seeds > 1 and not stop.stop_requested:
        model_cfg, train_cfg = space.split_params(result.best_params)
        best = dataclasses.replace(spec, model_config={**spec.model_config, **model_cfg},
                                   train={**spec.train, **train_cfg}, name=f"{result.study} best")
        row = RunStore(ws).get_run(result.best_run_id)
        done = [{"run_id": row["id"], "valid": row.get("valid") or {}, "test": row.get("test") or {}}]
        _, spread = run_seeds(best, seeds, workspace=ws, stop=stop, done=done)
        out.update(spread)
    return _finite(out)


def importance(ws: Any, study_name: str) -> dict[str, float]:
    """Each searched setting's share of the variance of the validation value ({} with too few trials)."""
    import optuna

    from recsys_gui.core.tuning import studies

    try:
        study = optuna.load_study(study_name=study_name, storage=studies.storage_for(ws))
        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        if len(done) < MIN_TRIALS_FOR_IMPORTANCE or len({tuple(sorted(t.params.items())) for t in done}) < 2:
            return {}
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (ValueError, RuntimeError, ZeroDivisionError):  # one value everywhere, a setting never varied
        return {}


def _finite(obj: Any) -> Any:
    """NaN and infinities as None, so the event is valid JSON for the page."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
