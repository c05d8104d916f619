"""One MF epoch at 1%, 10% and 100% of the ML-20M-shaped data: seconds, and microseconds per interaction.

The claim it checks (issue "MovieLens-20M on a laptop"): with row-wise updates an epoch costs time
in proportion to the interactions it trains on, so the time per (positive, negative) pair stays
flat while the data grows 100-fold over the same 138k × 27k tables. Dense Adam is printed beside it
where it is affordable, and implicit's BPR epoch on the full matrix when implicit is installed
(the side-by-side the acceptance check makes). The data comes from ``ml20m_shaped.py`` in-process:
distinct pairs, 80% of them per the random split the CLI's default makes as the training rows.

    .venv/bin/python benchmarks/scale_epoch.py [--fractions 0.01,0.1,1] [--negatives 1] [--dense-upto 0.1]
        [--batch-size 4096 --row-min-batch 1]  # row-wise steps on batches under MF.ROW_MIN_BATCH
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from ml20m_shaped import N_ROWS, ml20m_shaped  # beside this file

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.models.base import build_model
from recsys_gui.core.models.mf import MF
from recsys_gui.core.training.trainer import Trainer
from recsys_gui.process_setup import configure_allocator


def training_rows(fraction: float, seed: int = 0) -> InteractionData:
    """The distinct pairs of the first ``fraction`` of the rows, 80% of them kept as training rows."""
    df = ml20m_shaped(N_ROWS, seed).iloc[: round(N_ROWS * fraction)]
    pairs = df[["userId", "movieId"]].drop_duplicates()
    keep = np.random.default_rng(seed).random(len(pairs)) < 0.8
    users = pd.Index(np.arange(1, 138_494))
    items = pd.Index(np.arange(1, 26_745))
    u = pairs["userId"].to_numpy()[keep].astype(np.int64) - 1
    i = pairs["movieId"].to_numpy()[keep].astype(np.int64) - 1
    return InteractionData(u, i, np.ones(len(u), np.float32), None, users, items)


def mf_epoch(train: InteractionData, updates: str, negatives: int, batch_size: int | None = None) -> float:
    model = build_model("mf", {"updates": updates, "negatives": negatives}, train.n_users, train.n_items)
    batch = {"batch_size": batch_size} if batch_size else {}
    cfg = TrainConfig(**{**dict(model.train_defaults), "epochs": 1, "device": "cpu", "seed": 0, **batch})
    fit = Trainer(cfg).fit(model, Split(train, None, train), torch.device("cpu"))
    return fit.seconds_per_epoch


def implicit_epoch(train: InteractionData) -> float | None:
    try:
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from scipy import sparse
    except ImportError:
        return None
    x = sparse.csr_matrix((train.values, (train.users, train.items)), shape=(train.n_users, train.n_items))
    model = BayesianPersonalizedRanking(factors=63, iterations=1, num_threads=torch.get_num_threads(),
                                        random_state=0)
    t = time.perf_counter()
    model.fit(x, show_progress=False)
    return time.perf_counter() - t


def crossover(sizes: tuple[int, ...] = (2_000, 9_000, 30_000, 60_000, 165_000), steps: int = 60) -> None:
    """Milliseconds per 4096-pair step, dense Adam against row-wise updates, as the tables grow
    (64 factors): where ``updates=auto`` should switch (``ROW_UPDATES_MIN_ENTRIES``)."""
    from recsys_gui.core.data.batching import PairBatch
    from recsys_gui.core.models.base import StepContext

    print(f"{'table rows':>10} {'entries':>11} {'dense ms':>9} {'rows ms':>8}")
    g = torch.Generator().manual_seed(0)
    for rows in sizes:
        n_users, n_items = rows * 5 // 6, rows // 6
        batches = [PairBatch(torch.randint(0, n_users, (4096,), generator=g),
                             torch.randint(0, n_items, (4096,), generator=g),
                             torch.randint(0, n_items, (4096,), generator=g)) for _ in range(steps)]
        times = {}
        for mode in ("dense", "rows"):
            model = build_model("mf", {"updates": mode, "negatives": 1}, n_users, n_items)
            model.rowwise = mode == "rows"
            (opt,) = model.configure_optimizers(TrainConfig(lr=5e-3))
            ctx = StepContext(epoch=0, global_step=0, device=torch.device("cpu"), optimizers=[opt],
                              backward=None, step=None)
            t = 0.0
            for i, b in enumerate(batches):
                t0 = time.perf_counter()
                if mode == "rows":
                    model.training_step(b, ctx)
                else:
                    opt.zero_grad(set_to_none=True)
                    model(b)["loss"].backward()
                    opt.step()
                t += time.perf_counter() - t0 if i >= 5 else 0.0
            times[mode] = t / (steps - 5) * 1e3
        print(f"{rows:>10,} {rows * 64:>11,} {times['dense']:>9.2f} {times['rows']:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", default="0.01,0.1,1")
    ap.add_argument("--negatives", type=int, default=1)
    ap.add_argument("--dense-upto", type=float, default=0.1, help="also time dense Adam up to this fraction")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--crossover", action="store_true", help="only the dense/rows step time by table size")
    ap.add_argument("--batch-size", type=int, default=None, help="pairs per step (default: MF's)")
    ap.add_argument("--row-min-batch", type=int, default=None,
                    help="lower MF.ROW_MIN_BATCH to time row-wise steps on smaller batches")
    args = ap.parse_args()
    if args.row_min_batch is not None:
        MF.ROW_MIN_BATCH = args.row_min_batch
    configure_allocator()  # as the CLI and the window do: steps reuse their buffers
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.crossover:
        crossover()
        return
    print(f"MF, one epoch, {args.negatives} negative(s) per positive, {torch.get_num_threads()} threads")
    print(f"{'share':>6} {'train pairs':>12} {'updates':>8} {'s/epoch':>8} {'µs/pair':>8}")
    per_pair: list[float] = []
    for fraction in (float(f) for f in args.fractions.split(",")):
        train = training_rows(fraction)
        pairs = len(train) * args.negatives
        modes = ["rows"] + (["dense"] if fraction <= args.dense_upto else [])
        for mode in modes:
            s = mf_epoch(train, mode, args.negatives, args.batch_size)
            if mode == "rows":
                per_pair.append(s / pairs * 1e6)
            print(f"{fraction:>6.0%} {len(train):>12,} {mode:>8} {s:>8.2f} {s / pairs * 1e6:>8.3f}")
        if fraction == 1.0:
            s = implicit_epoch(train)
            if s is not None:
                print(f"{'':>6} {len(train):>12,} {'implicit':>8} {s:>8.2f} {s / len(train) * 1e6:>8.3f}"
                      "  (BPR, 63 factors + bias, same threads)")
    print(f"row-wise µs per pair, largest / smallest across the shares: {max(per_pair) / min(per_pair):.2f}x")


if __name__ == "__main__":
    main()
