"""Background work for the GUI: ``run_in_thread`` for short jobs, ``TrainingController`` for runs.

Rules (ARCHITECTURE.md §3): workers never touch widgets; they emit signals received in the GUI
thread. Stopping is a thread-safe flag (StopToken / threading.Event) polled by the work, never a
queued slot and never QThread.terminate().
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from recsys_gui.gui.bridge import SignalForwarder

GIL_SWITCH_INTERVAL_S = 0.001


def error_text(exc: BaseException) -> str:
    """A plain-words message: our own errors as they are, others with their type."""
    from recsys_gui.core.errors import RecsysError

    if isinstance(exc, RecsysError):
        return str(exc)
    if isinstance(exc, ModuleNotFoundError) and "recsys_gui" in str(exc):
        return f"This feature is not available yet ({exc.name} is still being written)."
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------- short jobs


class _TaskSignals(QObject):
    result = Signal(object)
    error = Signal(object, str)  # exception, traceback text
    progress = Signal(float, str)
    finished = Signal()


class Task(QRunnable):
    """One function call on the global QThreadPool; ``cancel()`` sets ``self.stop`` (an Event)."""

    _active: set[Task] = set()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, *, with_progress: bool,
                 with_stop: bool) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _TaskSignals()
        self.stop = threading.Event()
        self.done = threading.Event()
        if with_progress:
            self.kwargs["progress"] = self._progress
        if with_stop:
            self.kwargs["should_stop"] = self.stop.is_set

    def _progress(self, fraction: float, text: str = "") -> None:
        self.signals.progress.emit(float(fraction), str(text))

    def cancel(self) -> None:
        self.stop.set()

    def run(self) -> None:
        try:
            out = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # every error reaches the user
            self.signals.error.emit(exc, traceback.format_exc())
        else:
            self.signals.result.emit(out)
        finally:
            self.done.set()
            self.signals.finished.emit()


def run_in_thread(fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException, str], None] | None = None,
                  on_progress: Callable[[float, str], None] | None = None,
                  on_finished: Callable[[], None] | None = None, with_stop: bool = False,
                  **kwargs: Any) -> Task:
    """Run ``fn(*args, **kwargs)`` on the thread pool; callbacks run in the GUI thread.

    ``on_progress`` given → ``fn`` gets ``progress=callable(fraction, text)``;
    ``with_stop`` → ``fn`` gets ``should_stop=callable() -> bool`` (set by ``task.cancel()``).
    """
    task = Task(fn, args, dict(kwargs), with_progress=on_progress is not None, with_stop=with_stop)
    if on_result is not None:
        task.signals.result.connect(on_result)
    if on_error is not None:
        task.signals.error.connect(on_error)
    if on_progress is not None:
        task.signals.progress.connect(on_progress)
    if on_finished is not None:
        task.signals.finished.connect(on_finished)
    Task._active.add(task)
    task.signals.finished.connect(lambda: Task._active.discard(task))
    QThreadPool.globalInstance().start(task)
    return task


def wait_for_tasks(msecs: int = 10000) -> bool:
    """Cancel every short job and wait for the pool (used at shutdown and in tests)."""
    for t in list(Task._active):
        t.cancel()
    return QThreadPool.globalInstance().waitForDone(msecs)


# --------------------------------------------------------------------------------- training


@dataclass
class QueuedRun:
    spec: Any  # RunSpec
    workspace: str
    data: Any = None  # InteractionData already loaded (split in the worker), or None: load from spec
    split: Any = None  # a ready Split (tests, predefined)
    resume_run_id: str | None = None

    @property
    def title(self) -> str:
        return f"{self.spec.model} ({'resume ' + self.resume_run_id if self.resume_run_id else self.spec.split})"


class TrainingWorker(QObject):
    """Lives in the training QThread; ``run`` blocks that thread until the run ends."""

    event = Signal(object)
    finished = Signal(object)  # dict: RunOutcome.summary() (status may be "cancelled")
    failed = Signal(str, str)  # message, traceback

    def __init__(self, job: QueuedRun, stop: Any) -> None:
        super().__init__()
        self.job, self.stop = job, stop

    @Slot()
    def run(self) -> None:
        from recsys_gui.core.errors import TrainingCancelled
        from recsys_gui.core.session import run_training

        job = self.job
        forwarder = SignalForwarder(self.event.emit)
        try:
            spec = job.spec
            tcfg = spec.train_config()
            if tcfg.threads is None and _is_cpu(tcfg.device):
                # Leave one core to the GUI thread (torch threads are per-process).
                spec = replace(spec, train={**spec.train, "threads": max(1, (os.cpu_count() or 2) - 1)})
            split = job.split
            if split is None and job.data is not None and job.resume_run_id is None:
                from recsys_gui.core.data.splits import make_split

                split = make_split(job.data, spec.split, seed=tcfg.seed)
            out = run_training(spec, workspace=job.workspace, callbacks=[forwarder], stop=self.stop,
                               split=split, resume_run_id=job.resume_run_id)
            self.finished.emit(out.summary())
        except TrainingCancelled:
            self.finished.emit({"status": "cancelled", "run_id": None, "model": job.spec.model})
        except BaseException as exc:
            self.failed.emit(error_text(exc), traceback.format_exc())
        finally:
            try:
                import torch

                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            except Exception:
                pass


def _is_cpu(device: str) -> bool:
    try:
        from recsys_gui.core.utils.devices import resolve_device

        return resolve_device(device).type == "cpu"
    except Exception:
        return False


CHILD_DATA_LIMIT = 256 * 2**20  # bytes of data file a child process re-reads in a few seconds


def runs_in_child_process(job: QueuedRun) -> bool:
    """Train in a child process (``recsys-gui train``) rather than a thread of the GUI's process?

    A thread shares the GIL with the GUI thread, and torch holds it through each operation, so a
    long one (a validation pass, a big split) freezes the window for its length. A child process
    cannot; it re-reads the data from the file, so it is used when the run's data is a file of
    moderate size (a multi-GB file would be re-parsed per run) and a Python interpreter exists to
    start (not in the frozen bundle). Runs from an in-memory split and resumed runs stay in a thread.
    """
    from recsys_gui.gui.external_run import can_launch_processes

    if job.split is not None or job.resume_run_id is not None or not can_launch_processes():
        return False
    data = job.spec.data
    files = [data.path] if data.path else [data.train, data.valid, data.test]
    try:
        return sum(os.path.getsize(f) for f in files if f) <= CHILD_DATA_LIMIT and any(files)
    except OSError:
        return False


class TrainingController(QObject):
    """One training run at a time, plus a queue of runs that start one after another.

    Each run trains in a child process when ``runs_in_child_process`` allows, else in a QThread;
    both report through the same signals, so the Train page cannot tell them apart.
    """

    event = Signal(object)
    run_started = Signal(object)  # QueuedRun
    run_finished = Signal(dict)
    run_failed = Signal(str, str)
    queue_changed = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue: deque[QueuedRun] = deque()
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stop: Any = None
        self._child: Any = None  # ExternalRun while a run trains in a child process
        self.current: QueuedRun | None = None
        # A training thread runs Python between torch ops; the GUI thread waiting for the GIL gets
        # it after the switch interval. 1 ms instead of CPython's 5 keeps paints and clicks prompt.
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))

    @property
    def busy(self) -> bool:
        return self._thread is not None or self._child is not None

    @property
    def in_child_process(self) -> bool:
        return self._child is not None

    def enqueue(self, job: QueuedRun) -> None:
        self.queue.append(job)
        self.queue_changed.emit()
        if not self.busy:
            self._start_next()

    def start(self, job: QueuedRun) -> None:
        """Start now when idle, else queue."""
        self.enqueue(job)

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()
        if self._stop is not None:
            self._stop.request_stop()

    def _start_next(self) -> None:
        if self.busy or not self.queue:
            return
        from recsys_gui.core.training.control import StopToken

        job = self.queue.popleft()
        self.queue_changed.emit()
        self.current = job
        if runs_in_child_process(job):
            self._start_child(job)
            return
        self._stop = StopToken()
        thread = QThread()
        thread.setObjectName("training")
        worker = TrainingWorker(job, self._stop)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self.event)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self.busy_changed.emit(True)
        self.run_started.emit(job)
        thread.start()

    def _start_child(self, job: QueuedRun) -> None:
        from recsys_gui.gui.external_run import ExternalRun

        child = ExternalRun(job.spec, job.workspace, processes=1, parent=self)
        child.event.connect(self.event)
        child.finished.connect(self._on_finished)
        child.failed.connect(self._on_failed)
        child.done.connect(self._on_child_done)
        self._child = child
        self.busy_changed.emit(True)
        self.run_started.emit(job)
        child.start()

    @Slot()
    def _on_child_done(self) -> None:
        child, self._child = self._child, None
        self.current = None
        if child is not None:
            child.deleteLater()
        self.busy_changed.emit(False)
        self._start_next()

    @Slot(object)
    def _on_finished(self, summary: dict) -> None:
        self.run_finished.emit(summary)

    @Slot(str, str)
    def _on_failed(self, message: str, tb: str) -> None:
        self.run_failed.emit(message, tb)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        self._stop = None
        self.current = None
        if worker is not None:
            worker.deleteLater()
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self.busy_changed.emit(False)
        self._start_next()

    def shutdown(self, msecs: int = 15000) -> bool:
        """Stop the run and drop the queue; wait up to ``msecs``. True when no thread is left."""
        self.queue.clear()
        self.stop()
        if self._child is not None:
            child = self._child
            ok = child.shutdown(msecs)
            if ok and self._child is child:  # its done signal may still be queued
                self._child = None
                self.current = None
                child.deleteLater()
            return ok
        thread = self._thread
        if thread is None:
            return True
        thread.quit()
        ok = thread.wait(msecs)
        if ok:
            self._on_thread_finished()
        return ok
