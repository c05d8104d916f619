"""User and item embeddings of a trained run, with raw ids (the 2-D projection is in ``projection``).

A model states which sides it has through ``user_embeddings(users, history)`` and
``item_embeddings()``; ``None`` means the side does not exist (CFGAN has no user vector, EASE no
item vector), and the export skips it with a note instead of inventing one.

Files, for ``--out emb.csv`` / ``emb.parquet`` / ``emb.npy``: ``emb.users.<ext>`` and
``emb.items.<ext>``; a table has the raw id first (``user_id`` / ``item_id``, then ``title`` when
known), then ``e0 … e{d-1}``. ``.npy`` holds the bare float32 matrix, with the ids (row order) in
``emb.users.ids.csv``. ``--out DIR`` (no suffix) writes ``DIR/users.<fmt>`` and ``DIR/items.<fmt>``.
Every file is written atomically and CSV text is spreadsheet-safe, as for recommendations.
``privacy`` (``ExportPrivacy``) swaps user ids for keyed pseudonyms and leaves titles out, as there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ExportError
from recsys_gui.core.evaluation.ranking import DeviceCSR
from recsys_gui.core.export.csv_safety import frame_quoting, neutralise_frame
from recsys_gui.core.export.ids import Labels
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.privacy.options import ExportPrivacy
from recsys_gui.core.session import load_run_model, load_split
from recsys_gui.core.store.workspace import Workspace
from recsys_gui.core.utils.atomic import atomic_target, check_target, resolved_target
from recsys_gui.core.utils.devices import resolve_device

Side = Literal["user", "item"]
SIDES: tuple[Side, ...] = ("user", "item")
EMB_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npy": "npy"}
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class EmbeddingsReport:
    """Files written per side, each side's (rows, dim), and notes about skipped sides."""

    run_id: str
    files: dict[str, list[Path]]
    shapes: dict[str, tuple[int, int]]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "files": {k: [str(p) for p in v] for k, v in self.files.items()},
            "shapes": {k: list(v) for k, v in self.shapes.items()},
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


# --- computing ----------------------------------------------------------------------------------
def model_embeddings(
    model: Recommender,
    data: Split | InteractionData,
    *,
    device: torch.device | str | None = None,
    sides: Sequence[Side] = SIDES,
    chunk_users: int = 65536,
) -> dict[Side, np.ndarray | None]:
    """float32 matrices [n_users, d] / [n_items, d] by side; None where the model has no such side.

    History-based models get each user's training history (as the evaluator gives it), computed in
    chunks of users so that dense history rows stay small.
    """
    history_data = data.known_for_valid() if isinstance(data, Split) else data
    dev = torch.device(device) if device is not None else model.device
    model.to(dev)
    model.eval()
    out: dict[Side, np.ndarray | None] = {}
    with torch.no_grad():
        if "user" in sides:
            hist = DeviceCSR(history_data, dev) if model.capabilities.scoring_needs_history else None
            parts: list[np.ndarray] = []
            for start in range(0, model.n_users, chunk_users):
                ut = torch.arange(start, min(start + chunk_users, model.n_users), device=dev)
                e = model.user_embeddings(ut, hist.dense(ut) if hist is not None else None)
                if e is None:
                    parts = []
                    break
                parts.append(e.detach().float().cpu().numpy())
            out["user"] = np.concatenate(parts) if parts else None
            if model.n_users == 0:
                out["user"] = None
        if "item" in sides:
            e = model.item_embeddings()
            out["item"] = None if e is None else e.detach().float().cpu().numpy()
    return out


# --- writing ------------------------------------------------------------------------------------
def embedding_paths(
    out: Path | str, fmt: str | None, sides: Sequence[Side] = SIDES
) -> tuple[str, dict[Side, list[Path]]]:
    """(format, files per side) for an output path: a file name with a suffix, or a folder."""
    out = resolved_target(out)
    suffix_kind = EMB_FORMATS.get(out.suffix.lower())
    if fmt is not None:
        kind = EMB_FORMATS.get("." + fmt.strip().lower().lstrip("."))
        if kind is None:
            raise ExportError(f"Unknown embeddings format '{fmt}'. Choose csv, parquet or npy.")
    else:
        kind = suffix_kind or "csv"
    files: dict[Side, list[Path]] = {}
    for side in sides:
        base = out / f"{side}s" if suffix_kind is None else out.with_name(f"{out.stem}.{side}s")
        files[side] = [base.with_name(base.name + _ext(kind))]
        if kind == "npy":
            files[side].append(base.with_name(base.name + ".ids.csv"))
    return kind, files


def _ext(kind: str) -> str:
    return {"csv": ".csv", "parquet": ".parquet", "npy": ".npy"}[kind]


