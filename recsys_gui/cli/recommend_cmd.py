"""`recsys-gui recommend RUN_ID`: the headless twin of the Export page (same `export_recommendations`)."""

from __future__ import annotations

import argparse
import sys

from recsys_gui.cli.common import add_workspace, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "recommend",
        help="Export each user's top-K recommendations (SQLite, CSV or Parquet).",
        description="Rank items for every user (or those in --users) with a stored run's model and "
        "write user_id, rank, item_id, score (and title when known). Items the user "
        "already has in train or valid are excluded unless --include-seen.",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--top", "-k", "--k", type=int, default=20, metavar="K", help="Recommendations per user (default 20)."
    )
    p.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="PATH",
        help="Output file: .sqlite/.db, .csv or .parquet (or give --format).",
    )
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("sqlite", "csv", "parquet"),
        help="Output format (default: from the suffix of --out).",
    )
    p.add_argument(
        "--users", metavar="FILE", help="Only these users: raw ids, one per line. Unknown ids are reported."
    )
    p.add_argument("--items", metavar="FILE", help="Recommend only from these items: raw ids, one per line.")
    p.add_argument(
        "--include-seen",
        action="store_true",
        help="Also recommend items the user already has in train/valid.",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace PATH if it exists (a file, or a link itself; never a folder, device or pipe).",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument(
        "--chunk-users",
        type=int,
        metavar="N",
        help="Users ranked per step (default: sized to the catalogue, ~64 MB of scores).",
    )
    p.add_argument("--json", action="store_true", help="Print the report as one JSON line at the end.")
    p.add_argument("--quiet", action="store_true", help="No progress line.")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.export.recommendations import export_recommendations
    from recsys_gui.core.training.control import StopToken, install_signal_handlers

    stop = StopToken()
    install_signal_handlers(stop)  # Ctrl-C / SIGTERM: stop between chunks, remove the partial file
    report = export_recommendations(
        args.workspace,
        args.run_id,
        args.out,
        top=args.top,
        fmt=args.fmt,
        users=args.users,
        include_seen=args.include_seen,
        items=args.items,
        overwrite=args.overwrite,
        device=args.device,
        progress=None if args.quiet else console_progress(),
        should_stop=lambda: stop.stop_requested,
        chunk_users=args.chunk_users,
    )
    d = report.to_dict()
    if args.json:
        print_json(d)
    else:
        print(
            f"wrote {report.rows:,} rows ({report.users:,} users × top {report.top}) to {report.path} "
            f"[{report.format}] in {report.seconds:.1f}s"
        )
        if report.short_users:
            print(
                f"  {report.short_users:,} user(s) got fewer than {report.top}: not enough unseen candidates"
            )
    for what, ids in (("user", report.unknown_users), ("item", report.unknown_items)):
        if ids:
            shown = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
            print(f"warning: {len(ids)} unknown {what} id(s) ignored: {shown}", file=sys.stderr)
    return 0


def console_progress():
    """A progress callback that redraws one line on a terminal and stays silent otherwise."""
    stream = sys.stderr
    if not stream.isatty():
        return None

    def show(fraction: float, text: str) -> None:
        stream.write(f"\r\033[K{fraction * 100:5.1f}%  {text}" + ("\n" if fraction >= 1.0 else ""))
        stream.flush()

    return show
