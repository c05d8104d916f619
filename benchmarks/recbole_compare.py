"""Side-by-side speed: our MF against RecBole 1.2.1's BPR on protocol P1 (ml-100k, RecBole's split).

One invocation runs, as subprocesses at the same thread count:

  (a) RecBole BPR through ``shared/peers/run_recbole.py`` in RecBole's own virtual environment
      (RecBole defaults: dim 64, batch 2048, 1 uniform negative, Adam lr 1e-3, no L2, 300 epochs,
      early stop on valid MRR@10 after 10 bad epochs);
  (b) ``recsys-gui train --model mf`` with RecBole's exact settings (``negatives=1 reg=0
      --batch-size 2048 --lr 0.001``): the per-epoch comparison at the same batch size;
  (c) ``recsys-gui train --model mf`` with our defaults: the time-to-best comparison.

It prints per-epoch train and validation seconds, wall time to the best validation epoch
(sum of train + validation seconds of the epochs up to and including the best one), test NDCG@10,
whole-process wall and CPU seconds, and the ratios ours / RecBole. The issue-3 bar: per-epoch
train ratio (b) <= 0.5 and time-to-best ratio (c) <= 0.5.

    .venv/bin/python benchmarks/recbole_compare.py [--recbole-dir /tmp/recbole] [--threads 1]
        [--models bpr] [--epochs N] [--budget SEC] [--concurrent] [--repeat N] [--json-out FILE]

RecBole is never our dependency: install it once with
``bash ../shared/peers/setup.sh /tmp/recbole``. The folder layout run_recbole.py expects
(``DIR/scripts/run_recbole.py``, ``DIR/data/ml-100k/*.{inter,item,user}``, ``DIR/work/``) is
created here when missing. Without RecBole the script prints how to install it and exits 0.

The machine may be shared: only ratios taken in one invocation mean anything. ``--concurrent``
starts all three runs at once so they see the same background load (each then gets a share of
the cores); the default runs them one after another. ``--repeat N`` adds N pairs (RecBole, ours
with RecBole's settings) in alternating order and reports the median of the pairs' ratios: the
speed of a shared VM drifts by 10-20 % within minutes, more than one pair can resolve.
Per-epoch train seconds are medians over a run's epochs, on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECSYS_SHARED", REPO.parent / "shared")).resolve()
P1 = SHARED / "datasets" / "ml-100k" / "recbole-811"
ATOMIC = SHARED / "datasets" / "ml-100k" / "recbole-atomic"
RUNNER = SHARED / "peers" / "run_recbole.py"
SETUP = SHARED / "peers" / "setup.sh"

# RecBole model name -> (our model, our --set/--flags that reproduce RecBole's training settings)
MODELS: dict[str, tuple[str, str, list[str]]] = {
    "bpr": ("BPR", "mf", ["--set", "negatives=1", "--set", "reg=0", "--batch-size", "2048", "--lr", "0.001"]),
    # RecBole NeuMF: GMF and MLP embeddings 64, MLP 128-64, dropout 0.1, one negative, BCE.
    "neumf": (
        "NeuMF",
        "nmf",
        [
            "--set",
            "negatives=1",
            "--set",
            "mlp_embedding_dim=64",
            "--set",
            "layers=128,64",
            "--batch-size",
            "2048",
            "--lr",
            "0.001",
        ],
    ),
    # RecBole MultiVAE: 600 hidden, dropout 0.5, anneal cap 0.2; its latent_dimension 128 is the
    # encoder's output, split into mean and log-variance: a 64-dimensional latent, our latent=64.
    "multivae": ("MultiVAE", "vae", ["--set", "latent=64", "--batch-size", "2048", "--lr", "0.001"]),
    # ConvNCF: the issue compares our CNN's own epoch and validation pass with RecBole's.
    "convncf": ("ConvNCF", "cnn", []),
}

EPOCH_RE = re.compile(r"epoch (\d+) training \[time: ([0-9.]+)s")
VALID_RE = re.compile(r"epoch (\d+) evaluating \[time: ([0-9.]+)s")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Proc:
    """One finished subprocess: its output and resource use."""

    label: str
    rc: int
    wall_s: float
    cpu_s: float
    out_path: Path
    text: str = field(repr=False, default="")


@dataclass
class RunStats:
    name: str
    train_epoch_s: float | None
    valid_epoch_s: float | None
    epochs_run: int | None
    best_epoch: int | None  # 0-based
    to_best_s: float | None
    fit_s: float | None
    test_ndcg10: float | None
    proc_wall_s: float
    proc_cpu_s: float
    note: str = ""


# --- subprocesses --------------------------------------------------------------------------------
def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[v] = str(threads)
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


class Launched:
    def __init__(self, label: str, cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.label, self.log = label, log
        self.fh = open(log, "w")  # noqa: SIM115 -- closed when the process ends (wait)
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self.fh, stderr=subprocess.STDOUT)

    def wait(self) -> Proc:
        _, status, ru = os.wait4(self.p.pid, 0)
        wall = time.perf_counter() - self.t0
        self.p.returncode = os.waitstatus_to_exitcode(status)
        self.fh.close()
        return Proc(
            self.label,
            self.p.returncode,
            wall,
            ru.ru_utime + ru.ru_stime,
            self.log,
            self.log.read_text(errors="replace"),
        )


def recbole_layout(rdir: Path) -> Path:
    """Make DIR/scripts, DIR/data/ml-100k and DIR/work as run_recbole.py expects; returns the runner."""
    (rdir / "scripts").mkdir(exist_ok=True)
    runner = rdir / "scripts" / "run_recbole.py"
    if not runner.exists() or runner.read_bytes() != RUNNER.read_bytes():
        shutil.copy2(RUNNER, runner)
    data = rdir / "data" / "ml-100k"
    data.mkdir(parents=True, exist_ok=True)
    for f in ATOMIC.iterdir():
        if f.is_file() and not (data / f.name).exists():
            shutil.copy2(f, data / f.name)
    (rdir / "work").mkdir(exist_ok=True)
    return runner


def launch_recbole(rdir: Path, runner: Path, model: str, args, tag: str, logdir: Path) -> Launched:
    cmd = [
        str(rdir / "venv" / "bin" / "python"),
        str(runner),
        model,
        "--threads",
        str(args.threads),
        "--budget",
        str(args.budget),
        "--tag",
        tag,
    ]
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    return Launched("recbole", cmd, rdir / "work", thread_env(args.threads), logdir / f"recbole-{model}.log")


def launch_ours(label: str, model: str, extra: list[str], args, ws: Path, logdir: Path) -> Launched:
    exe = Path(sys.executable).with_name("recsys-gui")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "recsys_gui"]
    cmd = [
        *base,
        "train",
        "--train",
        str(P1 / "train.tsv"),
        "--valid",
        str(P1 / "valid.tsv"),
        "--test",
        str(P1 / "test.tsv"),
        "--model",
        model,
        "--seed",
        "2020",
        "--threads",
        str(args.threads),
        "--json",
        "--quiet",
        "--workspace",
        str(ws),
        *extra,
    ]
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    ws.mkdir(parents=True, exist_ok=True)
    return Launched(label, cmd, REPO, thread_env(args.threads), logdir / f"{label}.log")


# --- reading results -----------------------------------------------------------------------------
def mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def median(xs: list[float]) -> float | None:
    """The per-epoch figure for both sides: one slow epoch (the first, or a busy moment of a shared
    machine) moves a mean of 20 epochs by several per cent and a median not at all."""
    return statistics.median(xs) if xs else None


def recbole_stats(proc: Proc, rdir: Path, model: str, tag: str) -> RunStats:
    path = rdir / "results" / "recbole" / f"{model}-{tag}.json"
    if proc.rc != 0 or not path.exists():
        raise RuntimeError(f"RecBole run failed (rc {proc.rc}); log: {proc.out_path}\n" + proc.text[-2000:])
    rec = json.loads(path.read_text())
    best = int(rec["best_epoch"])
    # Per-epoch times from RecBole's own log lines (2 decimals); fall back to the JSON means.
    text = ANSI_RE.sub("", proc.text)  # RecBole colours its console log
    tr = {int(e): float(s) for e, s in EPOCH_RE.findall(text)}
    va = {int(e): float(s) for e, s in VALID_RE.findall(text)}
    if tr and va and all(e in tr and e in va for e in range(best + 1)):
        to_best = sum(tr[e] + va[e] for e in range(best + 1))
        note = "to-best from RecBole's per-epoch log"
    else:
        to_best = (best + 1) * ((rec["train_epoch_s_mean"] or 0) + (rec["valid_epoch_s_mean"] or 0))
        note = "to-best from mean epoch times"
    if rec.get("stopped_by_budget"):
        note += (
            f"; STOPPED BY BUDGET ({rec['budget_s']:.0f} s) after {rec['epochs_run']} epochs: "
            "best epoch so far, not RecBole's full run"
        )
    train_epoch = median(list(tr.values())) if tr else rec["train_epoch_s_mean"]
    return RunStats(
        "RecBole " + model,
        train_epoch,
        rec["valid_epoch_s_mean"],
        rec["epochs_run"],
        best,
        to_best,
        rec["time_fit_s"],
        rec["test_result"].get("ndcg@10"),
        proc.wall_s,
        proc.cpu_s,
        note,
    )


def our_stats(proc: Proc, ws: Path, name: str) -> RunStats:
    lines = [ln for ln in proc.text.splitlines() if ln.startswith("{") and '"run_id"' in ln]
    if proc.rc != 0 or not lines:
        raise RuntimeError(f"{name} failed (rc {proc.rc}); log: {proc.out_path}\n" + proc.text[-2000:])
    res = json.loads(lines[-1])
    events = ws / "runs" / res["run_id"] / "events.jsonl"
    tr: dict[int, float] = {}
    va: dict[int, float] = {}
    if events.exists():
        for ln in events.read_text().splitlines():
            try:
                e = json.loads(ln)
            except json.JSONDecodeError:
                continue
            if e.get("kind") == "epoch_ended":
                tr[int(e["epoch"])] = float(e["seconds"])
            elif e.get("kind") == "validation":
                va[int(e["epoch"])] = float(e["seconds"])
    best = res.get("best_epoch")
    to_best = None
    if best is not None and tr:
        to_best = sum(tr.get(e, 0.0) + va.get(e, 0.0) for e in range(int(best) + 1))
    train_epoch = median(list(tr.values())) if tr else res.get("seconds_per_epoch")
    return RunStats(
        name,
        train_epoch,
        mean(list(va.values())),
        res.get("epochs_run"),
        best,
        to_best,
        res.get("total_seconds"),
        (res.get("test") or {}).get("ndcg@10"),
        proc.wall_s,
        proc.cpu_s,
        f"status {res.get('status')}",
    )


# --- table ---------------------------------------------------------------------------------------
def fmt(x: float | None, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}"


def table(rb: RunStats, same: RunStats, dflt: RunStats) -> str:
    rows = [
        ("train s / epoch (median)", "train_epoch_s", 3),
        ("valid s / epoch", "valid_epoch_s", 3),
        ("epochs run", "epochs_run", 0),
        ("best epoch (0-based)", "best_epoch", 0),
        ("train+valid s to best epoch", "to_best_s", 2),
        ("fit / total s (reported)", "fit_s", 2),
        ("process wall s", "proc_wall_s", 2),
        ("process CPU s", "proc_cpu_s", 2),
        ("test NDCG@10", "test_ndcg10", 4),
    ]
    head = ["", rb.name, "ours, RecBole settings", "ours, defaults", "ratio same/RB", "ratio default/RB"]
    out = [head]
    for label, attr, nd in rows:
        a, b, c = getattr(rb, attr), getattr(same, attr), getattr(dflt, attr)
        f = (lambda v: "–" if v is None else str(int(v))) if nd == 0 else (lambda v, nd=nd: fmt(v, nd))
        out.append([label, f(a), f(b), f(c), ratio(b, a) if nd else "", ratio(c, a) if nd else ""])
    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    lines = ["| " + " | ".join(r[i].ljust(widths[i]) for i in range(len(head))) + " |" for r in out]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def verdict(rb: RunStats, same: RunStats, dflt: RunStats) -> list[str]:
    out = []
    if same.train_epoch_s and rb.train_epoch_s:
        r = same.train_epoch_s / rb.train_epoch_s
        out.append(
            f"per-epoch train, same batch size/threads: ours/RecBole = {r:.2f} -> "
            f"{'MEETS' if r <= 0.5 else 'MISSES'} the <= 0.5 bar"
        )
    if dflt.to_best_s and rb.to_best_s:
        r = dflt.to_best_s / rb.to_best_s
        out.append(
            f"time to best validation epoch, ours (defaults)/RecBole = {r:.2f} -> "
            f"{'MEETS' if r <= 0.5 else 'MISSES'} the <= 0.5 bar"
        )
    return out


def repeat_pair(model: str, k: int, args, rdir: Path, runner: Path, tmp: Path) -> tuple[float, float]:
    """(RecBole, ours) median train seconds per epoch from one more pair of runs; RecBole goes first
    on even repeats, second on odd ones, so a drift of the machine's speed does not favour a side."""
    rb_name, ours, same_flags = MODELS[model]
    tag = f"repeat{k}-t{args.threads}-{int(time.time())}"
    ws = tmp / f"ws-repeat{k}"
    starts = [
        partial(launch_recbole, rdir, runner, rb_name, args, tag, tmp),
        partial(launch_ours, "ours-same", ours, same_flags, args, ws, tmp),
    ]
    procs = {}
    for start in starts if k % 2 == 0 else starts[::-1]:
        p = start()
        procs[p.label] = p.wait()
    rb = recbole_stats(procs["recbole"], rdir, rb_name, tag)
    same = our_stats(procs["ours-same"], ws, ours)
    return rb.train_epoch_s, same.train_epoch_s


