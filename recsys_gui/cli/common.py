"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from recsys_gui.core.training import events as ev


def add_workspace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", metavar="DIR", default=None,
                   help="Workspace folder (default: $RECSYS_WORKSPACE or the user's data folder).")


def add_load_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the file")
    g.add_argument("--user", metavar="COL", help="User id column (name, or 0-based position without header).")
    g.add_argument("--item", metavar="COL", help="Item id column.")
    g.add_argument("--rating", metavar="COL", help="Rating / count / weight column.")
    g.add_argument("--timestamp", metavar="COL", help="Timestamp column.")
    g.add_argument("--sep", metavar="S", help="Separator (default: detected). Use '\\t' for tab.")
    g.add_argument("--no-header", action="store_true", help="The file has no header line.")
    g.add_argument("--min-rating", type=float, metavar="X", help="Keep rows with rating >= X (explicit → implicit).")
    g.add_argument("--min-user-count", type=int, default=0, metavar="N", help="Iterative k-core: users with >= N.")
    g.add_argument("--min-item-count", type=int, default=0, metavar="N", help="Iterative k-core: items with >= N.")
    g.add_argument("--dedupe", choices=("last", "max", "sum", "mean"), default="last",
                   help="How duplicate user–item rows are merged (default: last).")


def load_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    sep = args.sep
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t", "space": " ", "whitespace": r"\s+"}.get(sep, sep)
    opts: dict[str, Any] = {"user": args.user, "item": args.item, "rating": args.rating,
                            "timestamp": args.timestamp, "sep": sep, "min_rating": args.min_rating,
                            "min_user_count": args.min_user_count, "min_item_count": args.min_item_count,
                            "dedupe": args.dedupe}
    if args.no_header:
        opts["header"] = False
    return {k: v for k, v in opts.items() if v is not None}


def print_json(obj: Any) -> None:
    """The machine-readable result: always the last line on stdout."""
    print(json.dumps(obj, default=_default), flush=True)


def _default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:
        pass
    return str(o)


class ConsoleProgress:
    """A one-line progress bar on stderr: epoch, loss, validation metric and ETA."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.epochs = 0
        self.t0 = time.perf_counter()
        self.last_valid = ""
        self.n_batches = 0

    def on_event(self, e: ev.TrainingEvent) -> None:
        if self.quiet:
            return
        if isinstance(e, ev.RunStarted):
            self.epochs, self.t0 = e.epochs, time.perf_counter()
            self._line(f"run {e.run_id}: {e.model} on {e.device}, {e.n_users:,} users × {e.n_items:,} items, "
                       f"{e.n_train:,} training rows", end="\n")
        elif isinstance(e, ev.EpochStarted):
            self.n_batches = e.n_batches
        elif isinstance(e, ev.StepLogged) and self.tty:
            frac = (e.step + 1) / max(self.n_batches, 1)
            self._bar(e.epoch + frac, e.losses)
        elif isinstance(e, ev.EpochEnded):
            self._bar(e.epoch + 1, e.losses, end="\n" if not self.tty else "")
        elif isinstance(e, ev.ValidationEnded):
            main = next(iter(e.metrics.items()), None)
            if main:
                self.last_valid = f"valid {main[0]} {main[1]:.4f}{' *' if e.is_best else ''}"
        elif isinstance(e, ev.Message):
            self._line(e.text, end="\n")
        elif isinstance(e, ev.RunFinished):
            self._line(f"{e.status} after {e.epochs_run} epoch(s) in {e.seconds:.1f}s; best epoch {e.best_epoch}",
                       end="\n")

    def _bar(self, progress: float, losses: dict[str, float], end: str = "") -> None:
        done = progress / max(self.epochs, 1)
        width = 24
        filled = int(width * min(done, 1.0))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done - elapsed if done > 0 else 0.0
        loss = losses.get("loss", next(iter(losses.values()), float("nan")))
        text = (f"epoch {min(int(progress) + (0 if progress == int(progress) else 1), self.epochs)}/{self.epochs} "
                f"[{'=' * filled}{' ' * (width - filled)}] loss {loss:.4f} {self.last_valid} "
                f"ETA {int(eta // 60)}:{int(eta % 60):02d}")
        self._line(text, end=end)

    def _line(self, text: str, end: str = "") -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + end)
        else:
            self.stream.write(text + ("\n" if not end else end) if end or not self.tty else text)
        self.stream.flush()
