"""`--pseudonymise` and `--drop-titles`: the privacy flags every export command shares."""

from __future__ import annotations

import argparse

from recsys_gui.core.privacy.options import ExportPrivacy


def add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("privacy")
    g.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        action="store_true",
        help="Write user ids as keyed pseudonyms (HMAC-SHA256 under the workspace's key, which never "
        "leaves the workspace); map them back with `recsys-gui pseudonyms map-back`.",
    )
    g.add_argument(
        "--drop-titles",
        action="store_true",
        help="Leave item titles and other item metadata out (item ids stay).",
    )


def privacy_from_args(args: argparse.Namespace) -> ExportPrivacy:
    return ExportPrivacy(
        pseudonymise=bool(getattr(args, "pseudonymise", False)),
        drop_titles=bool(getattr(args, "drop_titles", False)),
    )
