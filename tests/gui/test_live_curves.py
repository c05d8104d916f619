"""Live curves follow new points in steps, leave a user's zoom alone, and take turns to repaint."""

from __future__ import annotations

import pyqtgraph as pg
import pytest

from recsys_gui.gui.plots.live_curves import LiveCurveSet

pytestmark = pytest.mark.gui


def _ranges(curves: LiveCurveSet) -> list[list[float]]:
    return [list(r) for r in curves.view.viewRange()]


def _contains(curves: LiveCurveSet, x: float, y: float) -> bool:
    (x0, x1), (y0, y1) = curves.view.viewRange()
    return x0 <= x <= x1 and y0 <= y <= y1


def test_view_moves_only_when_a_point_falls_outside(qtbot):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curves = LiveCurveSet(plot)
    for i in range(10):
        curves.append("loss", i / 10, 1.0 - i / 100)
    assert curves.redraw_if_dirty()
    first = _ranges(curves)
    assert all(_contains(curves, i / 10, 1.0 - i / 100) for i in range(10))

    curves.append("loss", 1.0, 0.95)  # inside the margin the last framing left
    curves.redraw_if_dirty()
    assert _ranges(curves) == first, "an axis moved although every point was in view"
    assert not curves.redraw_if_dirty(), "nothing new, nothing to redraw"

    curves.append("loss", 5.0, 0.2)  # far outside: the view grows to take in every point
    curves.redraw_if_dirty()
    assert _ranges(curves) != first
    assert _contains(curves, 5.0, 0.2) and _contains(curves, 0.0, 1.0)


def test_a_falling_loss_never_moves_the_view(qtbot):
    """Non-negative values keep 0 as the floor: each new low of a falling loss stays in view, so the
    view moves only when the steps pass its right edge; negative values still get room below."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curves = LiveCurveSet(plot)
    curves.append("loss", 0.01, 0.69)
    curves.redraw_if_dirty()
    before = _ranges(curves)
    assert before[1][0] == 0.0
    moves = 0
    for i in range(2, 100):
        curves.append("loss", i / 100, 0.69 * 0.97**i)
        curves.redraw_if_dirty()
        now = _ranges(curves)
        moves += now != before
        assert now[1] == before[1] or now[0] != before[0], f"the y axis alone moved at step {i}"
        before = now
    assert moves <= 2, "the view moves only when the steps pass its right edge"
    curves.append("d_loss", 1.2, -0.3)
    curves.redraw_if_dirty()
    assert _contains(curves, 1.2, -0.3) and curves.view.viewRange()[1][0] < -0.3


def test_a_users_zoom_is_kept_until_the_next_run(qtbot):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curves = LiveCurveSet(plot)
    curves.append("loss", 0.0, 1.0)
    curves.append("loss", 1.0, 0.5)
    curves.redraw_if_dirty()
    curves.view.setRange(xRange=(0.2, 0.4), yRange=(0.6, 0.7), padding=0)
    curves.view.sigRangeChangedManually.emit([True, True])  # what a mouse drag or wheel sends
    zoomed = _ranges(curves)
    curves.append("loss", 9.0, 0.1)
    curves.redraw_if_dirty()
    curves.fit()
    assert _ranges(curves) == zoomed

    curves.clear()  # a new run follows its data again
    curves.append("loss", 0.0, 3.0)
    curves.append("loss", 2.0, 2.0)
    curves.redraw_if_dirty()
    assert _contains(curves, 0.0, 3.0) and _contains(curves, 2.0, 2.0)


def _three_epochs(qtbot) -> LiveCurveSet:
    """A metric plot with three validation points, drawn once (the view follows them)."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curves = LiveCurveSet(plot, symbols=True)
    for epoch, v in enumerate((0.1, 0.2, 0.25), start=1):
        curves.append("ndcg@10", epoch, v)
    curves.redraw_if_dirty()
    return curves


def test_new_curves_are_built_one_per_redraw(qtbot):
    """The first validation brings several metrics at once; each curve (and legend entry) costs
    ~10 ms to build, so one is built per redraw and the others on the following ticks."""
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curves = LiveCurveSet(plot, symbols=True)
    names = ["ndcg@10", "hit@10", "recall@10", "mrr@10"]
    for k, name in enumerate(names):
        curves.append(name, 1, 0.1 * (k + 1))
    built = []
    while curves.redraw_if_dirty():
        built.append(list(curves.curves))
    assert built == [names[: i + 1] for i in range(4)]
    assert len(curves.legend.items) == 4
    assert [len(c.getData()[0]) for c in curves.curves.values()] == [1, 1, 1, 1]
    assert len({c.opts["pen"].color().name() for c in curves.curves.values()}) == 4


