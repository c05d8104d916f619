"""`recsys-gui bundle RUN --out run.zip` and `recsys-gui reproduce run.zip --data FILE`.

Two subcommands from one module: a bundle is only worth what its reproduction checks.
"""

from __future__ import annotations

import argparse
import math

from recsys_gui.cli.common import ConsoleProgress, add_workspace, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser(
        "bundle",
        help="Pack a finished run into one zip someone else can reproduce.",
        description="The zip holds the settings (spec.json), the data's fingerprint, the split's "
        "user/item ids per part, the metrics, the environment (versions, CPU/GPU, "
        "installed packages) and, on request, the data and the best checkpoint.",
    )
    b.add_argument("run", metavar="RUN", help="A run's id, its unique name or a unique start of its id.")
    b.add_argument("--out", required=True, metavar="FILE", help="The zip file to write.")
    b.add_argument("--with-data", action="store_true", help="Put the data file(s) in the bundle too.")
    b.add_argument(
        "--with-checkpoint", action="store_true", help="Put the best checkpoint in the bundle too."
    )
    b.add_argument("--overwrite", action="store_true", help="Replace FILE if it exists.")
    add_workspace(b)
    b.set_defaults(func=run_bundle)

    r = sub.add_parser(
        "reproduce",
        help="Re-train a bundled run and compare its metrics with the bundled ones.",
        description="Re-trains with the bundle's settings on the data given (or the data inside "
        "the bundle) and prints the test metrics beside the bundled ones. Data that "
        "is not the run's (its fingerprint differs) is refused before training.",
    )
    r.add_argument("bundle", metavar="BUNDLE", help="A zip written by `recsys-gui bundle`.")
    r.add_argument("--data", metavar="FILE", help="The interaction file the run was split from.")
    r.add_argument("--train", metavar="FILE", help="Predefined split: the training file.")
    r.add_argument("--valid", metavar="FILE", help="Predefined split: the validation file.")
    r.add_argument("--test", metavar="FILE", help="Predefined split: the test file.")
    r.add_argument("--items-meta", metavar="FILE", help="The item metadata file, if the run had one.")
    r.add_argument(
        "--device", help="Train on this device instead of the bundled setting (auto, cpu, cuda, ...)."
    )
    r.add_argument("--json", action="store_true", help="Print the result as one JSON line at the end.")
    r.add_argument("--quiet", action="store_true", help="No progress bar.")
    add_workspace(r)
    r.set_defaults(func=run_reproduce)


def run_bundle(args: argparse.Namespace) -> int:
    from recsys_gui.core.bundle import write_bundle

    info = write_bundle(
        args.workspace,
        args.run,
        args.out,
        with_data=args.with_data,
        with_checkpoint=args.with_checkpoint,
        overwrite=args.overwrite,
    )
    extras = [x for x, on in (("data", args.with_data), ("checkpoint", args.with_checkpoint)) if on]
    print(
        f"Wrote {info.path} ({info.bytes / 1024:,.0f} KB): run {info.run_id}"
        + (f" with its {' and '.join(extras)}" if extras else "")
        + "."
    )
    return 0


def run_reproduce(args: argparse.Namespace) -> int:
    from recsys_gui.core.bundle import DataFiles, reproduce_bundle
    from recsys_gui.core.training.control import StopToken, install_signal_handlers

    stop = StopToken()
    install_signal_handlers(stop)
    files = DataFiles(args.data, args.train, args.valid, args.test, args.items_meta)
    result = reproduce_bundle(
        args.bundle,
        files,
        workspace=args.workspace,
        device=args.device,
        callbacks=[ConsoleProgress(quiet=args.quiet or args.json)],
        stop=stop,
    )
    if args.json:
        print_json(result.to_dict())
        return 0
    print(f"Reproduced run {result.source_run} as run {result.run_id}.")
    print(f"  {'test metric':<16}{'bundled':>12}{'reproduced':>12}{'difference':>14}")
    for k, v in result.bundled.items():
        r = result.reproduced.get(k, float("nan"))
        print(f"  {k:<16}{v:>12.6f}{r:>12.6f}{r - v:>+14.2e}")
    if math.isnan(result.max_abs_diff):
        print("No test metric in common to compare.")
    elif result.matches:
        print(f"Same figures (largest difference {result.max_abs_diff:.1e}, within 1e-6).")
    else:
        print(
            f"Largest difference {result.max_abs_diff:.2e}: more than 1e-6. Another device, thread count or "
            "library version can explain small differences."
        )
    for k, (was, now) in result.environment_differences.items():
        print(f"  environment: {k} was {was}, is {now}")
    return 0
