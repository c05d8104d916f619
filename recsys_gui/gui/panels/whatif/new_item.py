"""The What-if page's "New item" tab: describe an item the run has never seen by its features (genres,
category, a number, words) and see the users the run would recommend it to.

One editor per column the run's model reads (``LoadedRun.new_item_features()``): a checkable list
for multi-valued columns, a combo box with completion for categories, a line for numbers and text.
The editors make the same text the CLI takes (``recommend RUN --new-item "genres=Comedy|Romance"``);
the panel asks for the users in a worker and hands the rows back (``show_users``). A run whose model
reads no item features gets a disabled box and the one-line reason.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.widgets import Message

FILTER_FROM = 12  # a multi-valued column with more values than this gets a filter line
LIST_ROWS = 8  # rows a value list shows before it scrolls
NO_FEATURES = ("{model} reads no item features, so it cannot place a new item: train MF, iALS or Mult-VAE "
               "with an item metadata file (setting features=items), or genre-pop, to ask who would get one.")
DESCRIBE = "Pick feature values on the left to describe a new item."


class _ValueList(QWidget):
    """A multi-valued column (genres): tick any number of values; the value is ``a|b``."""

    changed = Signal()

    def __init__(self, values: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(f"Filter {len(values):,} values…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter)
        self.filter.setVisible(len(values) > FILTER_FROM)
        lay.addWidget(self.filter)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for value in values:
            it = QListWidgetItem(value)
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Unchecked)
            self.list.addItem(it)
        rows = max(1, min(len(values), LIST_ROWS))
        self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 18) + 2 * self.list.frameWidth() + 2)
        self.list.itemChanged.connect(lambda _it: self.changed.emit())
        lay.addWidget(self.list)

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            it = self.list.item(i)
            it.setHidden(bool(needle) and needle not in it.text().lower())

    def value(self) -> str:
        return "|".join(self.list.item(i).text() for i in range(self.list.count())
                        if self.list.item(i).checkState() == Qt.CheckState.Checked)

    def set_value(self, text: str) -> None:
        wanted = {v.strip() for v in text.split("|") if v.strip()}
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            it = self.list.item(i)
            it.setCheckState(Qt.CheckState.Checked if it.text() in wanted else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self.changed.emit()


class _Category(QComboBox):
    """A categorical column: one value (type to complete it), or none."""

    changed = Signal()

    def __init__(self, values: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItems(["", *values])
        self.lineEdit().setPlaceholderText(f"any of {len(values):,} values (type to complete)")
        completer = QCompleter(values, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.setCurrentIndex(0)
        self.currentTextChanged.connect(lambda _t: self.changed.emit())

    def value(self) -> str:
        return self.currentText().strip()

    def set_value(self, text: str) -> None:
        self.setCurrentText(text)


class _Line(QLineEdit):
    """A numeric column (a number, binned as in training) or a text column (words, TF-IDF)."""

    changed = Signal()

    def __init__(self, kind: str, values: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind == "numeric":
            self.setValidator(QDoubleValidator(self))
            self.setPlaceholderText(f"a number ({len(values)} bins, {_range(values)})")
        else:
            self.setPlaceholderText("words, e.g. a title or a description")
        self.setClearButtonEnabled(True)
        self.textChanged.connect(lambda _t: self.changed.emit())

    def value(self) -> str:
        return self.text().strip()

    def set_value(self, text: str) -> None:
        self.setText(text)


def _range(labels: list[str]) -> str:
    """'from 1990 to 2010' from bin labels '[-inf,1990)', …, '[2010,inf)' (the inner edges)."""
    edges = [label.strip("[)").split(",") for label in labels]
    inner = [lo for lo, _hi in edges[1:]]
    return f"edges {inner[0]} … {inner[-1]}" if inner else "one bin"


def _editor(kind: str, values: list[str]) -> _ValueList | _Category | _Line:
    if kind == "multi":
        return _ValueList(values)
    if kind == "category":
        return _Category(values)
    return _Line(kind, values)


class NewItemBox(QWidget):
    """``set_run(features, model)`` builds the editors; ``changed`` when the description or the number
    of users changes; ``features_text()`` is the description; ``show_users(rows)`` the answer."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._features: dict[str, dict[str, Any]] = {}
        self._run_id = "RUN"
        self._editors: dict[str, Any] = {}
        self._rows: list[tuple[int, Any, int, float]] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        self.reason = Message()
        lay.addWidget(self.reason)
        self.body = split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)

        left_side = QWidget()
        left = QVBoxLayout(left_side)
        left.setContentsMargins(0, 0, 8, 0)
        left.addWidget(QLabel("<b>Describe the new item</b>"))
        host = QWidget()
        column = QVBoxLayout(host)
        column.setContentsMargins(4, 4, 4, 4)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        column.addLayout(self.form)
        column.addStretch(1)  # the editors stay at the top however tall the page is
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(host)
        scroll.setMinimumWidth(300)
        left.addWidget(scroll, 1)
        self.described = QLabel("")
        self.described.setProperty("role", "hint")
        self.described.setWordWrap(True)
        self.described.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addWidget(self.described)
        split.addWidget(left_side)

        right_side = QWidget()
        right = QVBoxLayout(right_side)
        right.setContentsMargins(8, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Users it would be recommended to</b>"))
        row.addStretch(1)
        row.addWidget(QLabel("Top"))
        self.top_spin = QSpinBox()
        self.top_spin.setRange(1, 500)
        self.top_spin.setValue(20)
        self.top_spin.setToolTip("How many users to list.")
        self.top_spin.valueChanged.connect(self._edited)
        row.addWidget(self.top_spin)
        right.addLayout(row)
        self.message = Message()
        right.addWidget(self.message)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["#", "User", "History", "Score"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        head.setStretchLastSection(True)  # the score column takes the rest: ids stay by their numbers
        self.table.setColumnWidth(1, 160)
        self.table.horizontalHeaderItem(2).setToolTip("Interactions the run knows for the user.")
        self.table.horizontalHeaderItem(3).setToolTip("The model's score for the new item (higher first).")
        right.addWidget(self.table, 1)
        split.addWidget(right_side)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([420, 880])
        self._filler = QWidget()  # holds the reason at the top while the panes are hidden
        lay.addWidget(self._filler, 1)
        self.set_loading("Choose a run above.")

    # --- the run ---------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether the chosen run can score a new item (its model reads item features)."""
        return bool(self._features)

    def set_loading(self, text: str = "Loading the run…") -> None:
        self._set_features({})
        self.setEnabled(False)
        self._show_body(True)
        self.reason.show_message(text)
        self.show_hint("")

    def set_run(self, features: dict[str, dict[str, Any]], model: str, run_id: str = "RUN") -> None:
        """The run's new-item features ({column: {"kind", "values"}}); none: disabled, with the reason.
        The same columns and values as the shown ones (another run on the same data) keep the choice."""
        if not features:
            self._set_features({})
            self.setEnabled(False)
            self._show_body(False)  # nothing to describe: the reason alone, not two empty panes
            self.reason.warning(NO_FEATURES.format(model=model))
            self.show_hint("")
            return
        self.setEnabled(True)
        self._show_body(True)
        self.reason.clear_message()
        self._run_id = run_id
        if features != self._features:
            self._set_features(features)
        self._describe()
        self.changed.emit()

    def _show_body(self, on: bool) -> None:
        self.body.setVisible(on)
        self._filler.setVisible(not on)

    def _set_features(self, features: dict[str, dict[str, Any]]) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._features, self._editors = dict(features), {}
        for column, info in features.items():
            editor = _editor(info["kind"], [str(v) for v in info["values"]])
            editor.changed.connect(self._edited)
            label = QLabel(column)
            label.setToolTip(f"{info['kind']}, {len(info['values']):,} values")
            self.form.addRow(label, editor)
            self._editors[column] = editor
        self.described.setText("")

    def _edited(self) -> None:
        self._describe()
        self.changed.emit()

    def _describe(self) -> None:
        """The command line that gives the same list (a run's id, the description, the number)."""
        text = self.features_text()
        self.described.setText(f"Same as: recsys-gui recommend {self._run_id} --new-item \"{text}\" "
                               f"--top-users {self.top()}" if text else "")

    # --- the description -------------------------------------------------------------------------
    def features_text(self) -> str:
        """``"genres=Comedy|Romance; year=1995"`` from the editors ("" when nothing is chosen)."""
        parts = [f"{column}={value}" for column, editor in self._editors.items() if (value := editor.value())]
        return "; ".join(parts)

    def select(self, column: str, value: str) -> None:
        """Set one column's value as its text (``"Comedy|Romance"``): for tests and the screenshots."""
        self._editors[column].set_value(value)

    def top(self) -> int:
        return self.top_spin.value()

    # --- the answer ------------------------------------------------------------------------------
    def show_users(self, rows: list[tuple[int, Any, int, float]]) -> None:
        """(rank, user id, known interactions, score) per user, best first."""
        self.message.clear_message()
        self._rows = list(rows)
        self.table.setRowCount(len(rows))
        for r, (rank, user, history, score) in enumerate(rows):
            for c, text in enumerate((str(rank), str(user), f"{history:,}", f"{score:.4g}")):
                cell = QTableWidgetItem(text)
                if c in (0, 2):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, cell)
        if not rows:
            self.message.show_message("No user to list.")

    def show_error(self, text: str) -> None:
        self._rows = []
        self.table.setRowCount(0)
        self.message.error(text)

    def show_hint(self, text: str) -> None:
        self._rows = []
        self.table.setRowCount(0)
        self.message.show_message(text)

    def rows(self) -> list[tuple[int, Any, int, float]]:
        """The listed users as (rank, user id, history size, score)."""
        return list(self._rows)


__all__ = ["NewItemBox"]
