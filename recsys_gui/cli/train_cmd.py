"""`recsys-gui train`: the headless twin of the Train page (same `run_training`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

from recsys_gui.cli.common import (
    ConsoleProgress,
    add_data_arguments,
    add_load_options,
    add_model_arguments,
    add_seeds,
    add_workspace,
    load_options_from_args,
    print_json,
)
from recsys_gui.core.training.events import shown_epoch


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="Train a model and evaluate it (headless).",
                       description="Train a model on one file split by --split, or on predefined files.")
    add_data_arguments(p)
    add_load_options(p)
    add_feature_arguments(p)
    add_model_arguments(p)
    p.add_argument("--dp-epsilon", type=float, metavar="E",
                   help="Differentially private training: the privacy budget ε (the dp_epsilon setting).")
    p.add_argument("--dp-delta", type=float, metavar="D",
                   help="Differentially private training: δ (the dp_delta setting).")
    add_seeds(p, "Train")
    p.add_argument("--name", help="A name for the run.")
    p.add_argument("--resume", metavar="RUN_ID", help="Continue a stopped run from its last checkpoint.")
    p.add_argument("--run-id", metavar="ID", help="Id for the new run (default: made up); a launcher that "
                                                  "follows runs/<ID>/events.jsonl chooses it.")
    p.add_argument("--json", action="store_true", help="Print the result as one JSON line at the end.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    add_workspace(p)
    p.set_defaults(func=run)


def build_spec(args: argparse.Namespace):
    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.models import get_model_class
    from recsys_gui.core.session import DataSpec, RunSpec

    if args.spec:
        spec = read_spec_file(args.spec)
    else:
        if not args.model:
            raise ConfigError("Choose a model with --model (see `recsys-gui models`).")
        if not args.data and not args.train:
            raise ConfigError("Give the data: --data FILE, or --train FILE --test FILE [--valid FILE].")
        if args.train and not args.test:
            raise ConfigError("A predefined split needs --test as well as --train.")
        users_meta = getattr(args, "users_meta", None)  # commands sharing build_spec may lack the flag
        for f in (args.data, args.train, args.valid, args.test, args.items_meta, users_meta):
            if f:
                _check_readable_path(f)
        data = DataSpec(path=_abs(args.data), train=_abs(args.train), valid=_abs(args.valid),
                        test=_abs(args.test), item_metadata=_abs(args.items_meta),
                        options=load_options_from_args(args), user_metadata=_abs(users_meta),
                        features=feature_options_from_args(args))
        spec = RunSpec(data=data, model=args.model, split=args.split or "ratio:8,1,1")
    cls = get_model_class(spec.model)
    model_fields = {f.name for f in dataclasses.fields(cls.config_cls)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    model_cfg, train_cfg = dict(spec.model_config), dict(spec.train)
    for item in [*args.set, *_dp_settings(args)]:
        key, eq, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq:
            raise ConfigError(f"--set expects KEY=VALUE, got '{item}'.")
        if key in model_fields:
            model_cfg[key] = value
        elif key in train_fields:
            train_cfg[key] = value
        else:
            known = ", ".join(sorted(model_fields | train_fields))
            raise ConfigError(f"Unknown setting '{key}' for {cls.label}. Known settings: {known}.")
    for arg, key in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("device", "device"),
                     ("seed", "seed"), ("threads", "threads"), ("patience", "patience")):
        if getattr(args, arg) is not None:
            train_cfg[key] = getattr(args, arg)
    if args.early_stop is not None:
        train_cfg["early_stop_metric"] = None if args.early_stop.lower() == "none" else args.early_stop
    metrics = spec.metrics
    if args.metrics:
        from recsys_gui.core.evaluation.metrics import parse_metrics

        metrics = tuple(m.key for m in parse_metrics(args.metrics))
        if "early_stop_metric" not in train_cfg and args.early_stop is None:
            ranked = ("ndcg", "mrr", "recall", "hit", "map", "precision")
            ranking = [m for m in metrics if m.split("@")[0] in ranked]
            if ranking:
                train_cfg["early_stop_metric"] = ranking[0]
    spec = dataclasses.replace(spec, model_config=model_cfg, train=train_cfg, metrics=metrics,
                               name=getattr(args, "name", None) or spec.name)
    check_settings(spec)
    return spec


def add_feature_arguments(p: argparse.ArgumentParser) -> None:
    """Cold start: a user file for user features, and which metadata columns become features."""
    g = p.add_argument_group("features (cold start)")
    g.add_argument("--users-meta", metavar="FILE",
                   help="User attributes for user features: MovieLens users.dat or u.user, or a CSV/TSV "
                        "keyed by user id (models with --set features=users or both).")
    g.add_argument("--feature-text", metavar="COL[,COL]",
                   help="Metadata columns read as text (TF-IDF terms), e.g. title or description.")
    g.add_argument("--feature-exclude", metavar="COL[,COL]",
                   help="Metadata columns that must not become features.")


def feature_options_from_args(args: argparse.Namespace) -> dict[str, list[str]]:
    """The spec's ``data.features`` (FeatureOptions fields) from --feature-text/--feature-exclude."""
    out = {}
    for flag, key in (("feature_text", "text"), ("feature_exclude", "exclude")):
        value = getattr(args, flag, None)
        if value:
            out[key] = [c.strip() for c in value.split(",") if c.strip()]
    return out


