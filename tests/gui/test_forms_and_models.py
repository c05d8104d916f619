from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.gui


def test_model_form_round_trips(window):
    mp = window.model_page
    problems = mp.set_config("mf", {"embedding_dim": 32}, {"epochs": 7, "lr": 0.005, "batch_size": 128,
                                                           "early_stop_metric": "recall@10", "patience": 3})
    assert problems == []
    assert mp.model_values()["embedding_dim"] == 32
    tv = mp.train_values()
    assert (tv["epochs"], tv["lr"], tv["batch_size"], tv["early_stop_metric"], tv["patience"]) == \
        (7, 0.005, 128, "recall@10", 3)
    spec = mp.build_spec(window.state.data_spec(), "ratio:8,1,1")
    assert spec is not None and spec.model == "mf" and spec.train["epochs"] == 7
    assert spec.train_config().epochs == 7


def test_every_model_form_builds_and_validates(window):
    from recsys_gui.core.models import available_models

    for name in available_models():
        window.model_page.select_model(name)
        assert window.model_page.check(), name


def test_form_shows_range_errors(window):
    mp = window.model_page
    mp.select_model("mf")
    problems = mp.train_form.set_values({"epochs": 0})
    assert problems and "Epochs" in problems[0]
    assert not mp.train_form.error_label.isHidden()
    mp.train_form.editors["grad_clip"].setText("-1")
    assert not mp.check()
    assert "grad_clip" in mp.train_form.error_label.text()


def test_frame_model_passes_modeltester(qtmodeltester):
    from recsys_gui.gui.qtmodels.frame_model import FrameModel

    m = FrameModel(pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, float("nan"), 2.0]}))
    qtmodeltester.check(m)
    m.set_frame(pd.DataFrame({"x": []}))
    qtmodeltester.check(m)


def test_frame_model_cells_and_column_widths(qtbot):
    """What the view shows per role, and column widths from the text alone that fit like Qt's own."""
    from PySide6.QtCore import QModelIndex, Qt
    from PySide6.QtWidgets import QTableView

    from recsys_gui.gui.qtmodels.frame_model import FrameModel

    frame = pd.DataFrame({"user": [1, 22], "a rather long column title": ["x", None],
                          "score": [0.123456, float("nan")], "hit": [True, False]})
    m = FrameModel()
    m.set_frame(frame, highlight=[True, False])
    R = Qt.ItemDataRole
    assert [m.data(m.index(0, c)) for c in range(4)] == ["1", "x", "0.1235", "✓"]
    assert [m.data(m.index(1, c)) for c in range(4)] == ["22", "", "", ""]
    assert m.data(m.index(0, 1), R.ToolTipRole) == "x"
    assert m.data(m.index(0, 0), R.TextAlignmentRole) == int((Qt.AlignmentFlag.AlignRight
                                                               | Qt.AlignmentFlag.AlignVCenter).value)
    assert m.data(m.index(0, 3), R.TextAlignmentRole) == int(Qt.AlignmentFlag.AlignCenter.value)
    assert m.data(m.index(0, 1), R.TextAlignmentRole) is None
    assert m.data(m.index(0, 0), R.BackgroundRole) is not None
    assert m.data(m.index(1, 0), R.BackgroundRole) is None
    for role in (R.DecorationRole, R.FontRole, R.ForegroundRole, R.CheckStateRole):
        assert m.data(m.index(0, 0), role) is None
    assert m.data(QModelIndex()) is None

    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(m)
    view.show()
    ours = m.column_widths(view.fontMetrics())
    view.resizeColumnsToContents()
    qt = [view.columnWidth(c) for c in range(4)]
    assert ours[1] > ours[0] and ours[1] >= view.fontMetrics().horizontalAdvance("a rather long column title")
    assert all(abs(a - b) <= 16 for a, b in zip(ours, qt, strict=True)), (ours, qt)


def test_runs_model_passes_modeltester(qtmodeltester):
    from recsys_gui.gui.qtmodels.runs_model import BASE_COLUMNS, RunsModel

    m = RunsModel()
    m.set_runs([{"id": "r1", "name": "r1", "model": "mf", "status": "completed", "created_at": 1.7e9,
                 "epochs_run": 3, "device": "CPU", "split": "ratio", "test": {"ndcg@10": 0.2}},
                {"id": "r2", "name": "r2", "model": "pop", "status": "failed", "created_at": 1.7e9,
                 "test": {}}])
    qtmodeltester.check(m)
    assert m.columnCount() == len(BASE_COLUMNS) + 1 and m.run_id(1) == "r2"
