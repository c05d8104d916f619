"""The single training loop every model, every front end and every process count goes through.

Losses accumulate on the device and are read back once per log interval; the stop token is polled
before every batch; validation runs on a schedule, keeps the best weights and stops early. Models a
model starts from (its ``pretraining()``) go through the same epoch loop first. Process-wide
settings (threads, the allocator) belong to the entry points (``recsys_gui/process_setup.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.batching import DeviceBatcher
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import RecsysError, TrainingDiverged
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models.base import Recommender, StepContext
from recsys_gui.core.models.kernels import reference_kernels
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.control import StopToken
from recsys_gui.core.training.distributed import DistContext
from recsys_gui.core.training.privacy import PrivateTraining
from recsys_gui.core.utils.atomic import write_atomically


class Callback(Protocol):
    def on_event(self, event: ev.TrainingEvent) -> None: ...


@dataclass
class FitResult:
    status: str  # "completed" | "early_stopped" | "cancelled"
    best_epoch: int | None
    best_metrics: dict[str, float]
    epochs_run: int
    seconds: float
    train_seconds: float
    seconds_per_epoch: float
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # Private runs only: the ε the accountant reports for the steps taken, and how it was spent.
    epsilon_spent: float | None = None
    privacy: dict[str, Any] | None = None


def _higher_is_better(metric: str) -> bool:
    name = metric.split("@")[0].lower()
    return name not in ("rmse", "mae", "arp", "gini")


class Trainer:
    """Runs ``model`` on ``split`` with ``cfg``; emits events to ``callbacks`` (rank 0 only)."""

    def __init__(self, cfg: TrainConfig, *, callbacks: Sequence[Callback] = (), stop: StopToken | None = None,
                 dist: DistContext | None = None, run_id: str = "", checkpoint_dir: Path | None = None,
                 evaluator: Evaluator | None = None, resume: bool = False) -> None:
        self.cfg = cfg
        self.callbacks = list(callbacks)
        self.stop = stop or StopToken()
        self.dist = dist or DistContext()
        self.run_id = run_id
        self.checkpoint_dir = checkpoint_dir
        self.evaluator = evaluator
        self.resume = resume
        self.private: PrivateTraining | None = None

    def emit(self, event: ev.TrainingEvent) -> None:
        if self.dist.is_main:
            for cb in self.callbacks:
                cb.on_event(event)

    # --- the loop -------------------------------------------------------------------------------
    def fit(self, model: Recommender, split: Split, device: torch.device) -> FitResult:
        cfg, caps = self.cfg, model.capabilities
        t0 = time.perf_counter()
        model.to(device)
        model.prepare(split.train)
        model.to(device)  # prepare may create tensors on the CPU
        if cfg.dp_epsilon is not None:  # refused (ConfigError) before anything is trained
            self.private = PrivateTraining.plan(model, split, cfg, device, distributed=self.dist.enabled,
                                                resume=self.resume)
            batcher = self.private.sampler
        else:
            batcher = make_batcher(model, split, cfg, device, self.dist) if caps.iterative else None
        # Ranks' shards may differ by a batch; all take the smallest count so collectives stay paired.
        n_batches = self.dist.min_int(len(batcher), device) if batcher is not None else 0
        self.emit(ev.RunStarted(self.run_id, model.name, model.n_users, model.n_items, len(split.train),
                                str(device), self.dist.world_size, cfg.epochs if caps.iterative else 0,
                                n_batches))
        if not caps.iterative:
            return self._fit_closed_form(model, split, device, t0)
        wanted = model.batch_options().min_batch_size
        if self.private is None and wanted > cfg.batch_size:
            self.emit(ev.Message(f"Batches of {wanted:,}, not the {cfg.batch_size:,} asked: {model.label}'s "
                                 "steps are efficient from that size on."))
        if self.private is not None:
            self.emit(ev.Message(self.private.describe()))
            with reference_kernels():  # torch.func takes per-user gradients through plain torch ops only
                return self._fit_iterative(model, split, device, batcher, n_batches, t0)
        if not self.resume and not self._pretrain(model, split, device):
            return FitResult("cancelled", None, {}, 0, time.perf_counter() - t0, 0.0, 0.0)
        return self._fit_iterative(model, split, device, batcher, n_batches, t0)

    def _fit_closed_form(self, model: Recommender, split: Split, device: torch.device,
                         t0: float) -> FitResult:
        train_s = time.perf_counter() - t0
        metrics = self._validate(model, split, device) if split.valid is not None else {}
        if metrics:
            self.emit(ev.ValidationEnded(0, metrics, True, 0.0))
        self._save(model, None, 0, best=True, extra={})
        return FitResult("completed", 0, metrics, 1, time.perf_counter() - t0, train_s, train_s)

    def _pretrain(self, model: Recommender, split: Split, device: torch.device) -> bool:
        """Train the models ``model`` starts from (``model.pretraining()``) with the same epoch loop:
        their progress goes out as messages, the stop token ends them; False when stopped."""
        stages = list(model.pretraining())
        for stage in stages:
            sub, cfg = stage.model, dataclasses.replace(self.cfg, **dict(stage.train))
            sub.to(device)
            sub.prepare(split.train)
            sub.to(device)
            batcher = make_batcher(sub, split, cfg, device, self.dist)
            n_batches = self.dist.min_int(len(batcher), device)
            net = self.dist.wrap(sub, device) if not sub.capabilities.manual_optimization else sub
            optimizers = sub.configure_optimizers(cfg)
            self.emit(ev.Message(f"Pre-training {stage.label}: {cfg.epochs} epochs."))
            global_step = 0
            for epoch in range(cfg.epochs):
                te = time.perf_counter()
                sums, n_steps, global_step, cancelled = self._run_epoch(
                    sub, net, batcher, n_batches, optimizers, cfg, epoch, global_step, device,
                    log_steps=False)
                if cancelled or self._should_stop(global_step, device, force_sync=True):
                    self.emit(ev.Message(f"Pre-training {stage.label} stopped in epoch {epoch + 1}."))
                    return False
                losses = ", ".join(f"{k} {v:.4f}" for k, v in self._read(sums, max(n_steps, 1)).items())
                self.emit(ev.Message(f"Pre-training {stage.label}: epoch {epoch + 1}/{cfg.epochs}, {losses} "
                                     f"({time.perf_counter() - te:.1f} s)."))
            sub.eval()
        if stages:
            model.start_from([stage.model for stage in stages])
        return True

    def _fit_iterative(self, model, split, device, batcher, n_batches: int, t0: float) -> FitResult:
        cfg = self.cfg
        manual = model.capabilities.manual_optimization or self.private is not None
        net = self.dist.wrap(model, device) if not manual else model
        optimizers = model.configure_optimizers(cfg)

        # A private run keeps its last weights: choosing an epoch by validation would use the users'
        # data outside the accounted steps.
        best_metric_name = cfg.early_stop_metric if self.private is None else None
        higher = _higher_is_better(best_metric_name) if best_metric_name else True
        best_value, best_epoch, best_metrics, best_state = -math.inf, None, {}, None
        bad_rounds, start_epoch, global_step = 0, 0, 0
        history: list[dict[str, Any]] = []
        if self.resume:
            start_epoch, global_step, best = self._load_last(model, optimizers, batcher)
            best_value, best_epoch, best_metrics = best["value"], best["epoch"], best["metrics"]
            bad_rounds = best.get("bad_rounds", 0)
            best_state = self._load_best_state()

        status, epochs_run, train_seconds = "completed", start_epoch, 0.0
        for epoch in range(start_epoch, cfg.epochs):
            self.emit(ev.EpochStarted(epoch, n_batches))
            te = time.perf_counter()
            sums, n_steps, global_step, cancelled = self._run_epoch(
                model, net, batcher, n_batches, optimizers, cfg, epoch, global_step, device, log_steps=True)
            epoch_s = time.perf_counter() - te
            train_seconds += epoch_s
            if cancelled:
                status = "cancelled"
                break
            epochs_run = epoch + 1
            losses_avg = self._read(sums, max(n_steps, 1))
            self.emit(ev.EpochEnded(epoch, losses_avg, epoch_s))
            record: dict[str, Any] = {"epoch": epoch, "losses": losses_avg, "seconds": epoch_s}
            is_last = epoch + 1 == cfg.epochs
            if split.valid is not None and ((epoch + 1) % cfg.eval_every_n_epochs == 0 or is_last):
                tv = time.perf_counter()
                metrics = self._validate(model, split, device)
                record["valid"] = metrics
                value = metrics.get(best_metric_name, math.nan) if best_metric_name else 0.0
                score = value if higher else -value
                # Without a metric the latest validated epoch is kept ("none: keep the last").
                is_best = best_epoch is None or not best_metric_name or (
                    not math.isnan(score) and score > best_value)
                if is_best:
                    best_value, best_epoch, best_metrics, bad_rounds = score, epoch, metrics, 0
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    self._save(model, None, epoch, best=True, extra={})
                else:
                    bad_rounds += 1
                self.emit(ev.ValidationEnded(epoch, metrics, is_best, time.perf_counter() - tv))
                if best_metric_name and bad_rounds >= cfg.patience:
                    status = "early_stopped"
            history.append(record)
            self._save(model, optimizers, epoch, best=False, extra={
                "global_step": global_step, "batcher_rng": batcher.generator.get_state(),
                "best": {"value": best_value, "epoch": best_epoch, "metrics": best_metrics,
                         "bad_rounds": bad_rounds}})
            if status == "early_stopped" or self._should_stop(global_step, device, force_sync=True):
                if status != "early_stopped":
                    status = "cancelled"
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        elif split.valid is None:
            best_epoch = epochs_run - 1 if epochs_run else None
            self._save(model, None, max(epochs_run - 1, 0), best=True, extra={})
        total = time.perf_counter() - t0
        per_epoch = train_seconds / max(epochs_run - start_epoch, 1)
        result = FitResult(status, best_epoch, best_metrics, epochs_run, total, train_seconds, per_epoch,
                           history)
        if self.private is not None:
            result.privacy = self.private.summary(global_step)
            result.epsilon_spent = result.privacy["epsilon_spent"]
            self.emit(ev.Message(f"Private training spent ε = {result.epsilon_spent:.4g} "
                                 f"(δ = {self.private.delta:.3g}) in {global_step} steps."))
        return result

    def _run_epoch(self, model: Recommender, net, batcher, n_batches: int, optimizers, cfg: TrainConfig,
                   epoch: int, global_step: int, device: torch.device, *,
                   log_steps: bool) -> tuple[dict[str, Tensor], int, int, bool]:
        """One pass over ``batcher``: (loss sums on the device, steps, global step, whether stopped)."""
        amp = cfg.amp and device.type == "cuda"
        autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else nullcontext
        manual = model.capabilities.manual_optimization

        def backward(loss: Tensor) -> None:
            loss.backward()

        def step(opt: torch.optim.Optimizer) -> None:
            params = [p for g in opt.param_groups for p in g["params"]]
            if manual:
                self.dist.all_reduce_grads(params)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)

        model.train()
        model.on_epoch_start(epoch, cfg.epochs)
        sums: dict[str, Tensor] = {}
        n_steps, tlog, cancelled = 0, time.perf_counter(), False
        for step_i, batch in zip(range(n_batches), batcher.epoch(epoch), strict=False):
            if self._should_stop(global_step, device):
                cancelled = True
                break
            if self.private is not None:
                losses = self.private.step(batch.users, optimizers)
            elif manual:
                ctx = StepContext(epoch=epoch, global_step=global_step, device=device, optimizers=optimizers,
                                  backward=backward, step=step)
                with autocast():
                    losses = model.training_step(batch, ctx)
            else:
                with autocast():
                    losses = net(batch)
                for opt in optimizers:
                    opt.zero_grad(set_to_none=True)
                losses["loss"].backward()
                for opt in optimizers:
                    step(opt)
            for k, v in losses.items():
                v = v.detach().float()
                sums[k] = sums[k] + v if k in sums else v.clone()
            n_steps += 1
            global_step += 1
            if log_steps and (global_step % cfg.log_every_n_steps == 0 or step_i == n_batches - 1):
                vals = self._read(sums, n_steps)
                now = time.perf_counter()
                self.emit(ev.StepLogged(epoch, step_i, global_step, vals, optimizers[0].param_groups[0]["lr"],
                                        cfg.log_every_n_steps / max(now - tlog, 1e-9), _gpu_mb(device)))
                tlog = now
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return sums, n_steps, global_step, cancelled

    # --- helpers --------------------------------------------------------------------------------
    def _should_stop(self, global_step: int, device: torch.device, force_sync: bool = False) -> bool:
        flag = self.stop.stop_requested
        if self.dist.enabled:
            # All ranks agree on the same step: the flag is all-reduced every log interval.
            if force_sync or global_step % self.cfg.log_every_n_steps == 0:
                return self.dist.any(flag, device)
            return False
        return flag

    def _read(self, sums: dict[str, Tensor], n: int) -> dict[str, float]:
        vals = {k: float(v) / n for k, v in sums.items()}
        bad = [k for k, v in vals.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"The training loss became {vals[bad[0]]} ('{bad[0]}'). Lower the learning rate, enable "
                "gradient clipping, or check the input values.")
        return vals

    def _validate(self, model: Recommender, split: Split, device: torch.device) -> dict[str, float]:
        if self.evaluator is None or split.valid is None:
            return {}
        model.set_context(split.known_for_valid())
        res = self.evaluator.evaluate(model, history=split.known_for_valid(), exclude=split.known_for_valid(),
                                      target=split.valid, device=device, rank=self.dist.rank,
                                      world_size=self.dist.world_size, all_reduce=self.dist.all_reduce_sum,
                                      should_stop=lambda: self.stop.stop_requested and not self.dist.enabled)
        return res.metrics

    def _save(self, model: Recommender, optimizers, epoch: int, *, best: bool, extra: dict[str, Any]) -> None:
        if self.checkpoint_dir is None or not self.dist.is_main:
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        ckpt = model.to_checkpoint()
        ckpt["state_dict"] = {k: v.detach().cpu() for k, v in ckpt["state_dict"].items()}
        ckpt["epoch"] = epoch
        if optimizers is not None:
            ckpt["optimizers"] = [copy.deepcopy(o.state_dict()) for o in optimizers]
        ckpt.update(extra)
        path = self.checkpoint_dir / ("best.pt" if best else "last.pt")
        write_atomically(path, lambda tmp: torch.save(ckpt, tmp))  # a full disk keeps the old file
        self.emit(ev.CheckpointSaved(epoch, str(path), best))

    def _load_last(self, model, optimizers, batcher) -> tuple[int, int, dict[str, Any]]:
        path = (self.checkpoint_dir or Path(".")) / "last.pt"
        if not path.exists():
            raise RecsysError(f"Cannot resume: no checkpoint at {path}.")
        ckpt = read_checkpoint(path)
        model.load_state_dict(ckpt["state_dict"])
        for opt, state in zip(optimizers, ckpt.get("optimizers", []), strict=False):
            opt.load_state_dict(state)
        if "batcher_rng" in ckpt and batcher.generator.device.type == "cpu":
            batcher.generator.set_state(ckpt["batcher_rng"])
        return int(ckpt["epoch"]) + 1, int(ckpt.get("global_step", 0)), dict(ckpt["best"])

    def _load_best_state(self) -> dict[str, Tensor] | None:
        path = (self.checkpoint_dir or Path(".")) / "best.pt"
        if not path.exists():
            return None
        return read_checkpoint(path)["state_dict"]


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint loaded with ``weights_only=True``: tensors and plain data only, never code.

    A crafted or damaged file becomes one plain message, and nothing else is printed: not torch's
    traceback (which would suggest ``weights_only=False``, exactly what must not be done with an
    untrusted file), nor the warnings its safe unpickler gives on the way to refusing a file (a
    pickle protocol it does not expect). ``torch.save`` writes a zip archive, so anything else is
    refused before torch reads it.
    """
    refused = f"{path}: not a checkpoint this app can open safely"
    if not zipfile.is_zipfile(path):
        raise RecsysError(f"{refused} (not a torch.save archive).")
    with warnings.catch_warnings(record=True) as said:
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise RecsysError(f"{refused} ({type(exc).__name__}).") from None
    for w in said:  # a file that did load: its warnings are worth seeing
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise RecsysError(f"{path}: not a checkpoint written by this app.")
    return ckpt


