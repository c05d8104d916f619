"""Export a stored run's top-K recommendations for every user: what the CLI and the GUI call.

``export_recommendations(workspace, run_id, out, ...)`` reloads the run's model and data through
the session layer, resolves user/item allow-lists given as raw ids, and streams the ranked
chunks into a file. The layers it joins are usable alone, each in its own module:

* ``top_k``: ``recommend_frames`` ranks users in blocks on the device (batched scoring, masking,
  ``torch.topk``) and labels the rows with raw ids; ``prefetched`` runs it ahead of the writer;
* ``sinks``: ``write_recommendations`` streams those rows into SQLite, CSV or Parquet atomically;
* ``ids``: ``Labels`` and ``resolve_ids``, the raw-id mapping both ways.

Their public names are re-exported here, so ``recsys_gui.core.export.recommendations`` keeps
offering everything it always did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_gui import __version__
from recsys_gui.core.errors import ExportError, TrainingCancelled
from recsys_gui.core.export.ids import Labels, items_table, match_ids, read_id_file, resolve_ids
from recsys_gui.core.export.sinks import (
    COLUMNS,
    FORMATS,
    SUFFIXES,
    CsvSink,
    ParquetSink,
    RecommendationSink,
    SqliteSink,
    format_for,
    open_sink,
    write_recommendations,
)
from recsys_gui.core.export.top_k import (
    SCORE_BUDGET,
    auto_chunk_users,
    chunk_that_fits,
    prefetched,
    recommend_frames,
)
from recsys_gui.core.privacy.options import ExportPrivacy
from recsys_gui.core.session import load_run_model, load_split
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.utils.atomic import check_target, resolved_target
from recsys_gui.core.utils.devices import resolve_device

__all__ = [
    "COLUMNS",
    "FORMATS",
    "SCORE_BUDGET",
    "SUFFIXES",
    "CsvSink",
    "ExportReport",
    "Labels",
    "ParquetSink",
    "ProgressFn",
    "RecommendationSink",
    "SqliteSink",
    "auto_chunk_users",
    "chunk_that_fits",
    "export_recommendations",
    "format_for",
    "items_table",
    "match_ids",
    "open_sink",
    "prefetched",
    "read_id_file",
    "recommend_frames",
    "resolve_ids",
    "resolved_target",
    "run_info",
    "write_recommendations",
]

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote; ``unknown_users``/``unknown_items`` are raw ids from the allow-lists
    that the run does not know (reported, never silently skipped)."""

    path: Path
    format: str
    run_id: str
    top: int
    rows: int
    users: int
    seconds: float
    unknown_users: list[str] = field(default_factory=list)
    unknown_items: list[str] = field(default_factory=list)
    short_users: int = 0  # users with fewer than `top` candidates left after masking

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "run_id": self.run_id,
            "top": self.top,
            "rows": self.rows,
            "users": self.users,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "unknown_users": self.unknown_users,
            "unknown_items": self.unknown_items,
            "short_users": self.short_users,
        }


