"""The Data page reads data where it lives: SQLite (a table or a query), Excel sheets, Parquet
folders, compressed CSV; the reading overrides, predefined split files and a user sample; a
progress bar while loading and statistics drawn from histograms. Each control is driven as a user
would and must change what is loaded (through the core's LoadOptions)."""

from __future__ import annotations

import bz2
import gzip
import sqlite3

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.gui

WAIT = 60_000


def _frame(n_users: int = 40, n_items: int = 30, rows: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, rows * 2)
    items = rng.integers(0, n_items, rows * 2)
    df = pd.DataFrame({"user_id": users, "item_id": items}).drop_duplicates().head(rows)
    df = df.reset_index(drop=True)
    df["rating"] = rng.integers(1, 6, len(df))
    df["timestamp"] = 1_600_000_000 + np.arange(len(df)) * 3600
    return df


def _loaded(page, qtbot, action) -> None:
    """Do ``action`` and wait for the page's next successful load."""
    with qtbot.waitSignal(page.loaded, timeout=WAIT):
        action()


def _error(page, qtbot, action) -> str:
    """Do ``action`` and wait for the page's one-line error (a new one: the last is cleared first)."""
    page.message.show_message("")
    action()
    qtbot.waitUntil(lambda: page.message.property("role") == "error", timeout=WAIT)
    text = page.message.text()
    assert "Traceback" not in text and "\n" not in text, text
    return text


def _users(window) -> set[str]:
    return {str(u) for u in window.state.data.user_ids}


@pytest.fixture
def database(tmp_path):
    """Two interaction tables and a one-column table, as an analyst's database holds them."""
    df = _frame()
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as db:
        df.to_sql("events", db, index=False)
        _frame(n_users=12, rows=100, seed=1).to_sql("archive", db, index=False)
        pd.DataFrame({"note": ["a", "b"]}).to_sql("notes", db, index=False)
    return path, df


def test_sqlite_table_chosen_from_the_list(window, database, qtbot):
    path, df = database
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    tables = [page.source.table.itemText(i) for i in range(page.source.table.count())]
    assert tables == ["archive", "events", "notes"]
    assert page.source.table_row.isVisible() and not page.source.sep.isVisible()
    assert window.state.load_options["table"] == "archive"  # the first table, named in the run's options
    _loaded(page, qtbot, lambda: page.source.table.setCurrentIndex(tables.index("events")))
    assert window.state.load_options["table"] == "events"
    assert window.state.report.interactions == len(df)
    assert _users(window) == {str(u) for u in df.user_id}
    text = _error(page, qtbot, lambda: page.source.table.setCurrentIndex(tables.index("notes")))
    assert "single column" in text


def test_sqlite_query(window, database, qtbot):
    path, df = database
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    assert not page.source.run_query.isEnabled()  # nothing written to run yet
    page.source.query.setPlainText("SELECT user_id, item_id, rating FROM events WHERE rating >= 4")
    _loaded(page, qtbot, page.source.run_query.click)
    assert window.state.report.interactions == int((df.rating >= 4).sum())
    assert window.state.load_options["query"].startswith("SELECT")
    assert "table" not in window.state.load_options
    page.source.query.setPlainText("SELECT nope FROM missing")
    text = _error(page, qtbot, page.source.run_query.click)
    assert "query failed" in text and "events" in text
    # back to a table with the radio button, and to the query written with the other
    _loaded(page, qtbot, lambda: page.source.use_table.setChecked(True))
    assert "query" not in window.state.load_options
    page.source.query.setPlainText("SELECT * FROM events WHERE rating = 5")
    _loaded(page, qtbot, lambda: page.source.use_query.setChecked(True))
    assert window.state.report.interactions == int((df.rating == 5).sum())


def test_excel_sheet(window, tmp_path, qtbot):
    df = _frame()
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        pd.DataFrame({"remarks": ["exported from the shop"]}).to_excel(xl, sheet_name="about", index=False)
        df.to_excel(xl, sheet_name="ratings", index=False)
    page = window.data_page
    text = _error(page, qtbot, lambda: page.open_file(str(path)))
    assert "single column" in text and "about" in text
    sheets = [page.source.sheet.itemText(i) for i in range(page.source.sheet.count())]
    assert sheets == ["about", "ratings"]  # listed although the first sheet cannot be read
    assert page.source.sheet.isVisible()
    _loaded(page, qtbot, lambda: page.source.sheet.setCurrentIndex(1))
    assert window.state.load_options["sheet"] == "ratings"
    assert window.state.report.interactions == len(df)


