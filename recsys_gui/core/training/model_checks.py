"""``check_recommender(cls)``: whether a model class keeps the contract of ``base.Recommender``.

The contract tests run it for every model of the catalogue, under both kernel paths; a model a user
writes should pass it too before it is registered (scikit-learn's ``check_estimator`` idea). Each
check trains the model through the real :class:`Trainer` on a tiny synthetic split, with the
model's own ``test_config``, and a failure is one :class:`ContractViolation` that names the model
and the check. It lives with the trainer, whose loop it drives (models sit below training).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from recsys_gui.core import config as cfgmod
from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.models import kernels
from recsys_gui.core.models.base import Capabilities, ModelConfig, Recommender
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.control import StopToken
from recsys_gui.core.training.distributed import DistContext
from recsys_gui.core.training.trainer import FitResult, Trainer, make_batcher, read_checkpoint
from recsys_gui.core.utils.seeding import seed_everything

CPU = torch.device("cpu")
EPOCHS = 2


class ContractViolation(AssertionError):
    """A model broke the contract: the message names the model, the check and what was seen."""


def synthetic_split(n_users: int = 60, n_items: int = 40, per_user: int = 12, seed: int = 0) -> Split:
    """Two taste clusters, ratings 1-5 and timestamps; per user 10 train rows, 1 valid, 1 test."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(np.arange(u % 2, n_items, 2), per_user, replace=False)
                            for u in range(n_users)])
    rank = np.tile(np.arange(per_user), n_users)
    data = InteractionData(users, items, rng.integers(1, 6, users.size).astype(np.float32),
                           users * 1000 + rank, pd.Index([f"u{u}" for u in range(n_users)]),
                           pd.Index([f"i{i}" for i in range(n_items)]))
    last = per_user - 1
    return Split(data.subset(rank < last - 1), data.subset(rank == last - 1), data.subset(rank == last),
                 protocol="synthetic")


def check_recommender(cls: type[Recommender]) -> list[str]:
    """Run every check on ``cls``; the names of the checks, all passed, or a ContractViolation."""
    split = synthetic_split()
    done: list[str] = []

    def check(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except ContractViolation:
            raise
        except Exception as exc:  # a crash inside a check is a broken contract too
            raise ContractViolation(f"{getattr(cls, 'name', cls.__name__)}: check '{name}' raised "
                                    f"{type(exc).__name__}: {exc}") from exc
        done.append(name)

    check("declares", lambda: _declares(cls))
    with tempfile.TemporaryDirectory(prefix="recsys-check-") as tmp:
        model, fit, events = _train(cls, split, checkpoint_dir=Path(tmp))
        caps = model.capabilities
        check("events", lambda: _events(cls, caps, fit, events))
        check("checkpoint", lambda: _checkpoint(cls, model, split, Path(tmp) / "best.pt"))
    check("scores", lambda: _scores(model, split))
    check("masking", lambda: _masking(model, split))
    check("embeddings", lambda: _embeddings(model, split))
    check("seeded", lambda: _seeded(cls, model, split))
    check("context", lambda: _context(model, split))
    if cls.folds_in():  # a plug-in with user vectors and no fold-in stays off held-out-users splits
        check("fold-in", lambda: _fold_in(model, split))
    if caps.iterative:
        check("stop", lambda: _stop(cls, split))
    if caps.iterative and not caps.manual_optimization:
        check("kernels", lambda: _kernels(cls, split))
    return done


# --- helpers --------------------------------------------------------------------------------------
def _fail(cls: type[Recommender], check: str, what: str) -> ContractViolation:
    return ContractViolation(f"{getattr(cls, 'name', cls.__name__)}: check '{check}' failed: {what}")


def _build(cls: type[Recommender], split: Split, seed: int = 0) -> Recommender:
    seed_everything(seed)
    config = cfgmod.from_mapping(cls.config_cls, dict(cls.test_config), cls.label)
    return cls(config, split.n_users, split.n_items)


Trained = tuple[Recommender, FitResult, list[ev.TrainingEvent]]


def _train(cls: type[Recommender], split: Split, *, checkpoint_dir: Path | None = None, seed: int = 0,
           stop_at: type[ev.TrainingEvent] | None = None) -> Trained:
    from recsys_gui.core.evaluation.evaluator import Evaluator

    model = _build(cls, split, seed)
    events: list[ev.TrainingEvent] = []
    token = StopToken()

    class Record:
        def on_event(self, event: ev.TrainingEvent) -> None:
            events.append(event)
            if stop_at is not None and isinstance(event, stop_at):
                token.request_stop()

    cfg = TrainConfig(epochs=EPOCHS, batch_size=32, lr=5e-3, seed=seed, device="cpu", log_every_n_steps=1,
                      eval_every_n_epochs=1, early_stop_metric="ndcg@5")
    trainer = Trainer(cfg, callbacks=[Record()], stop=token, evaluator=Evaluator(["ndcg@5"], seed=seed),
                      checkpoint_dir=checkpoint_dir)
    fit = trainer.fit(model, split, CPU)
    model.eval()
    return model, fit, events


def _history(split: Split, users: Tensor) -> Tensor:
    """Dense binary training rows of ``users`` (what the evaluator hands history-based models)."""
    rows = torch.zeros(split.n_users, split.n_items)
    rows[torch.as_tensor(split.train.users), torch.as_tensor(split.train.items)] = 1.0
    return rows[users]


def _score(model: Recommender, split: Split, users: Tensor) -> Tensor:
    history = _history(split, users) if model.capabilities.scoring_needs_history else None
    with torch.no_grad():
        return model.score(users, history)


def _close(a: Tensor, b: Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol))


