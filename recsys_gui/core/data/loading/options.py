"""What to read (LoadOptions), what the sniffer found (SniffResult) and the names both share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from recsys_gui.core.errors import ConfigError

ProgressFn = Callable[[float, str], None]
DedupePolicy = Literal["last", "max", "sum", "mean"]
ROLES = ("user", "item", "rating", "timestamp")
SEPARATORS = ("::", "\t", ",", ";", "|", "whitespace")  # sniffing order: first consistent one wins
DROP_REASONS = ("missing id", "missing rating", "missing timestamp", "duplicate merged",
                "below rating threshold", "k-core")
NULLS = ["", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A"]
SAMPLE_BYTES = 1 << 16  # what the sniffer (and the memory estimate) look at


@dataclass(frozen=True)
class LoadOptions:
    """How to read an interaction file. Every ``None`` means "guess it from the file".

    Column roles take a column name, or a 0-based position ("0", "1", ...) when there is no
    header; ``rating``/``timestamp`` may be "none" to ignore a column the guesser would pick.
    ``date_format`` is a strptime format ("%d.%m.%Y %H:%M") every time value must match.
    """

    user: str | None = None
    item: str | None = None
    rating: str | None = None
    timestamp: str | None = None
    sep: str | None = None  # ',', '\t', ';', '|', '::', 'whitespace' (or ' '); None = sniff
    header: bool | None = None
    min_rating: float | None = None  # explicit -> implicit: keep rating >= threshold, values become 1
    min_user_count: int = 0
    min_item_count: int = 0
    dedupe: DedupePolicy = "last"  # 'last' by file order; max/sum/mean of the values
    date_format: str | None = None  # None: dates are read day- or month-first as their values show
    table: str | None = None  # SQLite: the table (or view) to read; None = the only one there is
    query: str | None = None  # SQLite: a SELECT giving the rows instead of a table
    sheet: str | None = None  # Excel: the sheet to read; None = the first
    sample_users: float | None = None  # < 1: that share of the users; >= 1: that many users (whole)
    sample_seed: int = 0  # which users a sample takes; the same seed always takes the same ones

    def __post_init__(self) -> None:
        if self.dedupe not in ("last", "max", "sum", "mean"):
            raise ConfigError(f"unknown duplicate policy '{self.dedupe}' (use last, max, sum or mean)")
        if self.min_user_count < 0 or self.min_item_count < 0:
            raise ConfigError("minimum counts cannot be negative")
        if self.min_rating is not None and not math.isfinite(self.min_rating):
            raise ConfigError("the rating threshold must be a finite number")
        if self.table is not None and self.query is not None:
            raise ConfigError("give a table (--table) or a query (--query), not both")
        if self.sample_users is not None and not (
            0 < self.sample_users < 1 or (self.sample_users >= 1 and float(self.sample_users).is_integer())
        ):
            raise ConfigError(
                f"cannot sample {self.sample_users:g} users: give a share between 0 and 1 (0.35) "
                "or a whole number of users (10000)"
            )
        if self.date_format is not None and "%" not in self.date_format:
            raise ConfigError(
                f"the date format '{self.date_format}' has no field; write it as strptime does, "
                "e.g. '%d.%m.%Y %H:%M'"
            )


@dataclass(frozen=True)
class SniffResult:
    """What the sniffer found; the GUI preview shows it and lets the user override each part."""

    path: str
    format: Literal["text", "parquet", "sqlite", "excel"]
    sep: str | None  # one of SEPARATORS or another single character; None for the other formats
    header: bool
    encoding: str | None  # 'utf-8', 'utf-8-sig' or 'latin-1'; None for the other formats
    columns: tuple[str, ...]
    roles: dict[str, str | None]
    quoting: bool = True
    skip_rows: int = 0  # physical lines before the first data row (blank lines + header)
    sample_rows: tuple[tuple[str, ...], ...] = ()
    warnings: tuple[str, ...] = ()
    table: str | None = None  # SQLite: the table read (None with a query)
    query: str | None = None  # SQLite: the query read
    sheet: str | None = None  # Excel: the sheet read
    compression: str | None = None  # text: 'gzip', 'bz2' or 'zstd' when the file is compressed
    # With --sample-users: each kept row's position among the file's records (for line numbers).
    kept_rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k != "kept_rows"}


def tick(progress: ProgressFn | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(fraction, text)
