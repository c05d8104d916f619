"""Embeddings page: a 2-D map (PCA or t-SNE) of a run's item and user vectors, hover for ids."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, title


class EmbeddingsPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.result: dict[str, Any] | None = None
        root = QVBoxLayout(self)
        root.addWidget(title("Embeddings", "Where the model puts items (and users) relative to each other. "
                             "Nearby points are scored alike. Large catalogues are sampled."))
        self.picker = RunPicker(state)
        root.addWidget(self.picker)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Projection:"))
        self.method = QComboBox()
        self.method.addItem("PCA (fast, linear)", "pca")
        self.method.addItem("t-SNE (slower, local structure)", "tsne")
        bar.addWidget(self.method)
        bar.addWidget(QLabel("Sample:"))
        self.sample = QSpinBox()
        self.sample.setRange(100, 200_000)
        self.sample.setSingleStep(1000)
        self.sample.setValue(5000)
        self.sample.setToolTip("At most this many points per side are projected and drawn.")
        bar.addWidget(self.sample)
        self.show_items = QCheckBox("Items")
        self.show_items.setChecked(True)
        self.show_users = QCheckBox("Users")
        self.show_users.setChecked(True)
        self.show_items.toggled.connect(self._draw)
        self.show_users.toggled.connect(self._draw)
        bar.addWidget(self.show_items)
        bar.addWidget(self.show_users)
        self.project_btn = QPushButton("Project")
        self.project_btn.setProperty("primary", True)
        self.project_btn.clicked.connect(self.project)
        bar.addWidget(self.project_btn)
        bar.addStretch(1)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.addLegend(offset=(10, 10))
        self.plot.setLabel("bottom", "component 1")
        self.plot.setLabel("left", "component 2")
        root.addWidget(self.plot, 1)
        self.hover = QLabel("Hover a point to see its id (and title).")
        self.hover.setProperty("role", "hint")
        root.addWidget(self.hover)
        self.scatters: dict[str, pg.ScatterPlotItem] = {}

    def project(self) -> None:
        run_id = self.picker.current()
        if not run_id:
            self.message.error("Choose a finished run first.")
            return
        self.project_btn.setEnabled(False)
        self.message.show_message(f"Projecting with {self.method.currentText().split(' ')[0]}…")
        run_in_thread(services.embeddings_projection, self.state.workspace, run_id, self.method.currentData(),
                      self.sample.value(), on_result=self._got, on_error=self._failed,
                      on_finished=lambda: self.project_btn.setEnabled(True))

    def _got(self, r: dict[str, Any]) -> None:
        self.result = r
        if "items" not in r and "users" not in r:
            self.message.warning(f"{r['model']} has no embeddings to show (a baseline scores without vectors).")
        elif not r.get("user_side"):
            self.message.show_message(f"{r['model']} has no user vectors, so only items are shown.")
        else:
            self.message.clear_message()
        self.show_users.setEnabled(bool(r.get("user_side")))
        self._draw()

    def _draw(self) -> None:
        self.plot.clear()
        self.scatters.clear()
        r = self.result
        if r is None:
            return
        sides = [("items", self.show_items, (77, 134, 240)), ("users", self.show_users, (232, 131, 58))]
        for side, box, rgb in sides:
            if side not in r or not box.isChecked() or not box.isEnabled():
                continue
            d = r[side]
            xy = np.asarray(d["xy"], dtype=float)
            pop = np.asarray(d["popularity"], dtype=float)
            size = 4 + 8 * (np.log1p(pop) / max(np.log1p(pop).max(), 1e-9)) if len(pop) else 6
            s = pg.ScatterPlotItem(x=xy[:, 0], y=xy[:, 1], size=size, data=list(d["labels"]),
                                   brush=pg.mkBrush(*rgb, 150), pen=pg.mkPen(None), hoverable=True,
                                   hoverPen=pg.mkPen("w", width=1.5), hoverSize=12,
                                   name=f"{side} ({len(xy):,})")
            s.sigHovered.connect(lambda item, pts, ev, side=side: self._hovered(side, pts))
            self.plot.addItem(s)
            self.scatters[side] = s

    def _hovered(self, side: str, points: Any) -> None:
        if len(points):
            self.hover.setText(f"{side[:-1]}: {points[0].data()}")

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))
