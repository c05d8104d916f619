"""Results, Embeddings, Compare and Export pages, driven like a user would, on two real tiny runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from tests.conftest import tiny_split

pytestmark = pytest.mark.gui
N_USERS, N_ITEMS = 60, 40


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An MF and a popularity run on the same file split (with titles and genres), in one workspace."""
    from recsys_gui.core.session import DataSpec, RunSpec, run_training
    from recsys_gui.core.store.run_store import RunStore

    root = tmp_path_factory.mktemp("pages")
    split = tiny_split(N_USERS, N_ITEMS)
    data = split.train.concat(split.valid, split.test)
    frame = data.to_frame().rename(columns={"user": "user_id", "item": "item_id", "value": "rating"})
    frame["timestamp"] = 1_600_000_000 + np.arange(len(frame)) * 60
    frame.to_csv(root / "interactions.csv", index=False)
    pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(N_ITEMS)],
            "title": [f"Film {i}" for i in range(N_ITEMS)],
            "genres": ["Drama|War" if i % 2 else "Comedy" for i in range(N_ITEMS)],
        }
    ).to_csv(root / "items.csv", index=False)
    ws = root / "ws"
    spec = DataSpec(path=str(root / "interactions.csv"), item_metadata=str(root / "items.csv"))
    for model, epochs in (("pop", 1), ("mf", 3)):
        run_training(
            RunSpec(
                data=spec,
                model=model,
                split="ratio:8,1,1",
                train={"epochs": epochs, "batch_size": 64, "device": "cpu", "seed": 3},
            ),
            workspace=ws,
        )
    runs = RunStore(ws).list_runs()
    return ws, {r["model"]: r["id"] for r in runs}


@pytest.fixture
def state(qtbot, trained):
    from recsys_gui.gui import services
    from recsys_gui.gui.state import AppState

    ws, _ids = trained
    st = AppState(ws)
    st.runs = services.list_runs(str(ws))
    return st


def _show(qtbot, page):
    qtbot.addWidget(page)
    page.resize(1300, 850)
    page.show()
    return page


# --- Results -------------------------------------------------------------------------------------
def test_results_metrics_k_curves_activity_and_inspector(qtbot, state, trained):
    from recsys_gui.gui.panels.results_panel import ACCURACY_CURVES, ResultsPanel

    _ws, ids = trained
    page = _show(qtbot, ResultsPanel(state))
    state.runs_changed.emit()
    page.picker.select(ids["mf"])
    page.show_run(ids["mf"])
    shown = page.metrics_model.frame()
    assert {"ndcg@10", "coverage@10", "gini@10", "novelty@10", "arp@10"} <= set(shown["metric"])
    assert set(shown.loc[shown["metric"] == "gini@10", "kind"]) == {"beyond"}

    plot = page.k_plot.getPlotItem()
    before = plot.listDataItems()
    assert len(before) == len(ACCURACY_CURVES), "built with the page"
    assert all(c.getData()[0] is None or len(c.getData()[0]) == 0 for c in before), "and empty"
    assert not plot.legend.isVisible(), "no legend over an empty plot"
    page.evaluate_k()
    qtbot.waitUntil(lambda: page.k_result is not None, timeout=30000)
    assert plot.listDataItems() == before and plot.legend.isVisible(), "the same curves, filled"
    assert page.k_result["ks"] == [1, 5, 10, 20, 50] and len(page.k_result["curves"]["recall"]) == 5
    recall = np.array(page.k_result["curves"]["recall"])
    assert np.all(np.diff(recall) >= -1e-12)  # recall cannot drop as K grows
    # the page refills its tables on the next event-loop turns: wait for them
    qtbot.waitUntil(lambda: "ild@10" in set(page.metrics_model.frame()["metric"]), timeout=5000)
    qtbot.waitUntil(lambda: page.activity_model.rowCount() >= 4, timeout=5000)
    assert any(
        "warm" in c for c in page.activity_model.frame().columns
    )
    page.k_metric.setCurrentIndex(page.k_metric.findData("coverage"))
    assert len(plot.listDataItems()) == 1 and len(plot.legend.items) == 1
    page.k_metric.setCurrentIndex(page.k_metric.findData("accuracy"))
    curves = plot.listDataItems()
    assert len(curves) == len(plot.legend.items) == len(ACCURACY_CURVES), "one curve, one legend entry each"
    assert all(len(c.getData()[0]) == 5 for c in curves)

    page.user_edit.setText("u3")
    page.top_n.setValue(N_ITEMS)  # every unseen item: the held-out one must be among them
    page.inspect()
    qtbot.waitUntil(lambda: page.inspect_result is not None, timeout=20000)
    r = page.inspect_result
    assert (
        r["n_history"] == 11 and "title" in r["history"] and set(r["history"]["part"]) == {"train", "valid"}
    )
    assert r["hits"] == r["n_test"] == 1 and r["recs"]["in_test"].sum() == 1
    hit_row = int(np.flatnonzero(r["recs"]["in_test"].to_numpy())[0])
    bg = Qt.ItemDataRole.BackgroundRole
    assert page.recs_model.data(page.recs_model.index(hit_row, 0), bg) is not None
    assert page.recs_model.data(page.recs_model.index((hit_row + 1) % len(r["recs"]), 0), bg) is None
    assert "u3" in page.inspect_info.text() and "1 of the top" in page.inspect_info.text()

    page.user_edit.setText("nobody")
    page.inspect()
    qtbot.waitUntil(lambda: page.message.property("role") == "error", timeout=10000)
    assert "No user 'nobody'" in page.message.text()


