"""A scatter that stays smooth with 100,000+ points: one ScatterPlotItem per colour, KD-tree hover.

No per-point Python objects: each colour group is one ``ScatterPlotItem`` fed numpy arrays
(``pxMode``, ``useCache``, no spot hovering). Hover and click find the nearest point with a
``scipy.spatial.cKDTree`` over the drawn coordinates, in O(log n), instead of asking pyqtgraph for
the spots under the cursor. The aspect ratio is locked, so a radius in pixels is a radius in data
units and the tree's nearest point is the one nearest on screen.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

from recsys_gui.gui.plots.axes import show_grid
from recsys_gui.gui.plots.live_curves import PALETTE

CATEGORY_COLOURS = (*PALETTE, "#7f7f7f", "#17becf", "#bcbd22")
MISSING = "#c8c8c8"
MARKS = {"search": ("#d6455d", 16), "neighbours": ("#e8833a", 13), "selected": ("#111111", 18)}


@functools.cache
def _viridis() -> pg.ColorMap:
    """pyqtgraph reads the map from its file on every ``colormap.get`` (6-11 ms on the GUI thread)."""
    return pg.colormap.get("viridis")


@functools.cache
def group_colours(n: int, ordered: bool) -> tuple[str, ...]:
    """``n`` colours: a viridis ramp for ordered bins, distinct hues for categories."""
    if n <= 0:
        return ()
    if ordered:
        return tuple(c.name() for c in _viridis().mapToQColor(np.linspace(0.05, 0.95, n)))
    return tuple(CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)] for i in range(n))


class ColourKey(QLabel):
    """The groups' colours and sizes in the plot's top-left corner, as one rich-text label.

    pyqtgraph's ``LegendItem`` lays itself out again for every entry it gets: a six-group legend
    held the GUI thread 40 ms of an 87 ms scatter draw. One label is one layout. It lets the mouse
    through, so hovering a point under it still works.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.entries: list[tuple[str, str]] = []
        self.hide()

    def set_entries(self, entries: Sequence[tuple[str, str]]) -> None:
        """``(label, colour)`` per group, top to bottom; none hides the key."""
        self.entries = list(entries)
        rows = "".join(
            f'<tr><td style="color:{c}; font-size:11pt">●</td><td>&nbsp;{html.escape(t)}</td></tr>'
            for t, c in self.entries
        )
        self.setText(f'<table cellspacing="0" cellpadding="0">{rows}</table>')
        base = self.palette().color(QPalette.ColorRole.Base)  # readable over 100,000 points, either theme
        sheet = (f"QLabel {{ background: rgba({base.red()},{base.green()},{base.blue()},200);"
                 " border-radius: 4px; padding: 3px 6px; font-size: 8pt; }")
        if sheet != self.styleSheet():  # a new style sheet re-polishes the label: only on a theme change
            self.setStyleSheet(sheet)
        self.adjustSize()
        self.setVisible(bool(self.entries))


