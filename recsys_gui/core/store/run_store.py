"""Every run is kept: a SQLite database (sqlite-utils, WAL) in the workspace.

A connection belongs to the thread that opened it, so writers open their own store in the
training thread; the GUI keeps a separate one for reading. A run whose process died while it was
"running" is marked "interrupted" the next time the store is opened.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlite_utils

from recsys_gui.core.errors import RecsysError, RunNotFound
from recsys_gui.core.store.workspace import Workspace

SCHEMA_VERSION = 1
ACTIVE = ("running", "created")


def new_run_id(model: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{model}-{uuid.uuid4().hex[:6]}"


class RunStore:
    def __init__(self, workspace: Workspace | Path | str | None = None, *, recover: bool = True) -> None:
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.workspace.ensure()
        try:
            conn = sqlite3.connect(self.workspace.db_path, timeout=30, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA busy_timeout=30000")
            self._ensure_schema()
        except sqlite3.DatabaseError as exc:
            raise RecsysError(f"{self.workspace.db_path}: not a readable run store ({exc}).") from None
        if recover:
            self.mark_dead_runs()

    def _ensure_schema(self) -> None:
        db = self.db
        if "runs" not in db.table_names():
            db["runs"].create({
                "id": str, "name": str, "created_at": float, "finished_at": float, "status": str, "model": str,
                "family": str, "spec_json": str, "data_path": str, "data_fingerprint": str, "split": str,
                "seed": int, "device": str, "world_size": int, "versions_json": str, "best_epoch": int,
                "epochs_run": int, "train_seconds": float, "seconds_per_epoch": float, "valid_json": str,
                "test_json": str, "error": str, "pid": int, "host": str, "notes": str,
            }, pk="id", not_null={"status", "model"})
            db["runs"].create_index(["created_at"])
        if "metrics" not in db.table_names():
            db["metrics"].create({"run_id": str, "epoch": int, "step": int, "split": str, "name": str,
                                  "value": float}, foreign_keys=[("run_id", "runs", "id")])
            db["metrics"].create_index(["run_id", "name"])
        if "artifacts" not in db.table_names():
            db["artifacts"].create({"run_id": str, "kind": str, "path": str, "meta_json": str},
                                   foreign_keys=[("run_id", "runs", "id")])
            db["artifacts"].create_index(["run_id"])
        if "meta" not in db.table_names():
            db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    # --- writing --------------------------------------------------------------------------------
    def create_run(self, *, run_id: str, model: str, family: str, spec: Mapping[str, Any], data_path: str,
                   data_fingerprint: str, split: str, seed: int, device: str, world_size: int,
                   versions: Mapping[str, str], name: str | None = None) -> str:
        self.db["runs"].insert({
            "id": run_id, "name": name or run_id, "created_at": time.time(), "status": "running", "model": model,
            "family": family, "spec_json": json.dumps(spec), "data_path": data_path,
            "data_fingerprint": data_fingerprint, "split": split, "seed": seed, "device": device,
            "world_size": world_size, "versions_json": json.dumps(dict(versions)), "pid": os.getpid(),
            "host": socket.gethostname(),
        })
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        row = {k: (json.dumps(v) if k.endswith("_json") and not isinstance(v, str) else v) for k, v in fields.items()}
        self.db["runs"].update(run_id, row)

    def finish_run(self, run_id: str, status: str, **fields: Any) -> None:
        self.update_run(run_id, status=status, finished_at=time.time(), **fields)

    def log_metrics(self, run_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = [{"run_id": run_id, **r} for r in rows]
        if rows:
            self.db["metrics"].insert_all(rows)

    def add_artifact(self, run_id: str, kind: str, path: Path, meta: Mapping[str, Any] | None = None) -> None:
        self.db["artifacts"].insert({"run_id": run_id, "kind": kind, "path": self.workspace.relative(path),
                                     "meta_json": json.dumps(dict(meta or {}))})

    def delete_run(self, run_id: str) -> None:
        self.get_run(run_id)
        self.db["metrics"].delete_where("run_id = ?", [run_id])
        self.db["artifacts"].delete_where("run_id = ?", [run_id])
        self.db["runs"].delete(run_id)
        import shutil

        shutil.rmtree(self.workspace.run_dir(run_id), ignore_errors=True)

    def mark_dead_runs(self) -> int:
        """Runs left 'running' by a process that no longer exists become 'interrupted'."""
        host = socket.gethostname()
        n = 0
        for row in self.db.query("select id, pid, host from runs where status in ('running', 'created')"):
            if row["host"] == host and row["pid"] and not _pid_alive(int(row["pid"])):
                self.db["runs"].update(row["id"], {"status": "interrupted",
                                                   "error": "The process ended before the run finished."})
                n += 1
        return n

    # --- reading --------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any]:
        rows = list(self.db.query("select * from runs where id = ?", [run_id]))
        if not rows:
            rows = list(self.db.query("select * from runs where id like ? order by created_at desc", [run_id + "%"]))
            if len(rows) > 1:
                raise RunNotFound(f"Run id '{run_id}' is ambiguous: {', '.join(r['id'] for r in rows[:5])}.")
        if not rows:
            raise RunNotFound(f"No run '{run_id}' in workspace {self.workspace.root}. "
                              "`recsys-gui runs list` shows the runs there.")
        return _decode(rows[0])

    def list_runs(self) -> list[dict[str, Any]]:
        return [_decode(r) for r in self.db.query("select * from runs order by created_at desc")]

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("select epoch, step, split, name, value from metrics where run_id = ? "
                                  "order by rowid", [run_id]))

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return [{**r, "path": str(self.workspace.absolute(r["path"])), "meta": json.loads(r["meta_json"] or "{}")}
                for r in self.db.query("select * from artifacts where run_id = ?", [run_id])]

    def close(self) -> None:
        self.db.conn.close()


def _decode(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in list(out):
        if k.endswith("_json"):
            try:
                out[k[:-5]] = json.loads(out[k]) if out[k] else {}
            except json.JSONDecodeError:
                out[k[:-5]] = {}
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