# --- Embeddings ----------------------------------------------------------------------------------
def test_embeddings_project_hover_neighbours_search_and_colour(qtbot, state, trained):
    from recsys_gui.gui.panels.embeddings_panel import EmbeddingsPanel

    _ws, ids = trained
    page = _show(qtbot, EmbeddingsPanel(state))
    state.runs_changed.emit()
    page.picker.select(ids["mf"])
    qtbot.waitUntil(lambda: page.side_options() == ["item", "user"], timeout=5000)
    page.project()
    qtbot.waitUntil(lambda: page.scatter_point_count() == N_ITEMS, timeout=20000)
    view = page.view
    assert view.side == "item" and page.colour_by.findText("genre") >= 0

    pos = 7
    x, y = view.xy[pos]
    text = page.hover_text_at(float(x), float(y))
    raw = str(view.ids[view.rows[pos]])
    assert raw in text and f"Film {raw[1:]}" in text

    page.select_point(int(view.rows[pos]))
    qtbot.waitUntil(lambda: page.neighbours_frame is not None, timeout=10000)
    nb = page.neighbours_frame
    assert len(nb) == page.k.value() and raw not in set(nb["item_id"])
    assert nb["cosine"].is_monotonic_decreasing
    unit = view.unit
    sims = unit @ unit[view.rows[pos]]
    sims[view.rows[pos]] = -np.inf
    assert nb["_row"].iloc[0] == int(np.argmax(sims))  # full-space cosine, not 2-D distance

    page.search_edit.setText("Film 1")
    page.find()
    qtbot.waitUntil(lambda: len(page.found_rows) > 0, timeout=10000)
    expected = {"Film 1", *(f"Film {i}" for i in range(10, 20))}
    assert {view.titles[r] for r in page.found_rows} == expected
    assert page.found_list.count() == len(page.found_rows)
    assert len(page.scatter.marks["search"].data) == len(page.found_rows)
    page.search_edit.setText("i5")  # an exact raw id comes first and is selected at once
    page.find()
    qtbot.waitUntil(lambda: page.found_rows and str(view.ids[page.found_rows[0]]) == "i5", timeout=10000)
    qtbot.waitUntil(lambda: page.selected_row == page.found_rows[0], timeout=10000)

    page.colour_by.setCurrentIndex(page.colour_by.findText("genre"))
    qtbot.waitUntil(lambda: page.coding is not None and "Comedy" in page.coding.labels, timeout=10000)
    assert len(page.scatter.groups) == 2 and page.scatter_point_count() == N_ITEMS


