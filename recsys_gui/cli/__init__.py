"""`recsys-gui`: no arguments opens the window; a subcommand runs headless on the same core.

Each subcommand lives in its own module with ``register(subparsers)``; the module's handler takes
the parsed arguments and returns an exit code. Our own errors become one clear line and exit 2
(3 when cancelled); anything else is an internal error (exit 1) with the traceback kept for the log.
Process-wide settings (allocator, warning filters, ``--threads``) are made here, at the entry point,
never by the library (``recsys_gui.process_setup``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from recsys_gui import __version__
from recsys_gui.core.errors import RecsysError
from recsys_gui.process_setup import (
    apply_thread_count,
    configure_allocator,
    configure_openmp,
    quiet_known_warnings,
)

# Explicit list: one module per subcommand, in the order `--help` shows them.
_COMMAND_MODULES = (
    "import_cmd",
    "split_cmd",
    "train_cmd",
    "tune_cmd",
    "evaluate_cmd",
    "recommend_cmd",
    "embeddings_cmd",
    "privacy_cmd",
    "runs_cmd",
    "report_cmd",
    "bundle_cmd",
    "models_cmd",
    "sample_cmd",
    "screenshots_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="recsys-gui",
        description="RecSys Studio. Run with no arguments to open the desktop app; "
        "subcommands run the same core headless.",
    )
    parser.add_argument("--version", action="version", version=f"recsys-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"recsys_gui.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_openmp()
    configure_allocator()
    quiet_known_warnings()
    if not argv or argv[0].startswith("--data=") or (argv[0] in ("--data", "--workspace")):
        return _open_gui(argv)
    parser = build_parser()
    dashes = next((a for a in argv if a.startswith("--") and a.endswith("=--")), None)
    if dashes:  # argparse before Python 3.12 passes "--opt=--" on as an empty list
        parser.error(f"{dashes}: '--' is not a value for {dashes[:-3]}")
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_gui([])
    if getattr(args, "threads", None):  # only then: importing torch costs `import` a second and 150 MB
        apply_thread_count(args.threads)
    try:
        return int(args.func(args) or 0)
    except RecsysError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 3
    except BrokenPipeError:
        return 0


def terminal_safe(text: str) -> str:
    """``text`` with control characters other than newline and tab written as escapes: a message
    quotes the user's file, and an id holding ESC sequences must not drive the terminal."""
    return "".join(c if c in "\n\t" or c.isprintable() else repr(c)[1:-1] for c in text)


def _open_gui(argv: list[str]) -> int:
    # The GUI is the only place Qt is imported; the import is deferred so headless use never loads it.
    from importlib import import_module

    return int(import_module("recsys_gui.gui.app").main(argv) or 0)
