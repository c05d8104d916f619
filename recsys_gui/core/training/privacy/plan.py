"""A private run's plan: what is refused, the noise the budget needs, and the ε actually spent."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import Split
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.training.privacy import accounting
from recsys_gui.core.training.privacy.dp_sgd import PrivateStep
from recsys_gui.core.training.privacy.objectives import objective_for
from recsys_gui.core.training.privacy.sampling import UserSampler


def check_private_settings(cfg: TrainConfig, *, distributed: bool, resume: bool) -> None:
    """Trainer settings that private training cannot honour or account for, refused by name."""
    if distributed:
        raise ConfigError("Private training ('dp_epsilon') runs in one process; start it without torchrun.")
    if resume:
        raise ConfigError("A private run ('dp_epsilon') cannot be resumed: its privacy accounting "
                          "covers one uninterrupted run. Start a new run.")
    if cfg.amp:
        raise ConfigError("Private training ('dp_epsilon') cannot be combined with 'amp': clipping and "
                          "noise are calibrated in full precision.")
    if cfg.grad_clip:
        raise ConfigError("Private training ('dp_epsilon') clips per user with 'dp_clip_norm'; leave "
                          "'grad_clip' unset.")


@dataclass
class PrivateTraining:
    """Everything the trainer needs for a private run: the user sampler (its batcher) and the step."""

    sampler: UserSampler
    step: PrivateStep
    delta: float
    sample_rate: float
    noise_multiplier: float
    planned_steps: int

    @classmethod
    def plan(cls, model: Recommender, split: Split, cfg: TrainConfig, device: torch.device, *,
             distributed: bool = False, resume: bool = False) -> PrivateTraining:
        check_private_settings(cfg, distributed=distributed, resume=resume)
        objective = objective_for(model)
        assert cfg.dp_epsilon is not None
        n_users = model.n_users
        delta = cfg.dp_delta if cfg.dp_delta is not None else 1.0 / max(n_users, 1)
        if not 0.0 < delta < 1.0:
            raise ConfigError(f"The 'dp_delta' setting must be between 0 and 1, got {delta:g}.")
        sampler = UserSampler(split.train, n_users, model.n_items, sample_rate=cfg.dp_sample_rate,
                              device=device, seed=cfg.seed)
        steps = cfg.epochs * sampler.steps_per_epoch
        sigma = accounting.noise_multiplier(cfg.dp_epsilon, delta, cfg.dp_sample_rate, steps)
        step = PrivateStep(model, objective, sampler, clip_norm=cfg.dp_clip_norm, noise_multiplier=sigma,
                           examples_per_user=cfg.dp_examples_per_user, n_users=n_users, seed=cfg.seed)
        return cls(sampler, step, delta, cfg.dp_sample_rate, sigma, steps)

    def epsilon_spent(self, steps: int) -> float:
        return accounting.epsilon_spent(self.noise_multiplier, self.sample_rate, steps, self.delta)

    def summary(self, steps: int) -> dict[str, float | int]:
        """What a run records about its privacy: the ε spent for ``steps`` steps and how it was spent."""
        return {"epsilon_spent": round(self.epsilon_spent(steps), 6), "delta": self.delta,
                "noise_multiplier": round(self.noise_multiplier, 6), "sample_rate": self.sample_rate,
                "clip_norm": self.step.clip_norm, "steps": steps}

    def describe(self) -> str:
        return (f"Private training: σ = {self.noise_multiplier:.3f} for {self.planned_steps} steps at "
                f"q = {self.sample_rate:g} (about {self.step.expected_users:.0f} users a step), "
                f"clipping norm {self.step.clip_norm:g}, δ = {self.delta:.3g}.")
