"""`recsys-gui runs list|show|delete|clean|rename|tag|note`: the workspace's run store.

Opening the store marks runs whose process died as "interrupted"; ``list`` then says how to resume
them (``train --resume``) or clean them up (``runs clean``), the CLI's half of "the next start
offers to resume or clean up".
"""

from __future__ import annotations

import argparse
import sys
import time

from recsys_gui.cli import mlflow_cmd
from recsys_gui.cli.common import add_workspace, print_json
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.store.run_store import RunStore

ACTIONS = ("list", "show", "rename", "tag", "note", "delete", "clean", "export-mlflow")
CLEANABLE = ("interrupted", "failed", "cancelled", "pruned")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "runs",
        help="List, show, rename, tag, note, delete or clean up stored runs.",
        description="Every RUN may be a run's id, its unique name or a unique start of its id. "
        "`clean` removes interrupted runs (their process died) and what killed "
        "processes left in the workspace; --failed/--cancelled add those runs.",
        epilog="examples: runs rename RUN baseline-mf | runs tag RUN keep paper [--remove old] | "
        "runs note RUN 'tuned on P3' | runs list --tag keep --model mf",
    )
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("run_id", nargs="?", metavar="RUN")
    p.add_argument(
        "values", nargs="*", metavar="VALUE", help="rename: the new name; tag: tags; note: the text."
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--yes", action="store_true", help="Delete without asking.")
    p.add_argument("--interrupted", action="store_true", help="clean: interrupted runs (the default).")
    p.add_argument("--failed", action="store_true", help="clean: failed runs too.")
    p.add_argument("--cancelled", action="store_true", help="clean: cancelled (stopped) runs too.")
    p.add_argument("--pruned", action="store_true", help="clean: trials a search stopped early too.")
    p.add_argument("--remove", action="append", default=[], metavar="TAG", help="tag: remove this tag.")
    p.add_argument("--to", metavar="DIR", help="export-mlflow: the MLflow file store to write (mlruns).")
    p.add_argument("--experiment", help="export-mlflow: the MLflow experiment name.")
    f = p.add_argument_group("list: filters")
    f.add_argument("--search", metavar="TEXT", help="text in the id, name or note")
    f.add_argument("--tag", help="runs with this tag")
    f.add_argument("--model", help="runs of this model")
    f.add_argument("--dataset", metavar="TEXT", help="text in the data file's path")
    f.add_argument("--since", metavar="YYYY-MM-DD", type=_date, help="created on or after this day")
    f.add_argument("--until", metavar="YYYY-MM-DD", type=_date, help="created before the end of this day")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.workspace)
    try:
        if args.action == "list":
            return _list(store, args)
        if args.action == "clean":
            return _clean(store, args)
        if not args.run_id:
            raise ConfigError(f"`runs {args.action}` needs a run id.")
        if args.action == "export-mlflow":
            if not args.to:
                raise ConfigError("`runs export-mlflow RUN… --to DIR` needs the folder of the MLflow store.")
            return mlflow_cmd.export_and_print(
                args.workspace,
                [args.run_id, *args.values],
                args.to,
                experiment=args.experiment,
                as_json=args.json,
            )
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
        if args.action in ("rename", "tag", "note"):
            return _annotate(store, row["id"], args)
        if not _confirm(args, f"Delete run {row['id']} and its files?"):
            print("Nothing deleted.")
            return 0
        store.delete_run(row["id"])
        print(f"Deleted run {row['id']}.")
        return 0
    finally:
        store.close()


def _annotate(store: RunStore, run_id: str, args: argparse.Namespace) -> int:
    if args.action == "rename":
        if len(args.values) != 1:
            raise ConfigError("`runs rename RUN NEW_NAME` takes one new name (quote a name with spaces).")
        store.rename_run(run_id, args.values[0])
        print(f"Run {run_id} is now named '{args.values[0].strip()}'.")
    elif args.action == "tag":
        if not args.values and not args.remove:
            raise ConfigError("`runs tag RUN TAG [TAG…]` needs a tag to add (or --remove TAG).")
        tags = store.tag_run(run_id, add=args.values, remove=args.remove)
        print(f"Run {run_id} tags: {', '.join(tags) or '(none)'}.")
    else:
        store.set_note(run_id, " ".join(args.values))
        print(f"Run {run_id}: note {'saved' if args.values else 'cleared'}.")
    return 0


def _list(store: RunStore, args: argparse.Namespace) -> int:
    rows = store.list_runs(
        text=args.search,
        tag=args.tag,
        model=args.model,
        dataset=args.dataset,
        since=args.since,
        until=args.until + 86400 if args.until is not None else None,
    )
    if args.json:
        print_json([_brief(r) for r in rows])
        return 0
    if not rows:
        print(f"No runs yet in {store.workspace.root}.")
    for r in rows:
        b = _brief(r)
        nd = next((f"{k} {v:.4f}" for k, v in (r.get("test") or {}).items()), "")
        name = "" if b["name"] == b["id"] else b["name"]
        tags = f"  [{', '.join(b['tags'])}]" if b["tags"] else ""
        print(f"{b['id']:<36} {name:<20} {b['model']:<8} {b['status']:<13} {b['created']}  {nd}{tags}")
    interrupted = store.interrupted_runs()
    if interrupted:
        resumable = [r["id"] for r in interrupted if r["resumable"]]
        print(f"\n{len(interrupted)} run(s) were interrupted (their process ended mid-run).")
        if resumable:
            print(
                f"  resume one:  recsys-gui train --resume {resumable[0]}"
                + (f"   ({len(resumable)} have a checkpoint to resume from)" if len(resumable) > 1 else "")
            )
        print("  clean up:    recsys-gui runs clean --interrupted --yes")
    return 0


def _clean(store: RunStore, args: argparse.Namespace) -> int:
    statuses = [s for s in CLEANABLE if getattr(args, s)] or ["interrupted"]
    doomed = [r for r in store.list_runs() if r.get("stored_status", r["status"]) in statuses]
    if doomed and not _confirm(args, f"Delete {len(doomed)} {'/'.join(statuses)} run(s) and their files?"):
        print("Nothing deleted.")
        return 0
    removed = store.clean(statuses)
    if args.json:
        print_json(removed)
        return 0
    if removed.get("adopted"):
        print(
            f"The run store did not know {len(removed['adopted'])} run folder(s); their runs were read back "
            f"from the folders: {', '.join(removed['adopted'])}."
        )
    print(
        f"Removed {len(removed['runs'])} run(s) ({', '.join(statuses)}), {len(removed['orphans'])} "
        f"folder(s) without a run and {len(removed['partials'])} partial file(s) of killed writes."
    )
    return 0


def _date(text: str) -> float:
    """A day as the local midnight's timestamp; argparse shows the ValueError as a usage message."""
    return time.mktime(time.strptime(text, "%Y-%m-%d"))


def _confirm(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError("Refusing to delete without confirmation: add --yes.")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _brief(r: dict) -> dict:
    return {
        "id": r["id"],
        "name": r.get("name") or r["id"],
        "model": r["model"],
        "status": r["status"],
        "tags": r.get("tags") or [],
        "note": r.get("note") or "",
        "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"] or 0)),
        "best_epoch": r.get("best_epoch"),
        "test": r.get("test") or {},
        **_privacy(r),
    }


def _privacy(r: dict) -> dict:
    """A private run's ε spent (issue 27); nothing for an ordinary run."""
    from recsys_gui.core.training.privacy import run_privacy

    privacy = run_privacy(r)
    return {"epsilon_spent": privacy["epsilon_spent"]} if privacy else {}
