"""Model page: pick a model (grouped by family) and set its and the trainer's settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recsys_gui.core.evaluation.metrics import DEFAULT_METRICS
from recsys_gui.gui.forms import SchemaForm
from recsys_gui.gui.widgets import Message, title

FAMILY_ORDER = ("MF", "NMF", "MLP", "CNN", "VAE", "GAN", "Baseline")
EARLY_STOP = (*DEFAULT_METRICS, "ndcg@20", "recall@20")


class ModelPanel(QWidget):
    model_changed = Signal(str)

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from recsys_gui.core.config import TrainConfig, describe_fields
        from recsys_gui.core.models import available_models, describe_model
        from recsys_gui.core.utils.devices import available_devices

        self.state = state
        self.models = {name: describe_model(cls) for name, cls in available_models().items()}
        self.train_fields = describe_fields(TrainConfig)
        self._train_cls = TrainConfig
        self.model_form: SchemaForm | None = None

        root = QVBoxLayout(self)
        root.addWidget(title("Model", "Choose a model and its settings. Hover a setting for what it does; "
                             "ranges come from the model itself."))
        split = QSplitter(Qt.Orientation.Horizontal)
        root.addWidget(split, 1)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Model", "What it does"])
        self.tree.setColumnWidth(0, 220)
        self.tree.setRootIsDecorated(True)
        families: dict[str, QTreeWidgetItem] = {}
        order = {f: i for i, f in enumerate(FAMILY_ORDER)}
        for name, d in sorted(self.models.items(), key=lambda kv: (order.get(kv[1]["family"], 50), kv[0])):
            fam = d["family"]
            if fam not in families:
                families[fam] = QTreeWidgetItem(self.tree, [fam, ""])
                families[fam].setFlags(Qt.ItemFlag.ItemIsEnabled)
                f = families[fam].font(0)
                f.setBold(True)
                families[fam].setFont(0, f)
            it = QTreeWidgetItem(families[fam], [d["label"], d["description"]])
            it.setData(0, Qt.ItemDataRole.UserRole, name)
            it.setToolTip(1, d["description"])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)  # full model names; descriptions have tooltips
        self.tree.currentItemChanged.connect(self._tree_changed)
        split.addWidget(self.tree)

        right = QWidget()
        rl = QVBoxLayout(right)
        self.model_title = QLabel("")
        self.model_title.setProperty("role", "title")
        self.model_desc = QLabel("")
        self.model_desc.setWordWrap(True)
        self.model_desc.setProperty("role", "hint")
        rl.addWidget(self.model_title)
        rl.addWidget(self.model_desc)
        self.model_box = QGroupBox("Model settings")
        self.model_box_layout = QVBoxLayout(self.model_box)
        rl.addWidget(self.model_box)

        tb = QGroupBox("Trainer")
        tl = QVBoxLayout(tb)
        self.device_combo = QComboBox()
        for dev in available_devices():
            self.device_combo.addItem(dev, dev)
        self.early_combo = QComboBox()
        self.early_combo.setEditable(True)
        self.early_combo.addItem("none", None)
        for m in EARLY_STOP:
            self.early_combo.addItem(m, m)
        self.train_form = SchemaForm(self.train_fields, overrides={"device": self.device_combo,
                                                                   "early_stop_metric": self.early_combo})
        self.train_form.set_values({"early_stop_metric": "ndcg@10"})
        tl.addWidget(self.train_form)
        rl.addWidget(tb)
        nb = QHBoxLayout()
        nb.addWidget(QLabel("Run name:"))
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("optional (default: the run id)")
        nb.addWidget(self.run_name, 1)
        rl.addLayout(nb)
        btns = QHBoxLayout()
        self.reset_btn = QPushButton("Reset to defaults")
        self.reset_btn.clicked.connect(self.reset)
        self.check_btn = QPushButton("Check settings")
        self.check_btn.clicked.connect(self.check)
        btns.addWidget(self.reset_btn)
        btns.addWidget(self.check_btn)
        btns.addStretch(1)
        rl.addLayout(btns)
        self.message = Message()
        rl.addWidget(self.message)
        rl.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(right)
        split.addWidget(scroll)
        split.setSizes([520, 700])
        self.select_model("mf" if "mf" in self.models else next(iter(self.models)))

    # --- selection -------------------------------------------------------------------------------
    def _tree_changed(self, item: QTreeWidgetItem | None, _prev: Any = None) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if name:
            self._show_model(name)

    def select_model(self, name: str) -> None:
        from recsys_gui.core.models import canonical_name

        name = canonical_name(name)
        for i in range(self.tree.topLevelItemCount()):
            fam = self.tree.topLevelItem(i)
            for j in range(fam.childCount()):
                it = fam.child(j)
                if it.data(0, Qt.ItemDataRole.UserRole) == name:
                    self.tree.setCurrentItem(it)
                    self._show_model(name)
                    return

    def _show_model(self, name: str) -> None:
        if getattr(self, "current_model", None) == name and self.model_form is not None:
            return
        self.current_model = name
        d = self.models[name]
        self.model_title.setText(f"{d['label']}  ·  {d['family']}")
        self.model_desc.setText(d["description"])
        if self.model_form is not None:
            self.model_form.setParent(None)
            self.model_form.deleteLater()
        self.model_form = SchemaForm(d["hyperparameters"])
        if not d["hyperparameters"]:
            self.model_form.layout_.insertRow(0, QLabel("This model has no settings."))
        self.model_box_layout.addWidget(self.model_form)
        width = max(self.model_form.label_width(), self.train_form.label_width())
        self.model_form.set_label_width(width)
        self.train_form.set_label_width(width)
        # model-specific trainer defaults (e.g. a larger learning rate for MF)
        defaults = {f["name"]: f["default"] for f in self.train_fields if f["name"] not in ("device",)}
        defaults.update(d.get("train_defaults") or {})
        keep = {k: v for k, v in self.train_form.values().items() if k in ("device", "seed")}
        self.train_form.set_values({**defaults, **keep})
        self.message.clear_message()
        self.model_changed.emit(name)

    def reset(self) -> None:
        if self.model_form is not None:
            self.model_form.reset()
        d = self.models[self.current_model]
        defaults = {f["name"]: f["default"] for f in self.train_fields}
        defaults.update(d.get("train_defaults") or {})
        self.train_form.set_values(defaults)
        self.message.clear_message()

    # --- values ----------------------------------------------------------------------------------
    def model_values(self) -> dict[str, Any]:
        return self.model_form.values() if self.model_form is not None else {}

    def train_values(self) -> dict[str, Any]:
        return {k: v for k, v in self.train_form.values().items() if v is not None or k in
                ("early_stop_metric",)}

    def set_config(self, model: str, model_config: dict[str, Any], train: dict[str, Any]) -> list[str]:
        self.select_model(model)
        problems = self.model_form.set_values(model_config) if self.model_form else []
        problems += self.train_form.set_values(train)
        return problems

    def check(self) -> bool:
        """Validate both forms with the core's rules; show the first problem inline."""
        from recsys_gui.core.models import get_model_class

        cls = get_model_class(self.current_model)
        ok_model = self.model_form is None or self.model_form.validate(cls.config_cls,
                                                                       self.models[self.current_model]["label"])
        ok_train = self.train_form.validate(self._train_cls, "the trainer")
        if ok_model is not None and ok_train is not None:
            self.message.ok("Settings are valid.")
            return True
        self.message.error("Some settings are out of range; see the message under the form.")
        return False

    def build_spec(self, data_spec: Any, split_text: str) -> Any:
        """A RunSpec from the forms, or None (with the problem shown) when a setting is invalid."""
        from recsys_gui.core.session import RunSpec

        if not self.check():
            return None
        self.message.clear_message()
        return RunSpec(data=data_spec, model=self.current_model, split=split_text,
                       model_config=self.model_values(), train=self.train_values(),
                       name=self.run_name.text().strip() or None)
