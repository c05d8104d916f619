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


def test_the_preview_is_painted_before_the_loading_worker_starts(window, interactions_csv, qtbot):
    """Painting the preview calls Python per cell; with a loading worker running Python each call
    waits for the GIL. So the page paints the preview first, then starts the load."""
    from tests.gui.drive import Paints

    page = window.data_page
    qtbot.waitExposed(window)
    at_load = []
    paints = Paints(page.preview.viewport(), page.preview_model.rowCount)
    load = page.load
    page.load = lambda *a, **k: (at_load.append(list(paints.counts)), load(*a, **k))[1]
    page.open_file(str(interactions_csv))
    qtbot.waitUntil(lambda: window.state.data is not None, timeout=20000)
    paints.stop()
    painted_rows = at_load[0] if at_load else []
    assert any(rows > 0 for rows in painted_rows), f"the preview was not painted before the load: {at_load}"
