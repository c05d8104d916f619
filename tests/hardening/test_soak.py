"""A long session: train → stop → evaluate → export cycles in one window leak nothing.

Every run from the window trains in a child process: its pipes, processes and file followers must
not pile up, and evaluation and export (which run in the window's process) must not leak.

After every cycle: no QThread running and no pool job active, the open file handles and OS threads
back to where they were, and resident memory from cycle 5 to the last grows by less than 10 %.
Everything goes through the pages' own entry points (Train: start/stop, Results: evaluate_k,
Export: export_recommendations) on the bundled sample data; the figures are printed.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

# the GUI suite's fixtures: one offscreen MainWindow with its own workspace, and the QThread leak check
from tests.gui.conftest import _dangling_qthreads, _started, settings, window, workspace  # noqa: F401 -- fixtures

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
CYCLES = 12
FIRST_MEASURED = 5  # cycles 1-4 warm caches (imports, pools, allocator arenas)
FD_SLACK = 5
RSS_GROWTH = 0.10


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _spec():
    from recsys_gui.core.session import DataSpec, RunSpec

    return RunSpec(data=DataSpec(path=str(SAMPLE)), model="mf", metrics=("ndcg@10", "recall@10"),
                   train={"epochs": 200, "batch_size": 1024, "device": "cpu", "threads": 1,
                          "early_stop_metric": "ndcg@10", "patience": 1000})


def _running_qthreads() -> list[str]:
    out = []
    for t in list(_started):
        try:
            if t.isRunning():
                out.append(t.objectName() or repr(t))
        except RuntimeError:  # deleted on the C++ side: not running
            pass
    return out


def _cycle(win, qtbot, i: int, out: Path) -> str:
    """One train → stop → evaluate → export cycle; returns the run id."""
    train, results, export = win.train_page, win.results_page, win.export_page
    with qtbot.waitSignal(train.finished, timeout=120000) as done:
        assert train.start(spec=_spec())
        assert train.controller.run is not None
        # stop once the first validation is in (a best checkpoint exists to evaluate and export)
        qtbot.waitUntil(lambda: train.metrics.points("ndcg@10") >= 1, timeout=120000)
        train.stop()
    summary = done.args[0]
    assert summary["status"] == "cancelled" and summary["run_id"], summary
    run_id = summary["run_id"]
    qtbot.waitUntil(lambda: any(r["id"] == run_id for r in win.state.runs), timeout=30000)
    qtbot.waitUntil(lambda: not train.controller.busy, timeout=30000)

    results.picker.select(run_id)
    assert results.picker.current() == run_id
    results.evaluate_k()
    assert not results.eval_btn.isEnabled()
    qtbot.waitUntil(results.eval_btn.isEnabled, timeout=120000)
    assert results.k_result is not None and results.k_result["run_id"] == run_id, results.message.text()

    export.picker.select(run_id)
    assert export.picker.current() == run_id
    export.fmt.setCurrentIndex(export.fmt.findData("csv"))
    export.top.setValue(10)
    export.rec_path.setText(str(out))  # the same file every cycle: replaced atomically each time
    export.export_recommendations()  # confirm_overwrite is answered Yes by the test
    assert export.task is not None, export.message.text()
    qtbot.waitUntil(lambda: export.task is None, timeout=120000)
    report = export.last_report
    assert report is not None and report.run_id == run_id and report.path == out, export.message.text()
    export.last_report = None
    return run_id


def test_cycles_leak_nothing(window, qtbot, tmp_path, monkeypatch):  # noqa: F811 -- the imported fixture
    from PySide6.QtCore import QThreadPool

    monkeypatch.setattr(window.export_page, "confirm_overwrite", lambda _path: True)  # "Replace file?" → Yes
    cycles = CYCLES
    out = tmp_path / "exports" / "top10.csv"
    figures = []
    base_fds = base_threads = None
    for i in range(1, cycles + 1):
        _cycle(window, qtbot, i, out)
        qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=30000)
        assert _running_qthreads() == [], f"cycle {i}: QThreads still running"
        gc.collect()
        row = {"cycle": i, "fds": _fds(), "threads": _threads(), "rss_mb": round(_rss_mb(), 1)}
        figures.append(row)
        if i == FIRST_MEASURED:
            base_fds, base_threads = row["fds"], row["threads"]
        if base_fds is not None:
            assert row["fds"] <= base_fds + FD_SLACK, f"open files grew: {figures[FIRST_MEASURED - 1]}→{row}"
            assert row["threads"] <= base_threads + FD_SLACK, f"threads grew: {row}"
    leftovers = [p.name for p in out.parent.iterdir() if p != out]
    assert leftovers == [], f"temporary files left beside the export: {leftovers}"
    rss5, rss50 = figures[FIRST_MEASURED - 1]["rss_mb"], figures[-1]["rss_mb"]
    growth = (rss50 - rss5) / rss5
    first, base = figures[0], figures[FIRST_MEASURED - 1]
    print(f"\nsoak: {cycles} cycles; fds {first['fds']} → {base['fds']} → {figures[-1]['fds']}; "
          f"threads {base['threads']} → {figures[-1]['threads']}; "
          f"RSS {figures[0]['rss_mb']} → {rss5} (cycle {FIRST_MEASURED}) → {rss50} MB (cycle {cycles}): "
          f"{growth:+.1%}")
    print("soak figures: " + " ".join(f"{r['cycle']}:{r['rss_mb']}" for r in figures))
    assert growth < RSS_GROWTH, f"resident memory grew {growth:.1%} from cycle {FIRST_MEASURED} to {cycles}"
    assert not window.train_page.controller.busy