def _dp_settings(args: argparse.Namespace) -> list[str]:
    """--dp-epsilon/--dp-delta as the --set items they stand for (TrainConfig's dp_epsilon, dp_delta)."""
    flags = (("dp_epsilon", getattr(args, "dp_epsilon", None)), ("dp_delta", getattr(args, "dp_delta", None)))
    return [f"{key}={value!r}" for key, value in flags if value is not None]


def check_settings(spec) -> None:
    """Model, trainer and metric settings checked as run_training will, before any run row exists.

    run_training makes its evaluator after the run is recorded, so a bad metric left a failed run
    behind; here it is refused first.
    """
    from recsys_gui.core.models import make_config
    from recsys_gui.core.session import make_evaluator

    make_config(spec.model, spec.model_config)
    tcfg = spec.train_config()
    make_evaluator(spec.metrics, tcfg.early_stop_metric, seed=tcfg.seed)


SPEC_FILE_LIMIT = 1 << 20  # spec.json files the app writes are a few hundred bytes


def read_spec_file(path: str):
    """The RunSpec in a spec.json, its settings checked; any problem is one ConfigError naming the file.

    The file is read up to a limit (a device such as /dev/zero never ends), nesting beyond json's
    recursion limit is refused, and the model and trainer settings are checked here so that a bad
    one is blamed on the file and not on a flag.
    """
    from recsys_gui.core.errors import ConfigError, RecsysError
    from recsys_gui.core.session import RunSpec

    try:
        with open(path, "rb") as fh:
            raw = fh.read(SPEC_FILE_LIMIT + 1)
        if len(raw) > SPEC_FILE_LIMIT:
            raise ValueError(f"larger than {SPEC_FILE_LIMIT // 1024} KiB")
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ConfigError(f"{path}: not a usable run spec (JSON nested too deeply).") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a usable run spec ({exc}).") from None
    spec = RunSpec.from_dict(doc, source=path)
    try:
        check_settings(spec)
    except RecsysError as exc:
        raise ConfigError(f"{path}: not a usable run spec: {exc}") from None
    return spec


def _check_readable_path(path: str) -> None:
    """A missing input file, or a name the system refuses (too long), before anything else is done."""
    from recsys_gui.core.errors import DataError

    try:
        os.stat(path)
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except OSError as exc:  # Path.exists() raised ENAMETOOLONG and ELOOP instead of answering
        raise DataError(f"cannot be read ({exc.strerror or exc})", path=path) from None


