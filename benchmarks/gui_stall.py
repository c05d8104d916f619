"""The window at scale: load a big interaction file on the Data page and measure GUI-thread stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_stall.py --csv /work/tmp/big.csv

The real main window, offscreen. A 10 ms heartbeat timer runs on the GUI thread (tests/gui/drive.py's
Heartbeat: a gap between two ticks, less the time the thread waited for a CPU taken by other
processes, is the window's own doing: its slots, layouts, paints and its waits for the GIL held by
the loading worker). Phases: ``load`` (from opening the file to the split preview shown), then
``after`` (the Statistics tab, the report and each page shown in turn, as a user looks around).
Prints a table per phase and, last, one JSON line: load seconds, the longest stall (worst_own_ms)
per phase, and the load average (on a shared machine a worker holding the GIL can be descheduled,
which the GUI thread's wait for the GIL counts). On stderr: GUI-thread stacks caught in long busy
gaps, and the other threads' lines when a Python thread got the GIL back only after a long wait
(the line a worker stands at just after a long GIL-holding call names that call).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LONG_S = 600.0


def _wait(app, until, timeout_s: float = LONG_S) -> None:
    """Spin the event loop (never block it) until ``until()`` is true."""
    end = time.perf_counter() + timeout_s
    while not until():
        if time.perf_counter() > end:
            raise TimeoutError("gave up waiting")
        app.processEvents()
        time.sleep(0.002)


def _linger(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    _wait(app, lambda: time.perf_counter() >= end)


class GilWatch:
    """A thread that sleeps 5 ms at a time; when waking took much longer, the GIL was held by
    another thread (or the machine was busy): it notes where every other thread stands."""

    def __init__(self, late_ms: float = 100.0) -> None:
        self.late_ms, self.seen = late_ms, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gil-watch", daemon=True)

    def __enter__(self) -> GilWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            t0 = time.perf_counter()
            time.sleep(0.005)
            late = (time.perf_counter() - t0) * 1000
            if late < self.late_ms:
                continue
            where, names = [], {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == me or frame is None:
                    continue
                stack = []
                while frame is not None and len(stack) < 4:
                    code = frame.f_code
                    stack.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
                    frame = frame.f_back
                where.append(f"  {names.get(ident, ident)}: " + " <- ".join(stack))
            self.seen.append(f"GIL back after {late:.0f} ms:\n" + "\n".join(where))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default="/work/tmp/big.csv", help="interaction file to open on the Data page")
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication  # noqa: TID251 (a benchmark of the window itself)

    from recsys_gui.gui import theme
    from recsys_gui.gui.main_window import MainWindow
    from recsys_gui.gui.settings_io import SettingsFile
    from recsys_gui.gui.threading import wait_for_tasks
    from tests.gui.drive import Heartbeat

    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app, "light")
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(workspace=str(Path(tmp) / "ws"), settings=SettingsFile(Path(tmp) / "settings.json"))
        win.resize(1400, 900)
        win.show()
        _linger(app, 0.5)
        page = win.data_page
        hb = Heartbeat(10)
        start = time.perf_counter()
        loaded_at: list[float] = []
        page.loaded.connect(lambda: loaded_at.append(time.perf_counter()))
        load_before = os.getloadavg()[0]
        with hb.measure("load"), GilWatch() as gil:
            win.open_data(args.csv)
            _wait(app, lambda: win.state.data is not None or page.message.property("role") == "error")
            if win.state.data is None:
                raise SystemExit(f"the load failed: {page.message.text()}")
            _wait(app, lambda: page.split_summary.text().startswith("Parts"))
        split_s = time.perf_counter() - start
        with hb.measure("after"):
            _linger(app, 1.0)
            for i in range(page.tabs.count()):
                page.tabs.setCurrentIndex(i)
                _linger(app, 0.5)
            for name in list(win.pages):
                win.go(name)
                _linger(app, 0.5)
            win.go("Data")
            _linger(app, 0.5)
        print(hb.report(Path(tmp) / "heartbeat.json"))
        for s in hb.stalls + gil.seen:
            print(s, file=sys.stderr)
        out = {"file": args.csv, "interactions": len(win.state.data),
               "load_seconds": round((loaded_at[0] if loaded_at else time.perf_counter()) - start, 2),
               "to_split_preview_seconds": round(split_s, 2),
               "worst_stall_ms": {p: round(hb.worst_own(p), 1) for p in hb.gaps},
               "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
        win.close()
        wait_for_tasks(30000)
        app.processEvents()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
