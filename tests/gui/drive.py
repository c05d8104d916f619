"""Drive the main window the way a user would (public widgets and methods only), plus a heartbeat.

Shared by the whole-workflow test and the responsiveness test so both exercise the same paths.
Every wait spins the Qt event loop (``qtbot.waitUntil``/``waitSignal``), never blocks it.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
LONG = 120_000  # ms: generous upper bounds for waits on a loaded 2-core machine, never a timing assertion


# --------------------------------------------------------------------------------- one page alone


def open_page(qtbot: Any, panel_cls: type, workspace: Path | str, size: tuple[int, int] | None = (1300, 850)):
    """``panel_cls`` on an AppState over ``workspace``'s stored runs, shown at ``size`` and told that
    the runs changed, as the window does when a page first opens."""
    from recsys_gui.gui import services
    from recsys_gui.gui.state import AppState

    state = AppState(workspace)
    state.runs = services.list_runs(str(workspace))
    panel = panel_cls(state)
    qtbot.addWidget(panel)
    if size is not None:
        panel.resize(*size)
    panel.show()
    state.runs_changed.emit()
    return panel


# --------------------------------------------------------------------------------- workflow steps


def load_data(window: Any, qtbot: Any, path: Path | str = SAMPLE) -> None:
    """Open a file as File ▸ Open would (items.csv beside it is picked up) and wait for the split preview."""
    before = window.state.data  # a second load of the same file waits for its own data
    window.open_data(str(path))
    page = window.data_page
    qtbot.waitUntil(lambda: window.state.data is not before or page.message.property("role") == "error",
                    timeout=LONG)
    assert window.state.data is not before, page.message.text()
    qtbot.waitUntil(lambda: page.split_summary.text().startswith("Parts"), timeout=LONG)


def train(window: Any, qtbot: Any, model: str, *, train: dict[str, Any] | None = None,
          config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pick ``model`` on the Model page, set a small budget, press Start and wait for the run to end."""
    prepare_training(window, model, train=train, config=config)
    return start_and_wait(window, qtbot)


def prepare_training(window: Any, model: str, *, train: dict[str, Any] | None = None,
                     config: dict[str, Any] | None = None) -> None:
    """Pick ``model`` on the Model page, set a small budget and show the Train page."""
    mp = window.model_page
    mp.select_model(model)
    assert mp.current_model == model
    problems = []
    if config:
        problems += mp.model_form.set_values(config)
    problems += mp.train_form.set_values({"device": "cpu", "log_every_n_steps": 1, "eval_every_n_epochs": 1,
                                          **(train or {})})
    assert not problems, problems
    window.go("Train")


def start_and_wait(window: Any, qtbot: Any) -> dict[str, Any]:
    """Press Start on the Train page and wait for the run to end and reach the run list."""
    page = window.train_page
    with qtbot.waitSignal(page.finished, timeout=LONG) as blocker:
        assert page.start(), page.message.text()
    summary = blocker.args[0]
    assert summary["status"] in ("completed", "early_stopped"), summary
    wait_for_run(window, qtbot, summary["run_id"])
    return summary


def wait_for_run(window: Any, qtbot: Any, run_id: str) -> dict[str, Any]:
    """The run store re-read in the background: wait until the run is in the app's list."""
    qtbot.waitUntil(lambda: any(r["id"] == run_id for r in window.state.runs), timeout=LONG)
    return next(r for r in window.state.runs if r["id"] == run_id)


def pick(picker: Any, run_id: str) -> None:
    picker.select(run_id)
    assert picker.current() == run_id, f"{run_id} not offered by the run picker"


def evaluate_k(window: Any, qtbot: Any, run_id: str) -> dict[str, Any]:
    page = window.results_page
    window.go("Results")
    pick(page.picker, run_id)
    page.evaluate_k()
    assert not page.eval_btn.isEnabled(), "evaluation did not start: " + page.message.text()
    qtbot.waitUntil(page.eval_btn.isEnabled, timeout=LONG)
    assert page.k_result is not None and page.k_result.get("run_id") == run_id, page.message.text()
    return page.k_result


def project(window: Any, qtbot: Any, run_id: str, method: str = "pca", side: str = "item") -> Any:
    """Project one side's embeddings and wait until the points are drawn; returns the page's view."""
    page = window.embeddings_page
    window.go("Embeddings")
    pick(page.picker, run_id)
    i = page.side.findData(side)
    assert i >= 0, f"{side} not offered for this run: {page.side_options()}"
    page.side.setCurrentIndex(i)
    i = page.method.findData(method)
    assert i >= 0, f"projection {method} not offered"
    page.method.setCurrentIndex(i)
    before = page.result
    painted = Paints(page.scatter.viewport(), page.scatter_point_count)
    page.project()
    assert not page.project_btn.isEnabled(), "projection did not start: " + page.message.text()
    qtbot.waitUntil(page.project_btn.isEnabled, timeout=LONG)
    assert page.result is not None and page.result is not before, page.message.text()
    # the points are drawn after the colours are computed (another worker): wait for this view's,
    # and for their first paint, which belongs to this projection, not to whatever comes next
    wanted = len(page.result.rows)
    qtbot.waitUntil(lambda: page.scatter_point_count() == wanted, timeout=LONG)
    qtbot.waitUntil(lambda: wanted in painted.counts, timeout=LONG)
    painted.stop()
    return page.result


class Paints(QObject):
    """What ``probe()`` returned at each paint of ``widget``."""

    def __init__(self, widget: Any, probe: Any) -> None:
        super().__init__()
        self.widget, self.probe, self.counts = widget, probe, []
        widget.installEventFilter(self)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.counts.append(self.probe())
        return False

    def stop(self) -> None:
        self.widget.removeEventFilter(self)


