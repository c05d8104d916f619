"""Compare page: three selected runs give a 3 × 3 Holm matrix of paired tests and a verdict that says so."""

from __future__ import annotations

import os

import numpy as np
import pytest

from recsys_gui.core.reporting.stats import holm
from tests.conftest import tiny_split

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """pop, MF and ItemKNN on one file split (seed 3), pop and MF again with seed 4."""
    from recsys_gui.core.session import DataSpec, RunSpec, run_training
    from recsys_gui.core.store.run_store import RunStore

    root = tmp_path_factory.mktemp("holm")
    split = tiny_split(60, 40)
    frame = split.train.concat(split.valid, split.test).to_frame()
    frame = frame.rename(columns={"user": "user_id", "item": "item_id", "value": "rating"})
    frame["timestamp"] = 1_600_000_000 + np.arange(len(frame)) * 60
    frame.to_csv(root / "interactions.csv", index=False)
    ws = root / "ws"
    for model, seed in (("pop", 3), ("mf", 3), ("itemknn", 3), ("pop", 4), ("mf", 4)):
        run_training(
            RunSpec(
                data=DataSpec(path=str(root / "interactions.csv")),
                model=model,
                split="ratio:8,1,1",
                train={"epochs": 2, "batch_size": 64, "device": "cpu", "seed": seed},
            ),
            workspace=ws,
        )
    return ws, {(r["model"], r["seed"]): r["id"] for r in RunStore(ws).list_runs()}


def _page(qtbot, ws):
    from recsys_gui.gui.panels.compare.panel import ComparePanel
    from tests.gui import drive

    return drive.open_page(qtbot, ComparePanel, ws, size=(1300, 900))


def test_three_selected_runs_give_three_holm_adjusted_pairs(qtbot, three_runs, tmp_path):
    ws, ids = three_runs
    page = _page(qtbot, ws)
    page.select_runs([ids["pop", 3], ids["mf", 3], ids["itemknn", 3]])
    page.tabs.setCurrentWidget(page.significance_tab)
    sig = page.significance_tab
    sig.test_selected()
    qtbot.waitUntil(lambda: sig.matrix is not None, timeout=30000)

    m = sig.matrix
    assert m.metric == "ndcg@10" and len(m.arms) == 3 and len(m.cells) == 3
    tested = [c for c in m.cells if not c.reason]
    assert len(tested) == 3, [c.reason for c in m.cells]
    assert [c.t_p_holm for c in tested] == pytest.approx(holm([c.t_p for c in tested]))
    assert all(c.p_holm >= min(c.t_p, c.wilcoxon_p) for c in tested)
    t = sig.matrix_table
    assert (t.rowCount(), t.columnCount()) == (3, 3)
    assert t.item(0, 0).text() == "–" and "p = " in t.item(0, 1).text()
    assert t.item(0, 1).text().split("\n")[0].lstrip("+-").split(" ")[0] == t.item(1, 0).text().split(
        "\n"
    )[0].lstrip("+-").split(" ")[0], "the matrix is antisymmetric in the difference"
    words = sig.matrix_verdict.text()
    assert "of 3 differences on ndcg@10" in words and "Holm" in words
    page.grab().save(str(tmp_path / "compare_holm.png"))
    shots = os.environ.get("RECSYS_SHOTS")
    if shots:
        page.grab().save(f"{shots}/compare_holm.png")


def test_seeds_are_one_arm_paired_by_seed_with_error_bars(qtbot, three_runs):
    ws, ids = three_runs
    page = _page(qtbot, ws)
    page.select_runs(list(ids.values()))
    assert page.compare()
    tab = page.metrics_tab
    assert sorted(len(a.runs) for a in tab.arms) == [1, 2, 2]
    items = page.metrics_tab.bar_plot.getPlotItem().items
    assert sum(type(i).__name__ == "BarGraphItem" for i in items) == 3, "one bar per model, not per seed"
    assert sum(type(i).__name__ == "ErrorBarItem" for i in items) == 2, "error bars for the seeded models"
    assert any("±" in str(v) for v in tab.side_model.frame().iloc[0].tolist())
    shots = os.environ.get("RECSYS_SHOTS")  # screenshots for a person to look at, when asked for
    if shots:
        page.tabs.setCurrentWidget(tab)
        page.grab().save(f"{shots}/compare_seeds_error_bars.png")

    sig = page.significance_tab
    sig.test_selected()
    qtbot.waitUntil(lambda: sig.matrix is not None, timeout=30000)
    labels = [a.label for a in sig.matrix.arms]
    mf, pop = (next(i for i, a in enumerate(sig.matrix.arms) if ids[m, 3] in a.runs) for m in ("mf", "pop"))
    assert sig.matrix.cell(mf, pop).seeds == 2, labels
    knn = next(i for i, a in enumerate(sig.matrix.arms) if ids["itemknn", 3] in a.runs)
    assert sig.matrix.cell(knn, mf).seeds == 1, "ItemKNN ran with seed 3 only"
