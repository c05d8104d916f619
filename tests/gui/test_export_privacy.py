"""Export page: "Pseudonymise user ids" and "Leave out titles" reach both exports as ``ExportPrivacy``."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pandas as pd
import pytest

from recsys_gui.core.privacy import ExportPrivacy, map_back
from recsys_gui.gui import services
from tests.conftest import tiny_split

pytestmark = pytest.mark.gui
N_USERS, N_ITEMS = 30, 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An MF run on a file with titled items: (workspace, run id, raw user ids)."""
    from recsys_gui.core.session import DataSpec, RunSpec, run_training

    root = tmp_path_factory.mktemp("export_privacy")
    split = tiny_split(N_USERS, N_ITEMS)
    data = split.train.concat(split.valid, split.test)
    frame = data.to_frame().rename(columns={"user": "user_id", "item": "item_id", "value": "rating"})
    frame.to_csv(root / "interactions.csv", index=False)
    items = [f"i{i}" for i in range(N_ITEMS)]
    titles = pd.DataFrame({"item_id": items, "title": [f"Film {i}" for i in range(N_ITEMS)]})
    titles.to_csv(root / "items.csv", index=False)
    ws = root / "ws"
    data_spec = DataSpec(path=str(root / "interactions.csv"), item_metadata=str(root / "items.csv"))
    spec = RunSpec(data=data_spec, model="mf", train={"epochs": 1, "device": "cpu", "seed": 3})
    run = run_training(spec, workspace=ws)
    return ws, run.run_id, [str(u) for u in data.user_ids]


@pytest.fixture
def page(qtbot, trained):
    from recsys_gui.gui.panels.export_panel import ExportPanel
    from tests.gui import drive

    ws, run_id, _ = trained
    panel = drive.open_page(qtbot, ExportPanel, ws, size=None)
    panel.picker.select(run_id)
    return panel


def _recording(calls: list[dict], report: dict):
    def fake(*args, progress=None, should_stop=None, **kwargs):
        calls.append(kwargs)
        return SimpleNamespace(to_dict=lambda: report)

    return fake


def test_the_boxes_become_the_privacy_options_of_both_exports(qtbot, page, tmp_path, monkeypatch):
    calls: list[dict] = []
    rows = {"rows": 1, "users": 1, "top": 1, "path": str(tmp_path / "r.sqlite"), "seconds": 0.1}
    monkeypatch.setattr(services, "export_recommendations", _recording(calls, rows))
    monkeypatch.setattr(services, "export_embeddings", _recording(calls, {"files": {}, "shapes": {}}))
    assert not page.pseudonymise.isChecked() and not page.drop_titles.isChecked()  # off unless asked

    page.rec_path.setText(str(tmp_path / "r.sqlite"))
    page.export_recommendations(confirm=False)
    qtbot.waitUntil(lambda: page.task is None and len(calls) == 1, timeout=10000)
    assert "privacy" not in calls[0]  # the plain export is called exactly as before

    page.pseudonymise.setChecked(True)
    page.drop_titles.setChecked(True)
    page.export_recommendations(confirm=False)
    qtbot.waitUntil(lambda: page.task is None and len(calls) == 2, timeout=10000)
    assert calls[1]["privacy"] == ExportPrivacy(pseudonymise=True, drop_titles=True)
    assert "pseudonyms" in page.message.text() and "titles were left out" in page.message.text()

    page.drop_titles.setChecked(False)
    page.emb_path.setText(str(tmp_path / "emb"))
    page.export_embeddings(confirm=False)
    qtbot.waitUntil(lambda: page.task is None and len(calls) == 3, timeout=10000)
    assert calls[2]["privacy"] == ExportPrivacy(pseudonymise=True, drop_titles=False)


def test_a_pseudonymised_export_from_the_page_holds_no_raw_user_id(qtbot, page, trained, tmp_path):
    ws, _, raw_users = trained
    out = tmp_path / "private.sqlite"
    page.rec_path.setText(str(out))
    page.top.setValue(5)
    page.pseudonymise.setChecked(True)
    page.drop_titles.setChecked(True)
    page.export_recommendations(confirm=False)
    qtbot.waitUntil(lambda: page.task is None, timeout=20000)
    assert page.message.property("role") == "ok", page.message.text()
    with sqlite3.connect(out) as db:
        users = [u for (u,) in db.execute("SELECT DISTINCT user_id FROM recommendations")]
        columns = [c[1] for c in db.execute("PRAGMA table_info(recommendations)")]
    assert len(users) == N_USERS and not set(users) & set(raw_users) and "title" not in columns
    assert sorted(map(str, map_back(ws, users, raw_users).values())) == sorted(raw_users)