def test_fit_frames_the_points_tightly(qtbot):
    curves = _three_epochs(qtbot)
    curves.fit()
    (x0, x1), (y0, y1) = curves.view.viewRange()
    assert 0.8 < x0 < 1.0 and 3.0 < x1 < 3.2
    assert 0.09 < y0 < 0.1 and 0.25 < y1 < 0.27


def test_train_page_redraws_its_two_plots_on_alternate_ticks(window, qtbot):
    page = window.train_page
    window.go("Train")
    page.losses.append("loss", 0.5, 0.7)
    page.metrics.append("ndcg@10", 1, 0.1)
    page._redraw()
    assert page.losses._dirty != page.metrics._dirty, "one plot per tick"
    page._redraw()
    assert not page.losses._dirty and not page.metrics._dirty, "the other one on the next tick"


def test_a_requested_fit_waits_for_the_next_redraw(qtbot):
    curves = _three_epochs(qtbot)
    followed = _ranges(curves)
    curves.request_fit()
    assert _ranges(curves) == followed, "nothing moves until the page's timer redraws"
    assert curves.redraw_if_dirty()
    (_, x1), _ = curves.view.viewRange()
    assert 3.0 < x1 < 3.2, "the redraw framed the points tightly"


def _grid_plot(qtbot, opaque: bool) -> pg.PlotWidget:
    from recsys_gui.gui.plots.axes import show_grid

    plot = pg.PlotWidget(title="losses")
    qtbot.addWidget(plot)
    plot.resize(500, 350)
    plot.show()
    if opaque:
        show_grid(plot, 0.2)
    else:
        plot.showGrid(x=True, y=True, alpha=0.2)
    plot.getPlotItem().getViewBox().disableAutoRange()
    return plot


def _painted(plot: pg.PlotWidget):
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    plot.viewport().repaint()
    return plot.grab().toImage()


def test_cached_axes_draw_the_same_pixels_after_the_range_moves(qtbot):
    """The axis pixmap cache must be redrawn when ticks move, never show stale labels or grid:
    a plot moved to a new range looks exactly like one drawn at that range from the start."""
    moved = _grid_plot(qtbot, opaque=True)
    curve = moved.plot(pen=pg.mkPen("#4d86f0"))
    moved.getPlotItem().getViewBox().setRange(xRange=(0, 4), yRange=(0, 1), padding=0)
    curve.setData([0, 1, 2], [0.9, 0.5, 0.4])
    _painted(moved)  # laid out, then painted: the cache holds the first range
    moved.getPlotItem().getViewBox().setRange(xRange=(0, 9), yRange=(0, 2), padding=0)
    curve.setData([0, 1, 2, 8], [0.9, 0.5, 0.4, 0.1])

    fresh = _grid_plot(qtbot, opaque=True)
    fresh.plot([0, 1, 2, 8], [0.9, 0.5, 0.4, 0.1], pen=pg.mkPen("#4d86f0"))
    fresh.getPlotItem().getViewBox().setRange(xRange=(0, 9), yRange=(0, 2), padding=0)
    assert _painted(moved) == _painted(fresh)


def test_the_opaque_grid_has_the_colours_of_the_translucent_one(qtbot):
    """Grid lines drawn opaque in their blended colour give pyqtgraph's translucent grid's pixels
    (one direction at a time: where two translucent lines cross they blended twice), under the data."""
    for flat in ("left", "bottom"):
        images = []
        for opaque in (False, True):
            plot = _grid_plot(qtbot, opaque)
            plot.getAxis(flat).setGrid(False)
            plot.getPlotItem().getViewBox().setRange(xRange=(0, 9), yRange=(0, 2), padding=0)
            images.append(_painted(plot))
        translucent, opaque = images
        assert translucent.size() == opaque.size()
        background = opaque.pixelColor(1, 1).rgb()
        grid = 0
        for y in range(opaque.height()):
            for x in range(opaque.width()):
                a, b = translucent.pixelColor(x, y), opaque.pixelColor(x, y)
                grid += b.rgb() != background
                diff = max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue()))
                assert diff <= 1, f"pixel ({x}, {y}): {a.name()} translucent, {b.name()} opaque"
        assert grid > 1000, "the grid was drawn"

    plot = _grid_plot(qtbot, opaque=True)
    plot.getPlotItem().getViewBox().setRange(xRange=(0, 9), yRange=(0, 2), padding=0)
    plot.plot([0, 9], [1, 1], pen=pg.mkPen("#ff0000", width=5))  # crosses every vertical grid line
    img = _painted(plot)
    view = plot.getPlotItem().getViewBox()
    line = plot.mapFromScene(view.mapViewToScene(pg.Point(0, 1)))
    row = [img.pixelColor(x, line.y()) for x in range(line.x() + 5, plot.width() - 20)]
    assert all(c.red() > 200 and c.green() < 60 for c in row), "grid lines drawn over the data"
