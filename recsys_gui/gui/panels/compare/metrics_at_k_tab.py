"""Compare tab "Metrics at K": the selected runs' test metrics as grouped bars at one K, and as a table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from recsys_gui.core.evaluation.metrics import ranking_metric_names
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
        keys: list[str] = []
        for r in rows:
            for k in r.get("test") or {}:
                if k not in keys:
                    keys.append(k)
        table: dict[str, list[Any]] = {"metric": keys}
        for r in rows:
            table[run_label(r)] = [(r.get("test") or {}).get(k) for k in keys]
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
        rows = self.rows
        k = self.k_combo.currentData()
        if not rows or k is None:
            return
        names = [f"{m}@{k}" for m in BAR_METRICS if any(f"{m}@{k}" in (r.get("test") or {}) for r in rows)]
        width = 0.8 / len(rows)
        for j, r in enumerate(rows):
            vals = [float((r.get("test") or {}).get(n, np.nan)) for n in names]
            x = np.arange(len(names)) - 0.4 + width * (j + 0.5)
            colour = PALETTE[j % len(PALETTE)]
            p.addItem(
                pg.BarGraphItem(
                    x=x,
                    height=np.nan_to_num(vals),
                    width=width * 0.92,
                    brush=colour,
                    pen=None,
                    name=run_label(r),
                )
            )
        p.getAxis("bottom").setTicks([[(i, n) for i, n in enumerate(names)]])
        p.setTitle(f"Test metrics at K = {k}")
