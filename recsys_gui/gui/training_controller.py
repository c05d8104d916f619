"""The one way the window trains: a queue of runs, each in a child process (``ExternalRun``).

New runs, resumed runs, one process or several (torchrun): all go through ``TrainingController``,
so the busy, stop and done states live in one place. The child is ``recsys-gui train`` on the same
core entry point as the CLI; the page learns what happens from the run's ``events.jsonl``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from recsys_gui.gui.external_run import ExternalRun


@dataclass
class QueuedRun:
    spec: Any  # RunSpec; its data paths are absolute (the child works in the workspace folder)
    workspace: str
    resume_run_id: str | None = None
    processes: int = 1  # 2 or more: DistributedDataParallel through torchrun

    @property
    def title(self) -> str:
        what = f"resume {self.resume_run_id}" if self.resume_run_id else self.spec.split
        where = f", {self.processes} processes" if self.processes > 1 else ""
        return f"{self.spec.model} ({what}{where})"


class TrainingController(QObject):
    """One training run at a time, plus a queue of runs that start one after another."""

    event = Signal(object)  # a core TrainingEvent, read back from the run's event file
    run_started = Signal(object)  # QueuedRun
    run_finished = Signal(dict)  # summary, as RunOutcome.summary() (status may be "cancelled")
    run_failed = Signal(str, str)  # message, details
    queue_changed = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue: deque[QueuedRun] = deque()
        self.run: ExternalRun | None = None  # the child process of the current run
        self.current: QueuedRun | None = None

    @property
    def busy(self) -> bool:
        return self.run is not None

    def enqueue(self, job: QueuedRun) -> None:
        """Start ``job`` now when idle, else after the runs before it."""
        self.queue.append(job)
        self.queue_changed.emit()
        self._start_next()

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    def stop(self) -> None:
        """Ask the current run to stop after its current step (its STOP file); it keeps its best
        checkpoint."""
        if self.run is not None:
            self.run.stop()

    def _start_next(self) -> None:
        if self.busy or not self.queue:
            return
        job = self.queue.popleft()
        self.queue_changed.emit()
        run = ExternalRun(job.spec, job.workspace, processes=job.processes, resume_run_id=job.resume_run_id,
                          parent=self)
        run.event.connect(self.event)
        run.finished.connect(self.run_finished)
        run.failed.connect(self.run_failed)
        run.done.connect(self._on_done)
        self.run, self.current = run, job
        self.busy_changed.emit(True)
        self.run_started.emit(job)
        run.start()

    @Slot()
    def _on_done(self) -> None:
        run, self.run, self.current = self.run, None, None
        if run is not None:
            run.deleteLater()
        self.busy_changed.emit(False)
        self._start_next()

    def shutdown(self, msecs: int = 15000) -> bool:
        """At exit: drop the queue, stop the run and wait up to ``msecs`` (then terminate it).

        True when no training process is left.
        """
        self.queue.clear()
        run = self.run
        if run is None:
            return True
        ok = run.shutdown(msecs)
        if ok and self.run is run:  # its done signal may still be queued
            self.run = self.current = None
            run.deleteLater()
        return ok
