"""`recsys-gui pseudonyms map-back FILE --run RUN | rotate`: the workspace's pseudonym key at work.

A pseudonym cannot be decoded; ``map-back`` hashes the run's own user ids with the workspace's keys
(the current one and every retired one) and looks the file's pseudonyms up in that table.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import sys
from pathlib import Path
from typing import TextIO

from recsys_gui.cli.common import add_workspace, print_json
from recsys_gui.core.errors import DataError, ExportError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "pseudonyms",
        help="Map pseudonymised user ids of an export back to raw ids, or rotate the key.",
        description="map-back FILE --run RUN: read the user_id column of an export (SQLite, CSV, "
        "Parquet, or a text file with one pseudonym per line) and write 'pseudonym,user_id' for "
        "every pseudonym the workspace's keys made from one of the run's users. rotate: retire the "
        "current key under a dated name (old exports still map back) and make a new one.",
    )
    p.add_argument("action", choices=("map-back", "rotate"))
    p.add_argument("file", nargs="?", metavar="FILE", help="map-back: the pseudonymised export.")
    p.add_argument("--run", metavar="RUN", help="map-back: the run the export was made from.")
    p.add_argument("--out", "-o", metavar="PATH", help="map-back: write the CSV here (default: stdout).")
    p.add_argument("--overwrite", action="store_true", help="Replace --out if it exists.")
    p.add_argument("--json", action="store_true", help="Print a summary as one JSON line at the end.")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "rotate":
        return _rotate(args)
    if not args.file or not args.run:
        raise ExportError("pseudonyms map-back needs the export FILE and --run RUN.")
    return _map_back(args)


def _rotate(args: argparse.Namespace) -> int:
    from recsys_gui.core.privacy.pseudonyms import key_id, read_key, rotate_key

    retired, current = rotate_key(args.workspace)
    summary = {"retired": str(retired) if retired else None, "key": str(current),
               "key_id": key_id(read_key(current))}
    if args.json:
        print_json(summary)
    else:
        kept = f"old key kept as {retired}" if retired else "there was no key before"
        print(f"new pseudonym key {summary['key_id']} in {current}; {kept}")
    return 0


def _map_back(args: argparse.Namespace) -> int:
    from recsys_gui.core.privacy.pseudonyms import map_back
    from recsys_gui.core.utils.atomic import atomic_target, check_target, resolved_target

    target = resolved_target(args.out) if args.out else None
    if target is not None:
        check_target(target, overwrite=args.overwrite)  # refused before the run's data is loaded
    pseudonyms = read_pseudonyms(Path(args.file).expanduser())
    found = map_back(args.workspace, pseudonyms, run_user_ids(args.workspace, args.run))
    if not found:
        raise ExportError(
            f"None of the {len(pseudonyms)} user ids in {args.file} was made from run {args.run}'s users "
            "with this workspace's pseudonym keys (another run, another workspace, or raw ids)."
        )
    rows = [(p, found[p]) for p in pseudonyms if p in found]
    if target is None:
        _write_csv(sys.stdout, rows)
    else:
        with atomic_target(target, overwrite=args.overwrite) as tmp, open(tmp, "w", newline="") as f:
            _write_csv(f, rows)
    missing = len(pseudonyms) - len(rows)
    if missing:
        print(f"warning: {missing} of {len(pseudonyms)} user ids were not mapped back", file=sys.stderr)
    if args.json:
        print_json({"file": args.file, "run": args.run, "pseudonyms": len(pseudonyms), "mapped": len(rows),
                    "out": str(target) if target else None})
    return 0


def _write_csv(stream: TextIO, rows: list[tuple[str, object]]) -> None:
    w = csv.writer(stream, lineterminator="\n")
    w.writerow(("pseudonym", "user_id"))
    w.writerows(rows)


def read_pseudonyms(path: Path) -> list[str]:
    """The distinct values of an export's ``user_id`` column, in order of first appearance."""
    if not path.is_file():
        raise DataError("no such file", path=path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".sqlite", ".db", ".sqlite3"):
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                values = [v for (v,) in db.execute("SELECT user_id FROM recommendations")]
        elif suffix in (".csv", ".parquet", ".pq"):
            import pandas as pd

            frame = (pd.read_csv(path, usecols=["user_id"], dtype=str, keep_default_na=False)
                     if suffix == ".csv" else pd.read_parquet(path, columns=["user_id"]))
            values = frame["user_id"].tolist()
        else:
            values = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    except (sqlite3.Error, ValueError, KeyError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the user_id column ({exc})", path=path) from None
    return list(dict.fromkeys(str(v) for v in values))


def run_user_ids(workspace: str | None, run: str) -> list[object]:
    """The raw user ids the run was trained on (its data reloaded; refused if the data changed)."""
    from recsys_gui.core.export.ids import raw_id_array
    from recsys_gui.core.session import load_run_split, stored_spec
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        row = store.get_run(run)
    finally:
        store.close()
    split = load_run_split(stored_spec(row), row)
    return raw_id_array(split.train.user_ids).tolist()
