"""`recsys-gui split FILE --split SPEC --seed S [--out DIR]`: show (and write) a train/valid/test split.

Written parts are TSVs with the raw ids, so they can be re-imported here or read by other tools;
with ``--valid-file``/``--test-file`` FILE is the train part of a ready-made split.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys_gui.cli.common import add_load_options, load_options_from_args
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.data.loaders import LoadOptions, load_interactions, load_predefined_split
from recsys_gui.core.data.splits import DEFAULT_SPLIT, SPLIT_HELP, describe_split, make_split
from recsys_gui.core.errors import ConfigError, ExportError
from recsys_gui.core.utils.atomic import atomic_target, refusal


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kinds = "; ".join(f"{k}: {v.split('.')[0]}" for k, v in SPLIT_HELP.items())
    p = sub.add_parser(
        "split",
        help="split interactions into train/valid/test",
        description=f"Split an interaction file. Protocols - {kinds}.",
    )
    p.add_argument("file", type=Path, help="interaction file (the train part with --test-file)")
    p.add_argument(
        "--split",
        default=DEFAULT_SPLIT,
        metavar="SPEC",
        help="ratio:8,1,1 (default), random:8,1,1, loo, temporal:0.8,0.9, users:0.1,0.1,foldin=0.8",
    )
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--valid-file", type=Path, help="ready-made validation part (predefined split)")
    p.add_argument("--test-file", type=Path, help="ready-made test part (predefined split)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write train/valid/test TSVs with raw ids here")
    p.add_argument("--overwrite", "--force", dest="force", action="store_true",
                   help="replace existing part files in --out")
    add_load_options(p)
    p.add_argument("--items-meta", type=Path, metavar="FILE", help="item metadata (titles, genres)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON (the split summary)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = LoadOptions(**load_options_from_args(args))
    if args.test_file is not None:
        split, report = load_predefined_split(
            args.file, args.valid_file, args.test_file, options, item_metadata=args.items_meta
        )
    elif args.valid_file is not None:
        raise ConfigError("--valid-file needs --test-file too")
    else:
        data, report = load_interactions(args.file, options, item_metadata=args.items_meta)
        split = make_split(data, args.split, seed=args.seed)
    summary = describe_split(split)
    print(
        f"{report.path}: {report.users:,} users, {report.items:,} items, {report.interactions:,} interactions"
    )
    print(f"split {summary['protocol']}")
    for part in ("train", "valid", "test", "fold_in"):
        if f"{part}_rows" in summary:
            cold = (
                f", cold users {summary[f'{part}_cold_users']:,}, "
                f"cold items {summary[f'{part}_cold_items']:,}"
                if part != "train"
                else ""
            )
            print(
                f"  {part:8s} {summary[f'{part}_rows']:>10,} rows, {summary[f'{part}_users']:,} users{cold}"
            )
    print(f"  {summary['help']}")
    if args.out is not None:
        written = write_split(split, args.out, force=args.force)
        summary["files"] = {k: str(v) for k, v in written.items()}
        print("wrote " + ", ".join(str(v) for v in written.values()))
    if args.json:
        print(json.dumps(summary))
    return 0


def write_split(split: Split, out: Path, *, force: bool = False) -> dict[str, Path]:
    """Each part as ``<part>.tsv`` with columns user_id, item_id, rating[, timestamp] and raw ids."""
    parts: dict[str, InteractionData] = {"train": split.train, "test": split.test}
    if split.valid is not None:
        parts["valid"] = split.valid
    if split.fold_in is not None:
        parts["fold_in"] = split.fold_in
    targets = {name: out / f"{name}.tsv" for name in parts}
    # Every part is checked before any is written (no half-replaced split), then each is written
    # through a temporary file and renamed: the export rule of core.utils.atomic.
    reasons = [r for r in (refusal(t, overwrite=force) for t in targets.values()) if r]
    if reasons:
        raise ExportError(" ".join(reasons))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write the split to {out}: {exc.strerror or exc}") from None
    for name, part in parts.items():
        frame = part.to_frame().rename(columns={"user": "user_id", "item": "item_id", "value": "rating"})
        with atomic_target(targets[name], overwrite=force) as tmp:
            frame.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    return targets
