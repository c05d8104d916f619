"""`recsys-gui screenshots OUT_DIR`: render every page of the app offscreen after a short real run.

Only the arguments live here; the work is in ``recsys_gui.gui.screenshots``, imported when the
command runs, so the CLI never imports Qt.
"""

from __future__ import annotations

import argparse
from importlib import import_module


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("screenshots", help="Render every page of the app to PNG files (offscreen).",
                       description="Open the main window offscreen at 1400×900, load data, train a short "
                                   "real run, then save one PNG per page.")
    p.add_argument("out_dir", metavar="OUT_DIR", help="Folder for NN-page.png files.")
    p.add_argument("--data", metavar="FILE", help="Interaction file (default: sample_data/interactions.csv).")
    p.add_argument("--items", metavar="FILE", help="Item metadata file (default: items.csv beside the data).")
    p.add_argument("--model", default="mf", help="Model to train (default: mf).")
    p.add_argument("--epochs", type=int, default=4, help="Epochs of the short run (default: 4).")
    p.add_argument("--workspace", metavar="DIR", help="Workspace (default: a fresh temporary folder).")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--timeout", type=float, default=300.0, help="Seconds to wait for each step.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return int(import_module("recsys_gui.gui.screenshots").run(args) or 0)
