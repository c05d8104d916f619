"""Every registered model keeps the contract (``check_recommender``), with the fast kernels and with
their plain references; plus what the generic checks leave to each family's nature."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.models import available_models
from recsys_gui.core.models.kernels import reference_kernels
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.model_checks import check_recommender, synthetic_split
from recsys_gui.core.training.trainer import Trainer

MODELS = sorted(available_models())


@pytest.mark.parametrize("kernels", ["fast", "reference"])
@pytest.mark.parametrize("name", MODELS)
def test_every_model_passes_check_recommender(name, kernels):
    cls = available_models()[name]
    with reference_kernels() if kernels == "reference" else nullcontext():
        done = check_recommender(cls)
    expected = {"declares", "events", "checkpoint", "scores", "masking", "embeddings", "seeded", "context",
                "fold-in"}
    if cls.capabilities.iterative:
        expected.add("stop")
    if cls.capabilities.iterative and not cls.capabilities.manual_optimization:
        expected.add("kernels")
    assert set(done) == expected


def _epoch_losses(name: str, epochs: int, batch_size: int = 64, lr: float = 5e-3) -> list[dict[str, float]]:
    cls = available_models()[name]
    split = synthetic_split()
    torch.manual_seed(0)
    model = cls(cls.config_cls(**cls.test_config), split.n_users, split.n_items)
    seen: list[dict[str, float]] = []

    class Grab:
        def on_event(self, e):
            if isinstance(e, ev.EpochEnded):
                seen.append(e.losses)

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=0, device="cpu",
                      early_stop_metric=None)
    Trainer(cfg, callbacks=[Grab()]).fit(model, split, torch.device("cpu"))
    return seen


def _adversarial(name: str) -> bool:
    return available_models()[name].family == "GAN"


@pytest.mark.parametrize("name", [n for n in MODELS if available_models()[n].capabilities.iterative
                                  and not _adversarial(n)])
def test_training_lowers_the_loss(name):
    losses = [d["loss"] for d in _epoch_losses(name, epochs=6)]
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", [n for n in MODELS if _adversarial(n)])
def test_adversarial_models_report_finite_losses_of_both_players(name):
    """A GAN's losses need not fall monotonically; both players must report finite losses."""
    seen = _epoch_losses(name, epochs=3, batch_size=16, lr=1e-3)
    assert seen and all(len(d) >= 2 and all(v == v and abs(v) < 1e9 for v in d.values()) for d in seen)
