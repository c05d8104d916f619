"""Growable numpy buffers, one pyqtgraph curve per key, redrawn by a timer only when dirty.

The view follows the data in steps instead of pyqtgraph's auto-range: auto-range moves both axes on
every redraw, and an axis whose range moved re-lays out and redraws its tick labels, the costliest
part of a plot's repaint (with a grid, every tick label is repainted whenever a curve changes under
it). Expanding with a margin only when a point falls outside keeps the axes still for most redraws.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from recsys_gui.gui.plots.axes import show_grid

PALETTE = ("#4d86f0", "#e8833a", "#3aa672", "#d6455d", "#8e6cd8", "#b5892b", "#2bb0b5", "#c45fb0")


class _Series:
    def __init__(self, capacity: int = 256) -> None:
        self.x = np.empty(capacity, dtype=float)
        self.y = np.empty(capacity, dtype=float)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, len(self.x) * 2)
            self.y = np.resize(self.y, len(self.y) * 2)
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1


class LiveCurveSet:
    """Curves created the first time a key appears (GAN d_loss/g_loss, VAE nll/kl/beta …)."""

    def __init__(self, plot: pg.PlotWidget, *, symbols: bool = False) -> None:
        self.plot = plot
        self.symbols = symbols
        self.series: dict[str, _Series] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        # Losses fall and metrics rise: their legends go where the curves are not (top right / top left).
        self.legend = plot.addLegend(offset=(10, 10) if symbols else (-10, 10))
        item = plot.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        show_grid(plot, 0.2)
        self.view = item.getViewBox()
        self.view.disableAutoRange()
        self.view.sigRangeChangedManually.connect(self._stop_following)
        self.following = True  # until the user pans or zooms; clear() gives it back
        self._shown = False  # whether _follow has framed this run's data yet
        self._dirty = False
        self._fit_pending = False

    def append(self, key: str, x: float, y: float) -> None:
        if y is None or not np.isfinite(y):
            return
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = _Series()
        s.append(float(x), float(y))
        self._dirty = True

    def _add_curve(self, key: str) -> None:
        colour = PALETTE[list(self.series).index(key) % len(PALETTE)]
        kw = {"symbol": "o", "symbolSize": 6, "symbolBrush": colour} if self.symbols else {}
        # Per-step curves grow to thousands of points: an antialiased 2 px line costs Qt's
        # raster engine 2.5x a 1 px one (54 vs 22 ms a Train page repaint at 3,000 points).
        width = 2 if self.symbols else 1
        self.curves[key] = self.plot.plot(name=key, pen=pg.mkPen(colour, width=width), **kw)

    def points(self, key: str) -> int:
        s = self.series.get(key)
        return 0 if s is None else s.n

    def redraw_if_dirty(self) -> bool:
        """Hand the new points to the curves; whether there were any."""
        if not self._dirty:
            return False
        self._dirty = False
        # One new curve per redraw: a curve and its legend entry cost ~10 ms, and the first
        # validation brings four or five metrics at once (50 ms in one stretch); the rest follow
        # on the next ticks.
        new = [key for key in self.series if key not in self.curves]
        if new:
            self._add_curve(new[0])
            self._dirty = len(new) > 1
        for key, curve in self.curves.items():
            s = self.series[key]
            curve.setData(s.x[:s.n], s.y[:s.n], skipFiniteCheck=True)
        if self._fit_pending:
            self._fit_pending = False
            self.fit()
        else:
            self._follow()
        return True

    def request_fit(self) -> None:
        """Fit with the next redraw rather than now: at a run's end the page's timer then refits its
        plots on separate ticks instead of relaying out every axis in one stretch."""
        self._fit_pending = self._dirty = True

    def fit(self) -> None:
        """Frame all points tightly (at the end of a run), unless the user has taken the view over."""
        box = self._data_box()
        if box is not None and self.following and not any(self.view.autoRangeEnabled()):
            self.view.setRange(xRange=box[0], yRange=box[1], padding=0.05)

    def _data_box(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        filled = [s for s in self.series.values() if s.n]
        if not filled:
            return None
        x0, x1 = min(s.x[0] for s in filled), max(s.x[s.n - 1] for s in filled)
        y0, y1 = min(s.y[:s.n].min() for s in filled), max(s.y[:s.n].max() for s in filled)
        return (float(x0), float(x1)), (float(y0), float(y1))

    def _follow(self) -> None:
        box = self._data_box()
        if box is None or not self.following or any(self.view.autoRangeEnabled()):
            return  # the user's view, or pyqtgraph's own auto-range after the "A" button
        (x0, x1), (y0, y1) = box
        (vx0, vx1), (vy0, vy1) = self.view.viewRange()
        if vx0 <= x0 and x1 <= vx1 and vy0 <= y0 and y1 <= vy1 and self._shown:
            return
        x_span = max(x1 - x0, 1.0)
        y_span = max(y1 - y0, abs(y1) * 0.1, 1e-6)
        # Room for half as many epochs again and a fifth of the values' spread on either side.
        # Values that are never negative (losses, metrics) keep 0 as the floor: a falling loss
        # then never moves the axis, where each new low re-laid out and redrew the tick labels.
        left = x0 - 0.05 * x_span
        bottom = 0.0 if y0 >= 0 else y0 - 0.2 * y_span
        self.view.setRange(xRange=(min(left, vx0) if self._shown else left, x1 + 0.5 * x_span),
                           yRange=(bottom, y1 + 0.2 * y_span), padding=0)
        self._shown = True

    def _stop_following(self, *_: object) -> None:
        self.following = False

    def clear(self) -> None:
        for c in self.curves.values():
            self.plot.removeItem(c)
        if self.legend is not None:
            self.legend.clear()
        self.series.clear()
        self.curves.clear()
        self._dirty = self._fit_pending = False
        self.following, self._shown = True, False
        self.view.disableAutoRange()
