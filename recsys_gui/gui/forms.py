"""Settings forms generated from a config schema (``describe_fields`` / ``describe_model``).

Each field becomes an editor chosen by its type: int/float → spin box with the schema's range and
default, bool → check box, choices → combo box, optional → a line edit where empty means "none".
Tooltips are the field's help. ``values()`` returns what the user set; ``validate(cls)`` checks it
with the core's own rules and shows the message inline.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

INT_LIMIT = 2**31 - 1
EDITOR_MIN_WIDTH = 130  # numbers like 0.0001 or 4096 stay readable, and editors line up


class SciSpinBox(QDoubleSpinBox):
    """A double spin box that shows 0.001 and 1e-05 alike (%g) and steps by a factor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        t = text.strip()
        if not t:
            return QValidator.State.Intermediate, text, pos
        try:
            float(t)
        except ValueError:
            if t.lower().endswith(("e", "e-", "e+", "-", ".")):
                return QValidator.State.Intermediate, text, pos
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos

    def stepBy(self, steps: int) -> None:
        v = self.value()
        if v > 0 and self.minimum() >= 0 and v < 1:
            self.setValue(v * (10 ** (0.5 * steps)) if steps else v)
        else:
            super().stepBy(steps)


class SchemaForm(QWidget):
    """A QFormLayout editor for a list of field descriptions."""

    changed = Signal()

    def __init__(self, fields: list[dict[str, Any]], parent: QWidget | None = None, *,
                 show_advanced: bool = True, overrides: dict[str, QWidget] | None = None) -> None:
        super().__init__(parent)
        self.fields = [f for f in fields if show_advanced or not f.get("advanced")]
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        overrides = overrides or {}
        for f in self.fields:
            w = overrides.get(f["name"]) or self._editor(f)
            if isinstance(w, (QSpinBox, QDoubleSpinBox, QComboBox)):
                w.setMinimumWidth(max(w.sizeHint().width(), EDITOR_MIN_WIDTH))
            elif isinstance(w, QLineEdit):
                w.setMaximumWidth(3 * EDITOR_MIN_WIDTH)  # lists like 256,128,64 fit; no page-wide boxes
            w.setObjectName(f"field_{f['name']}")
            tip = f.get("help") or ""
            rng = _range_text(f)
            w.setToolTip(f"{tip}\n{rng}".strip())
            self.editors[f["name"]] = w
            label = QLabel(f["label"] + (" (advanced)" if f.get("advanced") else ""))
            label.setToolTip(w.toolTip())
            self.labels[f["name"]] = label
            self.layout_.addRow(label, w)
            self._connect(w)
        self.error_label = QLabel("")
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.layout_.addRow(self.error_label)

    # --- building -------------------------------------------------------------------------------
    def _editor(self, f: dict[str, Any]) -> QWidget:
        tp, default = f["type"], f.get("default")
        lo, hi = f.get("min"), f.get("max")
        if f.get("choices"):
            w = QComboBox()
            for c in f["choices"]:
                w.addItem(str(c), c)
            if default is not None:
                w.setCurrentIndex(max(0, w.findData(default)))
            return w
        if f.get("optional") or tp not in ("int", "float", "bool"):
            w = QLineEdit()
            w.setPlaceholderText("none" if f.get("optional") else "")
            if default is not None:
                w.setText(",".join(map(str, default)) if isinstance(default, list) else str(default))
            return w
        if tp == "bool":
            w = QCheckBox()
            w.setChecked(bool(default))
            return w
        if tp == "int":
            w = QSpinBox()
            w.setRange(int(lo) if lo is not None else -INT_LIMIT, int(min(hi, INT_LIMIT)) if hi is not None
                       else INT_LIMIT)
            w.setValue(int(default or 0))
            w.setAccelerated(True)
            return w
        w = SciSpinBox()
        w.setRange(float(lo) if lo is not None else -1e12, float(hi) if hi is not None else 1e12)
        if default is not None:
            w.setValue(float(default))
            if default and abs(float(default)) >= 1:
                w.setSingleStep(max(abs(float(default)) / 10, 0.01))
            else:
                w.setSingleStep(0.01)
        return w

    def _connect(self, w: QWidget) -> None:
        for sig in ("valueChanged", "textChanged", "toggled", "currentIndexChanged", "currentTextChanged"):
            s = getattr(w, sig, None)
            if s is not None and hasattr(s, "connect"):
                s.connect(self._on_edit)
                return

    def _on_edit(self, *_: Any) -> None:
        self.error_label.hide()
        for w in self.editors.values():
            if w.property("invalid"):
                w.setProperty("invalid", False)
                _repolish(w)
        self.changed.emit()

    def label_width(self) -> int:
        return max((lab.sizeHint().width() for lab in self.labels.values()), default=0)

    def set_label_width(self, px: int) -> None:
        """Give the label column a fixed width so stacked forms put their editors in one column."""
        for lab in self.labels.values():
            lab.setMinimumWidth(px)

    # --- reading and writing --------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.fields:
            w = self.editors[f["name"]]
            if isinstance(w, QComboBox):
                data = w.currentData()
                out[f["name"]] = data if data is not None else (w.currentText() or None)
                if w.isEditable():
                    txt = w.currentText().strip()
                    out[f["name"]] = None if txt.lower() in ("", "none") else txt
            elif isinstance(w, QCheckBox):
                out[f["name"]] = w.isChecked()
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                out[f["name"]] = w.value()
            elif isinstance(w, QLineEdit):
                txt = w.text().strip()
                out[f["name"]] = None if txt.lower() in ("", "none") else txt
        return out

    def set_values(self, values: dict[str, Any]) -> list[str]:
        """Put values in the editors; out-of-range values are clamped and reported inline."""
        problems: list[str] = []
        by_name = {f["name"]: f for f in self.fields}
        for name, v in values.items():
            if name not in self.editors:
                continue
            f, w = by_name[name], self.editors[name]
            w.blockSignals(True)
            try:
                if isinstance(w, QComboBox):
                    i = w.findData(v)
                    if i < 0:
                        i = w.findText(str(v) if v is not None else "none")
                    if i >= 0:
                        w.setCurrentIndex(i)
                    elif w.isEditable():
                        w.setEditText("" if v is None else str(v))
                    else:
                        problems.append(f"{f['label']}: {v!r} is not one of the choices.")
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(v))
                elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                    num = float(v)
                    fractional = isinstance(w, QSpinBox) and not num.is_integer()
                    if num < w.minimum() or num > w.maximum() or fractional:
                        problems.append(f"{f['label']} must be between {_fmt(w.minimum())} and "
                                        f"{_fmt(w.maximum())}; got {v}.")
                        w.setProperty("invalid", True)
                        _repolish(w)
                    w.setValue(int(num) if isinstance(w, QSpinBox) else num)
                elif isinstance(w, QLineEdit):
                    w.setText("" if v is None else (",".join(map(str, v)) if isinstance(v, (list, tuple))
                                                    else str(v)))
            finally:
                w.blockSignals(False)
        if problems:
            self.show_error(" ".join(problems))
        return problems

    def reset(self) -> None:
        self.set_values({f["name"]: f.get("default") for f in self.fields})
        self.error_label.hide()

    def show_error(self, message: str, field: str | None = None) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        names = [field] if field else [n for n in self.editors if f"'{n}'" in message]
        for n in names:
            if n in self.editors:
                self.editors[n].setProperty("invalid", True)
                _repolish(self.editors[n])

    def validate(self, config_cls: type, owner: str) -> Any:
        """Build the config with the core's rules; on error show it inline and return None."""
        from recsys_gui.core import config as cfgmod
        from recsys_gui.core.errors import ConfigError

        try:
            cfg = cfgmod.from_mapping(config_cls, self.values(), owner)
        except (ConfigError, TypeError, ValueError) as exc:
            self.show_error(str(exc))
            return None
        self.error_label.hide()
        return cfg


def _fmt(v: float) -> str:
    return f"{v:g}" if not math.isinf(v) else str(v)


def _range_text(f: dict[str, Any]) -> str:
    lo, hi = f.get("min"), f.get("max")
    parts = []
    if lo is not None or hi is not None:
        parts.append(f"Range: {lo if lo is not None else '−∞'} … {hi if hi is not None else '∞'}")
    if f.get("default") is not None:
        parts.append(f"default {f['default']}")
    return "; ".join(parts)


def _repolish(w: QWidget) -> None:
    st = w.style()
    st.unpolish(w)
    st.polish(w)
