"""What a load did (LoadReport), for the data panel and `recsys-gui import --json`."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.loading.options import LoadOptions, SniffResult


@dataclass
class LoadReport:
    """What a load did, for the data panel and `recsys-gui import --json`."""

    path: str
    rows: int
    users: int
    items: int
    interactions: int
    density: float
    rating_min: float | None
    rating_max: float | None
    time_min: int | None
    time_max: int | None
    columns: dict[str, str | None]
    dropped: dict[str, int]
    warnings: list[str]
    format: str = "text"
    sep: str | None = None
    header: bool | None = None
    encoding: str | None = None
    implicit: bool = False
    dedupe: str = "last"
    items_with_metadata: int | None = None
    parts: dict[str, int] | None = None
    seconds: float = 0.0
    sampled_users: int | None = None  # with --sample-users: users taken ...
    users_in_file: int | None = None  # ... of this many
    source: str | None = None  # what was read of a database or workbook ("table events", "sheet 1")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        sep = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", " ": "space"}.get(
            self.sep or "", self.sep or ""
        )
        how = {"parquet": "Parquet", "sqlite": "SQLite", "excel": "Excel"}.get(self.format) or (
            f"{sep}-separated, {'header' if self.header else 'no header'}, {self.encoding}"
        )
        if self.source:
            how = f"{how}, {self.source}"
        lines = [
            f"{self.path}",
            f"  users: {self.users:,}   items: {self.items:,}   interactions: {self.interactions:,}"
            f"   density: {self.density:.4%}",
            f"  rows read: {self.rows:,} ({how}, {self.seconds:.2f} s)",
            "  columns: " + ", ".join(f"{r}={c if c is not None else '-'}" for r, c in self.columns.items()),
        ]
        if self.sampled_users is not None:
            lines.append(f"  sampled {self.sampled_users:,} of {self.users_in_file:,} users (--sample-users)")
        if self.parts:
            lines.append("  parts: " + ", ".join(f"{k} {v:,}" for k, v in self.parts.items()))
        if self.rating_min is not None:
            kind = " (implicit: values set to 1 after the threshold)" if self.implicit else ""
            lines.append(f"  ratings: {self.rating_min:g} to {self.rating_max:g}{kind}")
        if self.time_min is not None and self.time_max is not None:
            lines.append(f"  time: {iso_time(self.time_min)} to {iso_time(self.time_max)}")
        if self.items_with_metadata is not None:
            lines.append(f"  item metadata: {self.items_with_metadata:,} of {self.items:,} items")
        dropped = [f"{n:,} {reason}" for reason, n in self.dropped.items() if n]
        lines.append("  dropped: " + ("; ".join(dropped) if dropped else "nothing"))
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return lines


def iso_time(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def build_report(
    sn: SniffResult,
    data: InteractionData,
    rows: int,
    dropped: dict[str, int],
    warnings: list[str],
    options: LoadOptions,
    *,
    has_rating: bool,
    start: float,
    parts: dict[str, int] | None = None,
    ratings: np.ndarray | None = None,
    sampled: tuple[int, int] | None = None,
) -> LoadReport:
    v, t = (data.values if ratings is None else ratings), data.timestamps
    meta_count = None
    if data.item_meta is not None and "title" in data.item_meta.columns:
        meta_count = int(data.item_meta["title"].notna().sum())
        if meta_count < data.n_items:
            warnings = [*warnings, f"no metadata for {data.n_items - meta_count:,} of {data.n_items:,} items"]
    return LoadReport(
        path=sn.path,
        rows=rows,
        users=data.n_users,
        items=data.n_items,
        interactions=len(data),
        density=len(data) / max(data.n_users * data.n_items, 1),
        rating_min=float(v.min()) if has_rating and len(v) else None,
        rating_max=float(v.max()) if has_rating and len(v) else None,
        time_min=int(t.min()) if t is not None and len(t) else None,
        time_max=int(t.max()) if t is not None and len(t) else None,
        columns=dict(sn.roles),
        dropped=dropped,
        warnings=list(warnings),
        format=sn.format,
        sep=sn.sep,
        header=sn.header,
        encoding=sn.encoding,
        implicit=options.min_rating is not None and has_rating,
        dedupe=options.dedupe,
        items_with_metadata=meta_count,
        parts=parts,
        seconds=round(time.perf_counter() - start, 3),
        sampled_users=None if sampled is None else sampled[0],
        users_in_file=None if sampled is None else sampled[1],
        source=_source_of(sn),
    )


def _source_of(sn: SniffResult) -> str | None:
    if sn.table is not None:
        return f"table {sn.table}"
    if sn.query is not None:
        return f"query {sn.query[:60]}{'...' if len(sn.query) > 60 else ''}"
    if sn.sheet is not None:
        return f"sheet {sn.sheet}"
    return f"{sn.compression}-compressed" if sn.compression else None
