"""Embeddings page: a run's item or user vectors in 2-D, coloured, searchable, with true neighbours.

Projection, colour grouping, search and neighbour search all run in workers; the GUI thread only
draws arrays it is handed. Neighbours are computed in the full embedding space (cosine), so they
are the items the model actually treats alike, whatever the 2-D picture suggests.
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui import services
from recsys_gui.gui.plots.scatter import EmbeddingScatter, group_colours
from recsys_gui.gui.qtmodels.frame_model import FrameModel
from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message, RunPicker, WhenShown, title

METHODS = {
    "pca": "PCA (instant, linear)",
    "tsne": "t-SNE (slower, local structure)",
    "umap": "UMAP (local + global structure)",
}
SIDES = {"item": "Items", "user": "Users"}


def model_sides(model_name: str | None) -> list[str]:
    """The sides a model has vectors for ('item', 'user'), from its registered capabilities."""
    if not model_name:
        return ["item", "user"]
    try:
        from recsys_gui.core.models import get_model_class

        caps = get_model_class(model_name).capabilities
    except Exception:
        return ["item", "user"]
    return [s for s, ok in (("item", caps.item_embeddings), ("user", caps.user_embeddings)) if ok]


class EmbeddingsPanel(QWidget):
    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.view: Any = None  # core.inspect.EmbeddingView of the last projection
        self.coding: Any = None
        self.found_rows: list[int] = []
        self.selected_row: int | None = None
        self.neighbours_frame: pd.DataFrame | None = None
        self._gen = 0  # projections: results of older requests are dropped
        self._colour_gen = 0
        root = QVBoxLayout(self)
        root.addWidget(
            title(
                "Embeddings",
                "Where the model puts items (or users) relative to each other. "
                "Hover a point for its id, click it for its nearest neighbours in the full "
                "embedding space.",
            )
        )
        self.picker = RunPicker(state)
        refresh_sides = WhenShown(self, lambda *_: self._run_changed(self.picker.current() or ""))
        self.picker.run_selected.connect(refresh_sides)
        state.runs_changed.connect(refresh_sides)
        root.addWidget(self.picker)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        self.side = QComboBox()
        bar.addWidget(self.side)
        bar.addWidget(QLabel("Projection"))
        self.method = QComboBox()
        from recsys_gui.core.user_inspection import projection_methods

        for key in projection_methods():
            self.method.addItem(METHODS[key], key)
        self.method.setToolTip("UMAP appears when the umap-learn package is installed.")
        bar.addWidget(self.method)
        bar.addWidget(QLabel("Points"))
        self.sample = QSpinBox()
        self.sample.setRange(100, 500_000)
        self.sample.setSingleStep(5000)
        self.sample.setValue(20_000)
        self.sample.setGroupSeparatorShown(True)
        self.sample.setToolTip(
            "At most this many points are projected and drawn (a random sample); "
            "neighbours and search always cover every one."
        )
        bar.addWidget(self.sample)
        self.project_btn = QPushButton("Project")
        self.project_btn.setProperty("primary", True)
        self.project_btn.clicked.connect(self.project)
        bar.addWidget(self.project_btn)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Colour by"))
        self.colour_by = QComboBox()
        self.colour_by.addItem("popularity")
        self.colour_by.currentIndexChanged.connect(self._recolour)
        bar.addWidget(self.colour_by)
        bar.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.hide()
        bar.addWidget(self.progress)
        root.addLayout(bar)
        self.message = Message()
        root.addWidget(self.message)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.scatter = EmbeddingScatter()
        self.plot = self.scatter  # the PlotWidget, under its former name
        self.scatter.setLabel("bottom", "component 1")
        self.scatter.setLabel("left", "component 2")
        # A title from the start: the first one laid out held the GUI thread 18 ms in a projection's result
        self.scatter.setTitle("Choose a run and press Project")
        self.scatter.point_hovered.connect(self._hovered)
        self.scatter.point_clicked.connect(self.select_point)
        ll.addWidget(self.scatter, 1)
        self.hover = QLabel("Hover a point to see its id (and title); click it for its neighbours.")
        self.hover.setProperty("role", "hint")
        ll.addWidget(self.hover)
        split.addWidget(left)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        fbox = QGroupBox("Find")
        fl = QVBoxLayout(fbox)
        frow = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("raw id or part of a title")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.returnPressed.connect(self.find)
        frow.addWidget(self.search_edit, 1)
        self.find_btn = QPushButton("Find")
        self.find_btn.clicked.connect(self.find)
        frow.addWidget(self.find_btn)
        fl.addLayout(frow)
        self.found_list = QListWidget()
        self.found_list.setMaximumHeight(130)
        self.found_list.itemActivated.connect(
            lambda it: self.select_point(int(it.data(Qt.ItemDataRole.UserRole)))
        )
        self.found_list.itemClicked.connect(
            lambda it: self.select_point(int(it.data(Qt.ItemDataRole.UserRole)))
        )
        fl.addWidget(self.found_list)
        sl.addWidget(fbox)
        nbox = QGroupBox("Nearest neighbours (cosine, full space)")
        nl = QVBoxLayout(nbox)
        krow = QHBoxLayout()
        self.selected_label = QLabel("Click a point or a search result.")
        self.selected_label.setWordWrap(True)
        krow.addWidget(self.selected_label, 1)
        krow.addWidget(QLabel("k"))
        self.k = QSpinBox()
        self.k.setRange(1, 200)
        self.k.setValue(10)
        self.k.valueChanged.connect(
            lambda _v: self.select_point(self.selected_row) if self.selected_row is not None else None
        )
        krow.addWidget(self.k)
        nl.addLayout(krow)
        self.neighbours_model = FrameModel()
        self.neighbours_view = QTableView()
        self.neighbours_view.setModel(self.neighbours_model)
        self.neighbours_view.verticalHeader().setVisible(False)
        self.neighbours_view.setAlternatingRowColors(True)
        self.neighbours_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.neighbours_view.doubleClicked.connect(self._neighbour_activated)
        nl.addWidget(self.neighbours_view, 1)
        sl.addWidget(nbox, 1)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setSizes([820, 360])
        root.addWidget(split, 1)
        self._run_changed(self.picker.current() or "")

    # --- public helpers (tests and the screenshot command use these) -----------------------------
    @property
    def result(self) -> Any:
        return self.view

    def scatter_point_count(self) -> int:
        return self.scatter.point_count()

    def side_options(self) -> list[str]:
        return [self.side.itemData(i) for i in range(self.side.count())]

    def hover_text_at(self, x: float, y: float) -> str:
        """What hovering data coordinates (x, y) shows ('' when no point is near)."""
        key = self.scatter.hover_at(x, y)
        return self.hover.text() if key >= 0 else ""

    # --- run and projection ----------------------------------------------------------------------
    def _run_changed(self, run_id: str) -> None:
        """Offer only the sides the run's model has (CFGAN: items only); the registry loads in a worker."""
        row = next((r for r in self.state.runs if r["id"] == run_id), None)
        if row is None:
            self._set_sides(None, ["item", "user"])
            return
        if "recsys_gui.core.models" in sys.modules:  # registry already loaded: answer at once
            self._set_sides(row, model_sides(row["model"]))
            return
        run_in_thread(
            model_sides,
            row["model"],
            on_result=lambda sides: self._set_sides(row, sides),
            on_error=lambda *_: self._set_sides(row, ["item", "user"]),
        )

    def _set_sides(self, row: dict[str, Any] | None, sides: list[str]) -> None:
        if row is not None and row["id"] != self.picker.current():
            return  # an older run's answer
        keep = self.side.currentData()
        self.side.blockSignals(True)
        self.side.clear()
        for s in sides:
            self.side.addItem(SIDES[s], s)
        if keep in sides:
            self.side.setCurrentIndex(sides.index(keep))
        self.side.blockSignals(False)
        self.project_btn.setEnabled(bool(sides))
        if row and not sides:
            self.message.warning(f"{row['model']} scores without embeddings; there is nothing to draw.")
        elif row and sides == ["item"]:
            self.message.show_message(f"{row['model']} has no user vectors, so only items can be shown.")
        else:
            self.message.clear_message()

    def project(self) -> None:
        run_id = self.picker.current()
        if not run_id:
            self.message.error("Choose a finished run first.")
            return
        side = self.side.currentData()
        if side is None:
            self.message.error("This run's model has no embeddings to show.")
            return
        self._gen += 1
        gen = self._gen
        self.project_btn.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.message.show_message(
            f"Projecting {SIDES[side].lower()} with {self.method.currentText().split(' ')[0]}…"
        )
        run_in_thread(
            services.embedding_view,
            self.state.workspace,
            run_id,
            side,
            self.method.currentData(),
            self.sample.value(),
            on_result=lambda v: self._got(gen, v),
            on_error=self._failed,
            on_progress=self._progress,
            on_finished=self._project_finished,
        )

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(f"%p%  {text}" if text else "%p%")

    def _project_finished(self) -> None:
        self.project_btn.setEnabled(self.side.count() > 0)
        self.progress.hide()

    def _got(self, gen: int, view: Any) -> None:
        if gen != self._gen:
            return
        self.view = view
        self.scatter.label_for = view.label
        self.found_rows, self.selected_row, self.neighbours_frame = [], None, None
        self.found_list.clear()
        self.neighbours_model.set_frame(None)
        self.selected_label.setText("Click a point or a search result.")
        self.hover.setText(
            f"Hover a point to see its id{' and title' if view.titles is not None else ''}; "
            "click it for its neighbours."
        )
        self.colour_by.blockSignals(True)
        keep = self.colour_by.currentText()
        self.colour_by.clear()
        self.colour_by.addItems(view.colour_options())
        i = self.colour_by.findText(keep)
        self.colour_by.setCurrentIndex(max(i, 0))
        self.colour_by.blockSignals(False)
        n_all = view.unit.shape[0]
        drawn = len(view.rows)
        note = f"{drawn:,} of {n_all:,} {view.side}s drawn" if drawn < n_all else f"{drawn:,} {view.side}s"
        self.message.ok(f"{view.model}: {note}, {METHODS.get(view.method, view.method).split(' ')[0]}.")
        self.scatter.setTitle(
            f"{view.model} · {view.side} embeddings · {METHODS.get(view.method, view.method).split(' ')[0]}"
        )
        self._recolour()

    def _recolour(self) -> None:
        view = self.view
        if view is None:
            return
        option = self.colour_by.currentText() or "popularity"
        self._colour_gen += 1
        gen = self._colour_gen
        run_in_thread(
            view.colours, option, on_result=lambda c: self._draw(gen, view, c), on_error=self._failed
        )

    def _draw(self, gen: int, view: Any, coding: Any) -> None:
        if gen != self._colour_gen or view is not self.view:
            return
        self.coding = coding
        colours = group_colours(len(coding.labels), coding.ordered)
        labels = list(coding.labels)
        if self.colour_by.currentText() == "popularity":
            labels = [f"{lab} interactions" for lab in labels]
        self.scatter.set_points(
            view.xy, view.rows, coding.codes, labels, colours, size=4.0 if len(view.rows) > 20_000 else 6.0
        )
        self._remark()

    def _remark(self) -> None:
        self.scatter.mark("search", self.found_rows)
        nb = self.neighbours_frame
        self.scatter.mark("neighbours", [] if nb is None else nb["_row"].tolist())
        self.scatter.mark("selected", [] if self.selected_row is None else [self.selected_row])

    def _hovered(self, key: int) -> None:
        if key >= 0 and self.view is not None:
            pop = int(self.view.popularity[key])
            self.hover.setText(f"{self.view.side} {self.view.label(key)}  ·  {pop:,} interactions")

    # --- search and neighbours -------------------------------------------------------------------
    def find(self) -> None:
        text = self.search_edit.text().strip()
        if self.view is None:
            self.message.error("Project a run first, then search its points.")
            return
        if not text:
            self.found_rows = []
            self.found_list.clear()
            self._remark()
            return
        view = self.view
        run_in_thread(
            view.search, text, on_result=lambda rows: self._found(view, text, rows), on_error=self._failed
        )

    def _found(self, view: Any, text: str, rows: Any) -> None:
        if view is not self.view:
            return
        self.found_rows = [int(r) for r in rows]
        self.found_list.clear()
        for r in self.found_rows:
            it = QListWidgetItem(view.label(r))
            it.setData(Qt.ItemDataRole.UserRole, r)
            self.found_list.addItem(it)
        shown = self.scatter.mark("search", self.found_rows)
        if not self.found_rows:
            self.message.warning(
                f"No {view.side} has the id '{text}'"
                + (" or a title containing it." if view.titles is not None else ".")
            )
            return
        hidden = len(self.found_rows) - shown
        self.message.ok(
            f"{len(self.found_rows)} match(es) for '{text}', ringed in red"
            + (f" ({hidden} not in the drawn sample)." if hidden else ".")
        )
        if len(self.found_rows) == 1:
            self.select_point(self.found_rows[0])

    def select_point(self, row: int | None) -> None:
        """Show the nearest neighbours of dense row ``row`` (computed in a worker)."""
        if row is None or self.view is None:
            return
        view = self.view
        self.selected_row = int(row)
        self.selected_label.setText(f"<b>{view.label(int(row))}</b> — searching…")
        self.scatter.mark("selected", [int(row)])
        run_in_thread(
            services.neighbours,
            view,
            int(row),
            self.k.value(),
            on_result=lambda f, r=int(row): self._got_neighbours(view, r, f),
            on_error=self._failed,
        )

    def _got_neighbours(self, view: Any, row: int, frame: pd.DataFrame) -> None:
        if view is not self.view or row != self.selected_row:
            return
        self.neighbours_frame = frame
        self.neighbours_model.set_frame(frame.drop(columns="_row"))
        header = self.neighbours_view.horizontalHeader()
        for c, name in enumerate(frame.columns.drop("_row")):
            header.setSectionResizeMode(
                c,
                QHeaderView.ResizeMode.Stretch
                if name == "title"
                else QHeaderView.ResizeMode.ResizeToContents,
            )
        shown = self.scatter.mark("neighbours", frame["_row"].tolist())
        self.selected_label.setText(
            f"<b>{view.label(row)}</b> · {int(view.popularity[row]):,} interactions"
            f"<br>{len(frame)} nearest, {shown} of them drawn (orange rings)"
        )

    def _neighbour_activated(self, index: Any) -> None:
        if self.neighbours_frame is not None:
            self.select_point(int(self.neighbours_frame["_row"].iloc[index.row()]))

    def _failed(self, exc: BaseException, tb: str) -> None:
        self.message.error(error_text(exc))
