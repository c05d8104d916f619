from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_data_page_loads_through_worker(window, interactions_csv, qtbot):
    page = window.data_page
    page.open_file(str(interactions_csv))
    qtbot.waitUntil(lambda: window.state.data is not None, timeout=20000)
    assert page.role_boxes["user"].currentText() == "user_id"
    assert page.role_boxes["item"].currentText() == "item_id"
    assert page.preview_model.rowCount() > 0
    assert "users" in page.summary.text()
    qtbot.waitUntil(lambda: page.split_summary.text().startswith("Parts"), timeout=20000)
    # a k-core change reloads in the background with fewer (or equal) interactions
    n0 = len(window.state.data)
    with qtbot.waitSignal(page.loaded, timeout=20000):
        page.min_user.setValue(10)
    assert len(window.state.data) <= n0
    # protocol help and leak warning
    page.protocol.setCurrentIndex(page.protocol.findText("Temporal cut-offs (80% / 90%)"))
    assert page.leak.property("role") == "ok"
    page.protocol.setCurrentIndex(0)
    assert page.leak.property("role") == "warning"


def test_data_page_shows_errors_inline(window, tmp_path, qtbot):
    bad = tmp_path / "bad.csv"
    bad.write_text("just one column\nx\n")
    window.data_page.open_file(str(bad))
    qtbot.waitUntil(lambda: window.data_page.message.property("role") == "error", timeout=20000)
    assert window.data_page.message.text()
    assert window.state.data is None
