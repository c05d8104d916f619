"""Callbacks that persist the event stream: the run store (SQLite) and ``events.jsonl``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from recsys_gui.core.store.event_rows import metric_rows
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.training import events as ev


class RunStoreWriter:
    """Buffers metric rows and writes them once per epoch (and at the end)."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.rows: list[dict] = []

    def on_event(self, event: ev.TrainingEvent) -> None:
        if isinstance(event, ev.RunFinished):
            self.flush()  # the session logs the test figures itself, with the finished row
            return
        self.rows += metric_rows(event)
        if isinstance(event, (ev.ValidationEnded, ev.RunFailed)):
            self.flush()

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        self.store.log_metrics(self.run_id, rows)


class JsonlEventSink:
    """Appends each event as one JSON line; a GUI or another process tails this file.

    Step lines are flushed at most every ``step_flush_s`` so a follower sees live curves without a
    write per step; every other event is flushed at once.
    """

    def __init__(self, path: Path, *, step_flush_s: float = 0.5) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh = path.open("a", encoding="utf-8")
        self.step_flush_s = step_flush_s
        self._flushed = time.monotonic()

    def on_event(self, event: ev.TrainingEvent) -> None:
        self.fh.write(json.dumps(event.to_dict()) + "\n")
        now = time.monotonic()
        if not isinstance(event, ev.StepLogged) or now - self._flushed >= self.step_flush_s:
            self.fh.flush()
            self._flushed = now
        if isinstance(event, (ev.RunFinished, ev.RunFailed)):
            self.close()

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()
