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


def add_load_options(parser: argparse.ArgumentParser) -> None:
    """Column, format and cleaning flags shared by every command that reads an interaction file."""
    g = parser.add_argument_group("reading the file (guessed when not given)")
    g.add_argument("--user", metavar="COL", help="user id column (name, or 0-based position without header)")
    g.add_argument("--item", metavar="COL", help="item id column")
    g.add_argument("--rating", metavar="COL", help="rating/weight column ('none' to ignore one)")
    g.add_argument("--timestamp", metavar="COL", help="time column ('none' to ignore one)")
    g.add_argument("--sep", metavar="S", help="separator: ',', tab, ';', '|', '::' or whitespace")
    hdr = g.add_mutually_exclusive_group()
    hdr.add_argument("--header", dest="header", action="store_true", default=None,
                     help="the first line holds column names")
    hdr.add_argument("--no-header", dest="header", action="store_false", help="there is no header line")
    g.add_argument("--date-format", metavar="FMT",
                   help="how the time column's dates are written, as strptime writes it, e.g. "
                        "'%%d.%%m.%%Y %%H:%%M' (default: day-first or month-first as the values show)")
    g.add_argument("--table", metavar="NAME", help="SQLite database: the table (or view) to read")
    g.add_argument("--query", metavar="SQL", help="SQLite database: a SELECT giving the interactions")
    g.add_argument("--sheet", metavar="NAME", help="Excel workbook: the sheet to read (default: the first)")
    g.add_argument("--sample-users", type=sample_size, metavar="N|SHARE",
                   help="read only a sample of whole users: a share (0.35) or a count (10000), taken "
                        "while reading, so a file too large to import whole can be sampled")
    g.add_argument("--sample-seed", type=int, metavar="N",
                   help="which users --sample-users takes (default 0; the same seed takes the same users)")
    c = parser.add_argument_group("cleaning")
    c.add_argument("--min-rating", type=float, metavar="X",
                   help="keep rows with rating >= X and treat them as implicit feedback")
    c.add_argument("--min-user-count", type=int, default=0, metavar="N", help="k-core: users need N rows")
    c.add_argument("--min-item-count", type=int, default=0, metavar="N", help="k-core: items need N rows")
    c.add_argument("--dedupe", choices=("last", "max", "sum", "mean"), default="last",
                   help="how to merge repeated user-item rows (default: keep the last in the file)")


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Where a run's data comes from and how it is split, shared by train and tune (with
    ``add_load_options`` for reading and cleaning, and ``add_model_arguments``)."""
    src = p.add_argument_group("data")
    src.add_argument("--data", metavar="FILE", help="Interaction file to split with --split.")
    src.add_argument("--train", metavar="FILE", help="Predefined split: training file.")
    src.add_argument("--valid", metavar="FILE", help="Predefined split: validation file (optional).")
    src.add_argument("--test", metavar="FILE", help="Predefined split: test file.")
    src.add_argument("--items-meta", metavar="FILE",
                     help="Item metadata (titles, genres), joined by item id.")
    src.add_argument("--split", default=None, metavar="SPEC",
                     help="ratio:8,1,1 (default, per user) | random:8,1,1 | loo | temporal:0.8,0.9 | "
                          "users:0.1,0.1,foldin=0.8")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The model and its model, trainer and metric settings, shared by train and tune."""
    p.add_argument("--model", help="Model name (see `recsys-gui models`).")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="A model or trainer setting, e.g. --set embedding_dim=128 (repeatable).")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=thread_count, help="CPU threads for torch (1 to 1024).")
    p.add_argument("--metrics", help="Comma-separated, e.g. ndcg@10,recall@20,mrr@10.")
    p.add_argument("--early-stop", metavar="METRIC",
                   help="Validation metric for model selection ('none' to keep the last epoch).")
    p.add_argument("--patience", type=int)
    p.add_argument("--spec", metavar="FILE", help="Re-run exactly: a spec.json written by an earlier run.")


def add_seeds(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help=f"{what} with N seeds (--seed, --seed+1, …): the JSON gains mean, std and ci95 "
                        "of every metric and the runs' ids.")