def embedding_frame(
    emb: np.ndarray, ids: np.ndarray, side: Side, titles: np.ndarray | None = None
) -> pd.DataFrame:
    """Raw id (and title) first, then one float32 column per dimension."""
    cols: dict[str, Any] = {f"{side}_id": ids}
    if titles is not None:
        cols["title"] = titles
    cols.update({f"e{j}": emb[:, j] for j in range(emb.shape[1])})
    return pd.DataFrame(cols)


def write_embeddings(
    emb: np.ndarray,
    ids: np.ndarray,
    paths: Sequence[Path],
    kind: str,
    side: Side,
    *,
    titles: np.ndarray | None = None,
    overwrite: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write one side's matrix (and, for .npy, its id file), each file atomically."""
    if len(ids) != emb.shape[0]:
        raise ExportError(f"{side} embeddings have {emb.shape[0]} rows but there are {len(ids)} {side} ids.")
    if kind == "npy":
        with atomic_target(paths[0], overwrite=overwrite) as tmp, open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(emb, dtype=np.float32))
        id_cols: dict[str, Any] = {f"{side}_id": ids}
        if titles is not None:
            id_cols["title"] = titles
        _write_table(pd.DataFrame(id_cols), paths[1], "csv", overwrite=overwrite)
        return
    _write_table(embedding_frame(emb, ids, side, titles), paths[0], kind, overwrite=overwrite, meta=meta)


def _write_table(
    frame: pd.DataFrame, path: Path, kind: str, *, overwrite: bool, meta: Mapping[str, Any] | None = None
) -> None:
    with atomic_target(path, overwrite=overwrite) as tmp:
        if kind == "csv":
            neutralise_frame(frame).to_csv(
                tmp, index=False, lineterminator="\n", quoting=frame_quoting(frame), encoding="utf-8"
            )
        else:
            # pyarrow is slow to import: only Parquet exports load it
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            table = table.replace_schema_metadata(
                {
                    **(table.schema.metadata or {}),
                    b"recsys_gui": json.dumps(dict(meta or {}), default=str).encode(),
                }
            )
            pq.write_table(table, str(tmp), compression="zstd")


def export_embeddings(
    workspace: Workspace | Path | str | None,
    run_id: str,
    out: Path | str,
    *,
    fmt: str | None = None,
    sides: Sequence[Side] = SIDES,
    overwrite: bool = False,
    device: str = "auto",
    progress: ProgressFn | None = None,
    privacy: ExportPrivacy | None = None,
) -> EmbeddingsReport:
    """Export the run's user and item embeddings with raw ids; sides the model lacks are noted, not written.

    Every target is checked before the model is loaded, so an export that would overwrite a file
    without ``overwrite`` fails at once and writes nothing.
    """
    t0 = time.perf_counter()
    tick = progress or (lambda _f, _t: None)
    kind, paths = embedding_paths(out, fmt, sides)
    for side_paths in paths.values():
        for p in side_paths:
            check_target(p, overwrite=overwrite)
    tick(0.0, "Loading the model and its data")
    dev = resolve_device(device)
    model, spec, row = load_run_model(workspace, run_id, device=dev)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    privacy = privacy or ExportPrivacy()
    labels = Labels.from_data(split.train, privacy=privacy, workspace=workspace)
    tick(0.3, "Computing embeddings")
    embs = model_embeddings(model, split, device=dev, sides=sides)
    meta = {
        "run_id": row["id"],
        "model": row.get("model"),
        "data_fingerprint": row.get("data_fingerprint"),
        **privacy.run_info(workspace),
    }
    files: dict[str, list[Path]] = {}
    shapes: dict[str, tuple[int, int]] = {}
    notes: list[str] = []
    label = getattr(type(model), "label", row.get("model"))
    for n, side in enumerate(sides):
        emb = embs.get(side)
        if emb is None:
            notes.append(f"{label} has no {side} embeddings; the {side} side was skipped.")
            continue
        ids = labels.users if side == "user" else labels.items
        titles = labels.titles if side == "item" else None
        tick(0.4 + 0.5 * n / max(len(sides), 1), f"Writing {side} embeddings")
        write_embeddings(
            emb, ids, paths[side], kind, side, titles=titles, overwrite=overwrite, meta={**meta, "side": side}
        )
        files[side] = paths[side]
        shapes[side] = (int(emb.shape[0]), int(emb.shape[1]))
    if not files:
        notes.append("Nothing was written: this model exposes no embeddings.")
    tick(1.0, "Done")
    return EmbeddingsReport(
        run_id=str(row["id"]), files=files, shapes=shapes, notes=notes, seconds=time.perf_counter() - t0
    )
