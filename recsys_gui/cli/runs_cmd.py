"""`recsys-gui runs list|show|delete`: the workspace's run store."""

from __future__ import annotations

import argparse
import time

from recsys_gui.cli.common import add_workspace, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("runs", help="List, show or delete stored runs.")
    p.add_argument("action", choices=("list", "show", "delete"))
    p.add_argument("run_id", nargs="?")
    p.add_argument("--json", action="store_true")
    p.add_argument("--yes", action="store_true", help="Delete without asking.")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(args.workspace)
    if args.action == "list":
        rows = store.list_runs()
        if args.json:
            print_json([_brief(r) for r in rows])
            return 0
        if not rows:
            print(f"No runs yet in {store.workspace.root}.")
        for r in rows:
            b = _brief(r)
            nd = next((f"{k} {v:.4f}" for k, v in (r.get("test") or {}).items()), "")
            print(f"{b['id']:<36} {b['model']:<8} {b['status']:<12} {b['created']}  {nd}")
        return 0
    if not args.run_id:
        raise ConfigError(f"`runs {args.action}` needs a run id.")
    row = store.get_run(args.run_id)
    if args.action == "show":
        row = {k: v for k, v in row.items() if not k.endswith("_json")}
        row["artifacts"] = store.artifacts(row["id"])
        if args.json:
            print_json(row)
        else:
            for k, v in row.items():
                print(f"{k}: {v}")
        return 0
    if not args.yes:
        import sys

        if not sys.stdin.isatty():
            raise ConfigError("Refusing to delete without confirmation: add --yes.")
        if input(f"Delete run {row['id']} and its files? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 0
    store.delete_run(row["id"])
    print(f"Deleted run {row['id']}.")
    return 0


def _brief(r: dict) -> dict:
    return {"id": r["id"], "model": r["model"], "status": r["status"],
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"] or 0)),
            "best_epoch": r.get("best_epoch"), "test": r.get("test") or {}}