class EmbeddingScatter(pg.PlotWidget):
    """Points in colour groups; emits the key of the point under the cursor and of a clicked point."""

    point_hovered = Signal(int)  # key, or -1 when the cursor leaves every point
    point_clicked = Signal(int)

    def __init__(self, parent=None, *, hover_px: float = 8.0) -> None:
        super().__init__(parent)
        self.hover_px = hover_px
        self.label_for: Callable[[int], str] | None = None
        self.setAspectLocked(True)
        show_grid(self, 0.12)
        self.setMenuEnabled(False)
        self.getPlotItem().hideButtons()
        for axis in ("bottom", "left"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.key = ColourKey(self)
        _viridis()  # read now, while the window is built, not in the middle of a first draw
        self.getPlotItem().vb.sigResized.connect(self._place_key)
        self.groups: list[pg.ScatterPlotItem] = []
        self.xy = np.zeros((0, 2), dtype=np.float64)
        self.keys = np.zeros(0, dtype=np.int64)
        self._tree = None
        self._key_pos: dict[int, int] | None = None
        self._hovered = -1
        self.marks: dict[str, pg.ScatterPlotItem] = {}
        for name, (colour, size) in MARKS.items():
            m = pg.ScatterPlotItem(
                pxMode=True, size=size, pen=pg.mkPen(colour, width=2.2), brush=None, symbol="o"
            )
            m.setZValue(20 if name == "selected" else 10)
            self.marks[name] = m
        self.hover_mark = pg.ScatterPlotItem(
            pxMode=True, size=12, pen=pg.mkPen("#111111", width=1.5), brush=pg.mkBrush(255, 255, 255, 90)
        )
        self.hover_mark.setZValue(30)
        self.hover_text = pg.TextItem(
            anchor=(0, 1), color="#111111", fill=pg.mkBrush(255, 255, 255, 220), border=pg.mkPen("#999999")
        )
        self.hover_text.setZValue(40)
        self._add_overlays()
        self._proxy = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=60, slot=self._moved)
        self.scene().sigMouseClicked.connect(self._clicked)

    def _place_key(self) -> None:
        """Keep the colour key 10 px inside the view box's top-left corner (below title, right of axis)."""
        corner = self.mapFromScene(self.getPlotItem().vb.sceneBoundingRect().topLeft())
        self.key.move(corner.x() + 10, corner.y() + 10)

    def _add_overlays(self) -> None:
        for item in (*self.marks.values(), self.hover_mark, self.hover_text):
            self.addItem(item, ignoreBounds=True)
        self.hover_text.hide()

    # --- data ------------------------------------------------------------------------------------
    def set_points(
        self,
        xy: np.ndarray,
        keys: np.ndarray,
        codes: np.ndarray | None = None,
        labels: Sequence[str] = (),
        colours: Sequence[str] = (),
        size: float = 5.0,
    ) -> None:
        """Draw ``xy`` [n, 2]; ``codes`` give each point's group (-1 = no value) named by ``labels``."""
        from scipy.spatial import cKDTree

        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        keys = np.asarray(keys, dtype=np.int64)
        codes = np.zeros(len(xy), dtype=np.int64) if codes is None else np.asarray(codes, dtype=np.int64)
        if not labels:
            labels, colours = ["points"], [PALETTE[0]]
        self.clear_points()
        self.xy, self.keys = xy, keys
        self._key_pos = None
        groups = [(g, labels[g], colours[g]) for g in range(len(labels))]
        if (codes < 0).any():
            groups.append((-1, "no value", MISSING))
        entries = []
        for g, label, colour in groups:
            mask = codes == g
            n = int(mask.sum())
            if n == 0:
                continue
            entries.append((f"{label} ({n:,})", colour))
            item = pg.ScatterPlotItem(
                x=xy[mask, 0],
                y=xy[mask, 1],
                pxMode=True,
                useCache=True,
                size=size,
                pen=None,
                brush=pg.mkBrush(colour),
                symbol="o",
                hoverable=False,
            )
            item.setOpacity(0.8)
            self.addItem(item)
            self.groups.append(item)
        self.key.set_entries(entries)
        self._tree = cKDTree(xy) if len(xy) else None
        if len(xy):
            self.getPlotItem().vb.autoRange(padding=0.04)

    def clear_points(self) -> None:
        for item in self.groups:
            self.removeItem(item)
        self.groups.clear()
        self.key.set_entries([])
        self.xy = np.zeros((0, 2))
        self.keys = np.zeros(0, dtype=np.int64)
        self._tree = None
        for m in self.marks.values():
            m.clear()
        self._hide_hover()

    def point_count(self) -> int:
        """Points drawn over all colour groups."""
        return int(sum(len(g.data) for g in self.groups))

    def positions(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Positions in ``xy`` of the given keys that are drawn (others are skipped)."""
        if self._key_pos is None:
            self._key_pos = {int(k): i for i, k in enumerate(self.keys.tolist())}
        pos = [self._key_pos.get(int(k), -1) for k in keys]
        return np.array([p for p in pos if p >= 0], dtype=np.int64)

    def mark(self, kind: str, keys: Sequence[int] | np.ndarray) -> int:
        """Ring the drawn points among ``keys`` (kind: search, neighbours, selected); returns how many."""
        pos = self.positions(keys)
        item = self.marks[kind]
        if pos.size:
            item.setData(x=self.xy[pos, 0], y=self.xy[pos, 1])
        else:
            item.clear()
        return int(pos.size)

    # --- lookup ----------------------------------------------------------------------------------
    def pixel_size(self) -> float:
        """Data units per screen pixel (aspect locked: the same in x and y)."""
        px = self.getPlotItem().vb.viewPixelSize()
        return float(max(px[0], px[1]))

    def nearest(self, x: float, y: float, max_px: float | None = None) -> int:
        """Key of the drawn point nearest to data coordinates (x, y), or -1 if none is within ``max_px``."""
        pos = self._nearest_pos(x, y, max_px)
        return -1 if pos < 0 else int(self.keys[pos])

    def _nearest_pos(self, x: float, y: float, max_px: float | None) -> int:
        if self._tree is None:
            return -1
        bound = np.inf if max_px is None else max_px * self.pixel_size()
        dist, pos = self._tree.query((x, y), k=1, distance_upper_bound=bound)
        return int(pos) if np.isfinite(dist) else -1

    def _moved(self, args: tuple) -> None:
        scene_pos = args[0]
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            self._hide_hover()
            return
        p = vb.mapSceneToView(scene_pos)
        self.hover_at(p.x(), p.y())

    def hover_at(self, x: float, y: float) -> int:
        """Show the hover mark and label for the point nearest (x, y); returns its key or -1."""
        pos = self._nearest_pos(x, y, self.hover_px)
        if pos < 0:
            self._hide_hover()
            return -1
        key = int(self.keys[pos])
        px, py = self.xy[pos]
        self.hover_mark.setData(x=[px], y=[py])
        if self.label_for is not None:
            self.hover_text.setText(self.label_for(key))
            (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
            # keep the label inside the plot: left of points in the right half, below points near the top
            self.hover_text.setAnchor(
                (1 if px > (x0 + x1) / 2 else 0, 0 if py > y0 + 0.85 * (y1 - y0) else 1)
            )
            self.hover_text.setPos(QPointF(px, py))
            self.hover_text.show()
        if key != self._hovered:
            self._hovered = key
            self.point_hovered.emit(key)
        return key

    def _hide_hover(self) -> None:
        self.hover_mark.clear()
        self.hover_text.hide()
        if self._hovered != -1:
            self._hovered = -1
            self.point_hovered.emit(-1)

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        key = self.nearest(p.x(), p.y(), self.hover_px * 1.5)
        if key >= 0:
            self.point_clicked.emit(key)