# --- the checks -----------------------------------------------------------------------------------
def _declares(cls: type[Recommender]) -> None:
    for attr in ("name", "label", "family", "description"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise _fail(cls, "declares", f"class attribute '{attr}' must be a non-empty string")
    if cls.name != cls.name.strip().lower():
        raise _fail(cls, "declares", f"name '{cls.name}' must be lower case without spaces around it")
    if not (isinstance(cls.config_cls, type) and issubclass(cls.config_cls, ModelConfig)):
        raise _fail(cls, "declares", "config_cls must be a ModelConfig dataclass")
    if not isinstance(getattr(cls, "capabilities", None), Capabilities):
        raise _fail(cls, "declares", "capabilities must be a Capabilities")
    caps = cls.capabilities
    if caps.iterative == (caps.batch_kind == "none"):
        raise _fail(cls, "declares", "an iterative model needs a batch kind; a closed-form one has 'none'")
    hook = "training_step" if caps.manual_optimization else "forward"
    if caps.iterative and getattr(cls, hook) is getattr(Recommender, hook):
        raise _fail(cls, "declares", f"an iterative model in this mode implements '{hook}'")
    if cls.score is Recommender.score:
        raise _fail(cls, "declares", "'score' is not implemented")
    cfgmod.to_dict(cfgmod.from_mapping(cls.config_cls, {}, cls.label))  # the defaults build
    json.dumps(cfgmod.describe_fields(cls.config_cls))
    json.dumps(dict(cls.train_defaults))
    cfgmod.from_mapping(TrainConfig, dict(cls.train_defaults), "the trainer")


def _events(cls: type[Recommender], caps: Capabilities, fit: FitResult,
            events: list[ev.TrainingEvent]) -> None:
    if fit.status != "completed":
        raise _fail(cls, "events", f"training ended '{fit.status}', expected 'completed'")
    if not events or not isinstance(events[0], ev.RunStarted):
        raise _fail(cls, "events", "the first event must be RunStarted")
    for e in events:
        if ev.TrainingEvent.from_dict(json.loads(json.dumps(e.to_dict()))) != e:
            raise _fail(cls, "events", f"{type(e).__name__} does not survive a JSON round trip")
    kinds = [type(e) for e in events]
    if not any(k is ev.ValidationEnded for k in kinds) or not any(k is ev.CheckpointSaved for k in kinds):
        raise _fail(cls, "events", "validation and a best checkpoint must be reported")
    if not caps.iterative:
        return
    for kind in (ev.EpochStarted, ev.EpochEnded):
        if kinds.count(kind) != EPOCHS:
            raise _fail(cls, "events", f"{kinds.count(kind)} {kind.__name__} events for {EPOCHS} epochs")
    for e in events:
        losses = getattr(e, "losses", None)
        if losses is not None and (not losses or not all(math.isfinite(v) for v in losses.values())):
            raise _fail(cls, "events", f"{type(e).__name__} reports losses {losses}")
    if not any(isinstance(e, ev.StepLogged) for e in events):
        raise _fail(cls, "events", "no StepLogged event")


def _scores(model: Recommender, split: Split) -> None:
    cls = type(model)
    users = torch.arange(split.n_users)
    whole = _score(model, split, users)
    if whole.shape != (split.n_users, split.n_items) or not whole.is_floating_point():
        raise _fail(cls, "scores", f"score() gave {tuple(whole.shape)} {whole.dtype}, expected "
                                   f"{(split.n_users, split.n_items)} floats")
    if not torch.isfinite(whole).all():
        raise _fail(cls, "scores", "scores must be finite (masking is the evaluator's, not the model's)")
    parts = torch.cat([_score(model, split, users[s:s + 7]) for s in range(0, split.n_users, 7)])
    if not _close(whole, parts):
        raise _fail(cls, "scores", "scoring users in batches of 7 differs from one call")
    u, i = torch.arange(5).repeat_interleave(3), torch.tensor([0, 5, 9] * 5)
    with torch.no_grad():
        history = _history(split, u) if model.capabilities.scoring_needs_history else None
        pairs = model.predict_pairs(u, i, history)
    if not _close(pairs, whole[u, i]):
        raise _fail(cls, "scores", "predict_pairs differs from the score rows")


def _masking(model: Recommender, split: Split) -> None:
    from recsys_gui.core.evaluation.ranking import DeviceCSR, topk_for_users

    known = DeviceCSR(split.train, CPU)
    users = torch.arange(split.n_users)
    idx, _ = topk_for_users(model, users, k=10, history=known, exclude=known)
    seen = known.dense(users).gather(1, idx)
    if seen.any():
        raise _fail(type(model), "masking", "the ranking recommended an item the user already has")


def _embeddings(model: Recommender, split: Split) -> None:
    cls, caps = type(model), model.capabilities
    users = torch.arange(5)
    with torch.no_grad():
        ue = model.user_embeddings(users, _history(split, users))
        ie = model.item_embeddings()
    if (ue is not None) != caps.user_embeddings or (ie is not None) != caps.item_embeddings:
        raise _fail(cls, "embeddings", "user_embeddings/item_embeddings must match the capabilities")
    if ue is not None and ue.shape[0] != 5:
        raise _fail(cls, "embeddings", f"5 users gave {ue.shape[0]} user vectors")
    if ie is not None and ie.shape[0] != split.n_items:
        raise _fail(cls, "embeddings", f"{split.n_items} items gave {ie.shape[0]} item vectors")


def _checkpoint(cls: type[Recommender], model: Recommender, split: Split, path: Path) -> None:
    back = cls.from_checkpoint(read_checkpoint(path)).eval()  # weights_only, as the app reads them
    back.set_context(split.train)
    model.set_context(split.train)
    users = torch.arange(split.n_users)
    if not _close(_score(model, split, users), _score(back, split, users), rtol=1e-6, atol=1e-6):
        raise _fail(cls, "checkpoint", "the best checkpoint, loaded back, scores differently")


def _seeded(cls: type[Recommender], model: Recommender, split: Split) -> None:
    again, _, _ = _train(cls, split)
    users = torch.arange(split.n_users)
    if not _close(_score(model, split, users), _score(again, split, users), rtol=1e-6, atol=1e-6):
        raise _fail(cls, "seeded", "two runs with the same seed score differently")


def _context(model: Recommender, split: Split) -> None:
    model.set_context(split.known_for_test())
    scores = _score(model, split, torch.arange(split.n_users))
    model.set_context(split.train)
    if not torch.isfinite(scores).all():
        raise _fail(type(model), "context", "scores after set_context(known_for_test) are not finite")


def _ordered_rows(split: Split, users: Tensor) -> tuple[Tensor, Tensor]:
    """The users' training rows as a fold-in sees them: dense [B, n_items] (ratings for a rating model,
    else 1.0) and their items in time order [B, L], right-padded with -1."""
    train = split.train
    pick = np.isin(train.users, users.numpy())
    u, i, v, t = train.users[pick], train.items[pick], train.values[pick], train.timestamps[pick]
    order = np.lexsort((t, u))
    u, i, v = u[order], i[order], v[order]
    local = np.searchsorted(users.numpy(), u)  # users are sorted
    pos = np.arange(u.size) - np.searchsorted(u, u)
    seq = torch.full((users.numel(), max(int(pos.max(initial=-1)) + 1, 1)), -1, dtype=torch.long)
    seq[torch.as_tensor(local), torch.as_tensor(pos)] = torch.as_tensor(i)
    rows = torch.zeros(users.numel(), split.n_items)
    rows[torch.as_tensor(local), torch.as_tensor(i)] = torch.as_tensor(v)
    return rows, seq


def _held_out_auc(scores: Tensor, history: Tensor, targets: Tensor) -> float:
    """Mean over users of the share of (held-out item, other unseen item) pairs ranked the right way."""
    cand = (history == 0) & ~targets
    below = (scores.unsqueeze(2) > scores.unsqueeze(1)) & cand.unsqueeze(1)  # [B, target i, other j]
    ties = (scores.unsqueeze(2) == scores.unsqueeze(1)) & cand.unsqueeze(1)
    per_pair = (below.sum(2) + 0.5 * ties.sum(2)).double() / cand.sum(1, keepdim=True).clamp(min=1)
    per_user = (per_pair * targets).sum(1) / targets.sum(1).clamp(min=1)
    return float(per_user.mean())


def _fold_in(model: Recommender, split: Split) -> None:
    """``score_new_users``: shape, finite, deterministic, parameters untouched, no gradient left on, the
    training mode kept; and a trained user's own history, folded in, ranks that user's held-out
    (valid and test) items about as well as the model's own scores for that user (up to 0.6 AUC, less
    a margin of 0.05)."""
    cls = type(model)
    users = torch.arange(split.n_users)
    history, order = _ordered_rows(split, users)
    if not model.capabilities.uses_ratings:
        history = (history != 0).float()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    grads_before = [p.grad for p in model.parameters()]
    model.eval()
    first = model.score_new_users(history, order)
    if model.training:
        raise _fail(cls, "fold-in", "score_new_users left the model in training mode")
    if first.shape != (split.n_users, split.n_items) or not first.is_floating_point():
        raise _fail(cls, "fold-in", f"score_new_users gave {tuple(first.shape)} {first.dtype}, expected "
                                    f"{(split.n_users, split.n_items)} floats")
    if first.requires_grad:
        raise _fail(cls, "fold-in", "score_new_users returned scores that require a gradient")
    if not torch.isfinite(first).all():
        raise _fail(cls, "fold-in", "score_new_users gave non-finite scores")
    if not _close(first, model.score_new_users(history, order), rtol=1e-5, atol=1e-6):
        raise _fail(cls, "fold-in", "score_new_users gave different scores for the same histories")
    after = model.state_dict()
    changed = [k for k, v in before.items() if not torch.equal(v, after[k])]
    if changed or any(p.grad is not g for p, g in zip(model.parameters(), grads_before, strict=True)):
        what = ", ".join(changed) or "gradients"
        raise _fail(cls, "fold-in", f"score_new_users changed the model ({what})")
    targets = torch.zeros(split.n_users, split.n_items, dtype=torch.bool)
    for part in (split.valid, split.test):
        if part is not None:
            targets[torch.as_tensor(part.users), torch.as_tensor(part.items)] = True
    targets &= history == 0
    folded = _held_out_auc(first, history, targets)
    own = _held_out_auc(_score(model, split, users), history, targets)
    # Judged only where the briefly trained model's own scores learned the two tastes (AUC above 0.55):
    # fold-in cannot be asked to beat chance with a decoder or item table that is still noise.
    if own > 0.55 and folded < min(own, 0.6) - 0.05:
        raise _fail(cls, "fold-in", f"folded-in histories rank the held-out items with AUC {folded:.3f}, "
                                    f"the model's own scores for the same users {own:.3f}")


def _stop(cls: type[Recommender], split: Split) -> None:
    """A stop asked at the first logged step ends the run at the next batch; a model with pre-training
    also stops in it (asked at its first message, before any step of the model itself)."""
    stages = (ev.StepLogged, ev.Message) if _build(cls, split).pretraining() else (ev.StepLogged,)
    for stop_at in stages:
        _, fit, events = _train(cls, split, stop_at=stop_at)
        steps = sum(isinstance(e, ev.StepLogged) for e in events)
        allowed = 1 if stop_at is ev.StepLogged else 0
        if fit.status != "cancelled" or steps > allowed:
            raise _fail(cls, "stop", f"a stop asked at the first {stop_at.__name__} ended '{fit.status}' "
                                     f"after {steps} logged steps (expected 'cancelled', at most {allowed})")


def _kernels(cls: type[Recommender], split: Split) -> None:
    """One batch's losses and gradients are the same with the fast kernels and the plain references
    (evaluation mode: dropout off, so both paths see the same numbers)."""
    model = _build(cls, split)
    model.prepare(split.train)
    cfg = TrainConfig(batch_size=32, seed=0, device="cpu")
    batch = next(iter(make_batcher(model, split, cfg, CPU, DistContext()).epoch(0)))
    model.eval()

    def run() -> tuple[dict[str, Any], list[Tensor]]:
        model.zero_grad(set_to_none=True)
        losses = model(batch)
        losses["loss"].backward()
        grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
        return {k: v.detach() for k, v in losses.items()}, grads

    fast_losses, fast_grads = run()
    with kernels.reference_kernels():
        ref_losses, ref_grads = run()
    for k, v in ref_losses.items():
        if not _close(fast_losses[k], v):
            raise _fail(cls, "kernels", f"loss '{k}': {float(fast_losses[k])} fast, {float(v)} reference")
    names = [n for n, _ in model.named_parameters()]
    for n, a, b in zip(names, fast_grads, ref_grads, strict=True):
        if not _close(a, b, atol=1e-6):
            raise _fail(cls, "kernels", f"the gradient of '{n}' differs between the fast and the reference "
                                        f"kernels (max {float((a - b).abs().max()):.3g})")
    users = torch.arange(split.n_users)
    fast = _score(model, split, users)
    with kernels.reference_kernels():
        ref = _score(model, split, users)
    if not _close(fast, ref):
        raise _fail(cls, "kernels", "scores differ between the fast and the reference kernels")
