"""Compare tab "Accuracy vs coverage": every run in the table as a point, the selected runs labelled."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from recsys_gui.core.evaluation.metrics import ranking_metric_names
from recsys_gui.gui.panels.compare.plot_style import compare_plot
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.plots.live_curves import PALETTE


class TradeoffTab(QWidget):
    """Accuracy at K (a ranking metric) against catalogue coverage at the same K."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.selected: set[str] = set()
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Accuracy metric"))
        self.metric_combo = QComboBox()
        self.metric_combo.currentIndexChanged.connect(self.draw)
        row.addWidget(self.metric_combo)
        hint = QLabel(
            "Every run in the table; selected runs are labelled. Up and to the right is better: "
            "accurate lists that use more of the catalogue."
        )
        hint.setProperty("role", "hint")
        row.addWidget(hint, 1)
        lay.addLayout(row)
        self.plot = compare_plot("Accuracy against catalogue coverage", "coverage")
        self.plot.getPlotItem().getViewBox().setDefaultPadding(0.12)  # room for the labels
        lay.addWidget(self.plot, 1)

    def set_metric_names(self, keys: list[str]) -> None:
        """Offer the ranking metrics among ``keys`` (the run table's metric columns); ndcg@10 first.

        Draws nothing: ``show_runs`` follows with the runs this menu was filled for.
        """
        ranking = ranking_metric_names()
        cands = [k for k in keys if k.split("@")[0] in ranking]
        cur = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(cands)
        i = self.metric_combo.findText(cur if cur in cands else "ndcg@10")
        self.metric_combo.setCurrentIndex(max(i, 0))
        self.metric_combo.blockSignals(False)

    def show_runs(self, rows: list[dict[str, Any]], selected_ids: list[str]) -> None:
        """Draw these runs (the table as filtered); the ones in ``selected_ids`` in colour, with names."""
        self.rows, self.selected = rows, set(selected_ids)
        self.draw()

    def draw(self) -> None:
        p = self.plot
        p.clear()
        metric = self.metric_combo.currentText()
        if not metric:
            return
        k = metric.split("@")[1]
        xs, ys, labels, sel = [], [], [], []
        for r in self.rows:
            test = r.get("test") or {}
            cov = test.get(f"coverage@{k}")
            acc = test.get(metric)
            if cov is None or acc is None:
                continue
            xs.append(float(cov))
            ys.append(float(acc))
            labels.append(run_label(r))
            sel.append(r["id"] in self.selected)
        if not xs:
            return
        xs_a, ys_a, sel_a = np.array(xs), np.array(ys), np.array(sel)
        p.addItem(
            pg.ScatterPlotItem(
                x=xs_a[~sel_a], y=ys_a[~sel_a], size=9, pen=None, brush=pg.mkBrush(150, 150, 150, 160)
            )
        )
        for j, i in enumerate(np.flatnonzero(sel_a)):
            colour = PALETTE[j % len(PALETTE)]
            p.addItem(
                pg.ScatterPlotItem(x=[xs[i]], y=[ys[i]], size=13, pen=pg.mkPen("#222", width=1), brush=colour)
            )
            t = pg.TextItem(labels[i], anchor=(0, 1), color="#222")
            t.setPos(xs[i], ys[i])
            p.addItem(t)
        p.setLabel("bottom", f"coverage@{k} (share of the catalogue recommended)")
        p.setLabel("left", metric)
