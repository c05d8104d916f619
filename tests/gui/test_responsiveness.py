"""The GUI thread stays responsive while the app imports, trains, evaluates, projects and exports.

A 10 ms QTimer heartbeat runs on the GUI thread through each phase. The test fails when a gap
between two ticks, less the time the GUI thread was runnable but had no CPU, reaches 100 ms: what
is left is the thread's own work (a slot, a model reset, a plot, a layout pass) and its waits for
the GIL held by the app's workers, both the app's doing. Time a shared 2-core runner gives to other
jobs is taken off because no code change can remove it. Raw gaps, p99s and the split into busy
and blocked time are printed (run with -s) and written to ``heartbeat.json`` in the test's tmp dir.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from tests.gui import drive

pytestmark = pytest.mark.gui

LIMIT_MS = 100.0
BUSY = 1  # column of drive.Heartbeat.gaps


def _spin(ms: float) -> None:
    end = time.thread_time() + ms / 1000
    while time.thread_time() < end:
        pass


def _check(hb: drive.Heartbeat, tmp_path, name: str) -> None:
    table = hb.report(tmp_path / f"{name}.json")
    print(f"\nheartbeat (ms; written to {tmp_path / (name + '.json')}):\n{table}")
    phases = [p for p in hb.gaps if p != "control"]
    for p in phases:
        # PCA can end within one 10 ms tick (the control phase shows the heartbeat works); every
        # other phase lasts long enough that no tick at all would mean it went unmeasured
        assert p == "projection_pca" or hb.gaps[p], f"{p}: the heartbeat never ran\n{table}"
    slow = {p: hb.worst_own(p) for p in phases if hb.worst_own(p) >= LIMIT_MS}
    where = "\n".join(s for s in hb.stalls if s.split("]")[0][1:] in slow)
    assert not slow, f"GUI thread unavailable ≥ {LIMIT_MS:.0f} ms in one stretch: {slow}\n{table}\n{where}"


def test_gui_thread_never_held_100ms(window, qtbot, tmp_path):
    hb = drive.Heartbeat(10)

    # The instrument can fail: 150 ms of CPU work in a GUI-thread slot shows up as a busy gap.
    with hb.measure("control"):
        qtbot.wait(30)
        QTimer.singleShot(0, lambda: _spin(150))
        qtbot.wait(300)
    assert hb.worst("control", BUSY) >= LIMIT_MS, hb.summary()["control"]
    assert hb.worst_own("control") >= LIMIT_MS, hb.summary()["control"]

    def measure_phases(hb: drive.Heartbeat) -> None:
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
            out = tmp_path / f"recs-{id(hb)}.sqlite"
            drive.export_recommendations(window, qtbot, run_id, out, "sqlite", 20)

    measure_phases(hb)
    try:
        _check(hb, tmp_path, "heartbeat")
    except AssertionError as first:
        # A slot that is really too slow is slow every time; a one-off spike is the shared machine.
        # So the test fails only when a second pass is also over the limit.
        again = drive.Heartbeat(10)
        measure_phases(again)
        try:
            _check(again, tmp_path, "heartbeat-again")
        except AssertionError as second:
            raise AssertionError(f"over the limit twice:\nfirst: {first}\nsecond: {second}") from None


def test_gui_thread_responsive_while_training(window, qtbot, tmp_path):
    """MF with its default batch size, Train page on screen, live curves redrawing.

    Training runs in a child process, so no GIL is shared; what the GUI thread does is read the
    event file and repaint. As above, a phase fails only when a second run is over the limit too.
    """
    drive.load_data(window, qtbot)

    def measure(name: str) -> None:
        hb = drive.Heartbeat(10)
        drive.prepare_training(window, "mf", train={"epochs": 3})
        with hb.measure("training"):  # from the Start press to the run in the run list
            drive.start_and_wait(window, qtbot)
        assert window.train_page.losses.points("loss") > 0
        _check(hb, tmp_path, name)

    try:
        measure("heartbeat-training")
    except AssertionError as first:
        try:
            measure("heartbeat-training-again")
        except AssertionError as second:
            raise AssertionError(f"over the limit twice:\nfirst: {first}\nsecond: {second}") from None
