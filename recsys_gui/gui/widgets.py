"""Small shared widgets: page header, inline message label, a stat plot factory, a run picker, the
deferral that keeps hidden pages from refreshing, and work split over event-loop turns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def title(text: str, hint: str = "") -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 4)
    t = QLabel(text)
    t.setProperty("role", "title")
    lay.addWidget(t)
    if hint:
        h = QLabel(hint)
        h.setProperty("role", "hint")
        h.setWordWrap(True)
        lay.addWidget(h)
    return w


class Message(QLabel):
    """An inline status line: error / warning / ok / hint, in plain words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hide()

    def show_message(self, text: str, role: str = "hint") -> None:
        self.setProperty("role", role)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(text)
        self.setVisible(bool(text))

    def error(self, text: str) -> None:
        self.show_message(text, "error")

    def warning(self, text: str) -> None:
        self.show_message(text, "warning")

    def ok(self, text: str) -> None:
        self.show_message(text, "ok")

    def clear_message(self) -> None:
        self.setText("")
        self.hide()


def _plain(x: float) -> str:
    return f"{x:,.0f}" if x >= 1 else f"{x:g}"


def log_axis(orientation: str):
    """A pyqtgraph log axis labelled 1, 2, 5, 10, 20, 50 … instead of '2·10¹' at every minor tick,
    which overlap as soon as the range spans a decade or two."""
    import math

    import pyqtgraph as pg

    class LogAxis(pg.AxisItem):
        def logTickStrings(self, values, scale, spacing):
            out = []
            for v in values:
                x = 10 ** float(v) * scale
                lead = round(x / 10 ** math.floor(math.log10(x)), 6) if x > 0 else 0
                out.append(_plain(x) if lead in (1, 2, 5) else "")
            return out

    return LogAxis(orientation)


def stat_plot(title_text: str, x_label: str, y_label: str, *, log_x: bool = False, log_y: bool = False):
    import pyqtgraph as pg

    from recsys_gui.gui.plots.axes import show_grid

    axes = {side: log_axis(side) for side, on in (("bottom", log_x), ("left", log_y)) if on}
    p = pg.PlotWidget(axisItems=axes)
    p.setTitle(title_text)
    p.setLabel("bottom", x_label)
    p.setLabel("left", y_label)
    p.setLogMode(x=log_x, y=log_y)
    p.setMenuEnabled(False)
    p.setMinimumHeight(160)
    show_grid(p, 0.2)
    return p


class RunPicker(QWidget):
    """A combo of stored runs (newest first) that follows the app state's run list."""

    run_selected = Signal(str)

    def __init__(self, state, parent: QWidget | None = None, *, only_finished: bool = True) -> None:
        from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton

        super().__init__(parent)
        self.state, self.only_finished = state, only_finished
        self._pending: str | None = None  # a run asked for before the run list had it
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Run:"))
        self.combo = QComboBox()
        self.combo.setMinimumWidth(380)
        self.combo.setObjectName("run_combo")
        lay.addWidget(self.combo, 1)
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.setToolTip("Re-read the runs in the workspace.")
        self.refresh_btn.clicked.connect(state.refresh_runs)
        lay.addWidget(self.refresh_btn)
        state.runs_changed.connect(self._fill)
        state.current_run_changed.connect(self.select)
        self.combo.currentIndexChanged.connect(self._changed)
        self._fill()

    def _fill(self) -> None:
        before = self.current()
        keep = self._pending or before or self.state.current_run
        self.combo.blockSignals(True)
        self.combo.clear()
        rows = self.state.finished_runs() if self.only_finished else self.state.runs
        for r in rows:
            metric = ""
            test = r.get("test") or {}
            for k in ("ndcg@10", "recall@10"):
                if k in test:
                    metric = f" · {k} {test[k]:.4f}"
                    break
            self.combo.addItem(f"{r.get('name') or r['id']} — {r['model']} [{r['status']}]{metric}", r["id"])
        if not rows:
            self.combo.addItem("(no finished runs in this workspace yet — train one on the Train page)", None)
        i = self.combo.findData(keep) if keep else 0
        if i >= 0 and keep == self._pending:
            self._pending = None
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        if self.current() and self.current() != before:
            self.run_selected.emit(self.current())

    def current(self) -> str | None:
        return self.combo.currentData()

    def select(self, run_id: str) -> None:
        """Show ``run_id``; a run that just finished is shown as soon as the re-read list has it."""
        i = self.combo.findData(run_id)
        self._pending = None if i >= 0 else run_id
        if i >= 0 and i != self.combo.currentIndex():
            self.combo.setCurrentIndex(i)

    def _changed(self, *_: object) -> None:
        rid = self.current()
        if rid:
            self.run_selected.emit(rid)


class WhenShown(QObject):
    """Calls ``refresh`` now while ``page`` is on screen, else once when it is next shown.

    A run's end tells every page at once; pages the user is not looking at (Results, Compare and
    Embeddings during training) rebuilding tables and plots then would all land in one stretch of
    the GUI thread. A page not in a shown window (built on its own, as in tests) refreshes at once.
    Only the latest arguments are kept: they describe the state to show.
    """

    def __init__(self, page: QWidget, refresh: Callable[..., Any]) -> None:
        super().__init__(page)
        self.page, self.refresh = page, refresh
        self.pending: tuple[Any, ...] | None = None
        page.installEventFilter(self)

    def __call__(self, *args: Any) -> None:
        if self.page.window().isVisible() and not self.page.isVisible():
            self.pending = args
            return
        self.pending = None
        self.refresh(*args)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.page and event.type() == QEvent.Type.Show and self.pending is not None:
            args, self.pending = self.pending, None
            self.refresh(*args)
        return False


def in_turns(steps: Sequence[Callable[[], Any]], owner: QObject) -> None:
    """Run ``steps`` one per event-loop turn: repaints and input get in between, so four plots
    built one after another are four short stretches of the GUI thread instead of one long one.
    Stops quietly once ``owner`` is gone."""
    pending = list(steps)

    def next_step() -> None:
        if pending:
            pending.pop(0)()
            if pending:
                QTimer.singleShot(0, owner, next_step)

    next_step()
