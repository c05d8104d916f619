"""Compare tab "Metrics at K": the selected runs' test metrics as grouped bars at one K, and as a table.

Runs that differ only in the seed are drawn as one bar, their mean, with an error bar of ± one
standard deviation over the seeds: one seed's figure is one draw.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from recsys_gui.core.evaluation.metrics import ranking_metric_names
from recsys_gui.core.reporting.multiple_comparisons import Arm, arms_of
from recsys_gui.gui.panels.compare.plot_style import compare_plot
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.plots.live_curves import PALETTE
from recsys_gui.gui.qtmodels.frame_model import FrameModel

# Only metrics between 0 and 1 share the bar axis: novelty (bits) and arp (interaction counts)
# would flatten every other bar. They are still in the table beside the bars.
BAR_METRICS = (*ranking_metric_names(), "coverage", "gini", "ild")


class MetricsAtKTab(QWidget):
    """Bars for the metrics at the chosen K; every test metric of every selected run in the side table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.arms: list[Arm] = []
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("K"))
        self.k_combo = QComboBox()
        self.k_combo.currentIndexChanged.connect(self.draw_bars)
        row.addWidget(self.k_combo)
        row.addStretch(1)
        lay.addLayout(row)
        sp = QSplitter(Qt.Orientation.Horizontal)
        self.bar_plot = compare_plot("Test metrics at K", "")
        sp.addWidget(self.bar_plot)
        self.side_model = FrameModel()
        self.side_view = QTableView()
        self.side_view.setModel(self.side_model)
        self.side_view.verticalHeader().setVisible(False)
        self.side_view.setAlternatingRowColors(True)
        sp.addWidget(self.side_view)
        sp.setSizes([700, 420])
        lay.addWidget(sp, 1)

    def show_runs(self, rows: list[dict[str, Any]]) -> None:
        """Fill the table and the K menu from these runs' test metrics (K = 10 when there is one)."""
        self.rows = rows
        self.arms = arms_of(rows, run_label)
        keys: list[str] = []
        for r in rows:
            for k in r.get("test") or {}:
                if k not in keys:
                    keys.append(k)
        table: dict[str, list[Any]] = {"metric": keys}
        for arm in self.arms:
            mean, std = self._spread(arm, keys)
            spread = [_mean_std(m, d) for m, d in zip(mean, std, strict=True)]
            table[arm.label] = list(mean) if len(arm.runs) == 1 else spread
        self.side_model.set_frame(pd.DataFrame(table))
        self.side_view.resizeColumnsToContents()
        ks = sorted({int(k.split("@")[1]) for k in keys if "@" in k})
        cur = self.k_combo.currentData()
        self.k_combo.blockSignals(True)
        self.k_combo.clear()
        for k in ks:
            self.k_combo.addItem(str(k), k)
        i = self.k_combo.findData(cur if cur in ks else (10 if 10 in ks else (ks[0] if ks else None)))
        self.k_combo.setCurrentIndex(max(i, 0))
        self.k_combo.blockSignals(False)
        self.draw_bars()

    def draw_bars(self) -> None:
        p = self.bar_plot
        p.clear()
        rows, arms = self.rows, self.arms
        k = self.k_combo.currentData()
        if not rows or k is None:
            return
        names = [f"{m}@{k}" for m in BAR_METRICS if any(f"{m}@{k}" in (r.get("test") or {}) for r in rows)]
        width = 0.8 / len(arms)
        ink = pg.mkPen(p.getAxis("left").textPen().color(), width=1.5)  # the theme's text colour
        for j, arm in enumerate(arms):
            mean, std = self._spread(arm, names)
            x = np.arange(len(names)) - 0.4 + width * (j + 0.5)
            colour = PALETTE[j % len(PALETTE)]
            p.addItem(
                pg.BarGraphItem(
                    x=x,
                    height=np.nan_to_num(mean),
                    width=width * 0.92,
                    brush=colour,
                    pen=None,
                    name=arm.label,
                )
            )
            if len(arm.runs) > 1:
                err = np.nan_to_num(std)
                p.addItem(
                    pg.ErrorBarItem(
                        x=x, y=np.nan_to_num(mean), top=err, bottom=err, beam=width * 0.4, pen=ink
                    )
                )
        p.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        p.setTitle(f"Test metrics at K = {k}")

    def _spread(self, arm: Arm, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample standard deviation over the arm's runs of each metric (std NaN for one run)."""
        by_id = {r["id"]: r for r in self.rows}
        tests = [by_id[rid].get("test") or {} for rid in arm.runs]
        values = np.array([[float(t.get(k, np.nan)) for k in keys] for t in tests], dtype=float)
        values = values.reshape(len(arm.runs), len(keys))
        with warnings.catch_warnings():  # a metric no run of the arm has is NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0) if values.size else np.zeros(len(keys))
            std = np.nanstd(values, axis=0, ddof=1) if len(arm.runs) > 1 else np.full(len(keys), np.nan)
        return mean, std


def _mean_std(mean: float, std: float) -> str:
    return f"{mean:.4f} ± {std:.4f}" if np.isfinite(mean) else ""
