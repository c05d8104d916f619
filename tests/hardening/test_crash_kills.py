"""SIGKILL at random points during import, training, evaluation, export and a workspace write.

Each operation is killed 50 times. After every kill the workspace must open (``RunStore`` and
``recsys-gui runs list --json``), SQLite must pass its integrity check, no run may be left
"running" (a killed training run shows as "interrupted"), an export target must be absent or a
complete, valid file (never partial), and temporary files may only be the pid-tagged partials that
the next export removes. Afterwards the "next start" works: ``runs clean`` removes the debris and
``train --resume`` continues an interrupted run.

Cheap on CPU: one driver process per operation imports torch and the app once and runs the
operation once itself (warm caches, torch single-threaded, no thread left), then forks a child per
kill (the child runs the real CLI entry point, ``recsys_gui.cli.main``, in-process) and SIGKILLs it
after a random delay drawn from a seeded RNG, spread over the operation's duration as measured by
complete forked runs at the start. Between forks the driver only checks files and SQLite.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "interactions.csv"
TINY = ROOT / "sample_data" / "tiny.csv"
KILLS = 50
SPREAD = 1.0  # delays ~ U(0, SPREAD × the measured duration of a complete run)
TOP = 10
OPERATIONS = ("import", "train", "evaluate", "export", "store")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")]


# --- the driver (runs in its own process: `python -c "...drive(op, ws, seed)"`) ----------------------
def _cli(*argv: str) -> tuple[int, str]:
    """``recsys-gui ARGV`` in this process; returns (exit code, stdout)."""
    from recsys_gui.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


def _fork(fn, *args: Any) -> int:
    """Run ``fn(*args)`` in a forked child with stdout/stderr silenced; returns the child's pid."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the driver's code
        code = 70
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = int(fn(*args) or 0)
        except BaseException:
            code = 71
        finally:
            os._exit(code)
    return pid


