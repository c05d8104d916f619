"""The Train page runs torchrun (2 gloo processes) through its one controller and follows its events.jsonl;
the child's command line, from a source install and from the packaged app."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from recsys_gui.core.session import DataSpec, RunSpec

pytestmark = [pytest.mark.gui, pytest.mark.ddp]

TINY = Path(__file__).resolve().parents[2] / "sample_data" / "tiny.csv"


def _spec(epochs: int, batch_size: int = 64) -> RunSpec:
    return RunSpec(data=DataSpec(path=str(TINY)), model="mf",
                   train={"epochs": epochs, "batch_size": batch_size, "log_every_n_steps": 1, "device": "cpu",
                          "threads": 1})


@pytest.fixture
def page(window, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    page = window.train_page
    window.model_page.select_model("mf")
    assert page.processes.isEnabled()
    page.processes.setValue(2)
    yield page
    page.controller.shutdown(20000)


def test_two_process_run_draws_the_same_curves(page, qtbot, workspace):
    with qtbot.waitSignal(page.finished, timeout=120000) as blocker:
        assert page.start(spec=_spec(3))
        assert page.controller.run is not None and page.controller.run.processes == 2
        assert page.stop_btn.isEnabled() and page.start_btn.text() == "Start (queues)"
    summary = blocker.args[0]
    assert summary["status"] == "completed", summary
    page.flush_plots()
    assert page.losses.points("loss") > 0
    assert page.metrics.points("ndcg@10") == 3  # one validation point per epoch, from the event file
    assert page.status_label.text() == "completed"
    qtbot.waitUntil(lambda: page.controller.run is None, timeout=10000)
    assert not page.stop_btn.isEnabled() and page.start_btn.text() == "Start"
    # The run really was a 2-rank DDP run, written once by rank 0.
    run_dir = workspace / "runs" / summary["run_id"]
    started = [json.loads(ln) for ln in (run_dir / "events.jsonl").read_text().splitlines()
               if '"run_started"' in ln]
    assert len(started) == 1 and started[0]["world_size"] == 2
    assert summary["test"]["ndcg@10"] > 0


def test_stop_reaches_the_separate_processes(page, qtbot, workspace):
    assert page.start(spec=_spec(2000, batch_size=16))
    run = page.controller.run
    qtbot.waitUntil(lambda: page.losses.points("loss") > 0, timeout=90000)
    if hasattr(os, "getpriority"):  # background work at a lower priority: the window is served first
        pid = int(run.process.processId())
        kids = Path(f"/proc/{pid}/task/{pid}/children")
        ranks = [int(k) for k in kids.read_text().split()] if kids.exists() else []
        assert [os.getpriority(os.PRIO_PROCESS, p) >= 10 for p in (pid, *ranks)] == [True] * (1 + len(ranks))
    with qtbot.waitSignal(page.finished, timeout=60000) as blocker:
        page.stop()
        assert page.status_label.text() == "stopping…"
    assert blocker.args[0]["status"] == "cancelled"
    assert (workspace / "runs" / run.run_id / "STOP").exists()
    assert page.status == "cancelled"
    qtbot.waitUntil(lambda: page.controller.run is None, timeout=10000)


def test_processes_only_for_models_trained_in_steps(window):
    page = window.train_page
    window.model_page.select_model("ease")
    assert not page.processes.isEnabled()
    window.model_page.select_model("mf")
    assert page.processes.isEnabled()


def test_event_file_is_read_in_pieces(qtbot, workspace):
    """Half-written lines wait for their end; unknown lines are skipped, known ones become events."""
    from recsys_gui.core.training import events as ev
    from recsys_gui.gui.external_run import ExternalRun

    run = ExternalRun(_spec(1), str(workspace), processes=2)
    got: list = []
    run.event.connect(got.append)
    run.run_dir.mkdir(parents=True)
    line = json.dumps(ev.EpochEnded(0, {"loss": 0.5}, 1.0).to_dict())
    with run.events_path.open("w") as fh:
        fh.write('{"kind": "from_the_future"}\n' + line[:10])
    run.poll()
    assert got == []
    with run.events_path.open("a") as fh:
        fh.write(line[10:] + "\n")
    run.poll()
    assert got == [ev.EpochEnded(0, {"loss": 0.5}, 1.0)]
    assert "--nproc-per-node" in run.command() and "--run-id" in run.command()


def test_child_command_from_a_source_install_and_from_the_packaged_app(monkeypatch, workspace):
    """A packaged app has no Python: it relaunches its own executable with the `train` subcommand."""
    from recsys_gui.gui.external_run import ExternalRun

    run = ExternalRun(_spec(1), str(workspace))
    spec_file = str(run.run_dir / "launch_spec.json")
    tail = ["train", "--spec", spec_file, "--run-id", run.run_id, "--workspace", str(workspace.resolve()),
            "--json", "--quiet"]
    assert run.command() == [sys.executable, "-m", "recsys_gui", *tail]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/recsys-studio/recsys-studio")
    assert run.command() == ["/opt/recsys-studio/recsys-studio", *tail]
    assert run._environment().value("PYTHONPATH", "") == os.environ.get("PYTHONPATH", "")  # no source tree
    resumed = ExternalRun(_spec(1), str(workspace), resume_run_id="mf-1")
    assert resumed.command()[1:4] == ["train", "--resume", "mf-1"]


def test_a_packaged_app_offers_one_process_only(window, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    window.model_page.select_model("ease")
    window.model_page.select_model("mf")
    page = window.train_page
    assert not page.processes.isEnabled() and "packaged" in page.processes.toolTip()
