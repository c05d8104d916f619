"""Cold start in the window: the Data page's feature list (columns, value counts, ticks that reach the
run spec) and the What-if page's "New item" tab (the users a run would recommend an item it has never
seen to, checked against ``serving.load_run(...).top_users_for_new_item``; disabled for a model
without item features).

The data is generated: even users take even items (genres Drama|Romance), odd users odd items
(Action), so a hybrid MF learns which users a Drama|Romance film is for.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui
WAIT = 30000
N_USERS, N_ITEMS, PER_USER = 60, 40, 12


def _write_files(folder):
    rng = np.random.default_rng(0)
    rows = ["user_id,item_id,rating"]
    for u in range(N_USERS):
        for i in rng.choice(np.arange(u % 2, N_ITEMS, 2), PER_USER, replace=False):
            rows.append(f"{u},{i},4")
    data = folder / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    items = folder / "items.csv"
    items.write_text("item_id,title,genres\n" + "".join(
        f"{i},Film {i} (1990),{'Drama|Romance' if i % 2 == 0 else 'Action'}\n" for i in range(N_ITEMS)))
    users = folder / "users.dat"
    users.write_text("".join(f"{u}::{'FM'[u % 2]}::{(18, 25, 35)[u % 3]}::{u % 4}::0000{u % 7}\n"
                             for u in range(N_USERS)))
    return data, items, users


# --- the Data page's feature list ----------------------------------------------------------------
@pytest.fixture
def loaded(tmp_path):
    from recsys_gui.core.data.loading.options import LoadOptions
    from recsys_gui.core.data.loading.pipeline import load_interactions

    data, items, users = _write_files(tmp_path)
    frame, _report = load_interactions(str(data), LoadOptions(), item_metadata=str(items))
    return frame, users


def _listed(box):
    """The feature list's rows by their first cell."""
    rows = (box.tree.topLevelItem(r) for r in range(box.tree.topLevelItemCount()))
    return {row.text(0): row for row in rows}


def test_feature_list_shows_columns_and_counts_and_unticking_reaches_the_options(qtbot, loaded):
    from recsys_gui.core.data.features import FeatureOptions, fit_features
    from recsys_gui.gui.panels.data_features import FeaturesBox

    data, users = loaded
    box = FeaturesBox()
    qtbot.addWidget(box)
    box.show()
    assert box.columns() == {} and box.feature_options() == {} and box.user_metadata() is None

    box.show_data(data)
    qtbot.waitUntil(lambda: "items" in box.report(), timeout=WAIT)
    assert box.columns() == {"items": {"genres": (3, True)}}  # Action, Drama, Romance; a title is none
    shown = _listed(box)
    assert shown["genres"].text(1) == "3" and shown["genres"].checkState(0) == Qt.CheckState.Checked
    assert shown["title"].text(2) == "skipped"
    assert not shown["title"].flags() & Qt.ItemFlag.ItemIsEnabled
    assert box.skipped.text().startswith("Skipped: title (")

    with qtbot.waitSignal(box.changed, timeout=WAIT):
        box.set_user_metadata(str(users))
    qtbot.waitUntil(lambda: "users" in box.report(), timeout=WAIT)
    assert box.user_metadata() == str(users.resolve())
    assert box.columns()["users"] == {"gender": (2, True), "age": (3, True), "occupation": (4, True)}

    assert _listed(box)["zip"].text(2) == "skipped"
    item = _listed(box)["genres"]
    with qtbot.waitSignal(box.changed, timeout=WAIT):
        item.setCheckState(0, Qt.CheckState.Unchecked)
    assert box.columns()["items"] == {"genres": (3, False)}
    assert box.excluded() == ["genres"] and box.feature_options() == {"exclude": ["genres"]}
    # what the run spec carries leaves the column out of the run's features
    options = FeatureOptions.from_mapping(box.feature_options())
    assert fit_features(data.item_meta, options) is None

    box.show_data(data)  # a reload keeps the choice
    qtbot.waitUntil(lambda: "users" in box.report() and "items" in box.report(), timeout=WAIT)
    assert box.feature_options() == {"exclude": ["genres"]}
    box.set_user_metadata(None)
    qtbot.waitUntil(lambda: "users" not in box.report(), timeout=WAIT)
    assert box.user_metadata() is None


def test_feature_list_without_metadata_and_with_a_bad_user_file_says_so(qtbot, loaded, tmp_path):
    from recsys_gui.gui.panels.data_features import FeaturesBox

    data, _users = loaded
    box = FeaturesBox()
    qtbot.addWidget(box)
    box.show()
    box.show_report({})
    assert box.message.isVisible() and "No item metadata" in box.message.text()
    box.show_data(data)
    bad = tmp_path / "bad_users.csv"
    bad.write_text("only_one_column\n1\n2\n")
    box.set_user_metadata(str(bad))
    qtbot.waitUntil(lambda: box.message.property("role") == "error", timeout=WAIT)
    assert "bad_users.csv" in box.message.text() and "\n" not in box.message.text()
    assert box.columns() == {}


# --- the What-if page's new item -----------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A hybrid MF (features=auto: items, from the genres) and popularity, trained through the core."""
    from recsys_gui.core.session import DataSpec, RunSpec, run_training

    folder = tmp_path_factory.mktemp("cold_gui")
    data, items, _users = _write_files(folder)
    ws = folder / "ws"
    spec = DataSpec(path=str(data), item_metadata=str(items))
    train = {"device": "cpu", "seed": 1, "threads": 1, "epochs": 5, "lr": 0.05}
    for model, cfg in (("mf", {"embedding_dim": 8}), ("pop", {})):
        run_training(RunSpec(data=spec, model=model, model_config=cfg, metrics=("ndcg@10",), train=train),
                     workspace=ws, run_id=model)
    return ws


