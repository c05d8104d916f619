"""The look every Compare plot shares, so the tabs read as one page."""

from __future__ import annotations

import pyqtgraph as pg

from recsys_gui.gui.plots.axes import show_grid


def compare_plot(title_text: str, x_label: str, legend: tuple[int, int] = (10, 10)) -> pg.PlotWidget:
    """A plot with a light grid, plain axis numbers (no SI prefixes), no menu, and a small legend."""
    p = pg.PlotWidget(title=title_text)
    if x_label:
        p.setLabel("bottom", x_label)
    show_grid(p, 0.2)
    p.setMenuEnabled(False)
    p.getPlotItem().hideButtons()
    for axis in ("bottom", "left"):
        p.getAxis(axis).enableAutoSIPrefix(False)
    p.addLegend(offset=legend, labelTextSize="8pt")
    return p
