"""Rebuild run rows from run folders: a lost or emptied ``recsys.db`` never costs the user a run.

Every run folder holds what the store needs to know it again: ``spec.json`` (the settings) and
``events.jsonl`` (the whole event stream: start, epochs, validations, the end and its figures). A
folder the store does not know is therefore read back into a row, never treated as rubbish; only
the data fingerprint is not in the folder, so a rebuilt run cannot warn that its data changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recsys_gui.core.errors import RecsysError
from recsys_gui.core.store.event_rows import metric_rows
from recsys_gui.core.training import events as ev

CHECKPOINT_ARTIFACTS = ("best", "last")


def is_run_folder(folder: Path) -> bool:
    """A folder that records a run: its settings or a checkpoint, so never deleted as an orphan."""
    ckpt = folder / "checkpoints"
    return (folder / "spec.json").is_file() or (ckpt.is_dir() and any(ckpt.glob("*.pt")))


def row_from_folder(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The ``runs`` row and the metric rows a run folder describes; None without a readable spec."""
    try:
        spec = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
        model = str(spec["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    data = spec.get("data") if isinstance(spec.get("data"), dict) else {}
    train = spec.get("train") if isinstance(spec.get("train"), dict) else {}
    row: dict[str, Any] = {
        "id": folder.name, "name": spec.get("name") or folder.name,
        "created_at": (folder / "spec.json").stat().st_mtime, "status": "interrupted", "model": model,
        "family": _family(model), "spec_json": json.dumps(spec),
        "data_path": data.get("path") or data.get("train") or "", "data_fingerprint": "",
        "split": str(spec.get("split", "")), "seed": _int(train.get("seed")), "device": "",
        "world_size": 1, "versions_json": "{}",
        "error": "Rebuilt from its folder; the run store had no record of it.",
    }
    metrics: list[dict[str, Any]] = []
    for event in _events(folder / "events.jsonl"):
        metrics += metric_rows(event)
        if isinstance(event, ev.RunStarted):
            row.update(device=event.device, world_size=event.world_size)
        elif isinstance(event, ev.RunFinished):
            row.update(status=event.status, best_epoch=event.best_epoch, epochs_run=event.epochs_run,
                       valid_json=json.dumps(event.best_metrics), test_json=json.dumps(event.test_metrics),
                       finished_at=(folder / "events.jsonl").stat().st_mtime)
        elif isinstance(event, ev.RunFailed):
            row.update(status="failed", error=event.message or event.error_type)
    return row, metrics


def artifact_paths(folder: Path) -> list[tuple[str, Path]]:
    """The files a finished run registers as artifacts, as far as they are still there."""
    found = [(f"checkpoint_{name}", folder / "checkpoints" / f"{name}.pt") for name in CHECKPOINT_ARTIFACTS]
    found.append(("per_user_test", folder / "per_user_test.parquet"))
    return [(kind, path) for kind, path in found if path.is_file()]


def _events(path: Path) -> list[ev.TrainingEvent]:
    """Every event the file holds; a line cut short by a kill is skipped, not fatal."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            out.append(ev.TrainingEvent.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return out


def _family(model: str) -> str:
    # Reading the registry imports torch; only a rebuild pays for it, not every store opening.
    from recsys_gui.core.models import get_model_class

    try:
        return get_model_class(model).family
    except RecsysError:  # an unknown or renamed model still gets its row back
        return ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
