"""The GUI thread stays responsive while the app imports, trains, evaluates, projects and exports.

A 10 ms QTimer heartbeat runs on the GUI thread through each phase. A gap between two ticks, less
the time the GUI thread was runnable but had no CPU, is the thread's own work (a slot, a model
reset, a plot, a layout pass) and its waits for the GIL held by the app's workers, both the app's
doing. Time a shared runner gives to other jobs is taken off because no code change can remove it.
Raw gaps, p99s and the split into busy and blocked time are printed (run with -s) and written to
``<name>.json`` in the test's tmp dir.

CI runs one tripwire: no stretch of 500 ms during a load and a training run (a frozen window, not
a slow frame). The 100 ms budget is a measurement for a quiet machine: ``-m perf`` runs it.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from tests.gui import drive

pytestmark = pytest.mark.gui

BUDGET_MS = 100.0  # perf: a frame-scale stall
TRIPWIRE_MS = 500.0  # CI: a frozen window, whatever else the machine runs
BUSY = 1  # column of drive.Heartbeat.gaps


def _spin(ms: float) -> None:
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


def _control(hb: drive.Heartbeat, qtbot, limit_ms: float) -> None:
    """The instrument can fail: CPU work of 1.5 × the limit in a GUI-thread slot shows up as a busy gap."""
    with hb.measure("control"):
        qtbot.wait(30)
        QTimer.singleShot(0, lambda: _spin(1.5 * limit_ms))
        qtbot.wait(int(3 * limit_ms))
    assert hb.worst("control", BUSY) >= limit_ms, hb.summary()["control"]
    assert hb.worst_own("control") >= limit_ms, hb.summary()["control"]


def _check(hb: drive.Heartbeat, tmp_path, name: str, limit_ms: float) -> None:
    table = hb.report(tmp_path / f"{name}.json")
    print(f"\nheartbeat (ms; written to {tmp_path / (name + '.json')}):\n{table}")
    phases = [p for p in hb.gaps if p != "control"]
    for p in phases:
        # PCA can end within one 10 ms tick (the control phase shows the heartbeat works); every
        # other phase lasts long enough that no tick at all would mean it went unmeasured
        assert p == "projection_pca" or hb.gaps[p], f"{p}: the heartbeat never ran\n{table}"
    slow = {p: hb.worst_own(p) for p in phases if hb.worst_own(p) >= limit_ms}
    where = "\n".join(s for s in hb.stalls if s.split("]")[0][1:] in slow)
    assert not slow, f"GUI thread unavailable ≥ {limit_ms:.0f} ms in one stretch: {slow}\n{table}\n{where}"


def test_gui_thread_never_frozen_while_loading_and_training(window, qtbot, tmp_path):
    """The CI tripwire: one pass, no retry; training is a child process, so only the window's own
    work (reading the event file, drawing the curves) is measured while it trains."""
    hb = drive.Heartbeat(10)
    _control(hb, qtbot, TRIPWIRE_MS)
    with hb.measure("import"):
        drive.load_data(window, qtbot)
    drive.prepare_training(window, "mf", train={"epochs": 2})
    with hb.measure("training"):  # from the Start press to the run in the run list
        drive.start_and_wait(window, qtbot)
    assert window.train_page.losses.points("loss") > 0
    _check(hb, tmp_path, "heartbeat-tripwire", TRIPWIRE_MS)


@pytest.mark.perf
def test_gui_thread_never_held_100ms(window, qtbot, tmp_path):
    hb = drive.Heartbeat(10)
    _control(hb, qtbot, BUDGET_MS)
    with hb.measure("import"):
        drive.load_data(window, qtbot)
    # the run the other phases need, trained outside the measurement (see the training test)
    run_id = drive.train(window, qtbot, "mf", train={"epochs": 2})["run_id"]
    with hb.measure("evaluation"):
        drive.evaluate_k(window, qtbot, run_id)
    with hb.measure("projection_pca"):
        drive.project(window, qtbot, run_id, "pca")
    with hb.measure("projection_tsne"):
        drive.project(window, qtbot, run_id, "tsne")
    assert drive.scatter_points(window) == window.state.report.items
    with hb.measure("export"):
        drive.export_recommendations(window, qtbot, run_id, tmp_path / "recs.sqlite", "sqlite", 20)
    _check(hb, tmp_path, "heartbeat", BUDGET_MS)


@pytest.mark.perf
def test_gui_thread_responsive_while_training(window, qtbot, tmp_path):
    """MF with its default batch size, Train page on screen, live curves redrawing."""
    drive.load_data(window, qtbot)
    hb = drive.Heartbeat(10)
    drive.prepare_training(window, "mf", train={"epochs": 3})
    with hb.measure("training"):  # from the Start press to the run in the run list
        drive.start_and_wait(window, qtbot)
    assert window.train_page.losses.points("loss") > 0
    _check(hb, tmp_path, "heartbeat-training", BUDGET_MS)
