"""Cooperative cancellation: a thread-safe flag, optionally mirrored by a STOP file for other processes."""

from __future__ import annotations

import signal
import threading
from pathlib import Path


class StopToken:
    """Polled by the trainer before every batch; set from any thread (GUI button, signal handler)."""

    def __init__(self, stop_file: Path | None = None) -> None:
        self._event = threading.Event()
        self.stop_file = stop_file
        self._checks = 0

    def request_stop(self) -> None:
        self._event.set()

    @property
    def stop_requested(self) -> bool:
        if self._event.is_set():
            return True
        if self.stop_file is not None:
            self._checks += 1
            # A stat per batch is cheap, but every 16th check is plenty for a human-pressed stop.
            if self._checks % 16 == 0 and self.stop_file.exists():
                self._event.set()
                return True
        return False


def install_signal_handlers(token: StopToken) -> None:
    """SIGINT/SIGTERM request a clean stop (a second SIGINT interrupts at once)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):  # noqa: ARG001
        if token.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        token.request_stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
