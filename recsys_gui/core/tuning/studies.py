"""Where searches are kept: an Optuna study per search in ``<workspace>/tuning.db``, beside the run store.

A study remembers what it searched (model, data, metric, space), so resuming it under the same
name on other data or another space is refused instead of mixing incomparable trials.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from typing import Any

from recsys_gui.core.errors import ConfigError
from recsys_gui.core.store.workspace import Workspace

STUDY_FILE = "tuning.db"
SAMPLERS = ("tpe", "random", "grid")
IDENTITY_KEYS = ("model", "data", "fingerprint", "metric", "direction", "space", "fixed")


def storage_for(ws: Workspace):
    """The workspace's study store (SQLite through SQLAlchemy), made on first use."""
    import optuna

    ws.ensure()
    url = f"sqlite:///{ws.root / STUDY_FILE}"
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})


def study_names(ws: Workspace) -> list[str]:
    import optuna

    if not (ws.root / STUDY_FILE).exists():
        return []
    return optuna.study.get_all_study_names(storage_for(ws))


def open_study(ws: Workspace, name: str, identity: dict[str, Any], *, sampler, pruner):
    """The study ``name``: made with ``identity`` kept in it, or reopened when it searched the same thing.

    Returns (study, is_new). Trials a killed search left "running" are marked failed: no process
    will finish them, and they would otherwise count against nothing and block nothing.
    """
    import optuna

    storage = storage_for(ws)
    exists = name in optuna.study.get_all_study_names(storage)
    study = optuna.create_study(storage=storage, study_name=name, direction=identity["direction"],
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    if not exists:
        for key in IDENTITY_KEYS:
            study.set_user_attr(key, identity[key])
        return study, True
    check_same_search(name, study.user_attrs, identity)
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        if t.state == TrialState.RUNNING:
            storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            storage.set_trial_user_attr(t._trial_id, "error", "The search was stopped during this trial.")
    return study, False


def check_same_search(name: str, kept: dict[str, Any], identity: dict[str, Any]) -> None:
    what = {"model": "the model", "data": "the data file", "fingerprint": "the data",
            "metric": "the validation metric", "direction": "the metric's direction",
            "space": "the search space (--search)", "fixed": "the fixed settings (--set, --epochs, …)"}
    for key in IDENTITY_KEYS:
        if key in kept and _canonical(kept[key]) != _canonical(identity[key]):
            shown = _shown(kept[key]) if key != "fingerprint" else "other contents"
            raise ConfigError(f"Study '{name}' searched with {what[key]} {shown}; this search differs. "
                              "Resume it with the same settings, or choose another --study name.")


def make_sampler(name: str, *, seed: int, space, trials_done: int, budget: int):
    """TPE (default), random or grid, seeded; a resumed study gets a seed it has not used yet."""
    import optuna

    seed = seed + trials_done  # the same seed again would repeat a random search's first points
    if name == "tpe":
        startup = max(3, min(10, budget // 4))  # a short budget would otherwise be all random
        with warnings.catch_warnings(record=True):  # multivariate is "experimental": said, not shown
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    raise ConfigError(f"Unknown sampler '{name}': choose {', '.join(SAMPLERS)}.")


def trial_counts(study) -> Counter:
    """Finished trials by state name (COMPLETE, PRUNED, FAIL)."""
    return Counter(t.state.name for t in study.get_trials(deepcopy=False) if t.state.is_finished())


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _shown(value: Any, limit: int = 120) -> str:
    if isinstance(value, list):  # a space: its settings' names
        value = ", ".join(str(p.get("name")) for p in value if isinstance(p, dict))
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
