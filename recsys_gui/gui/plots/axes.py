"""Axes painted from a cached pixmap: the cheap way to keep live plots off the GUI thread's clock.

A pyqtgraph axis draws its tick labels and, with a grid, grid lines across the whole view. Qt
repaints every item under a changed region, so each new curve point replays the axis picture and
rasterises its text again: 10 ms of a 700×500 plot's 11 ms repaint. With Qt's device-coordinate
cache the axis is rendered once per range change (pyqtgraph calls ``update()`` then) and blitted
otherwise: the same pixels, a tenth of the time.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem


def cache_axes(plot: pg.PlotWidget | pg.PlotItem) -> None:
    """Render the plot's axes (and the grid they draw) through a pixmap cache."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
