"""The Data page's Statistics tab: four plots drawn from histograms, never from rows.

The histograms come from the loading worker (``core.user_inspection.interaction_statistics``, numpy
over the whole data); a plot gets at most a few dozen bins, so a 20M-row file draws as fast as a
small one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QWidget

from recsys_gui.gui.widgets import in_turns, stat_plot


class StatsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        self.plot_users = stat_plot("Interactions per user", "interactions", "users", log_x=True, log_y=True)
        self.plot_items = stat_plot("Interactions per item", "interactions", "items", log_x=True, log_y=True)
        self.plot_ratings = stat_plot("Rating distribution", "value", "rows")
        self.plot_time = stat_plot("Activity over time", "", "interactions")
        self.plot_time.setAxisItems({"bottom": pg.DateAxisItem()})
        grid.addWidget(self.plot_users, 0, 0)
        grid.addWidget(self.plot_items, 0, 1)
        grid.addWidget(self.plot_ratings, 1, 0)
        grid.addWidget(self.plot_time, 1, 1)
        self.drawn = 0  # plots drawn since the last show(): tests wait for all four

    def points(self) -> int:
        """Points and bars drawn in all four plots (a few dozen bins each, whatever the data size)."""
        total = 0
        for plot in (self.plot_users, self.plot_items, self.plot_ratings, self.plot_time):
            for item in plot.getPlotItem().items:
                if isinstance(item, pg.PlotDataItem):
                    x = item.getData()[0]
                elif isinstance(item, pg.BarGraphItem):
                    x = item.opts.get("x")
                else:
                    continue
                total += 0 if x is None else len(x)
        return total

    def show_stats(self, stats: dict[str, Any]) -> None:
        """The four plots, one per event-loop turn (together they held the GUI thread 50 ms)."""
        brush = pg.mkBrush(77, 134, 240, 170)
        self.drawn = 0

        def counts(plot: pg.PlotWidget, key: str) -> None:
            plot.clear()
            edges, hist = stats[key]
            keep = hist > 0
            centers = np.sqrt(edges[:-1] * edges[1:])
            plot.plot(centers[keep], hist[keep], pen=pg.mkPen("#4d86f0", width=2), symbol="o", symbolSize=5,
                      symbolBrush=brush)

        def ratings() -> None:
            self.plot_ratings.clear()
            x, h = stats["ratings"]
            width = float(np.min(np.diff(x))) * 0.8 if len(x) > 1 else 0.8
            self.plot_ratings.addItem(pg.BarGraphItem(x=x, height=h, width=width, brush=brush))

        def activity() -> None:
            self.plot_time.clear()
            has_time = stats.get("time") is not None
            if has_time:
                edges, h = stats["time"]
                self.plot_time.plot(edges, h, stepMode="center", fillLevel=0, brush=brush,
                                    pen=pg.mkPen("#4d86f0"))
            # an empty date axis would label 0..1 as seconds after 1970: hide it instead
            self.plot_time.getPlotItem().showAxis("bottom", has_time)
            self.plot_time.setTitle("Activity over time" if has_time else "Activity (no time column)")

        def drawn(step: Any) -> Any:
            def run() -> None:
                step()
                self.drawn += 1
            return run

        steps = [lambda: counts(self.plot_users, "users"), lambda: counts(self.plot_items, "items"), ratings,
                 activity]
        in_turns([drawn(step) for step in steps], self)
