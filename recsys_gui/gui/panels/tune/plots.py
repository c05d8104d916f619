"""The Tune mode's three pictures: best so far, settings against the metric, settings' importance."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg

from recsys_gui.gui.panels.compare.plot_style import compare_plot


def best_so_far_plot() -> pg.PlotWidget:
    return compare_plot("Validation value; best so far", "trial")


def draw_best_so_far(p: pg.PlotWidget, trials: list[dict[str, Any]], maximize: bool,
                     against: str = "trial") -> None:
    """Dots for the trials that finished, a line for the best value reached by each trial, against the
    trial number or (``against="time"``) the minutes since the search started when the trial ended."""
    p.clear()
    if against == "time":
        done = [(t["elapsed"] / 60, t["value"]) for t in trials if _finished(t) and "elapsed" in t]
    else:
        done = [(t["number"] + 1, t["value"]) for t in trials if _finished(t)]
    p.setLabel("bottom", "minutes since the start" if against == "time" else "trial")
    if not done:
        return
    x = np.array([d[0] for d in done], dtype=float)
    y = np.array([d[1] for d in done], dtype=float)
    best = np.maximum.accumulate(y) if maximize else np.minimum.accumulate(y)
    p.addItem(pg.ScatterPlotItem(x=x, y=y, size=8, brush=(90, 140, 220, 160), pen=None, name="trial"))
    p.addItem(pg.PlotDataItem(x=x, y=best, pen=pg.mkPen((220, 120, 40), width=2), name="best so far"))
    if against == "trial" and len(trials) <= 20:  # whole trial numbers, not 1.5
        p.getAxis("bottom").setTicks([[(n, str(n)) for n in range(1, len(trials) + 1)]])
    else:
        p.getAxis("bottom").setTicks(None)


def parallel_plot() -> pg.PlotWidget:
    p = compare_plot("Settings of each trial, coloured by validation value", "")
    p.getPlotItem().legend.setVisible(False)
    p.setYRange(-0.05, 1.05)
    p.getAxis("left").setTicks([[(0, "low"), (0.5, ""), (1, "high")]])
    return p


def draw_parallel(p: pg.PlotWidget, params: list[dict[str, Any]], trials: list[dict[str, Any]]) -> int:
    """One polyline per finished trial over the searched settings' axes; returns how many were drawn."""
    p.clear()
    done = [t for t in trials if _finished(t)]
    if not params or not done:
        return 0
    names = [q["name"] for q in params]
    values = np.array([t["value"] for t in done], dtype=float)
    lo, hi = float(values.min()), float(values.max())
    cmap = pg.colormap.get("viridis")
    for t, v in zip(done, values, strict=True):
        ys = [_scaled(q, t["params"].get(q["name"])) for q in params]
        colour = cmap.map((v - lo) / (hi - lo) if hi > lo else 1.0, mode="qcolor")
        p.addItem(pg.PlotDataItem(x=np.arange(len(names)), y=np.array(ys, dtype=float),
                                  pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                  symbolBrush=colour, symbolPen=None))
    p.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
    p.setXRange(-0.2, len(names) - 0.8)
    p.setTitle(f"Settings of each trial in their ranges; colour: {lo:.4f} (dark) to {hi:.4f} (yellow)")
    return len(done)


def _scaled(q: dict[str, Any], v: Any) -> float:
    """Where ``v`` sits in the searched range, 0 to 1 (log ranges on a log scale; choices by position)."""
    if v is None:
        return math.nan
    if q["kind"] == "choice":
        choices = list(q.get("choices") or [])
        return choices.index(v) / max(len(choices) - 1, 1) if v in choices else math.nan
    low, high, x = float(q["low"]), float(q["high"]), float(v)
    if q.get("log") and low > 0 and x > 0:
        low, high, x = math.log(low), math.log(high), math.log(x)
    return (x - low) / (high - low) if high > low else 0.5


def importance_plot() -> pg.PlotWidget:
    p = compare_plot("Importance (fANOVA)", "share of the variance")
    p.getPlotItem().legend.setVisible(False)
    return p


def draw_importance(p: pg.PlotWidget, importance: dict[str, float]) -> None:
    p.clear()
    if not importance:
        p.setTitle("Importance: after 3 trials")
        return
    names = list(importance)[::-1]  # the most important on top
    vals = [importance[n] for n in names]
    p.addItem(pg.BarGraphItem(x0=np.zeros(len(names)), y=np.arange(len(names)), height=0.6,
                              width=np.array(vals, dtype=float), brush=(90, 140, 220)))
    left = p.getAxis("left")
    left.setTicks([[(i, n) for i, n in enumerate(names)]])
    left.setWidth(7 * max(len(n) for n in names) + 12)  # the setting names in full
    p.setXRange(0, 1, padding=0.02)  # shares of one whole
    p.setYRange(-0.5, len(names) - 0.5, padding=0.05)
    p.setTitle("Importance (fANOVA)")


def _finished(t: dict[str, Any]) -> bool:
    return t.get("state") == "complete" and t.get("value") is not None
