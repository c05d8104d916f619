"""Share and keep from the window (issue 26): names, tags, notes and filters in the Compare page's run
list reach the store; File → Save report and the Bundle action write their files through workers."""

from __future__ import annotations

import zipfile

import pytest
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from tests.conftest import tiny_split

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A popularity and an MF run (one epoch each) on the same tiny file, in one workspace."""
    from recsys_gui.core.session import DataSpec, RunSpec, run_training
    from recsys_gui.core.store.run_store import RunStore

    root = tmp_path_factory.mktemp("share")
    split = tiny_split(40, 30)
    frame = split.train.concat(split.valid, split.test).to_frame()
    frame.rename(columns={"user": "user_id", "item": "item_id", "value": "rating"}).to_csv(
        root / "interactions.csv", index=False
    )
    ws = root / "ws"
    for model in ("pop", "mf"):
        run_training(
            RunSpec(
                data=DataSpec(path=str(root / "interactions.csv")),
                model=model,
                split="ratio:8,1,1",
                train={"epochs": 1, "batch_size": 64, "device": "cpu", "seed": 3},
            ),
            workspace=ws,
        )
    return ws, {r["model"]: r["id"] for r in RunStore(ws).list_runs()}


@pytest.fixture
def page(qtbot, trained):
    from recsys_gui.gui import services
    from recsys_gui.gui.panels.compare.panel import ComparePanel
    from recsys_gui.gui.state import AppState

    ws, _ids = trained
    state = AppState(ws)
    state.runs = services.list_runs(str(ws))
    window = QMainWindow()  # the report's progress goes to a main window's status bar
    p = ComparePanel(state)
    window.setCentralWidget(p)
    window.compare_page = p
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    state.runs_changed.emit()
    yield p  # the window (and with it the page) lives until the test ends
    window.close()


def _stored(trained, run_id):
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(trained[0], recover=False)
    try:
        return store.get_run(run_id)
    finally:
        store.close()


def test_rename_tags_and_note_from_the_run_list_persist_and_the_filters_hide_runs(
    qtbot, page, trained, monkeypatch
):
    from recsys_gui.gui.panels.compare import run_notes
    from recsys_gui.gui.qtmodels.runs_model import BASE_COLUMNS

    _ws, ids = trained
    original = _stored(trained, ids["pop"])["name"]
    try:
        # rename: what is typed in the name cell (double-click) is saved by a worker, then shown
        row = page.runs_model.row_of(ids["pop"])
        page.runs_model.setData(page.runs_model.index(row, 0), "popularity baseline")
        qtbot.waitUntil(lambda: _stored(trained, ids["pop"])["name"] == "popularity baseline", timeout=10000)
        qtbot.waitUntil(
            lambda: page.runs_model.run(page.runs_model.row_of(ids["pop"]))["name"] == "popularity baseline",
            timeout=10000,
        )

        # tags and note: context menu → dialog (answered here) → store
        menu = page.run_menu([ids["pop"]])
        texts = [a.text() for a in menu.actions() if a.text()]
        assert {"Rename…", "Tags and note…", "Bundle for reproduction…", "Save report for selected…"} <= set(
            texts
        )
        monkeypatch.setattr(run_notes.TagsNoteDialog, "ask", classmethod(lambda cls, run, parent: (
            ["keep", "paper"], "tuned on P3")))
        next(a for a in menu.actions() if a.text() == "Tags and note…").trigger()
        qtbot.waitUntil(lambda: _stored(trained, ids["pop"])["tags"] == ["keep", "paper"], timeout=10000)
        assert _stored(trained, ids["pop"])["note"] == "tuned on P3"
        qtbot.waitUntil(lambda: page.tag_combo.findText("keep") >= 0, timeout=10000)
        tags_col = BASE_COLUMNS.index("tags")
        shown = page.proxy.index(page.visible_run_ids().index(ids["pop"]), tags_col).data()
        assert shown == "keep, paper"

        # the tag filter and the text filter (name, tag, id) hide the other run
        assert page.proxy.rowCount() == 2
        page.tag_combo.setCurrentIndex(page.tag_combo.findText("paper"))
        assert page.visible_run_ids() == [ids["pop"]] and page.count_label.text() == "1 of 2 runs"
        page.tag_combo.setCurrentIndex(0)
        assert page.proxy.rowCount() == 2
        for text in ("BASELINE", "paper", ids["mf"][-6:]):
            page.filter_edit.setText(text)
            assert len(page.visible_run_ids()) == 1, text
        page.filter_edit.setText("no such run")
        assert page.proxy.rowCount() == 0
    finally:
        run_notes.rename_run(str(trained[0]), ids["pop"], original)
        run_notes.save_tags_and_note(str(trained[0]), ids["pop"], [], "")


def test_a_name_already_taken_is_refused_with_a_message(qtbot, page, trained):
    _ws, ids = trained
    taken = _stored(trained, ids["mf"])["name"]
    page.rename(ids["pop"], taken)
    qtbot.waitUntil(lambda: page.message.property("role") == "error", timeout=10000)
    assert "already used" in page.message.text()
    assert _stored(trained, ids["pop"])["name"] != taken


def test_save_report_writes_the_file_through_the_worker(qtbot, page, trained, tmp_path, monkeypatch):
    from recsys_gui.gui.report_action import install_report_action

    _ws, ids = trained
    out = tmp_path / "shared" / "report"  # no suffix typed: .html is added
    out.parent.mkdir()
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    no = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: asked.append(a[1]) or no))
    window = page.window()
    action = install_report_action(window, window.menuBar().addMenu("&File"))
    page.select_runs([ids["pop"], ids["mf"]])
    action.trigger()
    assert page.report_saver.task is not None  # running in the pool, not on the GUI thread
    qtbot.waitUntil(lambda: page.report_saver.task is None, timeout=60000)
    assert page.report_saver.last_error is None
    html = (tmp_path / "shared" / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and ids["pop"] in html and ids["mf"] in html
    assert asked == ["Report saved"]  # offered to open it

    # the file now exists: saving again asks first, and No leaves it untouched
    (tmp_path / "shared" / "report.html").write_text("mine")
    assert not page.save_report()
    assert asked[-1] == "Replace?"
    assert (tmp_path / "shared" / "report.html").read_text() == "mine"


def test_bundle_action_writes_a_zip(qtbot, page, trained, tmp_path, monkeypatch):
    from recsys_gui.gui.panels.compare import run_notes

    _ws, ids = trained
    target = tmp_path / "mf-bundle.zip"
    monkeypatch.setattr(run_notes.BundleDialog, "ask", classmethod(
        lambda cls, default, parent: run_notes.BundleChoice(target, False, False)))
    menu = page.run_menu([ids["mf"]])
    next(a for a in menu.actions() if a.text() == "Bundle for reproduction…").trigger()
    qtbot.waitUntil(lambda: page.message.property("role") in ("ok", "error"), timeout=60000)
    assert page.message.property("role") == "ok", page.message.text()
    with zipfile.ZipFile(target) as z:
        assert "spec.json" in z.namelist()
