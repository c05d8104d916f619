"""Adding a model: one file and one line, and ``check_recommender`` says whether it keeps the contract.

The files a new model touches:

* its own module, e.g. ``recsys_gui/core/models/tiny_dot.py``: a config dataclass (fields made
  with ``setting``) and a ``Recommender`` subclass with its class attributes (``name``, ``label``,
  ``family``, ``description``, ``config_cls``, ``capabilities``, ``test_config``), a training hook
  (``forward``) and ``score``;
* one line in ``recsys_gui/core/models/catalogue.py`` (``MODELS``), or ``register_model(cls)`` for a
  model that lives outside the app, as here.

Nothing else: the CLI (``train --model``, ``models``), the GUI's model page and its form, the run
store, checkpoints, evaluation and export read the model from the registry, and the contract tests
run ``check_recommender`` on every registered model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.batching import PairBatch
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import (
    BatchOptions,
    Capabilities,
    ModelConfig,
    Recommender,
    available_models,
    build_model,
    register_model,
    unregister_model,
)
from recsys_gui.core.training.model_checks import ContractViolation, check_recommender, synthetic_split


@dataclass(frozen=True, kw_only=True)
class TinyDotConfig(ModelConfig):
    embedding_dim: int = setting(16, "Embedding size", "Length of the user and item vectors.", min=2, max=512)


class TinyDot(Recommender):
    """Dot product of user and item vectors, trained with BPR on one sampled negative."""

    name = "tinydot"
    label = "Tiny dot product"
    family = "MF"
    description = "A dot product of learned vectors, written in a test."
    config_cls = TinyDotConfig
    capabilities = Capabilities(batch_kind="pairs", user_embeddings=True, item_embeddings=True)
    test_config = {"embedding_dim": 4}  # noqa: RUF012

    def __init__(self, config: TinyDotConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        self.users = nn.Embedding(n_users, config.embedding_dim)
        self.items = nn.Embedding(n_items, config.embedding_dim)
        nn.init.normal_(self.users.weight, std=0.1)
        nn.init.normal_(self.items.weight, std=0.1)

    def batch_options(self) -> BatchOptions:
        return BatchOptions(negatives=1)

    def forward(self, batch: PairBatch) -> dict[str, Tensor]:
        u = self.users(batch.users)
        diff = (u * (self.items(batch.pos) - self.items(batch.neg))).sum(-1)
        return {"loss": -F.logsigmoid(diff).mean()}

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.users(users) @ self.items.weight.T

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.users(users)

    def item_embeddings(self) -> Tensor:
        return self.items.weight


@pytest.fixture
def registered():
    yield register_model(TinyDot)  # the one line
    unregister_model(TinyDot.name)


def test_a_new_model_is_one_class_and_one_line_and_keeps_the_contract(registered):
    assert available_models()["tinydot"] is TinyDot
    assert isinstance(build_model("tinydot", {"embedding_dim": 3}, 5, 7), TinyDot)
    assert "stop" in check_recommender(TinyDot) and "kernels" in check_recommender(TinyDot)


def test_a_registered_name_cannot_be_taken_twice(registered):
    class Impostor(TinyDot):
        pass

    with pytest.raises(ConfigError, match="taken"):
        register_model(Impostor)
    assert available_models()["tinydot"] is TinyDot


def test_the_registry_is_back_to_the_catalogue_after_unregistering():
    assert "tinydot" not in available_models()


# --- check_recommender says no to models that break the contract ---------------------------------
class Noisy(TinyDot):
    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        jitter = torch.Generator().manual_seed(time.perf_counter_ns())
        return super().score(users, history) + torch.rand(users.numel(), self.n_items, generator=jitter)


class ForgetsOnSave(TinyDot):
    """Keeps what it learned in a plain attribute, which no checkpoint holds."""

    def prepare(self, train) -> None:
        self.offset = torch.as_tensor(train.to_csr().sum(axis=0).A1, dtype=torch.float32)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return super().score(users, history) + getattr(self, "offset", torch.zeros(self.n_items))


class MasksItsOwnScores(TinyDot):
    capabilities = Capabilities(batch_kind="pairs", scoring_needs_history=True, user_embeddings=True,
                                item_embeddings=True)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return super().score(users, history).masked_fill(history > 0, -torch.inf)


class ClaimsItemVectors(TinyDot):
    def item_embeddings(self) -> None:
        return None


class NoTrainingHook(TinyDot):
    forward = Recommender.forward


@pytest.mark.parametrize("cls,check", [(Noisy, "checkpoint"), (ForgetsOnSave, "checkpoint"),
                                       (MasksItsOwnScores, "scores"), (ClaimsItemVectors, "embeddings"),
                                       (NoTrainingHook, "declares")])
def test_check_recommender_refuses_a_broken_model(cls, check):
    with pytest.raises(ContractViolation, match=f"check '{check}'"):
        check_recommender(cls)


def test_the_synthetic_split_has_every_user_in_every_part():
    split = synthetic_split()
    for part in (split.train, split.valid, split.test):
        assert set(part.users) == set(range(split.n_users))
