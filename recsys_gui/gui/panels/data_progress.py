"""The Data page's load progress: the core loader's stages and fractions, and the time so far.

The loader reports a few stages (reading, mapping ids, cleaning); reading a 20M-row file is one
stage of several seconds, so the bar also counts the seconds, which shows the load is alive.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressBar, QWidget

STEPS = 1000


class LoadProgress(QProgressBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("load_progress")
        self.setRange(0, STEPS)
        self.setFixedWidth(280)
        self.setVisible(False)
        self.stage = ""
        self._started = 0.0
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._show_text)

    def start(self) -> None:
        self.stage, self._started = "starting", time.monotonic()
        self.setVisible(True)
        self.setValue(0)
        self._show_text()
        self._clock.start()

    def step(self, fraction: float, text: str) -> None:
        """One report of the core's ``ProgressFn``: a fraction of the whole load and its stage."""
        self.stage = text or self.stage
        self.setValue(round(max(0.0, min(1.0, fraction)) * STEPS))
        self._show_text()

    def finish(self) -> None:
        self._clock.stop()
        self.setVisible(False)

    def _show_text(self) -> None:
        self.setFormat(f"{self.stage} · {time.monotonic() - self._started:.0f} s · %p%")
