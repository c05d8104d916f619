"""GUI fixtures: offscreen window with its own settings and workspace; fail on leaked QThreads."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QThread, QThreadPool

_started: list[QThread] = []
_orig_start = QThread.start


def _tracking_start(self, *args, **kwargs):
    _started.append(self)
    return _orig_start(self, *args, **kwargs)


QThread.start = _tracking_start  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _dangling_qthreads(qapp):
    """Fail a test that leaves a QThread running (napari's rule) or short jobs unfinished."""
    _started.clear()
    yield
    leaked = []
    for t in list(_started):
        try:
            if t.isRunning():
                leaked.append(t.objectName() or repr(t))
        except RuntimeError:  # already deleted on the C++ side: not running
            pass
    _started.clear()
    pool_ok = QThreadPool.globalInstance().waitForDone(10000)
    if leaked:
        pytest.fail(f"test left QThread(s) running: {', '.join(leaked)}")
    if not pool_ok:
        pytest.fail("test left thread-pool jobs running")


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def settings(tmp_path):
    from recsys_gui.gui.settings_io import SettingsFile

    return SettingsFile(tmp_path / "settings.json")


@pytest.fixture
def window(qtbot, workspace, settings):
    from recsys_gui.gui import theme
    from recsys_gui.gui.main_window import MainWindow

    theme.apply_theme(qtbot_app(), "light")
    win = MainWindow(workspace=str(workspace), settings=settings)
    win.train_page.setProperty("quiet", True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    close_window(win)


def close_window(win):
    """Close as the user would (the run stopped, short jobs waited for), then deliver the jobs' queued
    results while the pages still exist: delivered later, they would hit deleted widgets in another test."""
    win.close()
    for _ in range(3):
        qtbot_app().processEvents()


def qtbot_app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


@pytest.fixture
def interactions_csv(tmp_path):
    """The bundled sample when present, else a small synthetic file with the same columns."""
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
    if sample.exists():
        return sample
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"user_id": rng.integers(0, 150, n), "item_id": rng.zipf(1.6, n) % 120,
                       "rating": rng.integers(1, 6, n),
                       "timestamp": 1_600_000_000 + rng.integers(0, 10**7, n)})
    p = tmp_path / "interactions.csv"
    df.to_csv(p, index=False)
    return p
