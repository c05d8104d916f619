"""`recsys-gui export-embeddings RUN_ID --out PATH`: user and item vectors with raw ids."""

from __future__ import annotations

import argparse
import sys

from recsys_gui.cli.common import add_workspace, print_json
from recsys_gui.cli.privacy_args import add_privacy_arguments, privacy_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export-embeddings",
        help="Export a run's user and item embeddings (CSV, Parquet or .npy).",
        description="--out emb.csv writes emb.users.csv and emb.items.csv (raw id first, then "
        "e0..e{d-1}); emb.parquet likewise; emb.npy writes emb.users.npy plus "
        "emb.users.ids.csv. A folder gets users.<fmt> and items.<fmt>. A side the "
        "model does not have is skipped with a note.",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--out", "-o", required=True, metavar="PATH", help="File name (.csv/.parquet/.npy) or folder."
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "parquet", "npy"),
        help="Output format (default: from the suffix of --out; csv for a folder).",
    )
    p.add_argument("--side", choices=("both", "user", "item"), default="both")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace existing files (a file, or a link itself; never a folder, device or pipe).",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--json", action="store_true", help="Print the report as one JSON line at the end.")
    add_privacy_arguments(p)
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.export.embeddings import export_embeddings

    sides = ("user", "item") if args.side == "both" else (args.side,)
    report = export_embeddings(
        args.workspace,
        args.run_id,
        args.out,
        fmt=args.fmt,
        sides=sides,
        overwrite=args.overwrite,
        device=args.device,
        privacy=privacy_from_args(args),
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print_json(report.to_dict())
        return 0
    for side, paths in report.files.items():
        n, d = report.shapes[side]
        print(f"{side}s: {n:,} × {d} → {', '.join(str(p) for p in paths)}")
    return 0
