from __future__ import annotations

import subprocess
import sys

import pytest

from recsys_gui.gui.main_window import PAGES

pytestmark = pytest.mark.gui


def test_window_opens_with_every_page_and_closes(window, qtbot):
    assert window.nav.count() == len(PAGES) == 8
    assert window.stack.count() == 8
    for i, name in enumerate(PAGES):
        assert window.nav.item(i).text() == name
        assert not window.nav.item(i).icon().isNull(), f"{name} has no icon"
        window.go(name)
        assert window.stack.currentWidget() is window.pages[name]
    assert "workspace" in window.workspace_label.text()
    qtbot.waitUntil(lambda: window.device_label.text() != "device: …", timeout=10000)
    assert "CPU" in window.device_label.text() or "GiB" in window.device_label.text()
    grab = window.grab()
    assert grab.width() >= 1000 and grab.height() >= 600
    # process-wide settings are the entry point's business (none of the GIL's): Python's default
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_workspace_that_cannot_hold_runs_is_refused_in_a_dialog_and_the_old_one_stays(
        window, tmp_path, monkeypatch):
    from recsys_gui.gui import main_window

    shown = []
    monkeypatch.setattr(main_window.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    before = window.state.workspace
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert window.open_workspace(str(a_file)) is False
    assert window.state.workspace == before and a_file.read_text() == "mine"
    assert shown and "is a file, not a folder" in shown[0]
    assert window.open_workspace(str(tmp_path / "fresh")) is True
    assert window.state.workspace == str(tmp_path / "fresh")


def test_file_menu_saves_a_report_of_the_compared_runs(window, monkeypatch):
    asked = []
    monkeypatch.setattr(window.compare_page, "save_report", lambda: asked.append(True))
    file_menu = window.menuBar().actions()[0].menu()
    action = next(a for a in file_menu.actions() if a.text().replace("&", "") == "Save report…")
    action.trigger()
    assert asked == [True]


def test_recent_files_are_remembered(window, interactions_csv, qtbot):
    window.open_data(str(interactions_csv))
    assert window.recent_files()[0] == str(interactions_csv)
    qtbot.waitUntil(lambda: window.state.data is not None, timeout=20000)


def test_cli_module_does_not_import_qt():
    code = ("import sys, recsys_gui.cli, recsys_gui.cli.screenshots_cmd, recsys_gui.core.utils.resources; "
            "recsys_gui.cli.build_parser(); "
            "bad=[m for m in sys.modules if m.startswith(('PySide6','pyqtgraph','recsys_gui.gui'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_resources_found():
    from recsys_gui.core.utils.resources import icon_path, read_stylesheet

    for name in ("app", *[p.lower() for p in PAGES]):
        assert icon_path(name) is not None, name
    assert "{{" in read_stylesheet("app")
    from recsys_gui.gui.theme import stylesheet

    for t in ("light", "dark"):
        assert "{{" not in stylesheet(t)


def test_hidden_pages_refresh_when_shown_not_before(qtbot):
    from PySide6.QtWidgets import QStackedWidget, QWidget

    from recsys_gui.gui.widgets import WhenShown

    stack = QStackedWidget()
    qtbot.addWidget(stack)
    on_screen, hidden = QWidget(), QWidget()
    stack.addWidget(on_screen)
    stack.addWidget(hidden)
    stack.show()
    calls: list[tuple] = []
    refresh = WhenShown(hidden, lambda *a: calls.append(a))
    refresh("run-1")
    refresh("run-2")
    assert calls == [], "a page off screen does no work"
    stack.setCurrentWidget(hidden)
    assert calls == [("run-2",)], "shown: one refresh with the latest arguments"
    stack.setCurrentWidget(on_screen)
    stack.setCurrentWidget(hidden)
    assert calls == [("run-2",)], "nothing new: no second refresh"
    refresh("run-3")
    assert calls[-1] == ("run-3",), "on screen: at once"

    alone = QWidget()  # never shown, as a page built on its own in a test
    WhenShown(alone, lambda *a: calls.append(a))("now")
    assert calls[-1] == ("now",)


def test_work_in_turns_lets_the_event_loop_run_between_steps(qtbot):
    """Each step runs in its own event-loop turn (a timer due meanwhile fires in between), in order."""
    from PySide6.QtCore import QObject, QTimer

    from recsys_gui.gui.widgets import in_turns

    owner, done = QObject(), []
    QTimer.singleShot(0, lambda: done.append("timer"))
    in_turns([lambda: done.append(1), lambda: done.append(2), lambda: done.append(3)], owner)
    assert done == [1], "the first step at once, the rest later"
    qtbot.waitUntil(lambda: len(done) == 4)
    assert done == [1, "timer", 2, 3]