def _wait(pid: int) -> tuple[bool, int]:
    """Reap ``pid``: (killed by SIGKILL, exit code)."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) == signal.SIGKILL, -os.WTERMSIG(status)
    return False, os.WEXITSTATUS(status)


def _warm(fn, *args: Any) -> None:
    """Run the operation once in the driver itself, so every child inherits warm lazy imports and caches.

    Without this each child pays the first-call costs (0.1-0.4 s) that the timing run paid too,
    and a kill would land mostly in start-up code. torch runs single-threaded here, and the driver
    checks afterwards that no thread was left behind before it forks again.
    """
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = fn(*args)
    assert not code, f"the warm-up run of {getattr(fn, '__name__', fn)} failed (exit {code})"
    _assert_fork_safe()


def _timed_full_run(fn, *args: Any, repeat: int = 1) -> float:
    """Seconds a complete, unkilled run takes (the fastest of ``repeat``): the span kills are spread over.

    The fastest, because on a shared machine a run's time varies about twofold and a slow sample
    would put many kill times after the end of the operation.
    """
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        killed, code = _wait(_fork(fn, *args))
        if killed or code != 0:
            raise AssertionError(f"the complete run of {getattr(fn, '__name__', fn)} failed (exit {code})")
        times.append(time.perf_counter() - t0)
    return min(times)


class Checker:
    """Invariants that must hold after every kill; collects failures instead of stopping at the first."""

    def __init__(self, ws: Path) -> None:
        self.ws = ws
        self.failures: list[str] = []

    def fail(self, i: int | str, text: str) -> None:
        self.failures.append(f"{'kill ' if isinstance(i, int) else ''}{i}: {text}")

    def store(self, i: int | str) -> list[dict[str, Any]]:
        """The store opens, is intact, lists through the CLI, and has no run left 'running'."""
        from recsys_gui.core.store.run_store import RunStore

        try:
            store = RunStore(self.ws)
        except Exception as exc:
            self.fail(i, f"the workspace does not open: {exc}")
            return []
        try:
            ok = store.db.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                self.fail(i, f"integrity_check: {ok}")
            rows = store.list_runs()
        finally:
            store.close()
        code, out = _cli("runs", "list", "--json", "--workspace", str(self.ws))
        if code != 0:
            self.fail(i, f"`runs list --json` exited {code}")
        else:
            listed = {r["id"]: r["status"] for r in json.loads(out.strip().splitlines()[-1])}
            if listed != {r["id"]: r["status"] for r in rows}:
                self.fail(i, "`runs list --json` disagrees with the store")
        for r in rows:
            if r["status"] in ("running", "created"):
                self.fail(i, f"run {r['id']} still '{r['status']}' after its process was killed")
        return rows


def _no_new_files(before: set[str], folder: Path, allowed: tuple[str, ...] = ()) -> list[str]:
    now = {p.name for p in folder.iterdir()}
    return sorted(n for n in now - before if not n.endswith(allowed))


def _valid_export(path: Path, expected_rows: int) -> str | None:
    """None when ``path`` is a complete export of ``expected_rows`` rows; else what is wrong."""
    try:
        if path.suffix == ".csv":
            import pandas as pd

            frame = pd.read_csv(path)
            cols, n = list(frame.columns[:4]), len(frame)
        elif path.suffix == ".sqlite":
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                n = con.execute("select count(*) from recommendations").fetchone()[0]
                cols = [r[1] for r in con.execute("pragma table_info(recommendations)")][:4]
                if con.execute("select count(*) from run").fetchone()[0] != 1:
                    return "no run row"
            finally:
                con.close()
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            cols, n = table.column_names[:4], table.num_rows
    except Exception as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"
    if cols != ["user_id", "rank", "item_id", "score"]:
        return f"columns {cols}"
    if n != expected_rows:
        return f"{n} rows, expected {expected_rows}"
    return None


def _train_base(ws: Path, data: Path, epochs: int) -> str:
    code, out = _cli("train", "--data", str(data), "--model", "mf", "--epochs", str(epochs), "--threads", "1",
                     "--quiet", "--json", "--workspace", str(ws))
    assert code == 0, "the base run failed"
    return json.loads(out.strip().splitlines()[-1])["run_id"]


def _base_run(ws: Path, data: Path) -> str:
    """The run that evaluation and export use, trained in the driver (single-threaded torch)."""
    with contextlib.redirect_stderr(io.StringIO()):
        run_id = _train_base(ws, data, 2)
    _assert_fork_safe()
    return run_id


# --- one function per operation: (child's work, checks after each kill, final checks) --------------
def drive(op: str, ws: str, seed: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)  # no OpenMP pool ever exists in the driver, so forking it is safe
    # Imported once in the driver so that every forked child starts warm (see the module docstring);
    # the names themselves are not used.
    import recsys_gui.cli  # noqa: F401
    from recsys_gui.cli import build_parser
    from recsys_gui.core import session  # noqa: F401
    from recsys_gui.core.export import recommendations  # noqa: F401

    build_parser()
    import pyarrow.pandas_compat
    import pyarrow.parquet  # noqa: F401
    import torch._dynamo

    _assert_fork_safe()
    wsp = Path(ws)
    wsp.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    return OPS[op](wsp, rng)


def _assert_fork_safe() -> None:
    """Forking copies only the calling thread: no other Python thread may exist, and native ones must idle.

    The native threads allowed are library pools that re-create their workers in a forked child
    (Arrow's CSV reader pools, jemalloc's background thread); an idle pool holds no lock. A child
    that deadlocked anyway would never finish its complete runs, which the driver requires.
    """
    import threading

    alive = threading.enumerate()
    assert alive == [threading.main_thread()], f"Python threads alive: {alive}"
    task = Path("/proc/self/task")
    if not task.is_dir():
        return
    # A pool worker that has just finished spins a moment before it sleeps (on a loaded machine, a
    # few scheduler ticks): give the natives up to 2 s to settle; one still running then is a fault.
    deadline = time.monotonic() + 2.0
    while True:
        busy = _running_native_threads(task)
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not busy, f"native threads are running while the driver forks: {busy}"


def _running_native_threads(task: Path) -> list[str]:
    busy = []
    for t in task.iterdir():
        if int(t.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            stat = (t / "stat").read_text()
            if stat[stat.rfind(")") + 2] not in "SI":  # sleeping or idle
                busy.append((t / "comm").read_text().strip())
    return busy


def _kill_loop(rng: random.Random, duration: float | Callable[[int], float], child,
               after_kill) -> dict[str, int]:
    """Fork ``child(i)``, SIGKILL it after a random delay, reap it, ``after_kill(i, pid)``: until KILLS kills.

    Delays are drawn from U(0, SPREAD × duration), so kills land all over the operation; a child
    that finishes first (run times vary on a shared machine) is checked like the others but not
    counted as a kill (at most 3 × KILLS attempts).
    """
    counts = {"kills": 0, "finished_before_kill": 0, "child_errors": 0, "attempts": 0}
    i = 0
    while counts["kills"] < KILLS and i < 3 * KILLS:
        delay = rng.uniform(0.0, SPREAD * (duration(i) if callable(duration) else duration))
        pid = _fork(child, i)
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        killed, code = _wait(pid)
        if killed:
            counts["kills"] += 1
        elif code == 0:
            counts["finished_before_kill"] += 1
        else:
            counts["child_errors"] += 1
        after_kill(i, pid)
        i += 1
    counts["attempts"] = i
    return counts


def op_import(ws: Path, rng: random.Random) -> dict[str, Any]:
    """`recsys-gui import` writes nothing: a kill must leave the data folder and workspace unchanged."""
    data_dir = ws / "data"
    data_dir.mkdir()
    src = data_dir / "interactions.csv"
    src.write_bytes(SAMPLE.read_bytes())
    original = src.read_bytes()

    def child(_i: int = 0) -> int:
        return _cli("import", str(src), "--json")[0]

    _warm(child)
    duration = _timed_full_run(child, repeat=3)
    checker = Checker(ws)
    before_data, before_ws = {p.name for p in data_dir.iterdir()}, {p.name for p in ws.iterdir()}

    def after(i: int, _pid: int) -> None:
        new = _no_new_files(before_data, data_dir) + _no_new_files(before_ws, ws)
        if new:
            checker.fail(i, f"import left files: {new}")
        if src.read_bytes() != original:
            checker.fail(i, "the imported file was changed")

    counts = _kill_loop(rng, duration, child, after)
    return {"op": "import", "duration_s": round(duration, 3), **counts, "failures": checker.failures}


def op_train(ws: Path, rng: random.Random) -> dict[str, Any]:
    """`recsys-gui train`: killed runs become 'interrupted'; checkpoints are whole; resume and clean work."""
    def child(_i: int = 0) -> int:
        return _cli("train", "--data", str(TINY), "--model", "mf", "--epochs", "6", "--threads", "1",
                    "--quiet", "--workspace", str(ws))[0]

    _warm(child)
    duration = _timed_full_run(child, repeat=3)
    checker = Checker(ws)

    def after(i: int, pid: int) -> None:
        for r in checker.store(i):
            if r["pid"] == pid and r["status"] not in ("interrupted", "completed", "early_stopped"):
                checker.fail(i, f"killed run {r['id']} shows '{r['status']}'")

    counts = _kill_loop(rng, duration, child, after)
    rows = checker.store("after the kills")
    import torch

    bad_ckpt = []
    for r in rows:
        for name in ("best.pt", "last.pt"):
            p = ws / "runs" / r["id"] / "checkpoints" / name
            if p.exists():
                try:
                    torch.load(p, map_location="cpu", weights_only=True)
                except Exception:
                    bad_ckpt.append(str(p))
    if bad_ckpt:
        checker.failures.append(f"half-written checkpoints at their final name: {bad_ckpt}")
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    torn_specs = 0
    for d in (ws / "runs").iterdir():
        spec = d / "spec.json"
        if spec.exists():
            try:
                json.loads(spec.read_text())
            except ValueError:
                torn_specs += 1
    # the next start: resume one interrupted run that has a checkpoint, then clean up the rest
    resumable = [r["id"] for r in rows if r["status"] == "interrupted"
                 and (ws / "runs" / r["id"] / "checkpoints" / "last.pt").exists()]
    resumed = None
    if resumable:
        rid = resumable[0]
        killed, code = _wait(_fork(lambda: _cli("train", "--resume", rid, "--quiet",
                                                "--workspace", str(ws))[0]))
        resumed = {"run": rid, "exit": code}
        final = {r["id"]: r["status"] for r in checker.store("after resume")}
        if killed or code != 0 or final.get(rid) not in ("completed", "early_stopped"):
            checker.failures.append(f"resuming {rid} failed: exit {code}, status {final.get(rid)}")
    code, out = _cli("runs", "clean", "--interrupted", "--yes", "--json", "--workspace", str(ws))
    cleaned = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
    left = checker.store("after clean")
    if code != 0 or any(r["status"] == "interrupted" for r in left):
        checker.failures.append(f"`runs clean` did not remove the interrupted runs (exit {code})")
    return {"op": "train", "duration_s": round(duration, 3), **counts, "statuses": statuses,
            "interrupted_marked": statuses.get("interrupted", 0),
            "torn_spec_json": torn_specs, "resumed": resumed,
            "cleaned_runs": len(cleaned["runs"]) if cleaned else None, "failures": checker.failures}


def op_evaluate(ws: Path, rng: random.Random) -> dict[str, Any]:
    """`recsys-gui evaluate` only reads: a kill leaves the run and the store as they were."""
    run_id = _base_run(ws, TINY)

    def child(_i: int = 0) -> int:
        return _cli("evaluate", run_id, "--json", "--workspace", str(ws))[0]

    _warm(child)
    duration = _timed_full_run(child, repeat=3)
    checker = Checker(ws)
    before = {p.name for p in ws.iterdir()}
    ref = {r["id"]: (r["status"], r["test"]) for r in checker.store("before the kills")}

    def after(i: int, _pid: int) -> None:
        rows = {r["id"]: (r["status"], r["test"]) for r in checker.store(i)}
        if rows != ref:
            checker.fail(i, "evaluation changed the stored runs")
        new = _no_new_files(before, ws, allowed=("-wal", "-shm"))
        if new:
            checker.fail(i, f"evaluation left files: {new}")

    counts = _kill_loop(rng, duration, child, after)
    return {"op": "evaluate", "duration_s": round(duration, 3), **counts, "failures": checker.failures}


def op_export(ws: Path, rng: random.Random) -> dict[str, Any]:
    """`recsys-gui recommend`: each target is absent or complete; only dead writers' partials remain."""
    from recsys_gui.core.utils.atomic import PARTIAL_SUFFIX, _pid_alive

    run_id = _base_run(ws, SAMPLE)  # 1,000 users: the export streams chunks for a while
    out_dir = ws.parent / "exports"
    out_dir.mkdir()
    targets = [out_dir / f"recs.{fmt}" for fmt in ("csv", "sqlite", "parquet")]

    def child(i: int = 0) -> int:
        return _cli("recommend", run_id, "--out", str(targets[i % 3]), "--top", str(TOP), "--overwrite",
                    "--quiet", "--workspace", str(ws))[0]

    for k in range(3):
        _warm(child, k)
    durations = [_timed_full_run(child, k, repeat=3) for k in range(3)]
    expected = {}
    for t in targets:  # the complete exports define "complete"; then start from nothing
        expected[t] = _count_rows(t)
        t.unlink()
    checker = Checker(ws)
    partials_seen = 0

    def after(i: int, _pid: int) -> None:
        nonlocal partials_seen
        for t in targets:
            if t.exists():
                wrong = _valid_export(t, expected[t])
                if wrong:
                    checker.fail(i, f"{t.name} is not a complete export: {wrong}")
        for p in out_dir.iterdir():
            if p in targets:
                continue
            if not (p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX)):
                checker.fail(i, f"unexpected file beside the exports: {p.name}")
                continue
            partials_seen += 1
            pid = p.name[:-len(PARTIAL_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]
            if not pid.isdigit() or _pid_alive(int(pid)):
                checker.fail(i, f"{p.name} is not tagged with a dead writer's pid: the next export keeps it")
        checker.store(i)

    counts = _kill_loop(rng, lambda i: durations[i % 3], child, after)
    leftovers_before = sorted(p.name for p in out_dir.iterdir() if p.name.endswith(PARTIAL_SUFFIX))
    for i in range(3):  # the next export to each target removes what killed exports left
        killed, code = _wait(_fork(child, i))
        if killed or code != 0:
            checker.failures.append(f"the export after the kills failed (exit {code})")
    left = sorted(p.name for p in out_dir.iterdir())
    if left != sorted(t.name for t in targets):
        checker.failures.append(f"after one more export per target, the folder holds {left}")
    for t in targets:
        wrong = _valid_export(t, expected[t]) if t.exists() else "missing"
        if wrong:
            checker.failures.append(f"final {t.name}: {wrong}")
    return {"op": "export", "duration_s": [round(d, 3) for d in durations], **counts,
            "partials_seen": partials_seen, "partials_left_by_kills": len(leftovers_before),
            "failures": checker.failures}


def _count_rows(path: Path) -> int:
    if path.suffix == ".csv":
        with path.open() as f:
            return sum(1 for _ in f) - 1
    if path.suffix == ".sqlite":
        con = sqlite3.connect(path)
        try:
            return con.execute("select count(*) from recommendations").fetchone()[0]
        finally:
            con.close()
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


METRIC_ROWS = 200


def op_store(ws: Path, rng: random.Random) -> dict[str, Any]:
    """Run-store writes (create, metrics, artifacts, finish, delete): every run is whole or absent."""
    from recsys_gui.core.store.run_store import RunStore

    def child(i: int = 0) -> int:
        store = RunStore(ws)
        for j in range(12):
            rid = f"w{i:02d}-{j:02d}"
            d = store.workspace.run_dir(rid)
            d.mkdir(parents=True, exist_ok=True)
            (d / "events.jsonl").write_text("{}\n" * 50)
            store.create_run(run_id=rid, model="mf", family="factorization", spec={"model": "mf"},
                             data_path="d.csv", data_fingerprint="x", split="ratio:8,1,1", seed=0,
                             device="CPU", world_size=1, versions={})
            store.log_metrics(rid, [{"epoch": k // 20, "step": k, "split": "train_step", "name": "loss",
                                     "value": 1.0 / (k + 1)} for k in range(METRIC_ROWS)])
            store.add_artifact(rid, "events", d / "events.jsonl")
            store.finish_run(rid, "completed", test_json={"ndcg@10": 0.1}, epochs_run=10)
            if j % 2:
                store.delete_run(f"w{i:02d}-{j - 1:02d}")
        store.close()
        return 0

    _warm(child, 96)
    duration = min(_timed_full_run(child, k) for k in (97, 98, 99))
    checker = Checker(ws)

    def after(i: int, _pid: int) -> None:
        rows = checker.store(i)
        con = sqlite3.connect(ws / "recsys.db")
        try:
            counts = dict(con.execute("select run_id, count(*) from metrics group by run_id").fetchall())
            arts = dict(con.execute("select run_id, count(*) from artifacts group by run_id").fetchall())
            orphans = set(counts) - {r["id"] for r in rows}
        finally:
            con.close()
        if orphans:
            checker.fail(i, f"metrics of deleted runs remain: {sorted(orphans)[:3]}")
        for r in rows:
            n = counts.get(r["id"], 0)
            if n not in (0, METRIC_ROWS):
                checker.fail(i, f"run {r['id']} has {n} of {METRIC_ROWS} metric rows (half a write)")
            if r["status"] == "completed" and (n != METRIC_ROWS or arts.get(r["id"], 0) != 1):
                checker.fail(i, f"completed run {r['id']} is missing rows")

    counts = _kill_loop(rng, duration, child, after)
    rows = checker.store("after the kills")
    interrupted = sum(r["status"] == "interrupted" for r in rows)
    code, _out = _cli("runs", "clean", "--yes", "--json", "--workspace", str(ws))
    if code != 0 or any(r["status"] == "interrupted" for r in checker.store("after clean")):
        checker.failures.append(f"`runs clean` did not remove the interrupted runs (exit {code})")
    return {"op": "store", "duration_s": round(duration, 3), **counts, "interrupted_marked": interrupted,
            "runs_kept": len(rows), "failures": checker.failures}


OPS = {"import": op_import, "train": op_train, "evaluate": op_evaluate, "export": op_export,
       "store": op_store}


# --- the tests ---------------------------------------------------------------------------------
def _run_driver(op: str, tmp_path: Path, seed: int) -> dict[str, Any]:
    code = ("import json, sys; from tests.hardening.test_crash_kills import drive; "
            f"print('RESULT ' + json.dumps(drive({op!r}, {str(tmp_path / 'ws')!r}, {seed})))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "RECSYS_WORKSPACE": str(tmp_path / "ws")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1][len("RESULT "):])
    print(json.dumps(result))  # the figures for the report: kills, durations, statuses
    return result


@pytest.mark.parametrize("op", OPERATIONS)
def test_sigkill_at_random_points(op, tmp_path):
    result = _run_driver(op, tmp_path, seed=OPERATIONS.index(op) + 10)
    assert result["failures"] == [], "\n".join(result["failures"][:20])
    assert result["child_errors"] == 0
    # children really were killed mid-way, not just finished (the loop aims for exactly KILLS kills)
    assert result["kills"] >= KILLS * 0.8, result
    if op == "train":
        assert result["interrupted_marked"] >= 1 and result["resumed"] is not None
    if op == "store":
        assert result["interrupted_marked"] >= 1