def _abs(p: str | None) -> str | None:
    return str(Path(p).expanduser().resolve()) if p else None


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.session import run_training, stored_spec
    from recsys_gui.core.training import control
    from recsys_gui.core.training.control import StopToken, install_signal_handlers
    from recsys_gui.core.training.distributed import DistContext
    from recsys_gui.core.utils.devices import resolve_device

    if args.resume:
        from recsys_gui.core.store.run_store import RunStore

        row = RunStore(args.workspace).get_run(args.resume)
        spec = stored_spec(row)
        args.resume = row["id"]
    else:
        spec = build_spec(args)
    tcfg = spec.train_config()
    device = resolve_device(tcfg.device)  # a clear error before any data is read
    dist = DistContext.from_env(device)
    if dist.enabled and device.type == "cuda":
        import torch

        device = torch.device("cuda", dist.local_rank)
        spec = dataclasses.replace(spec, train={**spec.train, "device": str(device)})
    from recsys_gui.core.store.workspace import Workspace

    ws = Workspace(args.workspace)
    stop = StopToken()
    if args.resume and dist.is_main:
        control.clear_stop_file(ws.run_dir(args.resume))  # the request that stopped it last time
    known_id = args.resume or args.run_id
    if known_id and dist.is_main:
        stop.stop_file = control.stop_file(ws.run_dir(known_id))  # a stop may come before the run has started
    install_signal_handlers(stop)
    progress = ConsoleProgress(quiet=args.quiet or not dist.is_main)
    if args.seeds != 1:
        return _run_seeds(args, spec, ws, stop, progress, dist)
    try:
        outcome = run_training(spec, workspace=ws, callbacks=[_StopFileWatcher(ws, stop), progress],
                               stop=stop, dist=dist, resume_run_id=args.resume,
                               run_id=None if args.resume else args.run_id)
    finally:
        dist.close()
    code = 3 if outcome.status == "cancelled" else 0
    if not dist.is_main:
        return code  # every rank exits alike, so torchrun reports the run as rank 0 does
    summary = outcome.summary()
    if not args.json:
        print(f"run {summary['run_id']} ({summary['model']}): {summary['status']}, best epoch "
              f"{shown_epoch(summary['best_epoch'])}, {summary['seconds_per_epoch']:.3f}s/epoch")
        for part in ("valid", "test"):
            if summary[part]:
                print(f"  {part}: " + "  ".join(f"{k} {v:.4f}" for k, v in summary[part].items()))
    else:
        print_json(summary)
    return code


def _run_seeds(args: argparse.Namespace, spec, ws, stop, progress, dist) -> int:
    """--seeds N: N runs with seeds --seed, --seed+1, …; one JSON line with the spread of each metric."""
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.tuning.seeds import run_seeds, seed_list

    if args.resume or args.run_id or dist.enabled:
        raise ConfigError("--seeds makes several runs: it cannot be combined with --resume, --run-id "
                          "or torchrun.")
    seed_list(0, args.seeds)  # refuses 0 or fewer before any run
    outcomes, spread = run_seeds(spec, args.seeds, workspace=ws, callbacks=[progress], stop=stop)
    status = "cancelled" if any(o.status == "cancelled" for o in outcomes) else "completed"
    if args.json:
        print_json({"model": spec.model, "status": status, **spread,
                    "results": [o.summary() for o in outcomes]})
    else:
        print(f"{spec.model}: {spread['n']} seed(s) {spread['seeds']}, runs {', '.join(spread['runs'])}")
        for part in ("valid", "test"):
            mean, std = spread["mean"][part], spread["std"][part]
            if mean:
                print(f"  {part}: " + "  ".join(f"{k} {mean[k]:.4f} ± {std[k]:.4f}" for k in mean))
    return 3 if status == "cancelled" else 0


class _StopFileWatcher:
    """Points the stop token at runs/<id>/STOP once the run id is known (GUI-launched processes)."""

    def __init__(self, ws, stop) -> None:
        self.ws, self.stop = ws, stop

    def on_event(self, e) -> None:
        from recsys_gui.core.training import events as ev

        if isinstance(e, ev.RunStarted) and self.stop.stop_file is None:
            from recsys_gui.core.training.control import stop_file

            self.stop.stop_file = stop_file(self.ws.run_dir(e.run_id))
            os.environ.setdefault("RECSYS_RUN_ID", e.run_id)
