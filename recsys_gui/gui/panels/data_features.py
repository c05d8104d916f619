"""The Data page's feature list (cold start): which metadata columns become features, how many values
each has, a box per column to leave it out, and the user features file.

The list is the core's feature report (``core.data.features``) computed in a worker from the loaded
data's item metadata and the chosen user file, with nothing left out, so an unticked column keeps its
count and can be ticked again without a new load. What reaches a run is ``feature_options()`` (the
spec's ``data.features``: the unticked columns as ``exclude``) and ``user_metadata()`` (its
``data.user_metadata``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.gui.threading import error_text, run_in_thread
from recsys_gui.gui.widgets import Message

SIDES = (("items", "Item features"), ("users", "User features"))
KIND_TEXT = {"multi": "multi-valued", "category": "category", "numeric": "numeric bins",
             "text": "text (TF-IDF)"}
KIND_TIP = {"multi": "Several values per row, separated by '|' (e.g. Action|Comedy): one feature per value.",
            "category": "One value per row: one feature per value.",
            "numeric": "A number, binned at its quantiles: one feature per bin.",
            "text": "Words (TF-IDF): one feature per term found in at least two rows."}
USER_FILE_FILTER = "User files (*.dat *.user *.csv *.tsv *.txt);;All files (*)"
NO_METADATA = ("No item metadata: choose an item metadata file (genres, categories, tags) to give models "
               "item features.")


def feature_report(item_meta: Any, user_ids: Any, users_path: str | None) -> dict[str, Any]:
    """The report of every usable column (``FeatureSet.report()``'s shape), nothing excluded: the list
    shows them all and the ticks decide. Runs in a worker (reads the user file, encodes every row)."""
    from recsys_gui.core.data.features import FeatureSet, fit_features, load_user_metadata

    items = fit_features(item_meta)
    users = None
    if users_path:
        users = fit_features(load_user_metadata(users_path, user_ids))
    report = FeatureSet(items=items, users=users).report()
    if item_meta is not None and items is None:
        report["items_unusable"] = [str(c) for c in item_meta.columns]
    if users_path and users is None:
        report["users_unusable"] = True
    return report


def _reason(why: str) -> str:
    """The core's skip reason without its advice in brackets (this list cannot read a column as text)."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", why)


class FeaturesBox(QGroupBox):
    """``show_data(data)`` after a load; ``changed`` when a box is ticked or the user file changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Features (cold start)", parent)
        self._gen = 0
        self._item_meta: Any = None
        self._user_ids: Any = None
        self._report: dict[str, Any] = {}
        self._unticked: set[str] = set()  # kept across loads: a reload does not tick a column again
        self._filling = False
        self._users_path: str | None = None
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.users_edit = QLineEdit()
        self.users_edit.setReadOnly(True)
        self.users_edit.setPlaceholderText("optional: users.dat, u.user, CSV by user id")
        self.users_btn = QPushButton("User features file…")
        self.users_btn.setToolTip("User attributes (gender, age, occupation…) for models trained with "
                                  "features=users or both.")
        self.users_btn.clicked.connect(self.choose_user_file)
        self.users_clear = QPushButton("Clear")
        self.users_clear.clicked.connect(lambda: self.set_user_metadata(None))
        row.addWidget(self.users_edit, 1)
        row.addWidget(self.users_btn)
        row.addWidget(self.users_clear)
        lay.addLayout(row)
        self.message = Message()
        lay.addWidget(self.message)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Column", "Values", "Becomes"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        head = self.tree.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the bold side rows span it
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._ticked)
        self.tree.hide()
        lay.addWidget(self.tree)
        self.skipped = QLabel("")
        self.skipped.setProperty("role", "hint")
        self.skipped.setWordWrap(True)
        self.skipped.hide()
        lay.addWidget(self.skipped)
        hint = QLabel("Unticked columns are left out of the features. Models read features with their "
                      "setting features (items, users or both; auto: items when metadata is loaded).")
        hint.setProperty("role", "hint")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        self.message.show_message(NO_METADATA)

    # --- inputs ----------------------------------------------------------------------------------
    def show_data(self, data: Any) -> None:
        """The loaded InteractionData (its ``item_meta`` and ``user_ids``): list its features."""
        self._item_meta = getattr(data, "item_meta", None)
        self._user_ids = getattr(data, "user_ids", None)
        self._refresh()

    def choose_user_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open user features file", "", USER_FILE_FILTER)
        if path:
            self.set_user_metadata(path)

    def set_user_metadata(self, path: str | None) -> None:
        """The user file (absolute: a run reads it from the workspace folder); None clears it."""
        self._users_path = str(Path(path).resolve()) if path else None
        self.users_edit.setText(Path(path).name if path else "")
        self.users_edit.setToolTip(self._users_path or "")
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        self._gen += 1
        gen = self._gen
        users = self.user_metadata()
        if self._item_meta is None and (users is None or self._user_ids is None):
            self.show_report({})
            if users is not None:
                self.message.show_message("The user file is read once interactions are loaded.")
            return
        self.message.show_message("Reading the features…")
        run_in_thread(feature_report, self._item_meta, self._user_ids, users,
                      on_result=lambda r: gen == self._gen and self.show_report(r),
                      on_error=lambda exc, _tb: gen == self._gen and self._failed(exc))

    def _failed(self, exc: BaseException) -> None:
        self.show_report({})
        self.message.error(error_text(exc))

    # --- the list --------------------------------------------------------------------------------
    def show_report(self, report: dict[str, Any]) -> None:
        """Show a feature report ({"items"/"users": FeatureMatrix.report()}); ticks follow the columns
        unticked so far."""
        self._report = dict(report or {})
        self._filling = True
        self.tree.clear()
        skipped = []
        for side, heading in SIDES:
            part = self._report.get(side)
            if not part:
                continue
            top = QTreeWidgetItem([f"{heading}: {part['features']:,} from {len(part['columns'])} "
                                   f"column{'s' if len(part['columns']) != 1 else ''}", "", ""])
            top.setFirstColumnSpanned(True)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            for column, info in part["columns"].items():
                kind = KIND_TEXT.get(info["kind"], info["kind"])
                item = QTreeWidgetItem([column, f"{info['values']:,}", kind])
                item.setToolTip(2, KIND_TIP.get(info["kind"], ""))
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setData(0, Qt.ItemDataRole.UserRole, column)
                item.setCheckState(0, Qt.CheckState.Unchecked if column in self._unticked
                                   else Qt.CheckState.Checked)
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.tree.addTopLevelItem(item)
            for column, why in part.get("skipped", {}).items():
                item = QTreeWidgetItem([column, "—", "skipped"])
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                for c in range(3):
                    item.setToolTip(c, f"Not a feature: {why}")
                skipped.append(f"{column} ({_reason(why)})")
                self.tree.addTopLevelItem(item)
        self._filling = False
        self.skipped.setText(f"Skipped: {'; '.join(skipped)}." if skipped else "")
        self.skipped.setVisible(bool(skipped))
        self.tree.setVisible(self.tree.topLevelItemCount() > 0)
        self.tree.setFixedHeight(self._tree_height())
        self._say_what_is_missing()

    def _tree_height(self) -> int:
        rows = self.tree.topLevelItemCount()
        row_h = self.tree.sizeHintForRow(0) if rows else 20
        return self.tree.header().sizeHint().height() + row_h * min(rows, 10) + 2 * self.tree.frameWidth() + 2

    def _say_what_is_missing(self) -> None:
        lines = []
        if "items_unusable" in self._report:
            cols = ", ".join(self._report["items_unusable"]) or "none"
            lines.append(f"No column of the item metadata can be a feature (columns: {cols}).")
        elif "items" not in self._report:
            lines.append(NO_METADATA)
        if self._report.get("users_unusable"):
            lines.append(f"No column of the user file {self.user_metadata()} can be a feature.")
        unusable = "items_unusable" in self._report or self._report.get("users_unusable")
        if unusable:
            self.message.warning(" ".join(lines))
        elif lines:
            self.message.show_message(" ".join(lines))
        else:
            self.message.clear_message()

    def _ticked(self, item: QTreeWidgetItem, column: int) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole)
        if self._filling or column != 0 or name is None:
            return
        if item.checkState(0) == Qt.CheckState.Checked:
            self._unticked.discard(name)
        else:
            self._unticked.add(name)
        self.changed.emit()

    # --- outputs ---------------------------------------------------------------------------------
    def columns(self) -> dict[str, dict[str, tuple[int, bool]]]:
        """{side: {column: (values, ticked)}} as listed (skipped columns are not listed here)."""
        return {side: {c: (info["values"], c not in self._unticked) for c, info in part["columns"].items()}
                for side, _ in SIDES if (part := self._report.get(side))}

    def excluded(self) -> list[str]:
        """The unticked columns of the current report, sorted (a name no longer listed is not sent)."""
        listed = {c for part in self.columns().values() for c in part}
        return sorted(self._unticked & listed)

    def feature_options(self) -> dict[str, Any]:
        """The run spec's ``data.features`` (FeatureOptions fields): the unticked columns, or {}."""
        excluded = self.excluded()
        return {"exclude": excluded} if excluded else {}

    def user_metadata(self) -> str | None:
        """The run spec's ``data.user_metadata``: the chosen user file, or None."""
        return self._users_path

    def report(self) -> dict[str, Any]:
        return dict(self._report)


__all__ = ["FeaturesBox", "feature_report"]
