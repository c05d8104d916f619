"""The seam every way of running goes through: ``RunSpec`` + ``run_training``.

Load → split → build → fit → evaluate → persist. The GUI worker, the CLI, torchrun ranks and the
tests all call ``run_training``; whatever the GUI shows is what the CLI writes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recsys_gui import __version__
from recsys_gui.core import cold_start
from recsys_gui.core import config as cfgmod
from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import Split
from recsys_gui.core.data.splits import held_out_items
from recsys_gui.core.errors import ConfigError, DataChangedError, RecsysError, TrainingCancelled
from recsys_gui.core.evaluation.evaluator import EvalResult, Evaluator, held_out_users
from recsys_gui.core.evaluation.item_segments import item_segments
from recsys_gui.core.evaluation.metrics import DEFAULT_METRICS
from recsys_gui.core.models import base as models
from recsys_gui.core.store.run_store import RunStore, new_run_id
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.store.writer import JsonlEventSink, RunStoreWriter
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.control import StopToken
from recsys_gui.core.training.distributed import DistContext
from recsys_gui.core.training.trainer import Callback, FitResult, Trainer, read_checkpoint
from recsys_gui.core.utils.devices import describe_device, resolve_device
from recsys_gui.core.utils.seeding import seed_everything

BEYOND_ACCURACY = ("coverage", "gini", "novelty", "arp")


@dataclass(frozen=True)
class DataSpec:
    """Where the interactions come from: one file to split, or predefined train/valid/test files."""

    path: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    item_metadata: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # LoadOptions fields
    user_metadata: str | None = None  # users.dat, u.user or a CSV keyed by user id (user features)
    features: dict[str, Any] = field(default_factory=dict)  # FeatureOptions fields (columns, text, ...)

    @property
    def predefined(self) -> bool:
        return self.train is not None

    def describe(self) -> str:
        return self.path or self.train or ""


@dataclass(frozen=True)
class RunSpec:
    data: DataSpec
    model: str
    split: str = "ratio:8,1,1"
    model_config: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    metrics: tuple[str, ...] = DEFAULT_METRICS
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        for key in ("user_metadata", "features"):  # written only when set: older readers know no such keys
            if not d["data"].get(key):
                d["data"].pop(key, None)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str | None = None) -> RunSpec:
        """A spec from its JSON document; a wrong key is a ConfigError naming ``source`` and the key."""
        from recsys_gui.core.spec_checks import check_spec_document

        if isinstance(d, dict):
            d = dict(d)
        check_spec_document(d, source)
        d["data"] = DataSpec(**{**d["data"], "options": dict(d["data"].get("options") or {}),
                                "features": dict(d["data"].get("features") or {})})
        d["metrics"] = tuple(d.get("metrics") or DEFAULT_METRICS)
        d["model_config"], d["train"] = dict(d.get("model_config") or {}), dict(d.get("train") or {})
        return cls(**d)

    def train_config(self) -> TrainConfig:
        """Model defaults first, then what the user set."""
        cls = models.get_model_class(self.model)
        values = {**cls.train_defaults, **self.train}
        return cfgmod.from_mapping(TrainConfig, values, "the trainer")


@dataclass
class RunOutcome:
    run_id: str
    model: str
    status: str
    fit: FitResult
    valid: dict[str, float]
    test: dict[str, float]
    device: str
    split_summary: dict[str, Any]
    test_result: EvalResult | None = None
    cold_start: dict[str, Any] = field(default_factory=dict)  # test_mixed, item_segments, features

    def summary(self) -> dict[str, Any]:
        private = {} if self.fit.epsilon_spent is None else {"epsilon_spent": self.fit.epsilon_spent}
        return {
            "run_id": self.run_id,
            "model": self.model,
            "status": self.status,
            "best_epoch": self.fit.best_epoch,
            "epochs_run": self.fit.epochs_run,
            "train_seconds": round(self.fit.train_seconds, 4),
            "seconds_per_epoch": round(self.fit.seconds_per_epoch, 4),
            "total_seconds": round(self.fit.seconds, 3),
            "device": self.device,
            "valid": self.valid,
            "test": self.test,
            "split": self.split_summary,
            **self.cold_start,
            **private,
        }


def load_split(spec: RunSpec, *, seed: int) -> tuple[Split, dict[str, Any]]:
    """Read the data a spec names and split it; returns the split and the load report as a dict."""
    from recsys_gui.core.data import loaders, recent

    opts = loaders.LoadOptions(**spec.data.options)
    meta = Path(spec.data.item_metadata) if spec.data.item_metadata else None
    if spec.data.predefined:
        if spec.data.test is None:
            raise RecsysError("A predefined split needs at least --train and --test files.")
        split, report = loaders.load_predefined_split(
            Path(spec.data.train),
            Path(spec.data.valid) if spec.data.valid else None,
            Path(spec.data.test),
            opts,
            item_metadata=meta,
        )
        return split, report.to_dict()
    if spec.data.path is None:
        raise RecsysError("No data given: pass --data FILE, or --train/--test files.")
    data, report = recent.load(spec.data.path, spec.data.options, spec.data.item_metadata)
    return recent.split(data, spec.split, seed), report.to_dict()


def library_versions() -> dict[str, str]:
    import pandas

    return {
        "recsys_gui": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "python": platform.python_version(),
    }


def make_evaluator(metrics: Sequence[str], early_stop_metric: str | None, *, seed: int,
                   split: Split | None = None) -> Evaluator:
    """The validation evaluator; on a held-out-users ``split`` it scores those users through fold-in."""
    keys = list(metrics)
    if early_stop_metric and early_stop_metric not in keys:
        keys.append(early_stop_metric)
    return Evaluator(keys, seed=seed, new_users=held_out_users(split) if split is not None else None,
                     candidates=held_out_items(split, "valid") if split is not None else None)


def run_training(
    spec: RunSpec,
    *,
    workspace: Workspace | Path | str | None = None,
    callbacks: Sequence[Callback] = (),
    stop: StopToken | None = None,
    dist: DistContext | None = None,
    split: Split | None = None,
    resume_run_id: str | None = None,
    run_id: str | None = None,
) -> RunOutcome:
    """Train one model as ``spec`` says and keep everything in the workspace's run store.

    ``run_id`` lets a launcher in another process (the GUI) know where ``events.jsonl`` will appear.
    """
    model_name = models.canonical_name(spec.model)
    spec = dataclasses.replace(spec, model=model_name)
    tcfg = spec.train_config()
    device = resolve_device(tcfg.device)
    models.make_config(model_name, spec.model_config)  # bad settings are refused before the data loads
    dist = dist or DistContext()
    ws = Workspace(workspace).ensure() if not isinstance(workspace, Workspace) else workspace.ensure()
    seed_everything(tcfg.seed, dist.rank)
    report: dict[str, Any] = {}
    if split is None:
        split, report = load_split(spec, seed=tcfg.seed)
    check_scores_held_out_users(models.get_model_class(model_name), split)
    features = cold_start.run_features(spec.data, split, models.get_model_class(model_name))
    if features is not None:
        report["features"] = features.report()
    settings = cold_start.resolve_settings(spec.model_config, model_name, features)
    model_config = models.make_config(model_name, settings)
    seed_everything(tcfg.seed, 0)  # identical initial weights on every rank
    model = models.build_model(model_name, model_config, split.n_users, split.n_items)
    cold_start.attach(model, features)
    cls = type(model)

    order_warning = None
    if cls.capabilities.batch_kind == "sequences":
        from recsys_gui.core.data.sequences import sequence_order_warning

        order_warning = sequence_order_warning(split.train)
    if run_id is not None and resume_run_id is None:
        check_new_run_id(ws, run_id)
    run_id = resume_run_id or run_id or new_run_id(model_name)
    run_id = str(dist.broadcast_object(run_id))
    evaluator = make_evaluator(spec.metrics, tcfg.early_stop_metric, seed=tcfg.seed,  # refused before a row
                               split=split)
    store = RunStore(ws) if dist.is_main else None
    resumed_from: dict[str, Any] | None = None
    sinks: list[Callback] = []
    if store is not None:
        run_dir = ws.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_run_id:
            resumed_from = store.get_run(run_id)
            check_data_unchanged(resumed_from, split)
            store.update_run(run_id, status="running", error=None, pid=os.getpid())
        else:
            (run_dir / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2))
            store.create_run(
                run_id=run_id,
                model=model_name,
                family=cls.family,
                spec=spec.to_dict(),
                data_path=spec.data.describe(),
                data_fingerprint=split.train.fingerprint(),
                split=split.protocol or spec.split,
                seed=tcfg.seed,
                device=describe_device(device),
                world_size=dist.world_size,
                versions=library_versions(),
                name=spec.name,
            )
        sinks = [RunStoreWriter(store, run_id), JsonlEventSink(run_dir / "events.jsonl")]
    all_callbacks = [*sinks, *callbacks]
    trainer = Trainer(
        tcfg,
        callbacks=all_callbacks,
        stop=stop,
        dist=dist,
        run_id=run_id,
        checkpoint_dir=ws.checkpoint_dir(run_id) if dist.is_main else None,
        evaluator=evaluator,
        resume=resume_run_id is not None,
    )
    if order_warning:
        trainer.emit(ev.Message(order_warning, level="warning"))
    t0 = time.perf_counter()
    try:
        if tcfg.threads is None and device.type == "cpu" and dist.enabled:
            torch.set_num_threads(max(1, torch.get_num_threads() // dist.world_size))
        try:
            fit = trainer.fit(model, split, device)
        except torch.cuda.OutOfMemoryError:
            raise RecsysError(
                "The GPU ran out of memory. Lower the batch size or the embedding size, or train on the CPU."
            ) from None
        model.set_context(split.known_for_test())
        test_eval = Evaluator([*spec.metrics, *_beyond(spec.metrics)], seed=tcfg.seed,
                              new_users=held_out_users(split), candidates=held_out_items(split, "test"),
                              item_segments=item_segments(split.train))
        test_res = test_eval.evaluate(
            model,
            history=split.known_for_valid(),
            exclude=split.known_for_test(),
            target=split.test,
            device=device,
            keep_per_user=not dist.enabled,
            rank=dist.rank,
            world_size=dist.world_size,
            all_reduce=dist.all_reduce_sum,
        )
        outcome = RunOutcome(
            run_id,
            model_name,
            fit.status,
            fit,
            fit.best_metrics,
            test_res.metrics,
            describe_device(device),
            split.describe(),
            test_res,
            cold_start.test_extras(model, split, spec.metrics, test_res, device=device, seed=tcfg.seed,
                                   features=report.get("features")) if dist.is_main else {},
        )
        if store is not None:
            _persist_outcome(store, ws, outcome, report)
        trainer.emit(
            ev.RunFinished(
                fit.status,
                fit.best_epoch,
                fit.best_metrics,
                time.perf_counter() - t0,
                fit.epochs_run,
                test_res.metrics,
            )
        )
        return outcome
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, (TrainingCancelled, KeyboardInterrupt)) else "failed"
        if store is not None:
            store.finish_run(
                run_id, status_after_failure(status, resumed_from), error=str(exc) or type(exc).__name__
            )
        trainer.emit(ev.RunFailed(type(exc).__name__, str(exc), traceback.format_exc()))
        raise
    finally:
        for s in sinks:
            close = getattr(s, "close", None)
            if close:
                close()


def check_new_run_id(ws: Workspace, run_id: str) -> None:
    """A chosen run id must be a plain folder name that no run uses yet."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", run_id):
        raise RecsysError(f"Run id '{run_id}': use letters, digits, '.', '_' and '-' only (at most 128).")
    if (ws.run_dir(run_id) / "spec.json").exists():
        raise RecsysError(f"Run id '{run_id}' is already used in {ws.root}; choose another or resume it.")


