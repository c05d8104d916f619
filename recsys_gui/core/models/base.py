"""The model contract every family follows, and the registry the CLI and the GUI read.

A model is a config dataclass plus an ``nn.Module`` subclass of :class:`Recommender`; everything
the trainer, the evaluator and the front ends need from it is declared here, on the base class:
what it is (names, family, :class:`Capabilities`), how it is batched (:meth:`Recommender.batch_options`),
the training hooks (``forward`` for automatic mode, ``training_step`` for manual mode, ``prepare``
for statistics and closed forms, ``pretraining`` for models trained first), the scoring context
(``set_context``), scoring and persistence. Training-loop variations are hooks, never trainer
subclasses. Scores are never masked here: masking and top-k live in ``evaluation/ranking.py``.

Adding a model is its own file plus one line in ``catalogue.py``; ``check_recommender``
(``training/model_checks.py``) tells whether a model keeps this contract.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    embedding_dim: int = setting(64, "Embedding size", "Length of the user and item vectors.",
                                 min=2, max=1024)


@dataclass(frozen=True)
class Capabilities:
    """What a model is, as the trainer, the evaluator and the front ends read it.

    A class declares its default; an instance whose settings change it (MF with ``loss="mse"``)
    replaces its own copy in ``__init__``.
    """

    batch_kind: BatchKind
    scoring_needs_history: bool = False  # VAE/GAN/KNN score from the user's known items
    manual_optimization: bool = False  # GAN: the model drives its own optimisers
    user_embeddings: bool = False
    item_embeddings: bool = False
    iterative: bool = True  # False: one closed-form pass in ``prepare`` (EASE, ItemKNN, Pop)
    uses_ratings: bool = False  # trains on rating values (explicit MSE models): observed pairs, values


@dataclass(frozen=True)
class BatchOptions:
    """How the trainer's batcher cuts this model's batches, beyond the batch kind."""

    negatives: int = 1  # sampled negatives per positive ("pairs", "pointwise")
    max_len: int = 50  # most recent items per sequence ("sequences")
    # The smallest batch the model's step is efficient at: the trainer takes the larger of this and
    # ``batch_size``. Row-wise MF sets it, since each of its steps has a fixed cost in thread wake-ups.
    min_batch_size: int = 1


@dataclass(frozen=True)
class Pretraining:
    """A model this one starts from: the trainer trains it first with the same loop (events, stop
    token) and hands the trained models to ``Recommender.start_from``. ``train`` holds the stage's
    TrainConfig values (the run's own for the rest)."""

    label: str
    model: Recommender
    train: Mapping[str, Any]


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
    """Base class. Subclasses set the class attributes and implement ``score`` and a training hook."""

    name: ClassVar[str]
    label: ClassVar[str]
    family: ClassVar[str]
    description: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    config_cls: ClassVar[type[ModelConfig]] = ModelConfig
    capabilities: Capabilities  # the class's default; see Capabilities
    train_defaults: ClassVar[Mapping[str, Any]] = {}
    # Small settings that build and train in a blink, for ``check_recommender`` and the tests.
    test_config: ClassVar[Mapping[str, Any]] = {}
    # Settings older versions had: dropped when an old checkpoint or spec is read.
    retired_settings: ClassVar[tuple[str, ...]] = ()
    # Whether the trainer's learning rate and batch size change what the model learns (a search
    # leaves them out of its default space otherwise: iALS solves in closed form, epoch by epoch).
    tunes_trainer: ClassVar[bool] = True

    def __init__(self, config: ModelConfig, n_users: int, n_items: int) -> None:
        super().__init__()
        self.config = config
        self.n_users, self.n_items = int(n_users), int(n_items)

    @property
    def device(self) -> torch.device:
        """Where the weights live (CPU for a model that holds no tensors)."""
        first = next(itertools.chain(self.parameters(), self.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    @property
    def uses_ratings(self) -> bool:
        """``capabilities.uses_ratings``; kept while ``evaluation/evaluator.py`` still asks the model."""
        return self.capabilities.uses_ratings

    # --- training hooks -------------------------------------------------------------------------
    def prepare(self, train: InteractionData) -> None:
        """Called once with the training data before the first epoch (statistics, closed forms)."""

    def batch_options(self) -> BatchOptions:
        return BatchOptions()

    def pretraining(self) -> Sequence[Pretraining]:
        """Models to train first (a fresh run only: a resumed one has its weights)."""
        return ()

    def start_from(self, pretrained: Sequence[Recommender]) -> None:
        """Take the weights of the trained ``pretraining()`` models, in the order they were given."""

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        return [adam(self.parameters(), lr=train.lr, weight_decay=train.weight_decay)]

    def forward(self, batch: Any) -> Losses:  # automatic mode
        raise NotImplementedError

    def training_step(self, batch: Any, ctx: StepContext) -> Losses:  # manual mode
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """Schedules (KL annealing and the like)."""

    # --- inference ------------------------------------------------------------------------------
    def set_context(self, known: InteractionData) -> None:
        """What is known about the users at this point (train before validation, train + valid
        before testing). Models that score from an ordered history keep it; others need nothing."""

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        """Scores [B, n_items] for the given users, higher is better, unmasked."""
        raise NotImplementedError

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        """Scores [B, n_items] for B users the model did not train on, from their interactions alone
        (fold-in; CONTRACTS.md, interface 1). ``history`` [B, n_items]: the rating (1.0 for implicit
        data) where the user interacted, 0 elsewhere; ``order`` [B, L]: item indices oldest first,
        right-padded with -1 (sequence models; None: the nonzero columns of ``history``).

        The default serves models that score from a history row or need no user at all (Pop, ItemKNN,
        EASE, Mult-VAE, CFGAN); a model with one trained vector per user overrides it. Evaluation
        mode, no gradients, parameters untouched.
        """
        if self.keeps_user_vectors():
            raise NotImplementedError(f"{self.label} keeps one vector per trained user and must "
                                      "implement score_new_users")
        users = torch.zeros(history.shape[0], dtype=torch.long, device=history.device)
        with inference(self):
            return self.score(users, history)

    @classmethod
    def keeps_user_vectors(cls) -> bool:
        """Whether scoring a user needs a vector trained for that user (MF, NeuMF, MLP, ConvNCF): such a
        model scores users it never trained on only through ``score_new_users``."""
        caps = cls.capabilities
        return caps.user_embeddings and not caps.scoring_needs_history and caps.batch_kind != "sequences"

    @classmethod
    def folds_in(cls) -> bool:
        """Whether ``score_new_users`` works: every model of the catalogue; a plug-in model with trained
        user vectors that does not implement it cannot be evaluated on held-out users."""
        return not cls.keeps_user_vectors() or cls.score_new_users is not Recommender.score_new_users

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
        """The model a checkpoint holds: ``Recommender.from_checkpoint`` finds its class by name in
        the registry; ``SomeModel.from_checkpoint`` builds that class (registered or not)."""
        name, values = str(ckpt["model"]), dict(ckpt["config"])
        if cls is Recommender:
            cls = get_model_class(name)
        elif name != cls.name:
            raise ConfigError(f"This checkpoint holds a '{name}' model, not {cls.label}.")
        values = {k: v for k, v in values.items() if k not in cls.retired_settings}
        config = cfgmod.from_mapping(cls.config_cls, values, cls.label)
        model = cls(config, int(ckpt["n_users"]), int(ckpt["n_items"]))
        model.load_state_dict(ckpt["state_dict"])
        return model


@contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """Evaluation mode (no dropout) and no gradients inside; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


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
_catalogue_lock = threading.Lock()
_catalogue_loaded = False


def register_model(cls: type[Recommender]) -> type[Recommender]:
    """Offer ``cls`` under its ``name`` and ``aliases`` (the app's own models: ``catalogue.py``)."""
    _load_catalogue()
    for key in (cls.name, *cls.aliases):
        owner = _REGISTRY.get(_ALIASES.get(key, key))
        if owner is not None and owner is not cls:
            raise ConfigError(f"The model name '{key}' is taken by {owner.label}; choose another.")
    _add(cls)
    return cls


def unregister_model(name: str) -> None:
    """Stop offering a model added with ``register_model`` (a plug-in being unloaded, a test)."""
    cls = _REGISTRY.pop(canonical_name(name))
    for alias in cls.aliases:
        _ALIASES.pop(alias, None)


def _add(cls: type[Recommender]) -> None:
    _REGISTRY[cls.name] = cls
    for alias in cls.aliases:
        _ALIASES[alias] = cls.name


def _load_catalogue() -> None:
    """The app's models, listed once on first use (a late import: the list imports every model)."""
    global _catalogue_loaded
    if _catalogue_loaded:
        return
    with _catalogue_lock:  # GUI workers may ask at once; none may see a half-filled registry
        if _catalogue_loaded:
            return
        from recsys_gui.core.models.catalogue import MODELS

        for cls in MODELS:
            _add(cls)
        _catalogue_loaded = True


def canonical_name(name: str) -> str:
    _load_catalogue()
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"Unknown model '{name}'. Available models: {known}.")
    return key


def get_model_class(name: str) -> type[Recommender]:
    return _REGISTRY[canonical_name(name)]


def available_models() -> dict[str, type[Recommender]]:
    _load_catalogue()
    return dict(_REGISTRY)


def make_config(name: str, values: Mapping[str, Any] | None = None) -> ModelConfig:
    cls = get_model_class(name)
    values = {k: v for k, v in dict(values or {}).items() if k not in cls.retired_settings}
    return cfgmod.from_mapping(cls.config_cls, values, cls.label)


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