# --- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--recbole-dir",
        default=os.environ.get("RECBOLE_DIR", "/tmp/recbole"),
        help="folder made by shared/peers/setup.sh (holds venv/)",
    )
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for every run")
    ap.add_argument("--models", default="bpr", help=f"comma-separated RecBole models ({', '.join(MODELS)})")
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="cap epochs for all runs (default: each library's own, 300 for both)",
    )
    ap.add_argument("--budget", type=float, default=540.0, help="RecBole's wall budget for fit, seconds")
    ap.add_argument("--concurrent", action="store_true", help="start all runs at once (same background load)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="run RecBole and ours (RecBole settings) this many more times, in alternating "
        "order, and report the per-epoch ratio of each pair and their median",
    )
    ap.add_argument("--json-out", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workspace and logs")
    args = ap.parse_args(argv)

    rdir = Path(args.recbole_dir).resolve()
    py = rdir / "venv" / "bin" / "python"
    if not py.exists():
        print(
            f"RecBole not installed: run `bash {SETUP} {rdir}` (creates {rdir}/venv with RecBole 1.2.1), "
            "then run this again. Skipping the comparison."
        )
        return 0
    probe = subprocess.run(
        [str(py), "-c", "import recbole; print(recbole.__version__)"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        print(f"RecBole not installed in {rdir}/venv: run `bash {SETUP} {rdir}`. Skipping the comparison.")
        return 0
    for f in (RUNNER, P1 / "train.tsv", ATOMIC / "ml-100k.inter"):
        if not f.exists():
            print(
                f"missing {f}: the shared peers/datasets folder is needed (set RECSYS_SHARED).",
                file=sys.stderr,
            )
            return 2
    runner = recbole_layout(rdir)

    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"no counterpart of ours for {unknown}; known: {sorted(MODELS)}", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="recbole-compare-"))
    print(
        f"RecBole {probe.stdout.strip()} in {rdir}; threads {args.threads}; "
        f"{'concurrent' if args.concurrent else 'sequential'}; epochs "
        f"{args.epochs or 'default'}; RecBole budget {args.budget:.0f} s; logs in {tmp}",
        flush=True,
    )
    results: dict[str, Any] = {"threads": args.threads, "concurrent": args.concurrent, "models": {}}
    try:
        for m in models:
            rb_name, ours, same_flags = MODELS[m]
            tag = f"compare-t{args.threads}-{int(time.time())}"
            ws_same, ws_def = tmp / "ws-same", tmp / "ws-default"
            starts = [
                partial(launch_ours, "ours-same", ours, same_flags, args, ws_same, tmp),
                partial(launch_recbole, rdir, runner, rb_name, args, tag, tmp),
                partial(launch_ours, "ours-default", ours, [], args, ws_def, tmp),
            ]
            procs: dict[str, Proc] = {}
            if args.concurrent:
                launched = [s() for s in starts]
                for p in launched:
                    procs[p.label] = p.wait()
            else:
                for s in starts:
                    p = s()
                    print(f"  running {p.label} ...", end="", flush=True)
                    procs[p.label] = p.wait()
                    print(f" {procs[p.label].wall_s:.1f} s (rc {procs[p.label].rc})", flush=True)
            rb = recbole_stats(procs["recbole"], rdir, rb_name, tag)
            same = our_stats(procs["ours-same"], ws_same, f"ours {ours} (RecBole settings)")
            dflt = our_stats(procs["ours-default"], ws_def, f"ours {ours} (defaults)")
            print()
            print(f"P1 ml-100k, {rb_name} (RecBole 1.2.1) vs our {ours}, {args.threads} thread(s):")
            print(table(rb, same, dflt))
            for n in (rb, same, dflt):
                if n.note:
                    print(f"  {n.name}: {n.note}")
            for v in verdict(rb, same, dflt):
                print("  " + v)
            results["models"][m] = {
                k: vars(v) for k, v in (("recbole", rb), ("ours_same", same), ("ours_default", dflt))
            }
            if args.repeat > 0:
                ratios = [same.train_epoch_s / rb.train_epoch_s]
                for k in range(args.repeat):
                    pair = repeat_pair(m, k, args, rdir, runner, tmp)
                    ratios.append(pair[1] / pair[0])
                    print(
                        f"  repeat {k + 1}: RecBole {pair[0]:.3f} s, ours {pair[1]:.3f} s per epoch "
                        f"-> {ratios[-1]:.2f}",
                        flush=True,
                    )
                r = statistics.median(ratios)
                print(
                    f"  per-epoch train ratio over {len(ratios)} pairs: "
                    f"{', '.join(f'{x:.2f}' for x in ratios)}; median {r:.2f} -> "
                    f"{'MEETS' if r <= 0.5 else 'MISSES'} the <= 0.5 bar"
                )
                results["models"][m]["per_epoch_ratios"] = ratios
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