def test_embeddings_hide_the_user_side_for_cfgan(qtbot, state):
    from recsys_gui.gui.panels.embeddings_panel import EmbeddingsPanel, model_sides

    assert model_sides("cfgan") == ["item"] and model_sides("mf") == ["item", "user"]
    assert model_sides("ease") == []
    page = _show(qtbot, EmbeddingsPanel(state))
    fake = {**state.runs[0], "id": "fake-cfgan", "model": "cfgan", "name": "fake-cfgan"}
    state.runs = [fake, *state.runs]
    state.runs_changed.emit()
    page.picker.select("fake-cfgan")
    qtbot.waitUntil(lambda: page.side_options() == ["item"], timeout=5000)
    assert "no user vectors" in page.message.text()


def test_scatter_takes_100k_points_and_hover_finds_the_right_id(qtbot):
    from recsys_gui.gui.plots.scatter import EmbeddingScatter, group_colours

    rng = np.random.default_rng(0)
    n = 100_000
    xy = rng.normal(size=(n, 2)) * 50
    keys = np.arange(n) * 3 + 11  # keys differ from positions
    codes = rng.integers(-1, 8, n)
    sc = EmbeddingScatter()
    qtbot.addWidget(sc)
    sc.resize(900, 700)
    sc.show()
    sc.label_for = lambda k: f"id {k}"
    sc.set_points(xy, keys, codes, [f"g{i}" for i in range(8)], group_colours(8, True), size=4)
    assert sc.point_count() == n and len(sc.groups) == 9  # 8 groups + "no value"
    assert all(g.opts["pxMode"] and g.opts["useCache"] for g in sc.groups)
    qtbot.wait(50)
    # the colour key: one entry per group with its count, inside the view box, mouse passes through
    counts = np.bincount(codes + 1, minlength=9)
    groups = [(f"g{g} ({counts[g + 1]:,})", c) for g, c in enumerate(group_colours(8, True))]
    assert sc.key.entries == [*groups, (f"no value ({counts[0]:,})", "#c8c8c8")]
    vb_corner = sc.mapFromScene(sc.getPlotItem().vb.sceneBoundingRect().topLeft())
    assert sc.key.isVisible() and sc.key.x() > vb_corner.x() and sc.key.y() > vb_corner.y()
    assert sc.key.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    for i in rng.integers(0, n, 20):
        assert sc.nearest(xy[i, 0], xy[i, 1]) == keys[i]
    i = int(np.argmax(xy[:, 0]))
    hovered = []
    sc.point_hovered.connect(hovered.append)
    assert sc.hover_at(xy[i, 0] + 1e-9, xy[i, 1]) == keys[i] and hovered == [keys[i]]
    assert sc.hover_text.toPlainText() == f"id {keys[i]}"
    assert sc.nearest(1e6, 1e6, max_px=8) == -1  # nothing within 8 pixels far outside the cloud
    assert sc.mark("search", [keys[0], -5]) == 1
    sc.clear_points()
    assert sc.key.entries == [] and not sc.key.isVisible()