def export_recommendations(window: Any, qtbot: Any, run_id: str, out: Path, fmt: str, top: int) -> Any:
    page = window.export_page
    window.go("Export")
    pick(page.picker, run_id)
    page.fmt.setCurrentIndex(page.fmt.findData(fmt))
    page.top.setValue(top)
    page.include_seen.setChecked(False)
    page.rec_path.setText(str(out))
    page.last_report = None
    page.export_recommendations(confirm=False)
    assert page.task is not None, "export did not start: " + page.message.text()
    qtbot.waitUntil(lambda: page.task is None, timeout=LONG)
    assert page.message.property("role") == "ok", page.message.text()
    return page.last_report


# --------------------------------------------------------------------------------- heartbeat


def _runqueue_ns() -> int | None:
    """Nanoseconds this thread has waited for a CPU while runnable (Linux schedstat), else None."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


class Heartbeat(QObject):
    """A QTimer on the GUI thread; the gap between two ticks is how long the event loop was unavailable.

    Each gap is split three ways, because on a shared 2-core machine the raw gap mixes causes:
    ``busy``: CPU the GUI thread itself spent (slots, layout, painting: the app's own work);
    ``queued``: runnable but waiting for a CPU taken by other processes (the machine);
    ``blocked``: the rest, waiting on the GIL held by a worker thread, or on I/O.
    """

    def __init__(self, interval_ms: int = 10) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.phase: str | None = None
        self.gaps: dict[str, list[tuple[float, float, float]]] = {}  # (gap, busy, queued) in ms
        self.stalls: list[str] = []  # GUI-thread stacks caught during long gaps, to name the slow code
        self._last: tuple[float, float, int | None] | None = None
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def _tick(self) -> None:
        now = (time.perf_counter(), time.thread_time(), _runqueue_ns())
        if self.phase is not None and self._last is not None:
            (t0, c0, q0), (t1, c1, q1) = self._last, now
            queued = (q1 - q0) / 1e6 if q0 is not None and q1 is not None else 0.0
            self.gaps[self.phase].append(((t1 - t0) * 1000.0, (c1 - c0) * 1000.0, queued))
        self._last = now

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        self.gaps.setdefault(phase, [])
        self.phase, self._last = phase, None
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="heartbeat-watch", daemon=True)
        self._watcher.start()
        self.timer.start()
        try:
            yield
        finally:
            self.timer.stop()
            self._stop.set()
            self._watcher.join()
            self.phase = None

    def _watch(self, late_ms: float = 60.0) -> None:
        """While a gap is long and the GUI thread is burning CPU, sample its stack: that is the slow code."""
        try:
            clock = time.pthread_getcpuclockid(self._main)
        except (AttributeError, OSError):
            return
        prev = time.clock_gettime(clock)
        while not self._stop.wait(0.02):
            cpu = time.clock_gettime(clock)
            busy, prev = cpu - prev, cpu
            last = self._last
            if last is None or (time.perf_counter() - last[0]) * 1000 < late_ms or busy < 0.01:
                continue
            frame = sys._current_frames().get(self._main)
            # Only names and line numbers here: formatting a stack reads source files with the GIL
            # held, which stretched the very gaps being measured.
            stack = []
            while frame is not None and len(stack) < 7:
                stack.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
                frame = frame.f_back
            if stack:
                self.stalls.append(f"[{self.phase}] GUI thread busy {busy * 1000:.0f} ms of the last 20 ms, "
                                   f"in a gap of {(time.perf_counter() - last[0]) * 1000:.0f} ms:\n"
                                   + "\n".join(reversed(stack)))

    def worst(self, phase: str, column: int) -> float:
        return max((g[column] for g in self.gaps[phase]), default=0.0)

    def worst_own(self, phase: str) -> float:
        """The longest gap less the time the GUI thread was runnable but had no CPU: its own work
        plus its waits for the GIL (held by the app's workers) or I/O. A shared runner's other
        jobs can only add to the part taken off."""
        return max((g[0] - g[2] for g in self.gaps[phase]), default=0.0)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for phase, rows in self.gaps.items():
            gap = [r[0] for r in rows]
            busy = [r[1] for r in rows]
            blocked = [max(r[0] - r[1] - r[2], 0.0) for r in rows]
            out[phase] = {"ticks": len(rows), "worst_gap_ms": _r(max(gap, default=0)),
                          "p99_gap_ms": _r(_pct(gap, 99)), "worst_busy_ms": _r(max(busy, default=0)),
                          "p99_busy_ms": _r(_pct(busy, 99)),
                          "worst_blocked_ms": _r(max(blocked, default=0)),
                          "worst_own_ms": _r(self.worst_own(phase))}
        return out

    def report(self, path: Path) -> str:
        """Write the per-phase summary as JSON and return it as a printable table."""
        s = self.summary()
        path.write_text(json.dumps(s, indent=2))
        cols = ("ticks", "worst_gap_ms", "p99_gap_ms", "worst_busy_ms", "p99_busy_ms", "worst_blocked_ms",
                "worst_own_ms")
        lines = [f"{'phase':<16}" + "".join(f"{c:>17}" for c in cols)]
        lines += [f"{p:<16}" + "".join(f"{d[c]:>17}" for c in cols) for p, d in s.items()]
        return "\n".join(lines)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def _r(v: float) -> float:
    return round(float(v), 1)


def scatter_points(window: Any) -> int:
    """Points drawn in the embeddings scatter."""
    return int(window.embeddings_page.scatter_point_count())
