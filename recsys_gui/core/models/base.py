"""The model contract every family follows, and the registry the CLI and the GUI read.

A model is a config dataclass plus an ``nn.Module``. Training-loop variations are hooks on the
model (``forward`` for automatic mode, ``training_step`` for manual mode, ``fit_closed_form`` for
one-pass baselines), never trainer subclasses. Scores are never masked here: masking and top-k
live in one place, ``evaluation/ranking.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from recsys_gui.core import config as cfgmod
from recsys_gui.core.config import TrainConfig, setting
from recsys_gui.core.errors import ConfigError

if TYPE_CHECKING:
    from recsys_gui.core.data.interactions import InteractionData

BatchKind = Literal["pairs", "pointwise", "user_rows", "sequences", "none"]
Losses = dict[str, Tensor]


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Base of every model's settings; subclasses add fields made with ``setting``."""

    def validate(self) -> None:
        """Cross-field checks; single-field ranges come from the field metadata."""


@dataclass(frozen=True, kw_only=True)
class EmbeddingConfig(ModelConfig):
    embedding_dim: int = setting(64, "Embedding size", "Length of the user and item vectors.", min=2, max=1024)


@dataclass(frozen=True)
class Capabilities:
    batch_kind: BatchKind
    scoring_needs_history: bool = False  # VAE/GAN/KNN score from the user's known items
    manual_optimization: bool = False  # GAN: the model drives its own optimisers
    user_embeddings: bool = False
    item_embeddings: bool = False
    iterative: bool = True  # False: one closed-form pass (EASE, ItemKNN, Pop)
    uses_ratings: bool = False  # trains on rating values (explicit MSE models)


class StepContext:
    """What the trainer hands a manual-mode model for one step."""

    def __init__(self, *, epoch: int, global_step: int, device: torch.device,
                 optimizers: Sequence[torch.optim.Optimizer], backward: Callable[[Tensor], None],
                 step: Callable[[torch.optim.Optimizer], None]) -> None:
        self.epoch, self.global_step, self.device = epoch, global_step, device
        self.optimizers = optimizers
        self.backward = backward
        self.step = step


class Recommender(nn.Module):
    """Base class. Subclasses set the class attributes and implement ``score``."""

    name: ClassVar[str]
    label: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    config_cls: ClassVar[type[ModelConfig]] = ModelConfig
    capabilities: ClassVar[Capabilities]
    train_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, config: ModelConfig, n_users: int, n_items: int) -> None:
        super().__init__()
        self.config = config
        self.n_users, self.n_items = int(n_users), int(n_items)

    @property
    def device(self) -> torch.device:
        """Where the weights live (CPU for a model that holds no tensors)."""
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    # --- training hooks -------------------------------------------------------------------------
    def prepare(self, train: InteractionData) -> None:
        """Called once with the training data before the first epoch (statistics, closed forms)."""

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=train.lr, weight_decay=train.weight_decay)]

    def forward(self, batch: Any) -> Losses:  # automatic mode
        raise NotImplementedError

    def training_step(self, batch: Any, ctx: StepContext) -> Losses:  # manual mode
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """Schedules (KL annealing and the like)."""

    # --- inference ------------------------------------------------------------------------------
    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        """Scores [B, n_items] for the given users, higher is better, unmasked."""
        raise NotImplementedError

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        """Scores of given (user, item) pairs; the default scores whole rows and gathers."""
        rows = self.score(users, history)
        return rows.gather(1, items.view(-1, 1)).view(-1)

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor | None:
        return None

    def item_embeddings(self) -> Tensor | None:
        return None

    # --- persistence ----------------------------------------------------------------------------
    def to_checkpoint(self) -> dict[str, Any]:
        return {"model": self.name, "config": cfgmod.to_dict(self.config), "n_users": self.n_users,
                "n_items": self.n_items, "state_dict": self.state_dict()}

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, Any]) -> Recommender:
        model = build_model(str(ckpt["model"]), dict(ckpt["config"]), int(ckpt["n_users"]), int(ckpt["n_items"]))
        model.load_state_dict(ckpt["state_dict"])
        return model


def adam(params, **kw: Any) -> torch.optim.Optimizer:
    """Adam with the fused kernel where this torch has one (one kernel instead of a dozen per step)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, **kw)


# --- registry -----------------------------------------------------------------------------------
_REGISTRY: dict[str, type[Recommender]] = {}
_ALIASES: dict[str, str] = {}


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: add a model under its ``name`` and ``aliases``."""
    _REGISTRY[cls.name] = cls
    for alias in cls.aliases:
        _ALIASES[alias] = cls.name
    return cls


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"Unknown model '{name}'. Available models: {known}.")
    return key


def get_model_class(name: str) -> type[Recommender]:
    return _REGISTRY[canonical_name(name)]


def available_models() -> dict[str, type[Recommender]]:
    return dict(_REGISTRY)


def make_config(name: str, values: Mapping[str, Any] | None = None) -> ModelConfig:
    cls = get_model_class(name)
    return cfgmod.from_mapping(cls.config_cls, dict(values or {}), cls.label)


def build_model(name: str, values: Mapping[str, Any] | ModelConfig | None, n_users: int,
                n_items: int) -> Recommender:
    cls = get_model_class(name)
    config = values if isinstance(values, ModelConfig) else make_config(name, values)
    return cls(config, n_users, n_items)


def describe_model(cls: type[Recommender]) -> dict[str, Any]:
    """Everything `recsys-gui models --json` and the GUI's model page show about a model."""
    caps = dataclasses.asdict(cls.capabilities)
    return {"name": cls.name, "label": cls.label, "family": cls.family, "description": cls.description,
            "aliases": list(cls.aliases), "capabilities": caps,
            "hyperparameters": cfgmod.describe_fields(cls.config_cls),
            "train_defaults": dict(cls.train_defaults)}