def export_recommendations(
    workspace: Workspace | Path | str | None,
    run_id: str,
    out: Path | str,
    *,
    top: int = 20,
    fmt: str | None = None,
    users: Path | str | Sequence[object] | None = None,
    include_seen: bool = False,
    items: Path | str | Sequence[object] | None = None,
    overwrite: bool = False,
    device: str = "auto",
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk_users: int | None = None,
    explain: int = 0,
    privacy: ExportPrivacy | None = None,
) -> ExportReport:
    """Export a stored run's top-``top`` list for every user (or the ``users`` given) to ``out``.

    ``users``/``items`` are a file of raw ids (one per line) or a list of raw ids. The format comes
    from ``fmt`` or the suffix. An existing ``out`` is refused unless ``overwrite``; the check runs
    before the model is loaded, so a refused export costs nothing. ``explain`` > 0 adds a
    ``because`` column naming that many history items behind each row (``explanations``);
    ``privacy`` writes user ids as keyed pseudonyms and/or leaves titles and item metadata out.
    """
    t0 = time.perf_counter()
    target = resolved_target(out)
    kind = format_for(target, fmt)
    if top < 1:
        raise ExportError(f"--top must be at least 1 (got {top}).")
    if explain < 0:
        raise ExportError(f"--explain must be 0 or more (got {explain}).")
    check_target(target, overwrite=overwrite)
    tick = progress or (lambda _f, _t: None)
    tick(0.0, "Loading the model and its data")
    dev = resolve_device(device)
    model, spec, row = load_run_model(workspace, run_id, device=dev)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    fingerprint = split.train.fingerprint()
    if row.get("data_fingerprint") and row["data_fingerprint"] != fingerprint:
        raise ExportError(
            f"The data files of run {row['id']} have changed since it was trained (fingerprint "
            f"{fingerprint}, run has {row['data_fingerprint']}); ids would not match the model. "
            "Restore the files or train again."
        )
    model.set_context(split.known_for_test())  # sequence models: recommend after everything known
    user_idx, unknown_users = resolve_ids(users, split.train.user_ids, "user")
    item_idx, unknown_items = resolve_ids(items, split.train.item_ids, "item")
    n_users = split.n_users if user_idx is None else int(user_idx.size)
    privacy = privacy or ExportPrivacy()
    labels = Labels.from_data(split.train, privacy=privacy, workspace=workspace)
    k = min(top, split.n_items)
    done = 0
    short = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        tick(0.02 + 0.93 * done / max(n_users, 1), f"Ranked {done:,} of {n_users:,} users")

    def counted(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        nonlocal short
        for f in frames:
            short += int(f.attrs["users"] - np.count_nonzero(f["rank"].to_numpy() == k))
            yield f

    frames = prefetched(
        recommend_frames(
            model,
            split,
            k=top,
            users=user_idx,
            exclude_seen=not include_seen,
            allow_items=item_idx,
            device=dev,
            chunk_users=chunk_users,
            labels=labels,
            should_stop=should_stop,
            on_chunk=on_chunk,
            explain=explain,
        )
    )
    info = run_info(
        row,
        spec.to_dict(),
        top=top,
        include_seen=include_seen,
        users=users,
        items=items,
        fingerprint=fingerprint,
        explain=explain,
    )
    info.update(privacy.run_info(workspace))
    meta = items_table(split.train, privacy) if kind == "sqlite" else None
    try:
        path, n_rows = write_recommendations(
            counted(frames),
            target,
            labels=labels,
            fmt=kind,
            overwrite=overwrite,
            run_info=info,
            items=meta,
            because=explain > 0,
        )
    except TrainingCancelled:
        raise TrainingCancelled(f"Export stopped; {target} was not changed.") from None
    tick(1.0, f"Wrote {n_rows:,} rows to {path.name}")
    return ExportReport(
        path=path,
        format=kind,
        run_id=str(row["id"]),
        top=top,
        rows=n_rows,
        users=n_users,
        seconds=time.perf_counter() - t0,
        unknown_users=unknown_users,
        unknown_items=unknown_items,
        short_users=short,
    )


def run_info(
    row: Mapping[str, Any],
    spec: Mapping[str, Any],
    *,
    top: int,
    include_seen: bool,
    users: object,
    items: object,
    fingerprint: str,
    explain: int = 0,
) -> dict[str, Any]:
    """The ``run`` table row: which model, configuration, data and metrics produced the lists."""
    return {
        "run_id": row["id"],
        "name": row.get("name"),
        "model": row.get("model"),
        "family": row.get("family"),
        "model_config_json": spec.get("model_config", {}),
        "train_json": spec.get("train", {}),
        "spec_json": spec,
        "data_path": row.get("data_path"),
        "data_fingerprint": fingerprint,
        "split": row.get("split"),
        "seed": row.get("seed"),
        "best_epoch": row.get("best_epoch"),
        "valid_metrics_json": row.get("valid") or {},
        "test_metrics_json": row.get("test") or {},
        "trained_at": row.get("created_at"),
        "exported_at": time.time(),
        "top": top,
        "include_seen": include_seen,
        "users_filter": None if users is None else (str(users) if isinstance(users, (str, Path)) else "list"),
        "items_filter": None if items is None else (str(items) if isinstance(items, (str, Path)) else "list"),
        "explain": explain,
        "app_version": __version__,
    }
