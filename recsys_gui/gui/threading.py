"""Short background jobs for the GUI: ``run_in_thread`` (loading, evaluating, projecting, exporting).

Training never runs here: it runs in a child process (``training_controller``). Rules
(ARCHITECTURE.md §3): workers never touch widgets; they emit signals received in the GUI thread.
Stopping is a thread-safe flag (threading.Event) polled by the work, never a queued slot and never
QThread.terminate().
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


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

    _active: ClassVar[set[Task]] = set()

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
