"""`recsys-gui report RUN [RUN…] --out report.html`: one self-contained HTML file to keep or share."""

from __future__ import annotations

import argparse

from recsys_gui.cli.common import add_workspace


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help="Write a self-contained HTML report of a run, or compare several.",
        description="One run gives a run report (settings, data and split, curves, test metrics "
        "with intervals, a sample of users' top-10). Several runs give a comparison "
        "(metrics table, overlaid validation curves, accuracy against coverage, "
        "paired tests with Holm correction), then each run's own section. The file "
        "has every figure inline and loads nothing from the network.",
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="A run's id, its unique name or a unique start of its id."
    )
    p.add_argument("--out", required=True, metavar="FILE", help="The HTML file to write.")
    p.add_argument("--overwrite", action="store_true", help="Replace FILE if it exists.")
    add_workspace(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from recsys_gui.core.reporting import write_report

    info = write_report(args.workspace, args.runs, args.out, overwrite=args.overwrite)
    kind = "run report" if len(info.runs) == 1 else f"comparison of {len(info.runs)} runs"
    print(f"Wrote {info.path} ({info.bytes / 1024:,.0f} KB): {kind}.")
    return 0