def check_scores_held_out_users(cls: type[models.Recommender], split: Split) -> None:
    """Refuse a held-out-users split for a model that cannot fold in users it did not train on (a
    plug-in model with trained user vectors and no ``score_new_users``; every family of the app can)."""
    if split.fold_in is None or cls.folds_in():
        return
    raise ConfigError(
        f"{cls.label} keeps a trained vector per user and cannot fold in users it was not trained on, "
        f"so the held-out-users split ({split.protocol}) cannot score it. Use a split that keeps every "
        "user in training (ratio, random, loo, temporal), or implement score_new_users for the model."
    )


def check_data_unchanged(row: dict[str, Any], split: Split, *, allow_changed: bool = False) -> None:
    """Refuse to use a run on data that differs from what it was trained on, unless told to go on."""
    recorded = row.get("data_fingerprint") or ""
    if allow_changed or not recorded or recorded == split.train.fingerprint():
        return
    raise DataChangedError(
        f"The data of run {row['id']} ({row.get('data_path') or 'its files'}) has changed since "
        "the run was trained, so its split and its numbers would differ. Restore the file, "
        "or add --allow-changed-data to go on with the data as it is now."
    )


def status_after_failure(status: str, resumed_from: dict[str, Any] | None) -> str:
    """A resumed run that fails keeps the status it had; its earlier result is still its result."""
    if resumed_from is None or status == "cancelled":
        return status
    return resumed_from["status"] if resumed_from["status"] != "running" else "interrupted"