def sample_size(text: str) -> float:
    """--sample-users: a share in (0, 1) or a whole number of users."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a share of the users (0.35) or a number of users (10000), got {text!r}"
        ) from None
    if not (0 < value < 1 or (value >= 1 and value.is_integer())):
        raise argparse.ArgumentTypeError(
            f"expected a share between 0 and 1 (0.35) or a whole number of users (10000), got {text}"
        )
    return value


def thread_count(text: str) -> int:
    """--threads as argparse reads it: main applies the count before the command runs, so a count
    torch refuses (0 or less, past a C int) must be a usage error here, not its RuntimeError."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads, got {text!r}") from None
    if not 1 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"expected 1 to 1024 threads, got {text}")
    return n


LOAD_OPTION_NAMES = ("user", "item", "rating", "timestamp", "sep", "header", "min_rating", "min_user_count",
                     "min_item_count", "dedupe", "date_format", "table", "query", "sheet", "sample_users",
                     "sample_seed")


def load_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The given loader flags as ``LoadOptions`` keyword arguments (JSON-safe, for run specs)."""
    return {k: getattr(args, k) for k in LOAD_OPTION_NAMES if getattr(args, k) is not None}


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
    """A one-line progress bar on stderr: epoch, loss, that epoch's validation metric and ETA.

    The trainer sends an epoch's end before its validation, so an epoch's line waits for its own
    validation (a log gets it once the validation or the next event arrives; a terminal redraws it):
    printing at the epoch's end showed the previous epoch's value beside the new epoch.
    """

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.epochs = 0
        self.t0 = time.perf_counter()
        self.n_batches = 0
        self.ended: tuple[int, dict[str, float]] | None = None  # an ended epoch awaiting its validation

    def on_event(self, e: ev.TrainingEvent) -> None:
        if self.quiet:
            return
        if isinstance(e, ev.ValidationEnded):
            self._validated(e)
            return
        if not isinstance(e, (ev.StepLogged, ev.CheckpointSaved)):
            self._flush_ended()  # the best checkpoint is saved between an epoch's end and its validation
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
            self.ended = (e.epoch, e.losses)
            if self.tty:
                self._bar(e.epoch + 1, e.losses)  # redrawn with the validation when it comes
        elif isinstance(e, ev.Message):
            self._line(e.text, end="\n")
        elif isinstance(e, ev.RunFinished):
            self._line(f"{e.status} after {e.epochs_run} epoch(s) in {e.seconds:.1f}s; "
                       f"best epoch {ev.shown_epoch(e.best_epoch)}", end="\n")

    def _validated(self, e: ev.ValidationEnded) -> None:
        if self.ended is None or self.ended[0] != e.epoch:
            return  # a closed-form model's validation: the finished line reports the run
        main = next(iter(e.metrics.items()), None)
        valid = f"valid {main[0]} {main[1]:.4f}{' *' if e.is_best else ''}" if main else ""
        epoch, losses = self.ended
        self.ended = None
        self._bar(epoch + 1, losses, valid)

    def _flush_ended(self) -> None:
        """A log's line for an ended epoch that had no validation (the terminal already shows it)."""
        if self.ended is not None and not self.tty:
            self._bar(self.ended[0] + 1, self.ended[1])
        self.ended = None

    def _bar(self, progress: float, losses: dict[str, float], valid: str = "", end: str = "") -> None:
        done = progress / max(self.epochs, 1)
        width = 24
        filled = int(width * min(done, 1.0))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done - elapsed if done > 0 else 0.0
        loss = losses.get("loss", next(iter(losses.values()), float("nan")))
        epoch = min(int(progress) + (0 if progress == int(progress) else 1), self.epochs)
        parts = [f"epoch {epoch}/{self.epochs}", f"[{'=' * filled}{' ' * (width - filled)}]",
                 f"loss {loss:.4f}", valid, f"ETA {int(eta // 60)}:{int(eta % 60):02d}"]
        self._line(" ".join(p for p in parts if p), end=end)

    def _line(self, text: str, end: str = "") -> None:
        # A terminal redraws one line in place; a log file gets one line per update.
        self.stream.write("\r\033[K" + text + end if self.tty else text + "\n")
        self.stream.flush()
