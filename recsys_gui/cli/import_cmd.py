"""`recsys-gui import FILE`: load an interaction file and say what was found and what was dropped.

The loader flags come from ``cli.common`` so every subcommand that reads interactions offers the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recsys_gui.cli.common import add_load_options, load_options_from_args
from recsys_gui.core.data.loaders import LoadOptions, load_interactions


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import",
        help="read an interaction file and report what it holds",
        description="Read interactions (CSV, TSV, whitespace, '::', also .gz/.bz2/.zst compressed; a "
        "Parquet file or folder; a SQLite table or query; an Excel sheet), map the ids and report "
        "users, items, interactions and dropped rows.",
    )
    p.add_argument("file", type=Path, help="interaction file, Parquet folder, SQLite database or .xlsx")
    add_load_options(p)
    p.add_argument("--items-meta", type=Path, metavar="FILE", help="item metadata (titles, genres)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON (the full report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _data, report = load_interactions(args.file, LoadOptions(**load_options_from_args(args)),
                                     item_metadata=args.items_meta)
    print("\n".join(report.summary_lines()), flush=True)
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=False))
    return 0
