"""Every run is kept: a SQLite database (sqlite-utils, WAL) in the workspace.

A connection belongs to the thread that opened it, so writers open their own store in the
training thread; the GUI keeps a separate one for reading. A run whose process died while it was
"running" is marked "interrupted" the next time the store is opened: the row keeps the pid and the
process's start time, so a pid reused by another program (or left as a zombie) does not keep a dead
run "running" forever. ``interrupted_runs`` and ``clean`` are what "resume or clean up" offers on
the next start. A full disk becomes one plain message (SQLite itself keeps the file consistent).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from recsys_gui.core.errors import ConfigError, RecsysError, RunNotFound
from recsys_gui.core.store import rebuild
from recsys_gui.core.store.workspace import Workspace

SCHEMA_VERSION = 1
ACTIVE = ("running", "created")
FILES_MISSING = "files-missing"  # listed for a run that ended and whose folder was removed by hand
ORPHAN_MIN_AGE_S = 600.0  # a run folder without a row is left alone this long (its run may be starting)


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
            with self._writing():
                self._ensure_schema()
        except sqlite3.DatabaseError as exc:
            raise RecsysError(f"{self.workspace.db_path}: not a readable run store ({exc}).") from None
        if recover:
            with self._writing():
                if not self.db.execute("select 1 from runs limit 1").fetchone():
                    self.adopt_run_folders()  # a new, emptied or replaced store beside existing runs
                self.mark_dead_runs()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn SQLite's "database or disk is full" into the app's disk-full message."""
        try:
            yield
        except (sqlite3.OperationalError, OSError) as exc:
            from recsys_gui.core.utils.atomic import disk_full_message, is_disk_full

            if is_disk_full(exc):
                raise RecsysError(
                    disk_full_message(self.workspace.db_path) + " The run store was not "
                    "changed by the failed write."
                ) from None
            raise

    def _ensure_schema(self) -> None:
        db = self.db
        if "runs" not in db.table_names():
            db["runs"].create(
                {
                    "id": str,
                    "name": str,
                    "created_at": float,
                    "finished_at": float,
                    "status": str,
                    "model": str,
                    "family": str,
                    "spec_json": str,
                    "data_path": str,
                    "data_fingerprint": str,
                    "split": str,
                    "seed": int,
                    "device": str,
                    "world_size": int,
                    "versions_json": str,
                    "best_epoch": int,
                    "epochs_run": int,
                    "train_seconds": float,
                    "seconds_per_epoch": float,
                    "valid_json": str,
                    "test_json": str,
                    "error": str,
                    "pid": int,
                    "pid_start": float,
                    "host": str,
                    "notes": str,
                },
                pk="id",
                not_null={"status", "model"},
            )
            db["runs"].create_index(["created_at"])
        if "metrics" not in db.table_names():
            db["metrics"].create(
                {"run_id": str, "epoch": int, "step": int, "split": str, "name": str, "value": float},
                foreign_keys=[("run_id", "runs", "id")],
            )
            db["metrics"].create_index(["run_id", "name"])
        if "artifacts" not in db.table_names():
            db["artifacts"].create(
                {"run_id": str, "kind": str, "path": str, "meta_json": str},
                foreign_keys=[("run_id", "runs", "id")],
            )
            db["artifacts"].create_index(["run_id"])
        if "pid_start" not in db["runs"].columns_dict:
            db["runs"].add_column("pid_start", float)  # process start time: tells a reused pid apart
        # The user's own words about a run; ``notes`` (an older column) holds the split and load report.
        for column in ("tags_json", "note"):
            if column not in db["runs"].columns_dict:
                db["runs"].add_column(column, str)
        if "meta" not in db.table_names():
            db["meta"].insert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    # --- writing --------------------------------------------------------------------------------
    def create_run(
        self,
        *,
        run_id: str,
        model: str,
        family: str,
        spec: Mapping[str, Any],
        data_path: str,
        data_fingerprint: str,
        split: str,
        seed: int,
        device: str,
        world_size: int,
        versions: Mapping[str, str],
        name: str | None = None,
    ) -> str:
        with self._writing():
            # replace: a rebuild in another process may have read this run's folder a moment ago
            self.db["runs"].insert(
                {
                    "id": run_id,
                    "name": name or run_id,
                    "created_at": time.time(),
                    "status": "running",
                    "model": model,
                    "family": family,
                    "spec_json": json.dumps(spec),
                    "data_path": data_path,
                    "data_fingerprint": data_fingerprint,
                    "split": split,
                    "seed": seed,
                    "device": device,
                    "world_size": world_size,
                    "versions_json": json.dumps(dict(versions)),
                    "pid": os.getpid(),
                    "pid_start": process_start_time(os.getpid()),
                    "host": socket.gethostname(),
                },
                replace=True,
            )
        return run_id

    def update_run(self, run_id: str, **fields: Any) -> None:
        row = {
            k: (json.dumps(v) if k.endswith("_json") and not isinstance(v, str) else v)
            for k, v in fields.items()
        }
        if row.get("pid") and "pid_start" not in row:  # a resumed run belongs to a new process
            row["pid_start"] = process_start_time(int(row["pid"]))
            row.setdefault("host", socket.gethostname())
        with self._writing():
            self.db["runs"].update(run_id, row)

    def finish_run(self, run_id: str, status: str, **fields: Any) -> None:
        self.update_run(run_id, status=status, finished_at=time.time(), **fields)

    def log_metrics(self, run_id: str, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = [{"run_id": run_id, **r} for r in rows]
        if rows:
            with self._writing(), self.db.atomic():  # one transaction: all rows or none (kill, full disk)
                self.db["metrics"].insert_all(rows)

    def add_artifact(self, run_id: str, kind: str, path: Path, meta: Mapping[str, Any] | None = None) -> None:
        """Register a file of a run; registering it again (a resumed run) replaces the earlier row."""
        with self._writing(), self.db.atomic():
            self.db.execute(
                "delete from artifacts where run_id = ? and kind = ? and path = ?",
                [run_id, kind, self.workspace.relative(path)],
            )
            self.db["artifacts"].insert(
                {
                    "run_id": run_id,
                    "kind": kind,
                    "path": self.workspace.relative(path),
                    "meta_json": json.dumps(dict(meta or {})),
                }
            )

    def delete_run(self, run_id: str) -> None:
        """Rows first, in one transaction (a kill leaves the run whole or gone), then the folder."""
        row_id = self.get_run(run_id)["id"]
        with self._writing(), self.db.atomic():
            self.db.execute("delete from metrics where run_id = ?", [row_id])
            self.db.execute("delete from artifacts where run_id = ?", [row_id])
            self.db.execute("delete from runs where id = ?", [row_id])
        shutil.rmtree(self.workspace.run_dir(row_id), ignore_errors=True)

    def mark_dead_runs(self) -> int:
        """Runs left 'running' by a process that no longer exists become 'interrupted'."""
        host = socket.gethostname()
        n = 0
        for row in list(
            self.db.query("select id, pid, pid_start, host from runs where status in ('running', 'created')")
        ):
            alive = row["pid"] and _run_process_alive(int(row["pid"]), row["pid_start"])
            if row["host"] == host and row["pid"] and not alive:
                self.db["runs"].update(
                    row["id"],
                    {"status": "interrupted", "error": "The process ended before the run finished."},
                )
                n += 1
        return n

    # --- recovery -------------------------------------------------------------------------------
    def adopt_run_folders(self, *, min_age_s: float = 0.0) -> list[str]:
        """Give every run folder the store does not know its row back (from spec.json and events).

        ``min_age_s`` leaves younger folders alone (a run that is starting has its folder first).
        """
        known = {r["id"] for r in self.db.query("select id from runs")}
        adopted = []
        now = time.time()
        for folder in self._run_folders():
            if folder.name in known or now - folder.stat().st_mtime < min_age_s:
                continue
            rebuilt = rebuild.row_from_folder(folder)
            if rebuilt is None:
                continue
            row, metric_rows = rebuilt
            with self.db.atomic():
                self.db["runs"].insert(row, replace=True)
                self.db["metrics"].insert_all([{"run_id": folder.name, **m} for m in metric_rows])
                self.db["artifacts"].insert_all(
                    {"run_id": folder.name, "kind": k, "path": self.workspace.relative(p), "meta_json": "{}"}
                    for k, p in rebuild.artifact_paths(folder)
                )
            adopted.append(folder.name)
        return adopted

    def _run_folders(self) -> list[Path]:
        root = self.workspace.root / "runs"
        return sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []

    def interrupted_runs(self) -> list[dict[str, Any]]:
        """Runs whose process died mid-run, newest first; ``resumable`` when a last checkpoint exists."""
        rows = [
            _decode(r)
            for r in self.db.query("select * from runs where status = 'interrupted' order by created_at desc")
        ]
        for r in rows:
            r["resumable"] = (self.workspace.checkpoint_dir(r["id"]) / "last.pt").exists()
        return rows

    def clean(
        self,
        statuses: Sequence[str] = ("interrupted",),
        *,
        orphans: bool = True,
        orphan_min_age_s: float = ORPHAN_MIN_AGE_S,
    ) -> dict[str, list[str]]:
        """Delete the runs with ``statuses`` (rows and folders) and what killed processes left behind.

        A run folder no row owns gets its row back first (``adopt_run_folders``); a folder with
        neither settings nor checkpoints (a process killed while creating it) is removed when older
        than ``orphan_min_age_s``, so a run that is starting is never hit. Partial files of dead
        writers inside the kept runs go too. Returns what was removed (and what was adopted).
        """
        from recsys_gui.core.utils.atomic import PARTIAL_SUFFIX, clean_stale_partials

        # A run's folder is never rubbish, row or not: it gets its row back first (and is then cleaned
        # as what it is). A young one may be a run that is starting: it is left alone.
        adopted = self.adopt_run_folders(min_age_s=orphan_min_age_s)
        wanted = [s for s in statuses if s not in ACTIVE]  # a live run is never cleaned
        runs = [r["id"] for r in self.list_runs() if r.get("stored_status", r["status"]) in wanted]
        for run_id in runs:
            self.delete_run(run_id)
        removed: dict[str, list[str]] = {"runs": runs, "orphans": [], "partials": [], "adopted": adopted}
        known = {r["id"] for r in self.db.query("select id from runs")}
        now = time.time()
        for d in self._run_folders():
            if d.name not in known:
                # Only a folder that never got its settings (killed while starting) is left to remove.
                with contextlib.suppress(OSError):
                    if (
                        orphans
                        and not rebuild.is_run_folder(d)
                        and now - d.stat().st_mtime >= orphan_min_age_s
                    ):
                        shutil.rmtree(d)
                        removed["orphans"].append(d.name)
                continue
            for partial in d.rglob(f".*{PARTIAL_SUFFIX}"):
                target = _partial_target(partial)
                if target is not None:
                    removed["partials"] += [str(p) for p in clean_stale_partials(target)]
        return removed

    # --- reading --------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run with exactly this id, else with exactly this name, else whose id starts with it.

        Ids and names are matched as text, never as a pattern: ``_`` and ``%`` are characters and
        case counts. A name or prefix that fits several runs is refused with the candidates.
        """
        rows = list(self.db.query("select * from runs where id = ?", [run_id]))
        if not rows and run_id:
            rows = self._unique(
                run_id,
                "name",
                list(self.db.query("select * from runs where name = ? order by created_at desc", [run_id])),
            )
        if not rows and run_id:
            rows = self._unique(
                run_id,
                "start of an id",
                list(
                    self.db.query(
                        "select * from runs where substr(id, 1, ?) = ? order by created_at desc",
                        [len(run_id), run_id],
                    )
                ),
            )
        if not rows:
            raise RunNotFound(
                f"No run '{run_id}' in workspace {self.workspace.root}. "
                "`recsys-gui runs list` shows the runs there."
            )
        return _decode(rows[0])

    @staticmethod
    def _unique(given: str, what: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:10]) + (", …" if len(rows) > 10 else "")
            raise RunNotFound(
                f"Run '{given}' is ambiguous: it is the {what} of {len(rows)} runs ({shown}). "
                "Give the full id."
            )
        return rows

    def rename_run(self, run_id: str, name: str) -> str:
        """Give a run a new name; names stay unique so that every command can take one."""
        row = self.get_run(run_id)
        name = name.strip()
        if not name:
            raise ConfigError("A run name cannot be empty.")
        clash = list(
            self.db.query(
                "select id from runs where (name = ? or id = ?) and id != ?", [name, name, row["id"]]
            )
        )
        if clash:
            raise ConfigError(f"The name '{name}' is already used by run {clash[0]['id']}; choose another.")
        self.update_run(row["id"], name=name)
        return row["id"]

    def tag_run(self, run_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> list[str]:
        """Add and remove tags (kept sorted, without duplicates); returns the run's tags."""
        row = self.get_run(run_id)
        tags = set(row.get("tags") or []) | {t.strip() for t in add if t.strip()}
        tags -= set(remove)
        self.update_run(row["id"], tags_json=sorted(tags))
        return sorted(tags)

    def set_note(self, run_id: str, note: str) -> None:
        self.update_run(self.get_run(run_id)["id"], note=note)

    def list_runs(
        self,
        *,
        text: str | None = None,
        tag: str | None = None,
        model: str | None = None,
        dataset: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first, optionally filtered (text: in the id, name or note; dataset: in the path).

        A run that ended and whose folder is gone can no longer be opened or exported: its status is
        listed as ``files-missing`` (the stored one stays in ``stored_status``) wherever runs are shown.
        """
        rows = [_decode(r) for r in self.db.query("select * from runs order by created_at desc")]
        for r in rows:
            if r["status"] not in ACTIVE and not self.workspace.run_dir(r["id"]).is_dir():
                r["stored_status"], r["status"] = r["status"], FILES_MISSING

        def keep(r: dict[str, Any]) -> bool:
            haystack = " ".join(str(r.get(k) or "") for k in ("id", "name", "note")).lower()
            return (
                (not text or text.lower() in haystack)
                and (not tag or tag in (r.get("tags") or []))
                and (not model or r["model"] == model)
                and (not dataset or dataset.lower() in str(r.get("data_path") or "").lower())
                and (since is None or (r["created_at"] or 0) >= since)
                and (until is None or (r["created_at"] or 0) <= until)
            )

        return [r for r in rows if keep(r)]

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                "select epoch, step, split, name, value from metrics where run_id = ? order by rowid",
                [run_id],
            )
        )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return [
            {**r, "path": str(self.workspace.absolute(r["path"])), "meta": json.loads(r["meta_json"] or "{}")}
            for r in self.db.query("select * from artifacts where run_id = ?", [run_id])
        ]

    def close(self) -> None:
        self.db.conn.close()


def _decode(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in list(out):
        if k.endswith("_json"):
            empty: Any = [] if k == "tags_json" else {}
            try:
                out[k[:-5]] = json.loads(out[k]) if out[k] else empty
            except json.JSONDecodeError:
                out[k[:-5]] = empty
    return out


def _partial_target(partial: Path) -> Path | None:
    """``.<name>.<pid>-<token>.partial`` → ``<name>`` beside it (None when the name is not ours)."""
    stem = partial.name[1 : -len(".partial")] if partial.name.endswith(".partial") else ""
    name, _, tag = stem.rpartition(".")
    return partial.with_name(name) if name and tag.split("-", 1)[0].isdigit() else None


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started, in clock ticks since boot (Linux ``/proc``); None where that is unknown."""
    stat = _proc_stat(pid)
    if stat is None:
        return None
    try:
        return float(stat[19])  # field 22 of /proc/<pid>/stat; fields after the ')' start at field 3
    except (IndexError, ValueError):
        return None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _run_process_alive(pid: int, started: float | None) -> bool:
    """Alive, not a zombie, and (when both are known) the same process that started the run."""
    if not _pid_alive(pid):
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): trust the pid
    if stat and stat[0] in ("Z", "X"):  # died, not yet reaped by its parent
        return False
    now = process_start_time(pid)
    return started is None or now is None or abs(now - float(started)) < 1e-6


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
