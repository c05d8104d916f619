"""Core training events → a Qt signal, with StepLogged throttled at the source."""

from __future__ import annotations

import time
from collections.abc import Callable

from recsys_gui.core.training import events as ev


class SignalForwarder:
    """A run_training callback: forwards every event to ``emit`` (a Qt signal's emit).

    StepLogged events arriving less than ``min_interval_s`` after the last forwarded one are
    dropped; epoch-level events (and anything not a step) are always forwarded. Runs in the
    training thread; it never touches a widget.
    """

    def __init__(self, emit: Callable[[object], None], min_interval_s: float = 0.05) -> None:
        self._emit = emit
        self.min_interval_s = min_interval_s
        self._last_step = 0.0
        self.dropped = 0

    def on_event(self, event: ev.TrainingEvent) -> None:
        if isinstance(event, ev.StepLogged):
            now = time.monotonic()
            if now - self._last_step < self.min_interval_s:
                self.dropped += 1
                return
            self._last_step = now
        self._emit(event)
