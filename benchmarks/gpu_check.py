"""The GPU, measured (issue 25): every family on CUDA, near the hardware floor, in one command.

On a CUDA machine (under 8 minutes on an H100/H200)::

    .venv/bin/python benchmarks/gpu_check.py [--out table.json]

prints one table, a row per point as it finishes, PASS/FAIL beside each bar, and exits 1 on a FAIL:

* every model the app lists (pop, itemknn, ease, cnn, gan, mf, mlp, nmf, gru4rec, sasrec, vae)
  trains and evaluates on the device (two epochs each), and a memory pre-check note;
* P3 (ml-1m as PROTOCOLS.md builds it): one full validation pass under 0.1 s for mf and vae;
* P1 (ml-100k, RecBole's split): mf, nmf and vae reach their test NDCG@10 bars, each run to its
  best validation in at most a quarter of RecBole's time on an H100 (52 s, 63 s, 76 s);
* whether bf16 autocast (``TrainConfig.amp``) keeps that accuracy (reported, not a bar);
* the ML-20M-shaped file (``acceptance/lib/ml20m_shaped.py``): an MF epoch and a Mult-VAE epoch
  within 1.5x of ``peers/gpu_floor.py`` at the same batch size and dimension (per training pair,
  per user), and a full-ranking top-100 of every user within 1.5x of its floor. The floor script
  runs in this process (imported by path), right before our side of the comparison.

Everything goes through the project's own entry points: ``session.run_training`` with a
``RunSpec``, ``session.load_split``, the models registry, ``Evaluator`` and the ranking path.
Points run cheapest first, each under a time cap, within an overall ``--budget``.

``--dry`` runs the same code on the CPU at toy sizes (thresholds not enforced, marked "dry"; an
exception or a family that does not train is still a FAIL): that is the CI test
``tests/integration/test_gpu_check_dry.py``.

Data come from ``../shared`` beside the project (``$RECSYS_SHARED`` overrides; ``./shared`` inside
the checkout is tried too, which is how the device tool carries them). Without it the script says
so, and the dry run falls back to ``sample_data/``; on a GPU the points that need it FAIL.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a plain checkout runs too (the device's python3, no install)
    sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "sample_data"

P1_BARS = {"mf": 0.2928, "nmf": 0.2724, "vae": 0.2854}  # PROTOCOLS.md P1, RecBole's own kind
RECBOLE_H100_TO_BEST_S = {"mf": 52.0, "nmf": 63.0, "vae": 76.0}  # PROTOCOLS.md, RecBole on an H100
RECBOLE_H100_P3_VALID_S = {"mf": 4.32, "vae": 7.29}
P3_VALID_BAR_S = 0.1
FLOOR_RATIO = 1.5
AMP_TOLERANCE = 0.005  # NDCG@10 points below fp32 still count as "keeps accuracy"
ML20M = {"users": 138_493, "items": 26_744, "train_pairs": 11_900_000}  # ratio:9,1 of 13.2M pairs
METRICS = ("ndcg@10", "recall@10", "mrr@10")
SEED = 2020


@dataclass(frozen=True)
class Plan:
    """Sizes and caps: the device run and the dry run differ only here."""

    dry: bool
    device: str
    budget_s: float
    smoke_epochs: int = 2
    smoke_cap_s: float = 45.0
    p1_epochs: int | None = None  # None: each model's own epochs and early stopping
    p1_users: int | None = None  # keep P1's users with raw ids up to this (None: all)
    p1_cap_s: float = 75.0
    p3_files: int = 5  # ml-1m fold files read (their union is the whole data set)
    p3_rows: int | None = None  # at most this many of their rows (None: all)
    p3_cap_s: float = 45.0
    big_rows: int | None = None  # generator's N; None: its default 20,000,263
    floor_scale: float = 1.0
    mf_batches: tuple[int, ...] = (65536, 4096)
    vae_batches: tuple[int, ...] = (500, 4096)
    timed_epochs: int = 2  # the first also warms up; the faster one counts
    big_cap_s: float = 90.0
    rank_users: int | None = None  # None: every user
    amp_models: tuple[str, ...] = ("mf", "nmf", "vae")


DEVICE_PLAN = Plan(dry=False, device="cuda", budget_s=460.0)
DRY_PLAN = Plan(dry=True, device="cpu", budget_s=110.0, smoke_epochs=1, smoke_cap_s=20.0, p1_epochs=2,
                p1_users=120, p1_cap_s=20.0, p3_files=1, p3_rows=30_000, p3_cap_s=20.0, big_rows=20_000,
                floor_scale=0.005, big_cap_s=20.0, rank_users=2048)


# --- the table ----------------------------------------------------------------------------------
COLUMNS = (("point", 25), ("measure", 40), ("ours", 28), ("reference", 38), ("ratio", 5), ("status", 6))


@dataclass
class Row:
    point: str
    measure: str
    ours: str
    reference: str
    status: str  # PASS | FAIL | dry | INFO
    ratio: float | None = None
    note: str = ""
    values: dict[str, Any] = field(default_factory=dict)


class Table:
    """Prints each row the moment it is known (a timeout still leaves the rows so far) and keeps
    the JSON copy at ``out`` up to date after every row."""

    def __init__(self, out: Path | None, meta: dict[str, Any]) -> None:
        self.out, self.meta, self.rows = out, meta, []
        print(" | ".join(name.ljust(w) for name, w in COLUMNS) + " | note", flush=True)
        print("-+-".join("-" * w for _, w in COLUMNS) + "-+-----", flush=True)

    def add(self, row: Row) -> None:
        row.note = " ".join(row.note.split())  # a CUDA error's lines would break the table
        self.rows.append(row)
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        cells = (row.point, row.measure, row.ours, row.reference, ratio, row.status)
        print(" | ".join(c.ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True)) + f" | {row.note}",
              flush=True)
        self.write()

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status == "FAIL"]

    def write(self, summary: dict[str, Any] | None = None) -> None:
        if self.out is None:
            return
        doc = {"meta": self.meta, "rows": [vars(r) for r in self.rows], "summary": summary}
        tmp = self.out.with_name(self.out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        os.replace(tmp, self.out)


# --- where the data are -------------------------------------------------------------------------
def find_shared() -> tuple[Path | None, list[Path]]:
    """``$RECSYS_SHARED``, else ``../shared`` beside the project root, else ``./shared`` inside it."""
    env = os.environ.get("RECSYS_SHARED")
    candidates = [Path(env)] if env else [ROOT.parent / "shared", ROOT / "shared"]
    for c in candidates:
        if (c / "datasets").is_dir() or (c / "peers").is_dir():
            return c.resolve(), candidates
    return None, candidates


class RunWatch:
    """Training callback: epoch and validation seconds, the wall time to the best validation (from
    the call of ``run_training``), and a time cap that asks the trainer to stop."""

    def __init__(self, cap_s: float, stop: Any) -> None:
        self.cap_s, self.stop = cap_s, stop
        self.start = time.perf_counter()
        self.epoch_s: list[float] = []
        self.valid_s: list[float] = []
        self.best_at: float | None = None
        self.capped = False

    def on_event(self, event: Any) -> None:
        from recsys_gui.core.training import events as ev

        now = time.perf_counter() - self.start
        if isinstance(event, ev.EpochEnded):
            self.epoch_s.append(event.seconds)
        elif isinstance(event, ev.ValidationEnded):
            self.valid_s.append(event.seconds)
            if event.is_best:
                self.best_at = now
        if now > self.cap_s and not self.capped:
            self.capped = True
            self.stop.request_stop()


class Capped(Exception):
    """A run stopped at its time cap before it finished."""


class Check:
    """State shared by the points: the plan, the data found, the workspace and the table."""

    def __init__(self, plan: Plan, table: Table, shared: Path | None, work: Path) -> None:
        self.plan, self.table, self.shared, self.work = plan, table, shared, work
        self.dev = torch.device(plan.device)
        self.deadline = time.perf_counter() + plan.budget_s
        self.splits: dict[str, Any] = {}
        self.p1_ndcg: dict[str, float] = {}
        self.generator: subprocess.Popen[bytes] | None = None
        self.big_csv = work / "ml20m_shaped.csv"

    # --- helpers -------------------------------------------------------------------------------
    def verdict(self, ok: bool) -> str:
        return "dry" if self.plan.dry else ("PASS" if ok else "FAIL")

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def shared_file(self, *parts: str) -> Path | None:
        if self.shared is None:
            return None
        p = self.shared.joinpath(*parts)
        return p if p.exists() else None

    @contextlib.contextmanager
    def attempt(self, point: str, measure: str, need_s: float = 5.0) -> Iterator[bool]:
        """Run one point; an exception becomes a FAIL row (traceback on stderr), so do too little
        budget left and a time cap hit."""
        if self.left() < need_s:
            self.table.add(Row(point, measure, "-", "-", "FAIL", note=f"not run: {self.left():.0f} s of the "
                               f"budget left, {need_s:.0f} s needed"))
            yield False
            return
        try:
            yield True
        except Exception as exc:
            if not isinstance(exc, Capped):
                traceback.print_exc(file=sys.stderr)
            self.table.add(Row(point, measure, "-", "-", "FAIL", note=f"{type(exc).__name__}: {exc}"[:200]))

    def cap(self, seconds: float) -> float:
        return max(1.0, min(seconds, self.left()))

    def split(self, key: str, spec: Any) -> Any:
        """``session.load_split`` once per data set; every run on it gets the same object."""
        if key not in self.splits:
            from recsys_gui.core.session import load_split

            self.splits[key] = load_split(spec, seed=SEED)[0]
        return self.splits[key]

    def train(self, spec: Any, split: Any, cap_s: float) -> tuple[dict[str, Any], RunWatch]:
        """``run_training`` with a watch; raises ``Capped`` when the cap stopped it mid-validation."""
        from recsys_gui.core.errors import TrainingCancelled
        from recsys_gui.core.session import run_training
        from recsys_gui.core.training.control import StopToken

        stop = StopToken()
        watch = RunWatch(self.cap(cap_s), stop)
        try:
            outcome = run_training(spec, workspace=self.work / "ws", callbacks=[watch], stop=stop,
                                   split=split)
        except TrainingCancelled:
            if watch.capped:
                raise Capped(f"stopped at its {watch.cap_s:.0f} s cap") from None
            raise
        summary = outcome.summary()
        if self.dev.type == "cuda" and summary["device"] == "CPU":
            raise RuntimeError(f"{spec.model} trained on the CPU, not on the GPU")
        return summary, watch

    def train_options(self, **extra: Any) -> dict[str, Any]:
        return {"seed": SEED, "device": self.plan.device, **extra}

    # --- data sets -----------------------------------------------------------------------------
    def items_meta(self, key: str) -> Path:
        """The item metadata beside a smoke data set: ml-100k's ``u.item`` for P1, else the sample's."""
        if key.startswith("p1"):
            found = self.shared_file("datasets", "ml-100k", "u.item")
            if found is not None:
                return found
        return SAMPLE / "items.csv"

    def p1_data(self) -> tuple[str, Any, str]:
        """P1 (RecBole's ml-100k split), or the bundled sample data split 8:1:1 without ../shared."""
        from recsys_gui.core.session import DataSpec

        folder = self.shared_file("datasets", "ml-100k", "recbole-811")
        if folder is None:
            return "sample", DataSpec(path=str(SAMPLE / "interactions.csv")), "ratio:8,1,1"
        key = "p1"
        if self.plan.p1_users is not None:  # the first users' rows of each file: the same files, smaller
            key, sub = "p1-sub", self.work / "p1-subsample"
            sub.mkdir(exist_ok=True)
            for part in ("train", "valid", "test"):
                header, *lines = (folder / f"{part}.tsv").read_text().splitlines(keepends=True)
                kept = [ln for ln in lines if int(ln.split("\t", 1)[0]) <= self.plan.p1_users]
                (sub / f"{part}.tsv").write_text(header + "".join(kept))
            folder = sub
        files = {p: str(folder / f"{p}.tsv") for p in ("train", "valid", "test")}
        return key, DataSpec(**files), "ratio:8,1,1"

    def ml1m_data(self) -> tuple[str, Any, str]:
        """ml-1m as PROTOCOLS.md P3 builds it (the union of its five fold files, ratings ≥ 3, 10-core)."""
        from recsys_gui.core.session import DataSpec

        opts = {"min_rating": 3, "min_user_count": 10, "min_item_count": 10}
        folds = sorted((self.shared_file("datasets", "ml-1m") or Path("/nonexistent")).glob("test_1m*.dat"))
        if not folds:
            return "sample-p3", DataSpec(path=str(SAMPLE / "interactions.csv"), options=opts), "ratio:8,1,1"
        out = self.work / "ml-1m.csv"
        if not out.exists():
            with out.open("w") as f:
                f.write("user_id,item_id,rating\n")
                for p in folds[: self.plan.p3_files]:
                    f.write(p.read_text())
            if self.plan.p3_rows is not None:
                lines = out.read_text().splitlines(keepends=True)[: self.plan.p3_rows + 1]
                out.write_text("".join(lines))
        return "ml-1m", DataSpec(path=str(out), options=opts), "ratio:8,1,1"

    def start_generator(self) -> None:
        """Write the ML-20M-shaped file in a child process while the cheaper points run."""
        gen = self.shared_file("acceptance", "lib", "ml20m_shaped.py")
        if gen is None:
            return
        rows = [str(self.plan.big_rows)] if self.plan.big_rows else []
        with (self.work / "generator.err").open("wb") as err:  # a file: a full pipe would block the child
            self.generator = subprocess.Popen([sys.executable, str(gen), str(self.big_csv), *rows],
                                              stdout=subprocess.DEVNULL, stderr=err)

    def big_file(self) -> Path:
        if self.generator is None:
            if not self.plan.dry:
                raise FileNotFoundError("the ML-20M-shaped generator (acceptance/lib/ml20m_shaped.py) needs "
                                        "../shared; set RECSYS_SHARED")
            return SAMPLE / "interactions.csv"
        try:
            rc = self.generator.wait(timeout=max(1.0, self.left()))
        except subprocess.TimeoutExpired:
            self.generator.kill()
            raise
        if rc != 0:
            err = (self.work / "generator.err").read_text(errors="replace").strip().splitlines()
            raise RuntimeError(f"ml20m_shaped.py exited {rc}: {err[-1] if err else 'no message'}")
        return self.big_csv

    def stop_generator(self) -> None:
        if self.generator is not None and self.generator.poll() is None:
            self.generator.kill()
            self.generator.wait()


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def fmt_s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


# --- points, cheapest first ---------------------------------------------------------------------
def point_env(c: Check) -> None:
    """Where this runs; a first CUDA op so that context start-up is not charged to a point."""
    from recsys_gui import __version__

    name = torch.cuda.get_device_name(c.dev) if c.dev.type == "cuda" else "CPU"
    if c.dev.type == "cuda":
        x = torch.randn(256, 256, device=c.dev)
        (x @ x).sum().item()
    shared = str(c.shared) if c.shared else "absent: sample_data/ fallbacks"
    c.table.add(Row("environment", "device, torch, recsys_gui", name, f"torch {torch.__version__}", "INFO",
                    note=f"recsys_gui {__version__}; shared: {shared}"))


def point_memory(c: Check) -> None:
    """The memory guard's view of the device and what the ML-20M points will ask of it."""
    from recsys_gui.core import memory

    free = memory.available_bytes(c.dev)
    u, i, p = ML20M["users"], ML20M["items"], ML20M["train_pairs"]
    need = (p * (8 + 8 + 4 + 8)  # batcher's users, items, values, positive-index keys
            + 3 * (u + i) * 64 * 4  # MF tables with Adam's two moments
            + 3 * 2 * i * 600 * 4  # Mult-VAE's first and last layers with Adam's moments
            + 4 * 4096 * i * 4  # a 4096-user Mult-VAE batch: logits, softmax and gradients
            + memory.rank_bytes(4096, i))  # a ranking block
    batch = memory.batch_that_fits(4096, i * memory.RANK_BYTES_PER_CELL, "ranking", c.dev)
    fits = free is None or need <= free * memory.SAFETY
    where = "GPU" if c.dev.type == "cuda" else "RAM"
    c.table.add(Row("memory pre-check", f"ML-20M shape needs / {where} free", memory.format_bytes(need),
                    "unknown" if free is None else memory.format_bytes(free),
                    "INFO" if fits or c.plan.dry else "FAIL",
                    note=f"guard's ranking block for {i:,} items: {batch:,} users (of 4,096)",
                    values={"need_bytes": need, "free_bytes": free, "rank_batch": batch}))


def point_smoke(c: Check, families: tuple[str, ...]) -> None:
    """Every family trains two epochs and evaluates on the device (P1, or sample data)."""
    from recsys_gui.core.models import get_model_class
    from recsys_gui.core.session import DataSpec, RunSpec

    if c.plan.dry:  # toy data and each model's small test settings
        key, data, split_text = "tiny", DataSpec(path=str(SAMPLE / "tiny.csv")), "ratio:8,1,1"
    else:
        key, data, split_text = c.p1_data()
    for name in families:
        with c.attempt(f"smoke {name}", "trains + evaluates on the device", need_s=5) as ok:
            if not ok:
                continue
            cls = get_model_class(name)
            config = {"pretrain_epochs": 1} if name == "cnn" else {}  # ConvNCF's 20 MF epochs: not a smoke
            if c.plan.dry:
                config = dict(cls.test_config)
            model_data, split_key = data, key
            if getattr(cls, "needs_item_features", False):  # genre-pop ranks by genres: the items file
                model_data, split_key = replace(data, item_metadata=str(c.items_meta(key))), f"{key}+items"
            spec = RunSpec(data=model_data, model=name, split=split_text, model_config=config,
                           metrics=METRICS,
                           train=c.train_options(epochs=c.plan.smoke_epochs, eval_every_n_epochs=1))
            s, watch = c.train(spec, c.split(split_key, spec), c.plan.smoke_cap_s)
            nd = s["test"].get("ndcg@10", math.nan)
            good = math.isfinite(nd) and (nd > 0 or c.plan.dry) and not watch.capped
            c.table.add(Row(f"smoke {name}", "trains + evaluates on the device", f"NDCG@10 {nd:.4f}",
                            f"{s['epochs_run']} epoch(s) on {key}", "PASS" if good else "FAIL",
                            note=f"{s['device']}, {fmt_s(time.perf_counter() - watch.start)} in all"
                            + (" (capped)" if watch.capped else ""), values=s))


def point_p3(c: Check) -> None:
    """P3: one full validation pass on ml-1m for mf and vae (the faster of two, the first warms up)."""
    from recsys_gui.core.session import RunSpec

    key, data, split_text = c.ml1m_data()
    for name in ("mf", "vae"):
        point = f"P3 {name} validation"
        with c.attempt(point, f"one full validation pass ({key})", need_s=10) as ok:
            if not ok:
                continue
            spec = RunSpec(data=data, model=name, split=split_text, metrics=METRICS,
                           train=c.train_options(epochs=2, eval_every_n_epochs=1))
            split = c.split(key, spec)
            s, watch = c.train(spec, split, c.plan.p3_cap_s)
            best = min(watch.valid_s) if watch.valid_s else math.inf
            events = len(split.train) + len(split.valid) + len(split.test)
            shape = f"{split.n_users:,}×{split.n_items:,}, {events:,}"
            c.table.add(Row(point, f"one full validation pass ({key})", fmt_s(best),
                            f"< {P3_VALID_BAR_S} s (RecBole {RECBOLE_H100_P3_VALID_S[name]} s)",
                            c.verdict(best < P3_VALID_BAR_S), ratio=best / P3_VALID_BAR_S,
                            note=f"passes: {', '.join(f'{v:.3f}' for v in watch.valid_s)} s; {shape} events",
                            values={"valid_s": watch.valid_s, "split": s["split"]}))


def p1_run(c: Check, name: str, amp: bool) -> tuple[dict[str, Any], RunWatch, str]:
    from recsys_gui.core.session import RunSpec

    key, data, split_text = c.p1_data()
    extra: dict[str, Any] = {"amp": True} if amp else {}
    if c.plan.p1_epochs is not None:
        extra.update(epochs=c.plan.p1_epochs, eval_every_n_epochs=1)
    spec = RunSpec(data=data, model=name, split=split_text, metrics=METRICS, train=c.train_options(**extra))
    s, watch = c.train(spec, c.split(key, spec), c.plan.p1_cap_s)
    return s, watch, key


def point_p1(c: Check) -> None:
    """P1: each model's default run reaches its bar, to its best epoch in a quarter of RecBole's time."""
    for name, bar in P1_BARS.items():
        quarter = RECBOLE_H100_TO_BEST_S[name] / 4
        with c.attempt(f"P1 {name}", "test NDCG@10 / wall s to best", need_s=15) as ok:
            if not ok:
                continue
            s, watch, key = p1_run(c, name, amp=False)
            nd, to_best = s["test"]["ndcg@10"], watch.best_at
            c.p1_ndcg[name] = nd
            good = nd >= bar and to_best is not None and to_best <= quarter and not watch.capped
            c.table.add(Row(f"P1 {name}", f"test NDCG@10 / wall s to best ({key})",
                            f"{nd:.4f} / {fmt_s(to_best)}",
                            f">= {bar} / <= {quarter:.1f} s (RecBole {RECBOLE_H100_TO_BEST_S[name]:.0f} s)",
                            c.verdict(good), ratio=None if to_best is None else to_best / quarter,
                            note=f"best epoch {s['best_epoch']} of {s['epochs_run']}, "
                            f"{s['seconds_per_epoch']:.3f} s/epoch" + (" (capped)" if watch.capped else ""),
                            values=s))


def point_amp(c: Check) -> None:
    """bf16 autocast: the same P1 runs with ``amp`` on, beside the fp32 figures (reported)."""
    for name in c.plan.amp_models:
        with c.attempt(f"amp {name}", "bf16 autocast: test NDCG@10", need_s=15) as ok:
            if not ok:
                continue
            s, watch, key = p1_run(c, name, amp=True)
            nd, ref = s["test"]["ndcg@10"], c.p1_ndcg.get(name)
            keeps = ref is None or nd >= ref - AMP_TOLERANCE
            verdict = "keeps accuracy" if keeps else "LOSES accuracy"
            if c.dev.type != "cuda":
                verdict = "amp is CUDA-only: no effect here"
            delta = "" if ref is None else f" (Δ {nd - ref:+.4f})"
            c.table.add(Row(f"amp {name}", f"bf16 autocast: test NDCG@10 ({key})",
                            f"{nd:.4f} / {fmt_s(watch.best_at)} to best",
                            "-" if ref is None else f"fp32 {ref:.4f}", "INFO",
                            note=verdict + delta, values={**s, "keeps_accuracy": keeps}))


def run_floor(c: Check) -> dict[str, Any]:
    """``peers/gpu_floor.py`` imported by path (it runs as it loads), at this plan's scale and device;
    its own stdout lines are kept out of the table."""
    path = c.shared_file("peers", "gpu_floor.py")
    if path is None:
        return {"absent": "peers/gpu_floor.py not found (../shared absent)"}
    spec = importlib.util.spec_from_file_location("gpu_floor", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    argv, sys.argv = sys.argv, [str(path), "--scale", str(c.plan.floor_scale), "--device", c.plan.device]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
    finally:
        sys.argv = argv
    res = dict(module.res)
    module.users = module.items = None  # its 20M-event tensors: give the memory back
    del module
    gc.collect()
    if c.dev.type == "cuda":
        torch.cuda.empty_cache()
    return res


def point_big(c: Check) -> None:
    """ML-20M-shaped file: the floor's loops, then our MF and Mult-VAE epochs and full ranking."""
    from recsys_gui.core.session import DataSpec, RunSpec

    measure = "generate + load_split (ratio:9,1)"
    with c.attempt("ML-20M load", measure, need_s=20) as ok:
        if not ok:
            return
        path = c.big_file()
        t0 = time.perf_counter()
        base = RunSpec(data=DataSpec(path=str(path)), model="mf", split="ratio:9,1", metrics=("ndcg@10",))
        split = c.split("big", base)
        c.table.add(Row("ML-20M load", measure, fmt_s(time.perf_counter() - t0),
                        f"{split.n_users:,} users × {split.n_items:,} items", "INFO",
                        note=f"{len(split.train):,} train pairs, {len(split.test):,} test; {path.name}"))
    if "big" not in c.splits:
        return
    floor: dict[str, Any] = {}
    with c.attempt("floor", "peers/gpu_floor.py, same process", need_s=30) as ok:
        if ok:
            floor = run_floor(c)
            shown = {k: v for k, v in floor.items() if k.endswith("_s") or k in ("absent", "events")}
            c.table.add(Row("floor", "peers/gpu_floor.py, same process", f"scale {c.plan.floor_scale}",
                            str(floor.get("device", "-")), "INFO", note=json.dumps(shown)[:300],
                            values=floor))
    for batch in c.plan.mf_batches:
        epoch_vs_floor(c, base, split, floor, "mf", batch)
    for batch in c.plan.vae_batches:
        epoch_vs_floor(c, base, split, floor, "vae", batch)
    ranking_vs_floor(c, split, floor)


def vs_floor(c: Check, ours: float | None, units: int, floor: dict[str, Any], key: str,
             floor_units: str) -> tuple[str, float | None, str]:
    """(reference text, ours / floor per unit, status): equal shapes differ a little in size (our
    file has 138,493 × 26,744 and deduplicated pairs; the floor 138,000 × 27,000 and 20M draws)."""
    value, n = floor.get(key), floor.get(floor_units)
    if not isinstance(value, (int, float)) or not n:
        why = floor.get("absent") or value or "no figure"
        return f"floor: {str(why)[:32]}", None, c.verdict(False)
    ratio = (ours / units) / (value / n) if ours else None
    status = c.verdict(ratio is not None and ratio <= FLOOR_RATIO)
    return f"floor {fmt_s(value)} / {n:,} (bar {FLOOR_RATIO}x)", ratio, status


def epoch_vs_floor(c: Check, base: Any, split: Any, floor: dict[str, Any], name: str, batch: int) -> None:
    """One model's epoch (the faster of ``timed_epochs``) at the floor's batch size and dimension:
    MF at dim 64 with one negative per positive, Mult-VAE 600-200 (the floor's shapes)."""
    from recsys_gui.core.models import get_model_class

    point = f"ML-20M {name} epoch b{batch}"
    unit, units = ("pair", len(split.train)) if name == "mf" else ("user", split.n_users)
    with c.attempt(point, f"epoch s, per {unit} vs floor", need_s=30) as ok:
        if not ok:
            return
        config: dict[str, Any] = ({"embedding_dim": 64, "negatives": 1} if name == "mf"
                                  else {"hidden": 600, "latent": 200})  # the floor's shapes, not our defaults
        if name == "vae" and c.plan.dry:
            config = dict(get_model_class(name).test_config)
        spec = replace(base, model=name, model_config=config,
                       train=c.train_options(batch_size=batch, epochs=c.plan.timed_epochs))
        if c.dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(c.dev)
        _, watch = c.train(spec, split, c.plan.big_cap_s)
        ours = min(watch.epoch_s) if watch.epoch_s and not watch.capped else None
        key = f"bpr_epoch_b{batch}_s" if name == "mf" else f"multvae_epoch_b{batch}_s"
        reference, ratio, status = vs_floor(c, ours, units, floor, key, "events" if name == "mf" else "users")
        note = f"epochs {', '.join(f'{v:.2f}' for v in watch.epoch_s)} s"
        if c.dev.type == "cuda":
            note += f"; peak {torch.cuda.max_memory_allocated(c.dev) / 2**30:.1f} GiB"
        c.table.add(Row(point, f"epoch s, per {unit} vs floor", f"{fmt_s(ours)} / {units:,} {unit}s",
                        reference, status, ratio=ratio, note=note + (" (capped)" if watch.capped else ""),
                        values={"epoch_s": watch.epoch_s}))


def ranking_vs_floor(c: Check, split: Any, floor: dict[str, Any]) -> None:
    """Top-100 of every user (MF, dim 64) beside the floor's, then a whole Evaluator pass (reported)."""
    from recsys_gui.core.models import build_model

    model = None
    with c.attempt("ML-20M top-100 all users", "full ranking (masked), per user", need_s=10) as ok:
        if ok:
            model = build_model("mf", {"embedding_dim": 64}, split.n_users, split.n_items).to(c.dev).eval()
            ours, n, batch = time_full_ranking(c, model, split)
            reference, ratio, status = vs_floor(c, ours, n, floor, "full_rank_top100_all_users_s", "users")
            c.table.add(Row("ML-20M top-100 all users", "full ranking (masked), per user",
                            f"{fmt_s(ours)} / {n:,} users", reference, status, ratio=ratio,
                            note=f"topk_for_users, {batch:,} users a block, train items masked"))
    if model is not None:
        with c.attempt("ML-20M evaluate all users", "Evaluator over every test user", need_s=10) as ok:
            if ok:
                time_evaluation(c, model, split)


def time_full_ranking(c: Check, model: Any, split: Any) -> tuple[float, int, int]:
    """Top-100 of every user through the ranking path the evaluator and the export use."""
    from recsys_gui.core.evaluation.ranking import DeviceCSR, topk_for_users, user_batches

    exclude = DeviceCSR(split.train, c.dev)  # built once: the timed part is the ranking
    n = split.n_users if c.plan.rank_users is None else min(split.n_users, c.plan.rank_users)
    users = torch.arange(n, device=c.dev)
    batch = 0

    def once() -> float:
        nonlocal batch
        sync(c.dev)
        t0 = time.perf_counter()
        for ub in user_batches(users, 4096, n_items=split.n_items):
            batch = max(batch, ub.numel())
            topk_for_users(model, ub, k=100, history=None, exclude=exclude)
        sync(c.dev)
        return time.perf_counter() - t0

    once()
    return min(once(), once()), n, batch


def time_evaluation(c: Check, model: Any, split: Any) -> None:
    """A full ``Evaluator`` pass over every test user (PROTOCOLS.md: under a second), reported."""
    from recsys_gui.core.evaluation.evaluator import Evaluator

    evaluator = Evaluator(("ndcg@10", "recall@10"))

    def once() -> float:
        t0 = time.perf_counter()
        evaluator.evaluate(model, history=split.train, exclude=split.train, target=split.test, device=c.dev)
        sync(c.dev)
        return time.perf_counter() - t0

    first = once()
    best = min(first, once())
    c.table.add(Row("ML-20M evaluate all users", "Evaluator over every test user", fmt_s(best),
                    "< 1 s (PROTOCOLS.md speed floors)", "INFO",
                    note=f"first pass {first:.3f} s; includes building the CSR rows from the data"))


def every_model() -> tuple[str, ...]:
    from recsys_gui.core.models.catalogue import MODELS

    return tuple(cls.name for cls in MODELS)


# --- main ---------------------------------------------------------------------------------------
POINTS = ("env", "memory", "smoke", "p3", "p1", "amp", "big")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry", action="store_true", help="CPU, toy sizes, thresholds not enforced (CI)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table as JSON here")
    ap.add_argument("--budget", type=float, default=None, help="overall seconds (default 460; dry 110)")
    ap.add_argument("--points", default=",".join(POINTS), help="which points, comma-separated")
    ap.add_argument("--families", default=None, help="models of the smoke point (default: every model "
                    "the app lists, recsys_gui/core/models/catalogue.py)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.dry and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; the real check needs an NVIDIA GPU. "
              "Run with --dry for the CPU dry run (toy sizes, same code paths).", file=sys.stderr)
        return 2
    from recsys_gui.process_setup import apply_thread_count, configure_allocator, quiet_known_warnings

    configure_allocator()
    quiet_known_warnings()
    plan = DRY_PLAN if args.dry else DEVICE_PLAN
    if plan.dry:  # one thread: two threads on a loaded two-core CI machine wait on each other
        apply_thread_count(1)
    if args.budget is not None:
        plan = replace(plan, budget_s=args.budget)
    points = [p.strip() for p in args.points.split(",") if p.strip()]
    unknown = sorted(set(points) - set(POINTS))
    if unknown:
        print(f"gpu_check: unknown point(s) {', '.join(unknown)}; choose from {', '.join(POINTS)}",
              file=sys.stderr)
        return 2
    shared, candidates = find_shared()
    if shared is None:
        print(f"gpu_check: the shared folder (datasets, peers, generator) is not here: looked in "
              f"{', '.join(map(str, candidates))}; set RECSYS_SHARED. "
              + ("Falling back to sample_data/." if args.dry else "Points that need it will FAIL."),
              flush=True)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    mode = "dry (CPU, toy sizes)" if plan.dry else "device"
    table = Table(args.out, {"mode": mode, "shared": str(shared) if shared else None, "plan": vars(plan)})
    check = Check(plan, table, shared, work)
    chosen = [f.strip() for f in (args.families or "").split(",") if f.strip()]
    families = tuple(chosen) or every_model()
    runners: dict[str, Callable[[], None]] = {
        "env": lambda: point_env(check), "memory": lambda: point_memory(check),
        "smoke": lambda: point_smoke(check, families), "p3": lambda: point_p3(check),
        "p1": lambda: point_p1(check), "amp": lambda: point_amp(check), "big": lambda: point_big(check)}
    try:
        if "big" in points:
            check.start_generator()
        for name in POINTS:
            if name in points:
                with check.attempt(name, "point", need_s=0):
                    runners[name]()
    finally:
        check.stop_generator()
        shutil.rmtree(work, ignore_errors=True)
    failed = table.failed
    counts = {s: sum(r.status == s for r in table.rows) for s in ("PASS", "FAIL", "dry", "INFO")}
    elapsed = time.perf_counter() - started
    table.write({"counts": counts, "seconds": round(elapsed, 1), "failed": [r.point for r in failed]})
    print(f"gpu_check ({mode}): {counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['dry']} dry, "
          f"{counts['INFO']} INFO in {elapsed:.0f} s" + (f"; failed: {', '.join(r.point for r in failed)}"
                                                       if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