def set_context(model: Recommender, known: InteractionData) -> None:
    """``model.set_context(known)``: kept for callers written before it was a method of every model."""
    model.set_context(known)


def make_batcher(model: Recommender, split: Split, cfg: TrainConfig, device: torch.device, dist: DistContext):
    """The batcher for the model's batch kind, cut as its ``batch_options()`` say."""
    caps, opts = model.capabilities, model.batch_options()
    # ``batch_size`` is the global batch: each of N ranks takes 1/N of it, so N processes make the same
    # optimiser steps on the same amount of data as one (DDP averages the ranks' gradients).
    per_rank = max(1, max(cfg.batch_size, opts.min_batch_size) // dist.world_size)
    if caps.batch_kind == "sequences":
        from recsys_gui.core.data.sequences import SequenceBatcher

        return SequenceBatcher(split.train, batch_size=per_rank, device=device, seed=cfg.seed,
                               max_len=opts.max_len, rank=dist.rank, world_size=dist.world_size)
    return DeviceBatcher(split.train, caps.batch_kind, batch_size=per_rank, device=device, seed=cfg.seed,
                         neg_per_pos=opts.negatives, use_values=caps.uses_ratings, rank=dist.rank,
                         world_size=dist.world_size)


def _gpu_mb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.memory_allocated(device) / 2**20


ProgressCallback = Callable[[ev.TrainingEvent], None]


class FunctionCallback:
    """Adapts a plain function to the callback protocol."""

    def __init__(self, fn: ProgressCallback) -> None:
        self.fn = fn

    def on_event(self, event: ev.TrainingEvent) -> None:
        self.fn(event)
