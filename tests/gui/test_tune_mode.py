"""Train page, Tune mode: a small search driven from the GUI to completion, then its best trial opened."""

from __future__ import annotations

import os

import pytest

from tests.gui import drive

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_a_small_search_runs_to_completion_and_opens_the_best_trial(qtbot, window):
    drive.load_data(window, qtbot)
    drive.prepare_training(window, "mf", train={"epochs": 1, "batch_size": 1024})
    page = window.train_page
    page.mode_tabs.setCurrentWidget(page.tune_page)
    tune = page.tune_page
    assert "lr" in [tune.space_table.item(r, 0).text() for r in range(tune.space_table.rowCount())]
    tune.space_table.set_searched(["lr", "embedding_dim"])
    assert tune.space_table.search_text() == "embedding_dim=16:256:log,lr=0.0005:0.05:log"
    tune.trials_spin.setValue(3)
    tune.minutes_spin.setValue(0)
    with qtbot.waitSignal(tune.finished, timeout=4 * drive.LONG) as blocker:  # 3 runs on a busy machine
        assert tune.start(), tune.message.text()
        assert not tune.start_btn.isEnabled() and tune.stop_btn.isEnabled()
    summary = blocker.args[0]
    qtbot.waitUntil(lambda: not tune.busy, timeout=drive.LONG)

    assert summary["trials"] == 3 and set(summary["best_params"]) == {"lr", "embedding_dim"}
    assert len(tune.trials) == 3 and tune.trials_model.rowCount() == 3
    columns = set(tune.trials_model.frame().columns)
    assert {"trial", "state", "value", "seconds", "lr", "embedding_dim"} <= columns
    assert len(tune.params) == 2
    drawn = [i for i in tune.parallel_plot.getPlotItem().items if type(i).__name__ == "PlotDataItem"]
    assert len(drawn) == sum(t["state"] == "complete" for t in tune.trials), "one polyline per finished trial"
    assert tune.best_plot.getPlotItem().listDataItems(), "best so far drawn"
    tune.best_against.setCurrentIndex(tune.best_against.findData("time"))
    line = tune.best_plot.getPlotItem().listDataItems()[-1]
    ended = sorted(t["elapsed"] / 60 for t in tune.trials if t["state"] == "complete")
    assert list(line.getData()[0]) == pytest.approx(ended), "best so far against minutes since the start"
    assert tune.best_plot.getAxis("bottom").labelText == "minutes since the start"
    assert tune.use_best_btn.isEnabled()
    shots = os.environ.get("RECSYS_SHOTS")  # screenshots for a person to look at, when asked for
    if shots:
        window.grab().save(f"{shots}/tune_mode.png")

    tune.use_best()
    best = summary["best_run_id"]
    assert window.state.current_run == best
    assert window.pages["Results"].isVisible()
    row = drive.wait_for_run(window, qtbot, best)
    assert row["name"].endswith(f"#{summary['best_trial'] + 1}") and "tune" in (row.get("tags") or [])


def test_the_settings_table_shows_every_column_beside_the_plots(qtbot, window):
    """At a 1,200-pixel window the table keeps its columns' width (it used to hide the log boxes and the
    current values behind a horizontal scroll bar); the current value is each row's tooltip."""
    drive.load_data(window, qtbot)
    drive.prepare_training(window, "vae")
    window.resize(1200, 800)
    page = window.train_page
    page.mode_tabs.setCurrentWidget(page.tune_page)
    table = page.tune_page.space_table
    qtbot.waitUntil(lambda: table.isVisible() and table.rowCount() > 0, timeout=drive.LONG)
    qtbot.wait(100)
    assert not table.horizontalScrollBar().isVisible()
    assert table.viewport().width() >= table.horizontalHeader().length() - 1
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(rows["latent"], 0).toolTip() == "model setting, now 64"