def _beyond(metrics: Sequence[str]) -> list[str]:
    ks = [int(m.split("@")[1]) for m in metrics if "@" in m]
    k = max(ks) if ks else 10
    return [f"{name}@{k}" for name in BEYOND_ACCURACY]


def _persist_outcome(store: RunStore, ws: Workspace, out: RunOutcome, report: dict[str, Any]) -> None:
    run_dir = ws.run_dir(out.run_id)
    res = out.test_result
    if res is not None and res.per_user:
        import pandas as pd

        frame = pd.DataFrame({"user": res.users, **res.per_user})
        path = run_dir / "per_user_test.parquet"
        frame.to_parquet(path, index=False)
        store.add_artifact(out.run_id, "per_user_test", path)
    for name in ("best.pt", "last.pt"):
        p = ws.checkpoint_dir(out.run_id) / name
        if p.exists():
            store.add_artifact(out.run_id, f"checkpoint_{name[:-3]}", p)
    store.log_metrics(
        out.run_id,
        [
            {"epoch": out.fit.best_epoch, "step": None, "split": "test", "name": k, "value": v}
            for k, v in out.test.items()
        ],
    )
    store.finish_run(
        out.run_id,
        out.status,
        best_epoch=out.fit.best_epoch,
        epochs_run=out.fit.epochs_run,
        train_seconds=out.fit.train_seconds,
        seconds_per_epoch=out.fit.seconds_per_epoch,
        valid_json=out.valid,
        test_json=out.test,
        notes=json.dumps({"split": out.split_summary, "load_report": report,
                          **({"privacy": out.fit.privacy} if out.fit.privacy else {}),
                          **({"cold_start": out.cold_start} if out.cold_start else {})}),
    )


