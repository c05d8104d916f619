"""A channel of worker jobs where only the newest request counts.

Typing in the basket or the search box asks for a new answer on every change. One job runs at a
time (two fold-ins on the same model would compete for it); a request made while one runs waits as
the single pending request, replacing any older pending one, and the answer of a job that has been
superseded in the meantime is dropped, so the page never shows a list for a basket it no longer has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from recsys_gui.gui.threading import Task, run_in_thread

Job = tuple[Callable[..., Any], tuple, dict]


class LatestOnly(QObject):
    """``request(fn, *args)`` runs ``fn`` in a worker; ``result``/``failed`` carry the newest answer only."""

    result = Signal(object)
    failed = Signal(object, str)  # exception, traceback text
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, delay_ms: int = 0) -> None:
        super().__init__(parent)
        self._generation = 0
        self._running: Task | None = None
        self._pending: tuple[int, Job] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start_pending)

    @property
    def busy(self) -> bool:
        return self._running is not None or self._pending is not None

    def request(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
        """Ask for ``fn(*args, **kwargs)``; with a delay, the call waits that long for a newer request
        (the debounce). Returns the request's number."""
        self._generation += 1
        was_busy = self.busy
        self._pending = (self._generation, (fn, args, kwargs))
        if not was_busy:
            self.busy_changed.emit(True)
        if self._running is None:
            self._timer.start()  # restarted by every request: the debounce
        return self._generation

    def cancel(self) -> None:
        """Forget the pending request and drop the running one's answer."""
        self._generation += 1
        self._pending = None
        self._timer.stop()
        if self._running is None:
            self.busy_changed.emit(False)

    def _start_pending(self) -> None:
        if self._pending is None or self._running is not None:
            return
        generation, (fn, args, kwargs) = self._pending
        self._pending = None
        self._running = run_in_thread(
            fn,
            *args,
            on_result=lambda out: self._done(generation, out, None),
            on_error=lambda exc, tb: self._done(generation, exc, tb),
            **kwargs,
        )

    def _done(self, generation: int, out: Any, tb: str | None) -> None:
        self._running = None
        if generation == self._generation:
            if tb is None:
                self.result.emit(out)
            else:
                self.failed.emit(out, tb)
        if self._pending is not None:
            QTimer.singleShot(0, self, self._start_pending)  # it has waited its debounce already
        else:
            self.busy_changed.emit(False)
