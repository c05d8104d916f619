"""The whole analyst workflow, offscreen, on the bundled sample: open and map the file, train one
model of each of the six families, read the results, look at embeddings, compare, export and check
the exported files; plus the main window's menus, drag and drop and recent files.
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.gui import drive

pytestmark = pytest.mark.gui

# A small budget per family: one epoch (two for MF), CNN's pre-training cut to one epoch.
FAMILIES = {
    "mf": ({"epochs": 2}, {}),
    "nmf": ({"epochs": 1}, {}),
    "mlp": ({"epochs": 1}, {}),
    "cnn": ({"epochs": 1}, {"pretrain_epochs": 1}),
    "vae": ({"epochs": 1}, {}),
    "gan": ({"epochs": 1}, {}),
}
K = 10


def _seen_pairs(window) -> set[tuple[str, str]]:
    """(user, item) raw-id pairs the model may know at test time (train + valid) of the run's split."""
    from recsys_gui.core.data.splits import make_split

    known = make_split(window.state.data, window.state.split_text, seed=2020).known_for_test()
    users = known.user_ids.take(known.users).astype(str)
    items = known.item_ids.take(known.items).astype(str)
    return set(zip(users, items, strict=True))


def _check_recommendations(frame: pd.DataFrame, n_users: int, seen: set[tuple[str, str]], where: str) -> None:
    assert len(frame) == n_users * K, f"{where}: {len(frame)} rows, expected {n_users} users × {K}"
    assert frame["user_id"].nunique() == n_users, where
    ranks = frame.groupby("user_id")["rank"].apply(lambda r: sorted(r.tolist()))
    assert all(r == list(range(1, K + 1)) for r in ranks), f"{where}: ranks are not 1..{K} for every user"
    pairs = set(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=True))
    assert len(pairs) == len(frame), f"{where}: an item is recommended twice to a user"
    leaked = pairs & seen
    assert not leaked, f"{where}: {len(leaked)} already-seen items recommended, e.g. {sorted(leaked)[:3]}"
    assert np.isfinite(frame["score"].to_numpy(dtype=float)).all(), where


