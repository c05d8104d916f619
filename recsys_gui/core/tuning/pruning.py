"""Pruning a trial through the one training seam: a progress callback and the trainer's stop token.

The trainer already validates on its schedule and emits ``ValidationEnded``; the monitor reports
the best value so far to the Optuna trial (what the run would keep if it stopped now), asks the
pruner, and on a "prune" sets the stop token the trainer polls before every batch. The run then
ends as a stopped run and the search marks it pruned. The same token ends a trial when the
search's wall-time budget runs out or the whole search is stopped.
"""

from __future__ import annotations

import math
import time
from typing import Any

from recsys_gui.core.training import events as ev
from recsys_gui.core.training.control import StopToken

# A pruner judges a trial only after this many validations, so that a slow starter (a low learning
# rate) is not cut on its first noisy epochs.
WARMUP_VALIDATIONS = 5


class TrialStop(StopToken):
    """A trial's own stop flag that also follows the whole search's (Ctrl-C, the Stop button)."""

    def __init__(self, outer: StopToken | None = None) -> None:
        super().__init__()
        self.outer = outer

    @property
    def stop_requested(self) -> bool:
        if super().stop_requested:
            return True
        if self.outer is not None and self.outer.stop_requested:
            self.request_stop()
            return True
        return False


class TrialMonitor:
    """Feeds one trial's validations to Optuna and stops the run when the pruner or the clock says so."""

    def __init__(self, trial: Any, metric: str, *, maximize: bool, deadline: float | None = None,
                 grace_s: float = 60.0, outer: StopToken | None = None) -> None:
        self.trial = trial
        self.metric = metric
        self.maximize = maximize
        self.deadline = deadline  # time.monotonic() after which the search takes no more time
        self.grace_s = grace_s
        self.stop = TrialStop(outer)
        self.best: float | None = None
        self.pruned = False
        self.out_of_time = False

    def on_event(self, event: ev.TrainingEvent) -> None:
        validated = isinstance(event, ev.ValidationEnded)
        if self.deadline is not None and not self.stop.stop_requested:
            # Out of time: stop after a validation, so the run keeps its best epoch so far; only a
            # trial far past the budget is stopped wherever it is (and then has no result).
            late = time.monotonic() - self.deadline
            if late > (0 if validated else self.grace_s):
                self.out_of_time = True
                self.stop.request_stop()
        if not validated or self.stop.stop_requested:
            return
        value = event.metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best = value
        # the step is the epochs trained so far: the resource successive halving shares out
        self.trial.report(self.best, event.epoch + 1)
        if self.trial.should_prune():
            self.pruned = True
            self.stop.request_stop()

    @property
    def user_stopped(self) -> bool:
        return self.stop.outer is not None and self.stop.outer.stop_requested


def make_pruner(name: str, *, epochs_per_validation: int = 1):
    """``median`` (default), ``halving`` (successive halving) or ``none``, warmed up on a few validations."""
    import optuna

    warmup = WARMUP_VALIDATIONS * max(1, epochs_per_validation)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup,
                                           interval_steps=max(1, epochs_per_validation))
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    from recsys_gui.core.errors import ConfigError

    raise ConfigError(f"Unknown pruner '{name}': choose median, halving or none.")
