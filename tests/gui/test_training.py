"""The Train page: every run trains in a child process through the one TrainingController.

Start, stop, queue and resume are driven through the page; the curves come from the child's
events.jsonl. Each run starts a Python process (a few seconds), so the budgets are tiny.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from recsys_gui.core.session import DataSpec, RunSpec

pytestmark = pytest.mark.gui


def _file_spec(tmp_path: Path, epochs: int, batch_size: int = 32) -> RunSpec:
    rows = "".join(f"u{u},i{(u * 7 + j * 3) % 40}\n" for u in range(60) for j in range(8))
    path = tmp_path / "clicks.csv"
    path.write_text("user,item\n" + rows)
    train = {"epochs": epochs, "batch_size": batch_size, "log_every_n_steps": 1, "device": "cpu"}
    return RunSpec(data=DataSpec(path=str(path)), model="mf", train=train)


def test_a_run_trains_in_a_child_process_and_draws_curves(window, qtbot, tmp_path):
    """The window's process only follows the run's events: it never trains itself."""
    page = window.train_page
    with qtbot.waitSignal(page.finished, timeout=120000) as blocker:
        assert page.start(spec=_file_spec(tmp_path, 3))
        run = page.controller.run
        assert run is not None and run.process.processId() > 0
        assert run.command()[:3] == [sys.executable, "-m", "recsys_gui"]
    summary = blocker.args[0]
    assert summary["status"] == "completed", summary
    assert summary["run_id"] == run.run_id
    page.flush_plots()
    assert page.losses.points("loss") > 0
    assert page.metrics.points("ndcg@10") == 3
    assert page.status_label.text() == "completed"
    assert not page.controller.busy
    qtbot.waitUntil(lambda: any(r["id"] == summary["run_id"] for r in window.state.runs), timeout=10000)
    # the Compare page, off screen during the run, fills its table when it is shown (WhenShown)
    assert window.compare_page.runs_model.rowCount() == 0
    window.go("Compare")
    assert window.compare_page.runs_model.rowCount() >= 1


def test_stop_then_resume_continues_the_same_run(window, qtbot, tmp_path, workspace):
    """Stop writes the run's STOP file; Resume starts `train --resume` on the same run id."""
    page = window.train_page
    finished: list[dict] = []
    page.finished.connect(finished.append)
    assert page.start(spec=_file_spec(tmp_path, 5000, batch_size=8))
    run_id = page.controller.run.run_id
    qtbot.waitUntil(lambda: page.losses.points("loss") > 0, timeout=60000)
    with qtbot.waitSignal(page.controller.busy_changed, timeout=30000):
        page.stop()
    assert (workspace / "runs" / run_id / "STOP").exists()
    assert page.status == "cancelled" and finished[-1]["run_id"] == run_id
    assert not page.controller.busy
    qtbot.waitUntil(lambda: page.resume_combo.findData(run_id) >= 0, timeout=30000)
    page.resume_combo.setCurrentIndex(page.resume_combo.findData(run_id))
    assert page.resume()
    resumed = page.controller.run
    assert resumed is not None and resumed.run_id == run_id and "--resume" in resumed.command()
    assert page.status == "running"
    # the follower starts where the first life of the run ended: no second RunFinished replayed
    with qtbot.waitSignal(page.finished, timeout=60000) as blocker:
        qtbot.waitUntil(lambda: page.status_label.text() == "running", timeout=60000)
        page.stop()
    assert blocker.args[0]["status"] == "cancelled" and blocker.args[0]["run_id"] == run_id
    assert len(finished) == 2


def test_queue_runs_one_after_another(window, qtbot, tmp_path):
    page = window.train_page
    finished = []
    page.finished.connect(finished.append)
    assert page.start(spec=_file_spec(tmp_path, 1))
    assert page.start(spec=_file_spec(tmp_path, 1), queue=True)
    assert len(page.controller.queue) == 1 and page.queue_list.count() == 1
    assert page.start_btn.text() == "Start (queues)"
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=120000)
    assert all(s["status"] == "completed" for s in finished)
    assert finished[0]["run_id"] != finished[1]["run_id"]
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=10000)
    assert page.start_btn.text() == "Start" and page.queue_list.count() == 0


def test_a_run_that_cannot_start_reports_why(window, qtbot, tmp_path):
    """A spec whose file is missing fails in the child; the page shows the child's one-line error."""
    page = window.train_page
    spec = RunSpec(data=DataSpec(path=str(tmp_path / "gone.csv")), model="pop", train={"device": "cpu"})
    with qtbot.waitSignal(page.failed, timeout=60000) as blocker:
        assert page.start(spec=spec)
    assert "gone.csv" in blocker.args[0] and "Traceback" not in blocker.args[0]
    assert page.status == "failed"
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=10000)


def test_the_log_shows_the_validated_metrics_first(window):
    """The child's JSON summary sorts its keys (arp@10 first); the log leads with what was validated."""
    from recsys_gui.core.training import events as ev

    page = window.train_page
    page.on_event(ev.ValidationEnded(0, {"ndcg@10": 0.3, "recall@10": 0.4}, True, 0.1))
    page._run_finished({"run_id": "r", "status": "completed",
                        "test": {"arp@10": 190.0, "coverage@10": 0.8, "gini@10": 0.7, "ndcg@10": 0.31,
                                 "recall@10": 0.41}})
    assert page.log.toPlainText().splitlines()[-1].endswith(
        "test ndcg@10 0.3100, recall@10 0.4100, arp@10 190.0000, coverage@10 0.8000")
