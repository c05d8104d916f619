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


STOP_FILE = "STOP"


def stop_file(run_dir: Path) -> Path:
    """Where another process asks a run to stop: ``runs/<id>/STOP``."""
    return Path(run_dir) / STOP_FILE


def request_stop_file(run_dir: Path) -> Path:
    """Ask the run in ``run_dir`` (any process, any rank count) to stop after its current batch."""
    path = stop_file(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def clear_stop_file(run_dir: Path) -> None:
    """Forget an old stop request, so that resuming a stopped run does not stop it at once."""
    stop_file(run_dir).unlink(missing_ok=True)


def install_signal_handlers(token: StopToken) -> None:
    """SIGINT/SIGTERM request a clean stop (a second SIGINT interrupts at once)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        if token.stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        token.request_stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
