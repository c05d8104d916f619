"""Our iALS against implicit's ALS on P3 (ml-1m, ../shared/PROTOCOLS.md), side by side in one run.

Both fit the same training rows (our loader and split: ratings >= 3, 10-core, ratio 8:1:1, seed
2020) with the same number of threads, and both are scored by our evaluator (full ranking, train and
valid masked, test NDCG@10): implicit's factors are copied into an ``ials`` model for that. Fit
seconds are the whole fit: for ours the trainer's ``fit`` without validation (``prepare``, the
batcher, every sweep), for implicit its ``fit``. The runs alternate, ours first, ``--repeats`` times;
the table gives the median and the fastest of each (the machine is shared: the fastest is the least
disturbed). On a machine with more busy threads than cores, run it with OMP_WAIT_POLICY=PASSIVE: with
GNU OpenMP's default spin-waiting every parallel torch operation then waits for a descheduled thread
(an addcmul on 6k × 64 floats took 16 ms instead of 0.05 ms at 2 threads), which torch's many short
operations feel and implicit's one parallel loop per sweep hardly does. implicit runs with the
settings PROTOCOLS.md reports for it (64 factors, α 1, λ 10, 15
iterations, its conjugate-gradient solver).

    .venv/bin/python benchmarks/ials_compare.py [--data ml1m.csv] [--threads 2] [--repeats 3] \
        [--set reg=24 --set alpha=1]

Without ``--data`` the ml-1m file is built from ../shared/datasets/ml-1m (the union of its five fold
files) in a temporary folder. implicit is optional (``pip install implicit``): without it only our
rows are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import Split
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models.base import build_model
from recsys_gui.core.session import DataSpec, RunSpec, load_split
from recsys_gui.core.training.trainer import Trainer
from recsys_gui.core.utils.seeding import seed_everything

ROOT = Path(__file__).resolve().parents[1]
ML1M = ROOT.parent / "shared" / "datasets" / "ml-1m"
P3_OPTIONS = {"min_rating": 3, "min_user_count": 10, "min_item_count": 10}
SEED = 2020


def p3_split(data: Path | None, work: Path) -> Split:
    if data is None:
        data = work / "ml1m.csv"
        with data.open("w") as out:
            out.write("user_id,item_id,rating\n")
            for fold in sorted(ML1M.glob("test_1m*.dat")):
                out.write(fold.read_text())
    spec = RunSpec(DataSpec(path=str(data), options=P3_OPTIONS), model="ials", split="ratio:8,1,1")
    split, _ = load_split(spec, seed=SEED)
    return split


def test_ndcg(model, split: Split) -> float:
    known = split.known_for_test()
    result = Evaluator(["ndcg@10"], seed=SEED).evaluate(model, history=known, exclude=known,
                                                        target=split.test, device=torch.device("cpu"))
    return result.metrics["ndcg@10"]


def fit_ours(split: Split, settings: dict) -> tuple[float, float]:
    seed_everything(SEED)
    model = build_model("ials", settings, split.n_users, split.n_items)
    cfg = TrainConfig(**{**dict(model.train_defaults), "device": "cpu", "seed": SEED})
    fit = Trainer(cfg).fit(model, Split(split.train, None, split.test, protocol="p3"), torch.device("cpu"))
    return fit.seconds, test_ndcg(model.eval(), split)


def fit_implicit(split: Split, threads: int) -> tuple[float, float] | None:
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError:
        return None
    try:  # implicit asks for single-threaded BLAS: it parallelises over rows itself
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    x = split.train.to_csr().astype(np.float32)
    als = AlternatingLeastSquares(factors=64, regularization=10.0, alpha=1.0, iterations=15,
                                  num_threads=threads, random_state=SEED, calculate_training_loss=False)
    with threadpool_limits(1) if threadpool_limits else nullcontext():
        t = time.perf_counter()
        als.fit(x, show_progress=False)
        seconds = time.perf_counter() - t
    model = build_model("ials", {"embedding_dim": 64}, split.n_users, split.n_items)
    with torch.no_grad():
        model.user_factors.copy_(torch.as_tensor(np.asarray(als.user_factors)))
        model.item_factors.copy_(torch.as_tensor(np.asarray(als.item_factors)))
    return seconds, test_ndcg(model.eval(), split)


def parse_settings(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key.strip()] = value.strip()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="ml-1m as a user_id,item_id,rating CSV")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an ials setting other than its default (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = parse_settings(args.set)
    with tempfile.TemporaryDirectory(prefix="ials-compare-") as tmp:
        split = p3_split(args.data, Path(tmp))
    print(f"P3: {split.n_users:,} users × {split.n_items:,} items, {len(split.train):,} training rows; "
          f"{args.threads} threads (OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}), "
          f"torch {torch.__version__}; ials settings {settings or 'defaults'}")
    runs: dict[str, list[tuple[float, float]]] = {"ours (ials)": [], "implicit ALS": []}
    for _ in range(args.repeats):
        runs["ours (ials)"].append(fit_ours(split, settings))
        other = fit_implicit(split, args.threads)
        if other is not None:
            runs["implicit ALS"].append(other)
    print(f"{'model':<14} {'fit s (median)':>15} {'fit s (fastest)':>16} {'test NDCG@10':>13}")
    fastest: dict[str, float] = {}
    for name, rows in runs.items():
        if not rows:
            print(f"{name:<14} {'not installed':>15}")
            continue
        secs = [s for s, _ in rows]
        fastest[name] = min(secs)
        print(f"{name:<14} {statistics.median(secs):>15.2f} {min(secs):>16.2f} {rows[-1][1]:>13.4f}")
    if len(fastest) == 2:
        print(f"ours / implicit, fastest fits: {fastest['ours (ials)'] / fastest['implicit ALS']:.2f}x")


if __name__ == "__main__":
    main()
