from __future__ import annotations

import pytest

from recsys_gui.core.session import DataSpec, RunSpec
from tests.conftest import tiny_split

pytestmark = pytest.mark.gui


def _spec(epochs: int) -> RunSpec:
    return RunSpec(data=DataSpec(), model="mf", train={"epochs": epochs, "batch_size": 64,
                                                      "log_every_n_steps": 1, "device": "cpu"})


def test_short_training_draws_curves(window, qtbot):
    page = window.train_page
    with qtbot.waitSignal(page.finished, timeout=60000) as blocker:
        assert page.start(spec=_spec(3), split=tiny_split())
    summary = blocker.args[0]
    assert summary["status"] == "completed"
    page.flush_plots()
    assert page.losses.points("loss") > 0
    assert page.metrics.points("ndcg@10") == 3
    assert page.status_label.text() == "completed"
    qtbot.waitUntil(lambda: any(r["id"] == summary["run_id"] for r in window.state.runs), timeout=10000)
    # the Compare page, off screen during the run, fills its table when it is shown (WhenShown)
    assert window.compare_page.runs_model.rowCount() == 0
    window.go("Compare")
    assert window.compare_page.runs_model.rowCount() >= 1


def test_stop_mid_run_is_cancelled(window, qtbot):
    page = window.train_page
    assert page.start(spec=_spec(500), split=tiny_split())
    qtbot.waitUntil(lambda: page.losses.points("loss") > 0, timeout=30000)
    with qtbot.waitSignal(page.controller.busy_changed, timeout=20000):
        page.stop()
    assert page.status == "cancelled"
    assert not page.controller.busy


def test_queue_runs_one_after_another(window, qtbot):
    page = window.train_page
    finished = []
    page.finished.connect(finished.append)
    page.start(spec=_spec(1), split=tiny_split())
    page.start(spec=_spec(1), split=tiny_split(), queue=True)
    assert len(page.controller.queue) == 1
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=60000)
    assert all(s["status"] == "completed" for s in finished)


def test_forwarder_throttles_steps_but_never_epochs():
    from recsys_gui.core.training import events as ev
    from recsys_gui.gui.bridge import SignalForwarder

    got = []
    fw = SignalForwarder(got.append, min_interval_s=10.0)
    for i in range(50):
        fw.on_event(ev.StepLogged(0, i, i, {"loss": 1.0}, 0.1, 10.0))
        fw.on_event(ev.EpochEnded(i, {"loss": 1.0}, 0.1))
    assert sum(isinstance(e, ev.StepLogged) for e in got) == 1
    assert sum(isinstance(e, ev.EpochEnded) for e in got) == 50


def _file_spec(tmp_path, epochs: int) -> RunSpec:
    rows = "".join(f"u{u},i{(u * 7 + j * 3) % 40}\n" for u in range(60) for j in range(8))
    path = tmp_path / "clicks.csv"
    path.write_text("user,item\n" + rows)
    return RunSpec(data=DataSpec(path=str(path)), model="mf",
                   train={"epochs": epochs, "batch_size": 32, "log_every_n_steps": 1, "device": "cpu"})


def test_a_run_from_a_file_trains_in_its_own_process(window, qtbot, tmp_path):
    """The window's process only follows the run's events: its GIL is never the trainer's."""
    page = window.train_page
    with qtbot.waitSignal(page.finished, timeout=120000) as blocker:
        assert page.start(spec=_file_spec(tmp_path, 3))
        assert page.controller.in_child_process
    summary = blocker.args[0]
    assert summary["status"] == "completed", summary
    page.flush_plots()
    assert page.losses.points("loss") > 0
    assert page.metrics.points("ndcg@10") == 3
    assert not page.controller.busy


def test_stopping_a_run_in_its_own_process_cancels_it(window, qtbot, tmp_path):
    page = window.train_page
    assert page.start(spec=_file_spec(tmp_path, 5000))
    assert page.controller.in_child_process
    qtbot.waitUntil(lambda: page.losses.points("loss") > 0, timeout=60000)
    with qtbot.waitSignal(page.controller.busy_changed, timeout=30000):
        page.stop()
    assert page.status == "cancelled"
    assert not page.controller.busy