def stored_spec(row: dict[str, Any]) -> RunSpec:
    """The run's spec from the store; a damaged or crafted one is a plain message, not a KeyError."""
    try:
        return RunSpec.from_dict(row["spec"], source=f"Run {row.get('id')}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecsysError(
            f"Run {row.get('id')}: its stored settings are damaged or not this app's "
            f"({type(exc).__name__}); it cannot be opened."
        ) from None


def load_run_split(spec: RunSpec, row: dict[str, Any], *, allow_changed_data: bool = False) -> Split:
    """A stored run's split, made again from its data; refused when the data changed since training."""
    split, _ = load_split(spec, seed=spec.train_config().seed)
    check_data_unchanged(row, split, allow_changed=allow_changed_data)
    return split


def load_run_model(
    ws: Workspace | Path | str | None, run_id: str, *, which: str = "best", device: torch.device | None = None
) -> tuple[models.Recommender, RunSpec, dict[str, Any]]:
    """The trained model of a stored run (checkpoints load with ``weights_only=True``)."""
    store = RunStore(ws)
    row = store.get_run(run_id)
    spec = stored_spec(row)
    path = store.workspace.checkpoint_dir(row["id"]) / f"{which}.pt"
    if not path.exists():
        raise RecsysError(
            f"Run {row['id']} has no {which} checkpoint ({path}); it may have failed before its first epoch."
        )
    model = models.Recommender.from_checkpoint(read_checkpoint(path))
    if device is not None:
        model.to(device)
    model.eval()
    return model, spec, row