def test_whole_workflow_on_the_sample(window, qtbot, tmp_path):
    # 1. open the sample (items.csv beside it is picked up) and check how its columns were mapped
    drive.load_data(window, qtbot)
    page = window.data_page
    assert {r: page.role_boxes[r].currentText() for r in ("user", "item", "rating", "timestamp")} == {
        "user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
    assert page.meta_edit.text().endswith("items.csv")
    report = window.state.report
    assert (report.users, report.items) == (1000, 500)
    assert str(report.interactions) in page.summary.text().replace(",", "")
    assert "1,000 users" in window.data_label.text()

    # 2. one model of each family, with its curves filling in
    runs: dict[str, dict] = {}
    tp = window.train_page
    for model, (train, config) in FAMILIES.items():
        summary = drive.train(window, qtbot, model, train=train, config=config)
        tp.flush_plots()
        losses = {k: tp.losses.points(k) for k in tp.losses.series}
        assert losses and all(n > 0 for n in losses.values()), f"{model}: no loss points {losses}"
        assert tp.metrics.points("ndcg@10") == train["epochs"], f"{model}: validation points"
        assert tp.progress.value() == 100 and tp.status_label.text() == summary["status"]
        # the pages that show one run move to the run that just finished
        qtbot.waitUntil(lambda s=summary: window.results_page.picker.current() == s["run_id"], timeout=10_000)
        runs[model] = summary
    assert {r["model"] for r in window.state.runs} >= set(FAMILIES)

    # 3. results: the test NDCG of every run, as the page shows it
    rp = window.results_page
    window.go("Results")
    for model, summary in runs.items():
        drive.pick(rp.picker, summary["run_id"])
        rp.show_run(summary["run_id"])
        frame = rp.metrics_model.frame()
        ndcg = float(frame.loc[frame["metric"] == "ndcg@10", "test"].iloc[0])
        assert math.isfinite(ndcg) and 0 < ndcg <= 1, f"{model}: ndcg@10 {ndcg}"
        assert ndcg == pytest.approx(summary["test"]["ndcg@10"])
    k = drive.evaluate_k(window, qtbot, runs["mf"]["run_id"])
    assert len(k["curves"]["ndcg"]) == len(k["ks"]) and all(0 <= v <= 1 for v in k["curves"]["ndcg"])

    # 4. embeddings: every item of the MF run drawn, then its users
    mf = runs["mf"]["run_id"]
    drive.project(window, qtbot, mf, "pca", side="item")
    assert drive.scatter_points(window) == report.items
    drive.project(window, qtbot, mf, "pca", side="user")
    assert drive.scatter_points(window) == report.users

    # 5. compare two runs side by side
    cp = window.compare_page
    window.go("Compare")
    cp.select_runs([mf, runs["vae"]["run_id"]])
    assert sorted(cp.selected_ids()) == sorted([mf, runs["vae"]["run_id"]])
    assert cp.compare()
    side = cp.metrics_tab.side_model.frame()
    assert side.shape[1] == 3 and "ndcg@10" in set(side["metric"])
    shown = sorted(float(v) for v in side.loc[side["metric"] == "ndcg@10"].iloc[0, 1:])
    assert shown == pytest.approx(sorted([runs["mf"]["test"]["ndcg@10"], runs["vae"]["test"]["ndcg@10"]]))

    # 6. export top-K to SQLite and CSV and read the files back
    seen = _seen_pairs(window)
    db = tmp_path / "out" / "recs.sqlite"
    drive.export_recommendations(window, qtbot, mf, db, "sqlite", K)
    with sqlite3.connect(db) as conn:
        frame = pd.read_sql_query("SELECT user_id, rank, item_id, score FROM recommendations", conn)
    _check_recommendations(frame, report.users, seen, "SQLite")
    csv = tmp_path / "out" / "recs.csv"
    drive.export_recommendations(window, qtbot, mf, csv, "csv", K)
    frame = pd.read_csv(csv)
    _check_recommendations(frame, report.users, seen, "CSV")
    assert not list((tmp_path / "out").glob("*.tmp*")), "a temporary file was left behind"


def _action(window, menu: str, text: str):
    for top in window.menuBar().actions():
        if top.text().replace("&", "") == menu:
            for a in top.menu().actions():
                if a.text().replace("&", "").rstrip("…") == text:
                    return a
    raise AssertionError(f"no {menu} ▸ {text} menu item")


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*:DeprecationWarning")
def test_menus_drop_and_recent_files(window, qtbot, tmp_path, monkeypatch):
    sample = str(drive.SAMPLE)
    # File ▸ Open data…
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (sample, ""))
    _action(window, "File", "Open data").trigger()
    assert window.data_page.path_edit.text() == sample
    qtbot.waitUntil(lambda: window.state.data is not None, timeout=drive.LONG)
    assert window.recent_files()[0] == sample
    assert [a.text() for a in window.recent_menu.actions()] == [sample]

    # dropping a CSV on the window opens it (and it becomes the most recent file)
    tiny = str(drive.SAMPLE.with_name("tiny.csv"))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(tiny)])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert window.data_page.path_edit.text() == tiny
    qtbot.waitUntil(lambda: window.state.data_path == tiny, timeout=drive.LONG)
    assert window.recent_files()[:2] == [tiny, sample]
    # ... and File ▸ Open recent brings the first one back
    next(a for a in window.recent_menu.actions() if a.text() == sample).trigger()
    qtbot.waitUntil(lambda: window.state.data_path == sample, timeout=drive.LONG)

    # File ▸ Open workspace…: status bar follows
    ws2 = tmp_path / "other-ws"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(ws2))
    _action(window, "File", "Open workspace").trigger()
    assert window.state.workspace == str(ws2.resolve()) or window.state.workspace == str(ws2)
    assert str(ws2) in window.workspace_label.text()
    qtbot.waitUntil(lambda: window.device_label.text() != "device: …", timeout=drive.LONG)

    # File ▸ Export… and View ▸ <page> navigate; Help items open their (non-blocking) dialogs
    _action(window, "File", "Export").trigger()
    assert window.stack.currentWidget() is window.export_page
    _action(window, "View", "Compare").trigger()
    assert window.stack.currentWidget() is window.compare_page
    for text, must_contain in (("Keyboard shortcuts", "Ctrl+R"), ("About RecSys Studio", "Workspace")):
        _action(window, "Help", text).trigger()
        box = window.findChildren(QMessageBox)[-1]
        qtbot.waitUntil(box.isVisible, timeout=5000)
        assert must_contain in box.text()
        box.close()

    # File ▸ Quit closes the window
    _action(window, "File", "Quit").trigger()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=drive.LONG)