# --- Compare -------------------------------------------------------------------------------------
def test_compare_filter_sort_plots_and_significance(qtbot, state, trained):
    from recsys_gui.gui.panels.compare_panel import ComparePanel
    from recsys_gui.gui.qtmodels.runs_model import BASE_COLUMNS

    _ws, ids = trained
    page = _show(qtbot, ComparePanel(state))
    assert page.runs_model.rowCount() == 2 and page.proxy.rowCount() == 2
    page.filter_edit.setText("POP")
    assert page.proxy.rowCount() == 1 and page.visible_run_ids() == [ids["pop"]]
    page.filter_edit.setText("")
    col = page.runs_model.metric_names.index("ndcg@10") + len(BASE_COLUMNS)
    page.table.sortByColumn(col, Qt.SortOrder.DescendingOrder)
    best = max(state.runs, key=lambda r: r["test"]["ndcg@10"])["id"]
    assert page.visible_run_ids()[0] == best

    page.select_runs([ids["pop"], ids["mf"]])
    assert set(page.selected_ids()) == {ids["pop"], ids["mf"]}
    assert page.compare()
    bars = [i for i in page.metrics_tab.bar_plot.getPlotItem().items if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 2 and page.metrics_tab.side_model.columnCount() == 3
    qtbot.waitUntil(lambda: set(page.curves_tab.curves) == {ids["pop"], ids["mf"]}, timeout=10000)
    assert len(page.curves_tab.valid_plot.getPlotItem().listDataItems()) == 2
    assert len(page.tradeoff_tab.plot.getPlotItem().items) >= 2

    page.significance()
    sig = page.significance_tab
    qtbot.waitUntil(lambda: sig.result is not None, timeout=30000)
    assert "ndcg@10" in sig.tests and sig.table_model.rowCount() == len(sig.tests)
    assert sig.metric_combo.currentText() == "ndcg@10"
    words = sig.verdict_label.text()
    assert "ndcg@10" in words and ("better" in words or "No reliable difference" in words)


def test_significance_refuses_runs_on_different_splits(qtbot, state):
    from recsys_gui.gui.panels.compare_panel import ComparePanel

    page = _show(qtbot, ComparePanel(state))
    a, b = state.runs[:2]
    state.runs = [a, {**b, "split": "loo (seed 1)"}]
    state.runs_changed.emit()
    page.select_runs([a["id"], b["id"]])
    page.significance()
    assert page.message.property("role") == "error" and "same split" in page.message.text()
    assert page.significance_tab.run_button.isEnabled() and page.significance_tab.result is None


def test_verdict_reads_like_a_sentence():
    from recsys_gui.gui.panels.compare_panel import verdict

    t = {"mean_a": 0.10, "mean_b": 0.12, "mean_diff": -0.02, "t_p": 0.001, "wilcoxon_p": 0.002, "users": 900}
    assert verdict("ndcg@10", "A", "B", t).startswith("B is better than A on ndcg@10")
    assert "No reliable difference" in verdict("ndcg@10", "A", "B", {**t, "t_p": 0.4, "wilcoxon_p": 0.3})
    assert "hint" in verdict("ndcg@10", "A", "B", {**t, "wilcoxon_p": 0.3})
    assert verdict("ndcg@10", "A", "B", {**t, "mean_b": 0.08, "mean_diff": 0.02}).startswith("A is better")


# --- Export --------------------------------------------------------------------------------------
def test_export_rows_users_file_reveal_and_overwrite_prompt(qtbot, state, trained, tmp_path, monkeypatch):
    from recsys_gui.gui.panels import export_panel
    from recsys_gui.gui.panels.export_panel import ExportPanel

    _ws, ids = trained
    page = _show(qtbot, ExportPanel(state))
    state.runs_changed.emit()
    page.picker.select(ids["mf"])
    page.fmt.setCurrentIndex(page.fmt.findData("csv"))
    out = tmp_path / "recs.csv"
    page.rec_path.setText(str(out))
    page.top.setValue(5)
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No
    )
    page.export_recommendations()
    qtbot.waitUntil(lambda: page.task is None and page.last_report is not None, timeout=20000)
    assert not asked  # a new file needs no question
    assert len(pd.read_csv(out)) == N_USERS * 5 and page.progress.value() == 100

    opened = []
    monkeypatch.setattr(export_panel.QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    page.reveal()
    assert Path(opened[0].toLocalFile()) == tmp_path

    before = out.read_bytes()
    page.top.setValue(3)
    page.export_recommendations()
    assert len(asked) == 1 and page.task is None and "left as it is" in page.message.text()
    assert out.read_bytes() == before
    page.export_recommendations(confirm=False)  # scripted: refused, never silently replaced
    assert len(asked) == 1 and page.message.property("role") == "error" and out.read_bytes() == before

    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes
    )
    users = tmp_path / "users.txt"
    users.write_text("u1\nu7\nnobody\n")
    page.users_path.setText(str(users))
    page.users_from_file.setChecked(True)
    page.last_report = None
    page.export_recommendations()
    qtbot.waitUntil(lambda: page.task is None and page.last_report is not None, timeout=20000)
    assert len(asked) == 2
    got = pd.read_csv(out, dtype={"user_id": str})
    assert len(got) == 2 * 3 and set(got["user_id"]) == {"u1", "u7"}
    assert page.message.property("role") == "warning" and "nobody" in page.message.text()
