"""The next start after a crash: interrupted runs are found and the dialog's three answers act."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _run(store, run_id: str, *, checkpoint: bool) -> None:
    store.create_run(run_id=run_id, model="mf", family="factorization", spec={"model": "mf"},
                     data_path="d.csv", data_fingerprint="x", split="ratio:8,1,1", seed=0, device="CPU",
                     world_size=1, versions={})
    ck = store.workspace.checkpoint_dir(run_id)
    ck.mkdir(parents=True)
    if checkpoint:
        (ck / "last.pt").write_bytes(b"not really a checkpoint")


@pytest.fixture
def crashed_ws(tmp_path):
    """A workspace with two runs of a process that died, one finished run, one live run."""
    from recsys_gui.core.store.run_store import RunStore

    ws = tmp_path / "ws"
    store = RunStore(ws)
    _run(store, "with-ckpt", checkpoint=True)
    _run(store, "no-ckpt", checkpoint=False)
    _run(store, "done", checkpoint=True)
    _run(store, "live", checkpoint=True)  # this process: alive, must stay 'running'
    dead = _dead_pid()
    store.update_run("with-ckpt", pid=dead)
    store.update_run("no-ckpt", pid=dead)
    store.finish_run("done", "completed")
    store.close()
    return ws


def _patch_exec(monkeypatch, answer: int, seen: list):
    from recsys_gui.gui import recovery

    def fake_exec(self):
        seen.append([r["id"] for r in self.runs])
        return answer

    monkeypatch.setattr(recovery.RecoveryDialog, "exec", fake_exec)


def test_find_interrupted_marks_only_dead_runs(crashed_ws):
    from recsys_gui.core.store.run_store import RunStore
    from recsys_gui.gui.recovery import find_interrupted

    runs = {r["id"]: r for r in find_interrupted(crashed_ws)}
    assert set(runs) == {"with-ckpt", "no-ckpt"}
    assert runs["with-ckpt"]["resumable"] and not runs["no-ckpt"]["resumable"]
    store = RunStore(crashed_ws)
    assert store.get_run("live")["status"] == "running"
    assert store.get_run("done")["status"] == "completed"
    store.close()


def test_resume_calls_back_for_resumable_runs_only(qtbot, monkeypatch, crashed_ws):
    from recsys_gui.gui.recovery import RecoveryDialog, offer_recovery

    seen: list = []
    _patch_exec(monkeypatch, RecoveryDialog.RESUME, seen)
    resumed: list = []
    offer_recovery(None, crashed_ws, resumed.append)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert sorted(seen[0]) == ["no-ckpt", "with-ckpt"]
    assert [r["id"] for r in resumed] == ["with-ckpt"]
    assert resumed[0]["spec"] == {"model": "mf"}  # what the caller needs to queue the resume


def test_clean_up_deletes_runs_and_leftovers(qtbot, monkeypatch, crashed_ws):
    from recsys_gui.core.store.run_store import RunStore
    from recsys_gui.gui.recovery import RecoveryDialog, offer_recovery

    seen: list = []
    _patch_exec(monkeypatch, RecoveryDialog.CLEAN, seen)
    # what a process killed mid-checkpoint leaves in a kept run: a partial file of a dead pid
    stale = crashed_ws / "runs" / "done" / "checkpoints" / f".best.pt.{_dead_pid()}-abcd.partial"
    stale.write_bytes(b"half")
    changed: list = []
    offer_recovery(None, crashed_ws, lambda row: pytest.fail("nothing to resume"),
                   on_changed=lambda: changed.append(True))
    qtbot.waitUntil(lambda: bool(changed), timeout=10000)
    store = RunStore(crashed_ws)
    assert sorted(r["id"] for r in store.list_runs()) == ["done", "live"]
    store.close()
    assert not (crashed_ws / "runs" / "with-ckpt").exists()
    assert not (crashed_ws / "runs" / "no-ckpt").exists()
    assert not stale.exists()
    assert (crashed_ws / "runs" / "live").exists()


def test_later_changes_nothing(qtbot, monkeypatch, crashed_ws):
    from recsys_gui.core.store.run_store import RunStore
    from recsys_gui.gui.recovery import RecoveryDialog, offer_recovery

    seen: list = []
    _patch_exec(monkeypatch, RecoveryDialog.DialogCode.Rejected, seen)
    task = offer_recovery(None, crashed_ws, lambda row: pytest.fail("Later must not resume"),
                          on_changed=lambda: pytest.fail("Later must not clean"))
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert task.done.wait(5)
    store = RunStore(crashed_ws)
    assert sorted(r["id"] for r in store.interrupted_runs()) == ["no-ckpt", "with-ckpt"]
    store.close()


def test_no_dialog_without_interrupted_runs(qtbot, monkeypatch, tmp_path):
    from recsys_gui.gui.recovery import offer_recovery

    seen: list = []
    _patch_exec(monkeypatch, 0, seen)
    task = offer_recovery(None, tmp_path / "fresh", lambda row: None)
    qtbot.waitUntil(lambda: task.done.is_set(), timeout=10000)
    qtbot.wait(50)  # let the queued result reach the GUI thread
    assert seen == []


def test_dialog_lists_runs_and_reports_ticked_ones(qtbot):
    from PySide6.QtCore import Qt

    from recsys_gui.gui.recovery import RecoveryDialog

    runs = [{"id": "a", "model": "mf", "created_at": 0, "resumable": False},
            {"id": "b", "model": "mf", "created_at": 0, "resumable": False}]
    dlg = RecoveryDialog(runs)
    qtbot.addWidget(dlg)
    assert dlg.list.count() == 2 and "cannot resume" in dlg.list.item(0).text()
    assert not dlg.resume_btn.isEnabled()  # nothing has a checkpoint
    dlg.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert [r["id"] for r in dlg.selected()] == ["b"]
    dlg.clean_btn.click()
    assert dlg.result() == RecoveryDialog.CLEAN


def test_cli_list_offers_resume_and_clean(crashed_ws, capsys):
    """The CLI's next start: `runs list` names the way out, `runs clean` takes it (not live runs)."""
    import os
    import time

    from recsys_gui.cli import main
    from recsys_gui.core.store.run_store import RunStore

    assert main(["runs", "list", "--workspace", str(crashed_ws)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s) were interrupted" in out
    assert "recsys-gui train --resume with-ckpt" in out and "recsys-gui runs clean" in out
    # a folder no row owns: an old one was left by a killed process, a fresh one may be a run starting
    old, fresh = crashed_ws / "runs" / "orphan-old", crashed_ws / "runs" / "orphan-new"
    for d in (old, fresh):
        (d / "checkpoints").mkdir(parents=True)
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert main(["runs", "clean", "--yes", "--workspace", str(crashed_ws)]) == 0
    assert "Removed 2 run(s) (interrupted), 1 folder(s)" in capsys.readouterr().out
    store = RunStore(crashed_ws)
    assert sorted(r["id"] for r in store.list_runs()) == ["done", "live"]
    store.close()
    assert not old.exists() and fresh.exists()
    assert main(["runs", "clean", "--workspace", str(crashed_ws), "--cancelled"]) == 0  # nothing to ask about
