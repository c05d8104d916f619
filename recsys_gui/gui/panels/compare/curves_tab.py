"""Compare tab "Curves": the selected runs' validation metric and training losses, epoch by epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from recsys_gui.gui import services
from recsys_gui.gui.panels.compare.plot_style import compare_plot
from recsys_gui.gui.panels.compare.run_label import run_label
from recsys_gui.gui.plots.live_curves import PALETTE
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message

# A run's colour says which run; the line style tells its loss terms apart.
LINE_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)


class CurvesTab(QWidget):
    """Reads the runs' logged curves in a worker; ``selected_ids`` drops answers for an older selection."""

    def __init__(self, state: Any, message: Message, selected_ids: Callable[[], list[str]]) -> None:
        super().__init__()
        self.state = state
        self.message = message
        self.selected_ids = selected_ids
        self.curves: dict[str, list[dict[str, Any]]] = {}
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Validation metric"))
        self.metric_combo = QComboBox()
        self.metric_combo.currentIndexChanged.connect(self.draw)
        row.addWidget(self.metric_combo)
        row.addStretch(1)
        lay.addLayout(row)
        plots = QSplitter(Qt.Orientation.Horizontal)
        self.valid_plot = compare_plot("Validation metric per epoch", "epoch")
        # losses fall: their legend goes top right, where the curves are not
        self.loss_plot = compare_plot("Training loss per epoch", "epoch", legend=(-10, 10))
        plots.addWidget(self.valid_plot)
        plots.addWidget(self.loss_plot)
        lay.addWidget(plots, 1)

    def load(self, ids: list[str]) -> None:
        """Fetch the curves of these runs in the background, then draw them."""
        want = list(ids)
        run_in_thread(
            services.run_curves,
            self.state.workspace,
            want,
            on_result=lambda c: self._got_curves(want, c),
            on_error=lambda exc, _tb: self.message.error(error_text(exc)),
        )

    def _got_curves(self, ids: list[str], curves: dict[str, list[dict[str, Any]]]) -> None:
        if ids != self.selected_ids():
            return
        self.curves = curves
        names: list[str] = []
        for rows in curves.values():
            for r in rows:
                if r["split"] == "valid" and r["name"] not in names:
                    names.append(r["name"])
        cur = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(names)
        i = self.metric_combo.findText(cur if cur in names else "ndcg@10")
        self.metric_combo.setCurrentIndex(max(i, 0))
        self.metric_combo.blockSignals(False)
        self.draw()

    def draw(self) -> None:
        self.valid_plot.clear()
        self.loss_plot.clear()
        metric = self.metric_combo.currentText()
        by_id = {r["id"]: r for r in self.state.runs}
        for j, (rid, rows) in enumerate(self.curves.items()):
            colour = PALETTE[j % len(PALETTE)]
            label = run_label(by_id[rid]) if rid in by_id else rid
            frame = pd.DataFrame(rows, columns=["epoch", "step", "split", "name", "value"])
            valid = frame[(frame["split"] == "valid") & (frame["name"] == metric)].sort_values("epoch")
            if len(valid):
                self.valid_plot.plot(
                    valid["epoch"].to_numpy() + 1,
                    valid["value"].to_numpy(dtype=float),
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    name=label,
                )
            train = frame[frame["split"] == "train"]
            for s, (key, part) in enumerate(train.groupby("name", sort=True)):
                part = part.sort_values("epoch")
                vals = part["value"].to_numpy(dtype=float)
                if not np.isfinite(vals).any():
                    continue
                self.loss_plot.plot(
                    part["epoch"].to_numpy() + 1,
                    vals,
                    name=f"{label} · {key}",
                    pen=pg.mkPen(colour, width=2, style=LINE_STYLES[s % len(LINE_STYLES)]),
                )
        self.valid_plot.setLabel("left", metric)
