"""Does pruning pay? The same seeded N-trial search on P1 with the median pruner and without one.

    .venv/bin/python benchmarks/tune_pruning.py [--model mf] [--trials 12] [--pruners median,none]
        [--epochs N] [--threads 1] [--search lr,reg] [--sampler tpe]

Each search runs in its own temporary workspace through ``recsys_gui.core.tuning.search.tune``
(the CLI's path), one after the other; the table gives wall time, best validation NDCG@10, the
chosen trial's test NDCG@10, and the pruned count. Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
P1 = ROOT.parent / "shared" / "datasets" / "ml-100k" / "recbole-811"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mf")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--pruners", default="median,none")
    ap.add_argument("--sampler", default="tpe")
    ap.add_argument("--search", default=None, help="as tune --search (default: the model's own space)")
    ap.add_argument("--epochs", type=int, default=None, help="cap every trial's epochs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2020)
    args = ap.parse_args(argv)

    import optuna

    from recsys_gui.core.session import DataSpec, RunSpec
    from recsys_gui.core.tuning.search import tune
    from recsys_gui.core.tuning.space import search_space
    from recsys_gui.process_setup import apply_thread_count

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    apply_thread_count(args.threads)
    train = {"seed": args.seed, "device": "cpu"}
    if args.epochs:
        train["epochs"] = args.epochs
    spec = RunSpec(data=DataSpec(train=str(P1 / "train.tsv"), valid=str(P1 / "valid.tsv"),
                                 test=str(P1 / "test.tsv")), model=args.model, train=train)
    space = search_space(args.model, args.search, base_train=train)
    print(f"{args.model} on P1, {args.trials} trials, {args.sampler}, threads {args.threads}: "
          f"{space.describe()}")
    rows = []
    for pruner in args.pruners.split(","):
        with tempfile.TemporaryDirectory() as ws:
            t0 = time.perf_counter()
            res = tune(spec, space, workspace=ws, trials=args.trials, sampler=args.sampler, pruner=pruner,
                       study_name=f"bench-{pruner}")
            wall = time.perf_counter() - t0
        rows.append((pruner, wall, res.valid.get("ndcg@10"), res.test.get("ndcg@10"), res.pruned,
                     res.best_trial + 1))
        print(f"  {pruner:<8} {wall:8.1f} s  best valid {rows[-1][2]:.4f}  test {rows[-1][3]:.4f}  "
              f"pruned {res.pruned}/{res.trials}  best trial #{res.best_trial + 1}", flush=True)
    if len(rows) == 2:
        (a, ta, va, *_), (b, tb, vb, *_) = rows
        print(f"time {a}/{b}: {ta / tb:.2f}; best valid {a} - {b}: {va - vb:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
