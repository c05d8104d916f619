"""`recsys-gui import FILE`: load an interaction file and say what was found and what was dropped.

The loader options live here as ``add_load_arguments``/``load_options_from_args`` so every
subcommand that reads interactions (split, train, ...) offers the same flags.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys_gui.core.data.loaders import LoadOptions, load_interactions


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """Column, format and cleaning flags shared by every command that reads an interaction file."""
    g = parser.add_argument_group("reading the file (guessed when not given)")
    g.add_argument("--user", metavar="COL", help="user id column (name, or 0-based position without header)")
    g.add_argument("--item", metavar="COL", help="item id column")
    g.add_argument("--rating", metavar="COL", help="rating/weight column ('none' to ignore one)")
    g.add_argument("--timestamp", metavar="COL", help="time column ('none' to ignore one)")
    g.add_argument("--sep", metavar="S", help="separator: ',', tab, ';', '|', '::' or whitespace")
    hdr = g.add_mutually_exclusive_group()
    hdr.add_argument(
        "--header", dest="header", action="store_true", default=None, help="the first line holds column names"
    )
    hdr.add_argument("--no-header", dest="header", action="store_false", help="there is no header line")
    c = parser.add_argument_group("cleaning")
    c.add_argument(
        "--min-rating",
        type=float,
        metavar="X",
        help="keep rows with rating >= X and treat them as implicit feedback",
    )
    c.add_argument("--min-user-count", type=int, default=0, metavar="N", help="k-core: users need N rows")
    c.add_argument("--min-item-count", type=int, default=0, metavar="N", help="k-core: items need N rows")
    c.add_argument(
        "--dedupe",
        choices=("last", "max", "sum", "mean"),
        default="last",
        help="how to merge repeated user-item rows (default: keep the last in the file)",
    )
    c.add_argument("--items-meta", type=Path, metavar="FILE", help="item metadata (titles, genres)")


def load_options_from_args(args: argparse.Namespace) -> LoadOptions:
    return LoadOptions(
        user=args.user,
        item=args.item,
        rating=args.rating,
        timestamp=args.timestamp,
        sep=args.sep,
        header=args.header,
        min_rating=args.min_rating,
        min_user_count=args.min_user_count,
        min_item_count=args.min_item_count,
        dedupe=args.dedupe,
    )


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="read an interaction file and report what it holds",
        description="Read an interaction file (CSV, TSV, whitespace, '::', Parquet), map the "
        "ids and report users, items, interactions and dropped rows.",
    )
    p.add_argument("file", type=Path, help="interaction file")
    add_load_arguments(p)
    p.add_argument("--json", action="store_true", help="end with one line of JSON (the full report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _data, report = load_interactions(args.file, load_options_from_args(args), item_metadata=args.items_meta)
    print("\n".join(report.summary_lines()), flush=True)
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=False))
    return 0
