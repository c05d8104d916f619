"""What to search: one row per setting of the model, ticked ones searched over the range typed.

Rows are prefilled from the core's derived space (the settings' own ranges and scales, windowed
around the current value); the ticked rows become the ``--search`` text the CLI takes too, so the
GUI and ``recsys-gui tune`` search the same space for the same words.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

# The current value is each row's tooltip: three columns fit beside the plots at 1,200 pixels.
COLUMNS = ("setting", "range", "log")


def candidate_params(
    model: str, base_model: dict[str, Any], base_train: dict[str, Any]
) -> list[tuple[Any, bool]]:
    """(Param, searched by default) for the default space and every other setting that can be searched."""
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.models import base as models
    from recsys_gui.core.tuning.space import TRAINER_SEARCHED, search_space

    kw = {"base_model": base_model, "base_train": base_train}
    chosen = list(search_space(model, None, **kw).params)
    names = {p.name for p in chosen}
    cls = models.get_model_class(model)
    extra = [f.name for f in dataclasses.fields(cls.config_cls)]
    if cls.capabilities.iterative:
        extra += list(TRAINER_SEARCHED)
    out = [(p, True) for p in chosen]
    for name in extra:
        if name in names:
            continue
        try:
            out.append((search_space(model, name, **kw).params[0], False))
        except ConfigError:  # a path, a free text, no range to search
            continue
        names.add(name)
    return out


def range_text(p: Any) -> str:
    if p.kind == "choice":
        return "|".join(str(c) for c in p.choices or ())
    return f"{_num(p.low)}:{_num(p.high)}"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class SpaceTable(QTableWidget):
    """Tick the settings to search; edit a range as LOW:HIGH (numbers) or A|B|C (choices)."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.kinds: list[str] = []

    def fill(self, candidates: list[tuple[Any, bool]]) -> None:
        self.setRowCount(0)
        self.kinds = []
        for p, searched in candidates:
            r = self.rowCount()
            self.insertRow(r)
            name = QTableWidgetItem(p.name)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            name.setCheckState(Qt.CheckState.Checked if searched else Qt.CheckState.Unchecked)
            now = "" if p.default is None else f", now {_num(p.default)}"
            tip = f"{'trainer' if p.target == 'train' else 'model'} setting{now}"
            name.setToolTip(tip)
            self.setItem(r, 0, name)
            rng = QTableWidgetItem(range_text(p))
            rng.setToolTip(tip)
            self.setItem(r, 1, rng)
            log = QTableWidgetItem("")
            if p.kind == "choice":
                log.setFlags(Qt.ItemFlag.NoItemFlags)
            else:
                log.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                log.setCheckState(Qt.CheckState.Checked if p.log else Qt.CheckState.Unchecked)
            log.setToolTip("searched on a log scale")
            self.setItem(r, 2, log)
            self.kinds.append(p.kind)
        # As wide as its columns, so the splitter beside it never hides the log boxes behind a scroll bar.
        self.resizeColumnsToContents()
        columns = self.horizontalHeader().length()
        self.setMinimumWidth(columns + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth())

    def set_searched(self, names: list[str]) -> None:
        for r in range(self.rowCount()):
            item = self.item(r, 0)
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    def searched(self) -> list[str]:
        return [self.item(r, 0).text() for r in range(self.rowCount())
                if self.item(r, 0).checkState() == Qt.CheckState.Checked]

    def search_text(self) -> str:
        """The ticked rows as ``--search`` text: ``lr=1e-4:0.1:log,dropout=0:0.7,variant=a|b``."""
        items = []
        for r in range(self.rowCount()):
            if self.item(r, 0).checkState() != Qt.CheckState.Checked:
                continue
            text = self.item(r, 1).text().strip()
            log = self.kinds[r] != "choice" and self.item(r, 2).checkState() == Qt.CheckState.Checked
            name = self.item(r, 0).text()
            items.append(f"{name}={text}{':log' if log else ''}" if text else name)
        return ",".join(items)