def test_parquet_folder_by_open_folder(window, tmp_path, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    df = _frame()
    folder = tmp_path / "events"
    folder.mkdir()
    half = len(df) // 2
    df.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    df.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    page = window.data_page
    _loaded(page, qtbot, page.folder_btn.click)
    assert window.state.data_path == str(folder)
    assert window.state.report.interactions == len(df)
    assert "Parquet" in page.source.kind.text()


@pytest.mark.parametrize("suffix,opener", [(".csv.gz", gzip.open), (".csv.bz2", bz2.open)])
def test_compressed_csv(window, tmp_path, qtbot, suffix, opener):
    from recsys_gui.gui.panels.data_panel import FILE_FILTER

    assert "*.gz" in FILE_FILTER and "*.bz2" in FILE_FILTER and "*.zst" in FILE_FILTER
    df = _frame()
    path = tmp_path / f"events{suffix}"
    with opener(path, "wt") as f:
        df.to_csv(f, index=False)
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    assert window.state.report.interactions == len(df)
    assert "compressed" in page.source.kind.text()
    assert page.preview_model.rowCount() > 0


def test_separator_header_and_date_overrides(window, tmp_path, qtbot):
    df = _frame()
    path = tmp_path / "noheader.csv"
    df.to_csv(path, index=False, header=False)
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    assert "no header" in page.source.kind.text()
    assert window.state.report.interactions == len(df)
    # the first row read as names: one interaction fewer, and the columns carry its values
    _loaded(page, qtbot, lambda: page.source.header.setCurrentIndex(page.source.header.findData(True)))
    assert window.state.load_options["header"] is True
    assert window.state.report.interactions == len(df) - 1
    # a separator the file does not use: one column, said in the page
    text = _error(page, qtbot, lambda: page.source.sep.setCurrentIndex(page.source.sep.findData(";")))
    assert "column" in text
    _loaded(page, qtbot, lambda: page.source.sep.setCurrentIndex(page.source.sep.findData(",")))
    assert window.state.load_options["sep"] == ","


def test_date_format_and_encoding(window, tmp_path, qtbot):
    df = _frame(rows=60)
    dates = pd.to_datetime(df.timestamp, unit="s")
    df["timestamp"] = dates.dt.strftime("%d.%m.%Y %H:%M")
    df["item_id"] = [f"caf\u00e9 {i}" for i in df.item_id]
    path = tmp_path / "latin.csv"
    path.write_bytes(df.to_csv(index=False).encode("latin-1"))
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    assert page.source.encoding.text() == "latin-1"
    assert any("é" in str(i) for i in window.state.data.item_ids)
    page.source.date_format.setText("%d.%m.%Y %H:%M")
    _loaded(page, qtbot, page.source.date_format.editingFinished.emit)
    assert window.state.load_options["date_format"] == "%d.%m.%Y %H:%M"
    minutes = (dates.dt.floor("min") - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    assert sorted(window.state.data.timestamps.tolist()) == sorted(minutes.tolist())
    page.source.date_format.setText("day.month")
    text = _error(page, qtbot, page.source.date_format.editingFinished.emit)
    assert "date format" in text


def test_sample_users(window, tmp_path, qtbot):
    df = _frame(n_users=200, rows=2000)
    path = tmp_path / "events.csv"
    df.to_csv(path, index=False)
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    everyone = _users(window)
    page.source.sample.setText("50")
    _loaded(page, qtbot, page.source.sample.editingFinished.emit)
    sampled = _users(window)
    assert len(sampled) == 50 and sampled <= everyone
    assert window.state.load_options["sample_users"] == 50
    # whole users: every row of a sampled user is kept
    rows = df[df.user_id.astype(str).isin(sampled)]
    assert window.state.report.interactions == len(rows)
    _loaded(page, qtbot, lambda: page.source.sample_seed.setValue(7))
    assert _users(window) != sampled and len(_users(window)) == 50
    page.source.sample.setText("25%")
    _loaded(page, qtbot, page.source.sample.editingFinished.emit)
    assert window.state.load_options["sample_users"] == 0.25
    page.source.sample.setText("a few")
    assert "cannot sample 'a few' users" in _error(page, qtbot, page.source.sample.editingFinished.emit)
    page.source.sample.setText("2.5")
    assert "whole number" in _error(page, qtbot, page.source.sample.editingFinished.emit)


def test_predefined_split_files(window, tmp_path, qtbot):
    from PySide6.QtWidgets import QPushButton

    df = _frame(rows=600)
    parts = {"train": df.iloc[:400], "valid": df.iloc[400:500], "test": df.iloc[500:]}
    paths = {}
    for name, part in parts.items():
        paths[name] = tmp_path / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    page = window.data_page
    _loaded(page, qtbot, lambda: page.open_file(str(paths["train"])))
    keys = [page.protocol.itemData(i)[0] for i in range(page.protocol.count())]
    page.protocol.setCurrentIndex(keys.index("predefined"))
    assert page.path_label.text() == "Train file:" and page.split_files.isVisible()
    assert not page.split_text.isVisible()
    qtbot.waitUntil(lambda: page.message.property("role") == "warning", timeout=WAIT)
    assert "test file" in page.message.text()
    page.split_files.set_file("valid", str(paths["valid"]))
    _loaded(page, qtbot, lambda: page.split_files.set_file("test", str(paths["test"])))
    assert window.state.split_files == {"train": str(paths["train"]), "valid": str(paths["valid"]),
                                        "test": str(paths["test"])}
    assert window.state.split_text == "predefined"  # no protocol to split the train file by
    assert window.state.report.interactions == len(df)
    spec = window.state.data_spec()  # what a run started now trains on: the three files as they are
    assert spec.predefined and (spec.train, spec.valid, spec.test) == (
        str(paths["train"]), str(paths["valid"]), str(paths["test"]))
    assert page.split_summary.text().startswith("Parts: train 400 · valid 100")
    assert "test 100" in page.split_summary.text()
    clear_valid = page.split_files.findChildren(QPushButton)[1]
    assert clear_valid.text() == "✕"
    _loaded(page, qtbot, clear_valid.click)
    assert window.state.split_files["valid"] is None
    assert window.state.report.interactions == len(df) - 100 and "valid" not in page.split_summary.text()
    # a k-core cannot apply to a published split: the core's message, in the page
    assert "k-core" in _error(page, qtbot, lambda: page.min_user.setValue(3))
    _loaded(page, qtbot, lambda: page.min_user.setValue(0))
    # back to a protocol: the train file is split again
    _loaded(page, qtbot, lambda: page.protocol.setCurrentIndex(0))
    assert window.state.split_files is None and window.state.split_text == "ratio:8,1,1"
    assert window.state.report.interactions == len(parts["train"])
    qtbot.waitUntil(lambda: page.split_summary.text().startswith("Parts"), timeout=WAIT)


def test_progress_bar_moves_and_statistics_come_from_histograms(window, tmp_path, qtbot):
    df = _frame(n_users=3000, n_items=800, rows=60_000)
    path = tmp_path / "events.csv"
    df.to_csv(path, index=False)
    page = window.data_page
    seen: list[int] = []
    page.progress.valueChanged.connect(seen.append)
    shown: list[bool] = []
    page.progress.valueChanged.connect(lambda _v: shown.append(page.progress.isVisible()))
    _loaded(page, qtbot, lambda: page.open_file(str(path)))
    assert any(0 < v < page.progress.maximum() for v in seen), seen
    assert seen == sorted(seen) and all(shown)
    assert not page.progress.isVisible()  # done: the message says so
    qtbot.waitUntil(lambda: page.stats.drawn == 4, timeout=WAIT)
    points = page.stats.points()
    assert 0 < points < 300, points  # bins, not one point per user, item or row


def test_the_data_page_lists_the_loaded_features_and_an_unticked_one_leaves_the_next_runs_spec(
        window, qtbot):
    from PySide6.QtCore import Qt

    from tests.conftest import ROOT

    page = window.data_page
    page.meta_edit.setText(str(ROOT / "sample_data" / "items.csv"))
    _loaded(page, qtbot, lambda: page.open_file(str(ROOT / "sample_data" / "interactions.csv")))
    box = page.features
    qtbot.waitUntil(lambda: "items" in box.report(), timeout=WAIT)
    assert "genres" in box.columns()["items"]
    items = [box.tree.topLevelItem(r) for r in range(box.tree.topLevelItemCount())]
    rows = {item.text(0): item for item in items}
    with qtbot.waitSignal(box.changed, timeout=WAIT):
        rows["genres"].setCheckState(0, Qt.CheckState.Unchecked)
    assert window.state.data_spec().features == {"exclude": ["genres"]}
