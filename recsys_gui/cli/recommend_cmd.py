"""`recsys-gui recommend RUN_ID`: every user's top-K to a file (the Export page's `export_recommendations`),
or one list printed for a known user (`--user ID`) or a basket (`--items A,B,C`) through `core.serving`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from recsys_gui.cli.common import add_workspace, print_json
from recsys_gui.cli.privacy_args import add_privacy_arguments, privacy_from_args
from recsys_gui.core.errors import ConfigError

if TYPE_CHECKING:
    from recsys_gui.core.serving import Recommendation


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "recommend",
        help="Export each user's top-K (SQLite, CSV or Parquet), or print one user's or a basket's.",
        description="With --out: rank items for every user (or those in --users) with a stored run's "
        "model and write user_id, rank, item_id, score (and title when known). Without --out: print the "
        "list of one known user (--user ID) or of a basket of items (--items A,B,C, optionally "
        "--ratings 5,4,3) as a table or --json. Items the user already has in train or valid (or the "
        "basket's items) are excluded unless --include-seen. --explain N names the N history items "
        "behind each recommendation (a 'because' column in exports).",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--top", "-k", "--k", type=int, default=20, metavar="K", help="Recommendations per user (default 20)."
    )
    p.add_argument(
        "--out",
        "-o",
        metavar="PATH",
        help="Export every user's list to this file: .sqlite/.db, .csv or .parquet (or give --format).",
    )
    p.add_argument("--user", metavar="ID", help="Print this known user's list (raw id; no --out).")
    p.add_argument("--new-item", metavar="FEATURES",
                   help="A new item given by its features, e.g. 'genres=Comedy|Romance' (columns separated "
                        "by ';'): print the users it would be recommended to (see --top-users). Needs a "
                        "run trained with item features (mf --set features=items, genre-pop).")
    p.add_argument("--top-users", type=int, default=10, metavar="N",
                   help="With --new-item: how many users to print (default 10).")
    p.add_argument(
        "--ratings",
        metavar="R1,R2,...",
        help="With a basket: one rating per item of --items (default 1 each).",
    )
    p.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="Name the N history items that contributed most to each recommendation (default 0: none).",
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
    p.add_argument(
        "--items",
        metavar="A,B,C|FILE",
        help="Without --out: a basket of raw item ids to recommend for (comma-separated). With --out: "
        "a file of raw item ids, one per line, to recommend only from.",
    )
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
    add_privacy_arguments(p)
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.new_item is not None:
        return print_new_item_users(args)
    if args.out is None:
        return print_one_list(args)
    if args.user is not None or args.ratings is not None:
        raise ConfigError(
            "--user and --ratings print one list; leave out --out (or use --users FILE to export)."
        )
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
        explain=args.explain,
        privacy=privacy_from_args(args),
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


def print_one_list(args: argparse.Namespace) -> int:
    """``--user ID`` or ``--items A,B,C``: one list on stdout, as a table or one JSON line."""
    if (args.user is None) == (args.items is None):
        raise ConfigError(
            "Give --out FILE to export every user's list, or one of --user ID / --items A,B,C to print one."
        )
    if args.users is not None:
        raise ConfigError("--users FILE selects users for an export: add --out FILE.")
    if args.ratings is not None and args.items is None:
        raise ConfigError("--ratings goes with a basket (--items A,B,C).")
    if args.top < 1 or args.explain < 0:
        raise ConfigError(
            f"--top must be at least 1 and --explain 0 or more (got {args.top}, {args.explain})."
        )
    from recsys_gui.core.serving import load_run

    items = _split_list(args.items, "--items") if args.items is not None else None
    ratings = None
    if args.ratings is not None:
        try:
            ratings = [float(r) for r in _split_list(args.ratings, "--ratings")]
        except ValueError:
            raise ConfigError(
                f"--ratings: expected numbers separated by commas, got '{args.ratings}'."
            ) from None
    run = load_run(args.run_id, args.workspace, device=args.device)
    recs = run.recommend(
        user=args.user,
        items=items,
        ratings=ratings,
        top=args.top,
        explain=args.explain,
        exclude_known=not args.include_seen,
    )
    if args.json:
        query = {"user": args.user} if args.user is not None else {"items": items, "ratings": ratings}
        print_json(
            {
                "run_id": run.run_id,
                "model": run.model_name,
                **query,
                "recommendations": [r.to_dict() for r in recs],
            }
        )
        return 0
    print(_table(recs, explain=args.explain > 0))
    return 0


def print_new_item_users(args: argparse.Namespace) -> int:
    """``--new-item FEATURES``: the top users for an item given only by its features, as a table or JSON."""
    if args.out is not None or args.user is not None or args.items is not None:
        raise ConfigError("--new-item prints the users for a new item; leave out --out, --user and --items.")
    if args.top_users < 1:
        raise ConfigError(f"--top-users must be at least 1 (got {args.top_users}).")
    from recsys_gui.core.serving import load_run

    run = load_run(args.run_id, args.workspace, device=args.device)
    users = run.top_users_for_new_item(args.new_item, top=args.top_users)
    if args.json:
        print_json({"run_id": run.run_id, "model": run.model_name, "new_item": args.new_item,
                    "users": [u.to_dict() for u in users]})
        return 0
    rows = [["rank", "user", "score"], *[[str(u.rank), str(u.user), f"{u.score:.4f}"] for u in users]]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    print("\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    return 0


def _split_list(text: str, flag: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise ConfigError(f"{flag}: give values separated by commas, e.g. 1,2,3.")
    return values


def _table(recs: list[Recommendation], *, explain: bool) -> str:
    """A plain-text table: rank, item, score[, title][, because] (title only when the run has titles)."""
    if not recs:
        return "(no recommendations: every item is already known)"
    titled = any(r.title for r in recs)
    rows = [["rank", "item", "score", *(["title"] if titled else []), *(["because"] if explain else [])]]
    for r in recs:
        because = "; ".join(f"{b.item}{' ' + b.title if b.title else ''} ({b.share:.0%})" for b in r.because)
        title = [r.title or ""] if titled else []
        rows.append([str(r.rank), str(r.item), f"{r.score:.4f}", *title, *([because] if explain else [])])
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def console_progress():
    """A progress callback that redraws one line on a terminal and stays silent otherwise."""
    stream = sys.stderr
    if not stream.isatty():
        return None

    def show(fraction: float, text: str) -> None:
        stream.write(f"\r\033[K{fraction * 100:5.1f}%  {text}" + ("\n" if fraction >= 1.0 else ""))
        stream.flush()

    return show
