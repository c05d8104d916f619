"""Stored runs as MLflow runs in a file store (``mlruns`` layout) that ``mlflow ui`` reads.

Written through MLflow's own ``MlflowClient`` with a ``file:`` tracking URI, so the layout is
whatever the installed MLflow writes and reads, not our copy of it. MLflow is an optional extra
(``pip install "recsys-gui[mlflow]"``); without it the export is one clear line. Since MLflow 3.x
the file store is opt-in (``MLFLOW_ALLOW_FILE_STORE``): the export sets it for its own calls and
says how to open the store. A run exported before to the same store is skipped, not duplicated.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys_gui.core.errors import ExportError, RecsysError
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.store.workspace import Workspace

INSTALL_HINT = 'MLflow export needs the mlflow package: pip install "recsys-gui[mlflow]"'
EXPERIMENT = "RecSys Studio"
RUN_ID_TAG = "recsys.run_id"
STATUS = {
    "completed": "FINISHED",
    "early_stopped": "FINISHED",
    "failed": "FAILED",
    "cancelled": "KILLED",
    "interrupted": "KILLED",
    "pruned": "KILLED",  # a search's trial stopped early by its pruner
}
PARAM_LIMIT = 6000  # MLflow's longest parameter value
BATCH = 100  # MLflow takes at most 100 parameters or tags, 1000 metrics, per batch


@dataclass(frozen=True)
class ExportedRun:
    run_id: str
    mlflow_run_id: str
    skipped: bool  # exported to this store before


def metric_key(name: str) -> str:
    """An MLflow metric name for ours: 'ndcg@10' becomes 'ndcg_at_10' (MLflow refuses '@')."""
    return re.sub(r"[^\w./ :-]", "_", name.replace("@", "_at_"))


def flatten(d: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as 'data.path', 'train.epochs', ... (lists joined with commas)."""
    if isinstance(d, dict):
        out: dict[str, str] = {}
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(d, (list, tuple)):
        return {prefix: ",".join(map(str, d))}
    return {prefix: str(d)[:PARAM_LIMIT]}


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        # record=True keeps the file store's deprecation notice off the terminal without changing
        # the process's filters; the CLI says how to open the store
        with warnings.catch_warnings(record=True):
            yield
    finally:
        if old is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


def _client(to_dir: Path) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise RecsysError(INSTALL_HINT) from None
    return MlflowClient(tracking_uri=to_dir.as_uri())


def export_runs_to_mlflow(
    workspace: Workspace | Path | str | None,
    runs: Sequence[str],
    to_dir: Path | str,
    *,
    experiment: str = EXPERIMENT,
) -> list[ExportedRun]:
    """Write ``runs`` (ids, unique names or unique starts of ids) into the MLflow file store ``to_dir``."""
    if not runs:
        raise RecsysError("Name at least one run to export.")
    to_dir = Path(to_dir).expanduser().resolve()
    if to_dir.exists() and not to_dir.is_dir():
        raise ExportError(f"{to_dir} is a file; give a folder for the MLflow store.")
    store = RunStore(workspace)
    try:
        rows = [store.get_run(r) for r in runs]  # every name checked before anything is written
        with _file_store_allowed():
            client = _client(to_dir)
            exp = client.get_experiment_by_name(experiment)
            exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
            done = _exported(client, exp_id)
            out = []
            for row in rows:
                if row["id"] in done:
                    out.append(ExportedRun(row["id"], done[row["id"]], True))
                    continue
                out.append(ExportedRun(row["id"], _export_one(client, exp_id, store, row), False))
                done[row["id"]] = out[-1].mlflow_run_id
            return out
    finally:
        store.close()


def _exported(client: Any, exp_id: str) -> dict[str, str]:
    """Our run id → MLflow run id of every run already in the experiment."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=1000, page_token=token)
        for r in page:
            if RUN_ID_TAG in r.data.tags:
                found[r.data.tags[RUN_ID_TAG]] = r.info.run_id
        token = page.token
        if not token:
            return found


def _export_one(client: Any, exp_id: str, store: RunStore, row: dict[str, Any]) -> str:
    from mlflow.entities import Metric, Param, RunTag

    tags = {
        RUN_ID_TAG: row["id"],
        "recsys.model": row["model"],
        "recsys.family": row.get("family") or "",
        "recsys.data_fingerprint": row.get("data_fingerprint") or "",
        "recsys.device": row.get("device") or "",
        "recsys.status": row["status"],
    }
    tags.update({f"recsys.tag.{metric_key(t)}": "true" for t in row.get("tags") or []})
    if row.get("note"):
        tags["mlflow.note.content"] = row["note"]
    name = row.get("name") or row["id"]
    run = client.create_run(exp_id, start_time=_ms(row.get("created_at")), tags=tags, run_name=name)
    rid = run.info.run_id
    try:
        params = [Param(k, v) for k, v in flatten(row.get("spec") or {}).items() if k]
        ts = _ms(row.get("finished_at") or row.get("created_at"))
        metrics = [
            Metric(_epoch_key(m), float(m["value"]), ts, int(m["epoch"]) + 1)
            for m in store.metrics(row["id"])
            if m["split"] in ("train", "valid", "time") and m["epoch"] is not None and m["value"] is not None
        ]
        metrics += [
            Metric(f"test/{metric_key(k)}", float(v), ts, 0) for k, v in (row.get("test") or {}).items()
        ]
        for i in range(0, max(len(params), len(metrics)), BATCH):
            client.log_batch(rid, metrics=metrics[i : i + BATCH], params=params[i : i + BATCH])
        client.log_batch(rid, tags=[RunTag("recsys.versions", str(row.get("versions") or {}))])
        run_dir = store.workspace.run_dir(row["id"])
        for name in ("spec.json", "per_user_test.parquet"):
            if (run_dir / name).is_file():
                client.log_artifact(rid, str(run_dir / name))
        status = STATUS.get(row["status"])
        if status:
            client.set_terminated(rid, status=status, end_time=_ms(row.get("finished_at")))
    except BaseException:
        with contextlib.suppress(Exception):
            client.delete_run(rid)  # no half-exported run left behind to be skipped next time
        raise
    return rid


def _epoch_key(m: dict[str, Any]) -> str:
    return f"{'train' if m['split'] == 'time' else m['split']}/{metric_key(m['name'])}"


def _ms(ts: Any) -> int | None:
    return int(float(ts) * 1000) if ts else None