@pytest.fixture
def page(qtbot, runs):
    from recsys_gui.gui.panels.whatif import WhatIfPanel
    from tests.gui import drive

    return drive.open_page(qtbot, WhatIfPanel, runs)


def _choose(qtbot, panel, run_id):
    panel.picker.select(run_id)
    qtbot.waitUntil(lambda: panel.runs.cached(run_id) is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: not panel.new_item.reason.text().startswith("Loading"), timeout=WAIT)


def test_new_item_lists_the_users_the_run_would_recommend_it_to(qtbot, page, runs):
    from recsys_gui.core.serving import load_run

    direct = load_run("mf", runs)
    page.modes.setCurrentWidget(page.new_item)
    _choose(qtbot, page, "mf")
    box = page.new_item
    assert box.available and box.isEnabled() and not box.reason.isVisible()
    assert list(box._editors) == ["genres"]
    assert box.rows() == [] and "Pick feature values" in box.message.text()

    editor = box._editors["genres"]
    for r in range(editor.list.count()):  # tick Drama and Romance as a user would
        if editor.list.item(r).text() in ("Drama", "Romance"):
            editor.list.item(r).setCheckState(Qt.CheckState.Checked)
    assert box.features_text() == "genres=Drama|Romance"
    assert "--new-item \"genres=Drama|Romance\"" in box.described.text()

    def expected(text, top):
        return [(u.rank, u.user, len(direct.history_of(u.user)), u.score)
                for u in direct.top_users_for_new_item(text, top=top)]

    want = expected("genres=Drama|Romance", 20)
    qtbot.waitUntil(lambda: [r[:3] for r in box.rows()] == [w[:3] for w in want], timeout=WAIT)
    assert box.rows()[0][3] == pytest.approx(want[0][3], rel=1e-4)
    assert box.table.rowCount() == 20 and box.table.item(0, 1).text() == str(want[0][1])
    assert box.table.item(0, 2).text() == f"{want[0][2]:,}" and want[0][2] >= PER_USER * 0.8
    assert sum(u % 2 == 0 for _r, u, _h, _s in box.rows()[:10]) >= 8  # even users like these genres

    box.select("genres", "Action")
    box.top_spin.setValue(5)
    want = expected("genres=Action", 5)
    qtbot.waitUntil(lambda: [r[:3] for r in box.rows()] == [w[:3] for w in want], timeout=WAIT)
    box.select("genres", "")
    qtbot.waitUntil(lambda: box.rows() == [] and "Pick feature values" in box.message.text(), timeout=WAIT)


def test_new_item_is_disabled_with_the_reason_for_a_model_without_features(qtbot, page):
    page.modes.setCurrentWidget(page.new_item)
    _choose(qtbot, page, "mf")
    assert page.new_item.available
    page.new_item.select("genres", "Action")
    _choose(qtbot, page, "pop")
    box = page.new_item
    assert not box.available and not box.isEnabled()
    assert box.reason.isVisible() and "reads no item features" in box.reason.text()
    assert box.features_text() == "" and box.rows() == []
    _choose(qtbot, page, "mf")  # back to a hybrid run: the box works again
    assert box.available and box.isEnabled() and not box.reason.isVisible()


def test_new_item_editors_make_the_description_the_core_reads(qtbot):
    from recsys_gui.core.data.features import parse_feature_text
    from recsys_gui.gui.panels.whatif.new_item import NewItemBox

    box = NewItemBox()
    qtbot.addWidget(box)
    box.show()
    assert not box.available and not box.isEnabled()
    features = {"genres": {"kind": "multi", "values": [f"g{i}" for i in range(20)]},
                "country": {"kind": "category", "values": ["FR", "IT", "US"]},
                "year": {"kind": "numeric", "values": ["[-inf,1990)", "[1990,2000)", "[2000,inf)"]},
                "plot": {"kind": "text", "values": ["love", "war"]}}
    with qtbot.waitSignal(box.changed, timeout=WAIT):
        box.set_run(features, "MF", "run-1")
    assert box.available and box.isEnabled() and box.features_text() == ""
    genres = box._editors["genres"]
    assert not genres.filter.isHidden()  # 20 values: a filter line
    genres.filter.setText("g1")
    hidden = [genres.list.item(r).isHidden() for r in range(genres.list.count())]
    assert hidden.count(False) == 11  # g1, g10 … g19
    box.select("genres", "g3|g12")
    box._editors["country"].setCurrentText("IT")
    box._editors["year"].setText("1995")
    box._editors["plot"].setText("a love story")
    text = box.features_text()
    assert text == "genres=g3|g12; country=IT; year=1995; plot=a love story"
    assert parse_feature_text(text) == {"genres": "g3|g12", "country": "IT", "year": "1995",
                                        "plot": "a love story"}
    assert "recommend run-1 --new-item" in box.described.text() and "--top-users 20" in box.described.text()
    box.set_run(features, "MF", "run-2")  # another run on the same data keeps the description
    assert box.features_text() == text
    box.set_run({}, "EASE")
    assert not box.available and box.features_text() == ""
    assert "EASE reads no item features" in box.reason.text()
