"""The window at scale: load a big interaction file on the Data page and measure GUI-thread stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_stall.py --csv /work/tmp/big.csv

The real main window, offscreen. A 10 ms heartbeat timer runs on the GUI thread (tests/gui/drive.py's
Heartbeat: a gap between two ticks, less the time the thread waited for a CPU taken by other
processes, is the window's own doing: its slots, layouts, paints and its waits for the GIL held by
the loading worker). Phases: ``load`` (from opening the file to the split preview shown), then
``after`` (the Statistics tab, the report and each page shown in turn, as a user looks around).
Prints a table per phase and, last, one JSON line: load seconds, the longest stall (worst_own_ms)
per phase, and the GUI-thread stacks caught in long gaps (the code to blame) on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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
        with hb.measure("load"):
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
        for s in hb.stalls:
            print(s, file=sys.stderr)
        out = {"file": args.csv, "interactions": len(win.state.data),
               "load_seconds": round((loaded_at[0] if loaded_at else time.perf_counter()) - start, 2),
               "to_split_preview_seconds": round(split_s, 2),
               "worst_stall_ms": {p: round(hb.worst_own(p), 1) for p in hb.gaps}}
        win.close()
        wait_for_tasks(30000)
        app.processEvents()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
