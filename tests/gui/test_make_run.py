"""The first thing a new user does: `make run` from the clone, then Ctrl+3, Ctrl+R.

`make run` is `.venv/bin/recsys-gui --data sample_data/interactions.csv` from the clone's root: a
RELATIVE path given on the command line. The run trains in a child process whose working directory
is the workspace, so a relative path in the spec would not be found there (issue 19). This test
starts the window through the app's own argument handling, from the clone's root, with that
relative path, trains from the keyboard and waits for the run store to say "completed".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui import drive
from tests.gui.conftest import close_window

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def make_run_window(qtbot, tmp_path, monkeypatch):
    """The window as `make run` opens it: cwd the clone's root, settings and workspace in tmp_path."""
    from recsys_gui.gui import app

    monkeypatch.chdir(REPO)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("RECSYS_WORKSPACE", str(tmp_path / "ws"))
    win = app.open_window(app.parse_args(["--data", "sample_data/interactions.csv"]))
    win.train_page.setProperty("quiet", True)  # a failure fails the test instead of opening a box
    qtbot.addWidget(win)
    yield win
    close_window(win)


def _press(qtbot, win, key: Qt.Key) -> None:
    win.activateWindow()
    qtbot.keyClick(win.focusWidget() or win, key, Qt.KeyboardModifier.ControlModifier)


def test_the_window_started_like_make_run_trains_from_the_train_page(make_run_window, qtbot, tmp_path):
    from recsys_gui.core.store.run_store import RunStore

    win = make_run_window
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.state.data is not None or win.data_page.message.property("role") == "error",
                    timeout=drive.LONG)
    assert win.state.data is not None, win.data_page.message.text()
    # a short budget through the Model page's form, as a user would set it
    win.model_page.select_model("mf")
    assert not win.model_page.train_form.set_values({"epochs": 1, "device": "cpu"})

    _press(qtbot, win, Qt.Key.Key_3)
    assert win.stack.currentWidget() is win.train_page
    _press(qtbot, win, Qt.Key.Key_R)
    page = win.train_page
    assert page.status == "running", page.message.text()

    store = RunStore(tmp_path / "ws")
    qtbot.waitUntil(lambda: page.status not in ("running", "stopping"), timeout=drive.LONG)
    runs = store.list_runs()
    assert [r["status"] for r in runs] == ["completed"], (page.status, page.message.text(), runs)
    # every path in the spec the window wrote is absolute, so the run re-runs from any folder
    data = json.loads((tmp_path / "ws" / "runs" / runs[0]["id"] / "spec.json").read_text())["data"]
    assert data["path"] == str(REPO / "sample_data" / "interactions.csv")
    assert data["item_metadata"] == str(REPO / "sample_data" / "items.csv")


def _settled(qtbot, page) -> None:
    """The Data page has loaded what it was last given: no reload waiting on its debounce timer."""
    qtbot.waitUntil(lambda: not page.loading and not page._debounce.isActive(), timeout=drive.LONG)


def test_paths_from_dialogs_and_recent_files_are_made_absolute(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.chdir(REPO)
    tiny, items = str(REPO / "sample_data" / "tiny.csv"), str(REPO / "sample_data" / "items.csv")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("sample_data/tiny.csv", ""))
    window.open_data_dialog()
    assert window.data_page.path_edit.text() == tiny and window.recent_files()[0] == tiny
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("sample_data/items.csv", ""))
    window.data_page.choose_metadata()
    assert window.data_page.meta_edit.text() == items
    _settled(qtbot, window.data_page)
    assert (window.state.data_path, window.state.item_metadata) == (tiny, items)
    spec = window.state.data_spec()
    assert (spec.path, spec.item_metadata) == (tiny, items)
    # a recent file kept as typed by an older version opens under its absolute name
    window.settings.setValue("recentFiles", ["sample_data/interactions.csv"])
    window._fill_recent()
    window.recent_menu.actions()[0].trigger()
    sample = str(REPO / "sample_data" / "interactions.csv")
    assert window.data_page.path_edit.text() == sample and window.recent_files()[0] == sample
    _settled(qtbot, window.data_page)
    assert window.state.data_path == sample


def test_missing_x11_libraries_are_named_before_qt_starts(monkeypatch, capsys):
    """Without libxcb-cursor0 & co. Qt aborts with a core dump; the app says what to install, exit 2."""
    from recsys_gui import process_setup
    from recsys_gui.gui import app

    def no_qt(*_a, **_k):
        raise AssertionError("QApplication created")

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app, "make_app", no_qt)
    made: list[str] = []
    monkeypatch.setattr(process_setup, "quiet_known_warnings", lambda: made.append("quiet_known_warnings"))
    monkeypatch.setattr(app, "_find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    assert app.main(["--data", "sample_data/interactions.csv"]) == 2
    assert made == ["quiet_known_warnings"]  # the entry point makes the process-wide settings
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(libxcb-cursor0)" in err, err
    assert ("apt-get install libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0"
            in err), err
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert app.missing_xcb_packages() == ["libxcb-cursor0"]
    # nothing to say offscreen, without a display, or with every library there
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app.missing_xcb_packages() == []
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY")
    assert app.missing_xcb_packages() == []
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(app, "_find_library", lambda name: f"lib{name}.so")
    assert app.missing_xcb_packages() == []
