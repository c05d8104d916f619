"""`recsys-gui tune`: hyper-parameter search over a model's settings, each trial an ordinary run."""

from __future__ import annotations

import argparse
import re
import sys

from recsys_gui.cli.common import (
    add_data_arguments,
    add_load_options,
    add_model_arguments,
    add_seeds,
    add_workspace,
    print_json,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune", help="Search a model's settings (Optuna), choosing on validation (headless).",
        description="Search a model's settings: every trial is a run in the workspace, the search a "
                    "study in <workspace>/tuning.db that --study NAME resumes. The best trial is chosen "
                    "on the validation metric (--early-stop); its test figures are reported once.")
    add_data_arguments(p)
    add_load_options(p)
    add_model_arguments(p)
    b = p.add_argument_group("search")
    b.add_argument("--trials", type=int, default=20, metavar="N",
                   help="Finished trials the study should have (a resumed study counts its earlier ones).")
    b.add_argument("--timeout", type=duration, metavar="TIME",
                   help="Wall-time budget, e.g. 30m, 1h, 90s (a running trial ends early and keeps its "
                        "best epoch so far).")
    b.add_argument("--search", action="append", default=[], metavar="SETTINGS",
                   help="The settings to search, with ranges or not: lr=1e-4:1e-1:log,dropout=0:0.7,"
                        "variant=vae|dae,embedding_dim (default: the model's numeric settings, lr and "
                        "batch size, ranges from the settings themselves).")
    b.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                   help="tpe (default), random, or grid (each number at its low end, default and high end).")
    b.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                   help="Stop unpromising trials on their validation so far: median (default), "
                        "halving (successive halving) or none.")
    b.add_argument("--study", metavar="NAME", help="Study name: a new one, or one to resume.")
    add_seeds(p, "Re-train the best settings")
    p.add_argument("--json", action="store_true", help="Print the result as one JSON line at the end.")
    p.add_argument("--quiet", action="store_true", help="No line per trial.")
    add_workspace(p)
    p.set_defaults(func=run, name=None)


def duration(text: str) -> float:
    """Seconds from "90", "90s", "30m", "1h30m"."""
    t = text.strip().lower()
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", t)
    if not t or not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30m, 1h or 90s, got {text!r}")
    h, mnt, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = h * 3600 + mnt * 60 + s
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration above zero, got {text!r}")
    return seconds


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import optuna

    from recsys_gui.cli.train_cmd import build_spec
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.store.run_store import RunStore
    from recsys_gui.core.store.workspace import Workspace
    from recsys_gui.core.training.control import StopToken, install_signal_handlers
    from recsys_gui.core.tuning.search import tune
    from recsys_gui.core.tuning.seeds import run_seeds, seed_list
    from recsys_gui.core.tuning.space import search_space
    from recsys_gui.core.utils.devices import resolve_device

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    if args.trials < 1:
        raise ConfigError("--trials must be at least 1.")
    seed_list(0, args.seeds)
    spec = build_spec(args)
    resolve_device(spec.train_config().device)  # a clear error before any data is read
    space = search_space(spec.model, ",".join(args.search) or None, base_model=spec.model_config,
                         base_train=spec.train)
    ws = Workspace(args.workspace)
    stop = StopToken()
    install_signal_handlers(stop)
    if not args.quiet:
        print(f"searching {spec.model}: {space.describe()}", file=sys.stderr)
    result = tune(spec, space, workspace=ws, trials=args.trials, timeout_s=args.timeout, sampler=args.sampler,
                  pruner=args.pruner, study_name=args.study, stop=stop,
                  on_trial=None if args.quiet else _TrialLines(args.trials))
    out = result.summary()
    if args.seeds > 1 and not stop.stop_requested:
        model_cfg, train_cfg = space.split_params(result.best_params)
        best = dataclasses.replace(spec, model_config={**spec.model_config, **model_cfg},
                                   train={**spec.train, **train_cfg}, name=f"{result.study} best")
        row = RunStore(ws).get_run(result.best_run_id)
        _, spread = run_seeds(best, args.seeds, workspace=ws, stop=stop, done=[
            {"run_id": row["id"], "valid": row.get("valid") or {}, "test": row.get("test") or {}}])
        out.update(spread)
    if args.json:
        print_json(out)
    else:
        print(f"study {out['study']}: best trial #{out['best_trial'] + 1} (run {out['best_run_id']}) of "
              f"{out['trials']} ({out['pruned']} pruned, {out['failed']} failed) in {out['seconds']:.0f}s")
        print("  settings: " + ", ".join(f"{k}={_short(v)}" for k, v in out["best_params"].items()))
        for part in ("valid", "test"):
            if out[part]:
                print(f"  {part}: " + "  ".join(f"{k} {v:.4f}" for k, v in out[part].items()))
        if "std" in out:
            test_mean, test_std = out["mean"]["test"], out["std"]["test"]
            print(f"  test over {out['n']} seeds: "
                  + "  ".join(f"{k} {test_mean[k]:.4f} ± {test_std[k]:.4f}" for k in test_mean))
    return 3 if stop.stop_requested else 0


class _TrialLines:
    """One line on stderr per finished trial: state, validation value, best so far, settings."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def __call__(self, e: dict) -> None:
        value = "" if e["value"] is None else f" {e['value']:.4f}"
        best = "" if e["best_value"] is None else f" (best {e['best_value']:.4f}, #{e['best_number'] + 1})"
        secs = f" {e['seconds']:.1f}s" if e.get("seconds") is not None else ""
        settings = ", ".join(f"{k}={_short(v)}" for k, v in e["params"].items())
        error = f" - {e['error']}" if e.get("error") and e["state"] == "fail" else ""
        print(f"trial #{e['number'] + 1}/{self.budget}: {e['state']}{value}{best}{secs}  {settings}{error}",
              file=sys.stderr, flush=True)


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
