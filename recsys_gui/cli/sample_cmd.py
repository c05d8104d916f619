"""`recsys-gui sample-data [--out DIR] [--seed S] [--overwrite]`: write the synthetic sample data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from recsys_gui.core.errors import ExportError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "sample-data",
        help="write the synthetic sample data (interactions, items, tiny)",
        description="Write interactions.csv (1,000 users x 500 items), items.csv and tiny.csv "
        "(50 x 40). The same seed always gives the same files.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("sample_data"),
        metavar="DIR",
        help="folder to write into (default: ./sample_data)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="a whole number from 0 (the default)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files of the same names already in DIR (without it they are left alone and "
        "nothing is written)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.data.synthetic import write_sample_data

    try:
        paths = write_sample_data(args.out, seed=args.seed, overwrite=args.overwrite)
    except OSError as exc:
        raise ExportError(f"cannot write sample data to {args.out}: {exc}") from exc
    for name, path in paths.items():
        print(f"{name:13s} {path}")
    return 0


def _seed(text: str) -> int:
    """argparse shows this ValueError as a one-line usage error (numpy refuses negative seeds)."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value
