"""Private training on P1: test NDCG@10 against ε, and what privacy costs in time.

Trains one model (MF by default) with its default settings on P1 (RecBole's ml-100k 8:1:1 split)
once per ε (``inf`` is ordinary training), with δ = 1/943 unless given, and prints one row per run:
test NDCG@10, the ε the accountant reports as spent, the noise multiplier, epochs, and the training
time per epoch and in all (validation excluded). The same as
``recsys-gui train --train P1/train.tsv --valid P1/valid.tsv --test P1/test.tsv --model mf
--seed 2020 --dp-epsilon E --dp-delta 0.00106``.

    .venv/bin/python benchmarks/dp_cost.py [--model mf] [--epsilons 1,3,10,inf] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

P1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k" / "recbole-811"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mf")
    ap.add_argument("--epsilons", default="1,3,10,inf")
    ap.add_argument("--delta", type=float, default=0.00106)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: steady figures on a shared host)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a trainer setting")
    ap.add_argument("--data", type=Path, default=P1, help="a folder with train/valid/test.tsv")
    args = ap.parse_args()

    import torch

    from recsys_gui.core.session import DataSpec, RunSpec, load_split, run_training

    torch.set_num_threads(args.threads)
    extra = dict(item.split("=", 1) for item in args.set)
    data = DataSpec(train=str(args.data / "train.tsv"), valid=str(args.data / "valid.tsv"),
                    test=str(args.data / "test.tsv"))
    split = None
    print("| ε target | ε spent | σ | test NDCG@10 | epochs | train s/epoch | train s | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for text in args.epsilons.split(","):
        eps = float(text)
        train = {"seed": args.seed, "threads": args.threads, **extra}
        if math.isfinite(eps):
            train.update(dp_epsilon=eps, dp_delta=args.delta)
        spec = RunSpec(data=data, model=args.model, train=train, metrics=("ndcg@10",))
        if split is None:
            split, _ = load_split(spec, seed=args.seed)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as ws:
            out = run_training(spec, workspace=ws, split=split)
        wall = time.perf_counter() - t0
        privacy = out.fit.privacy or {}
        spent = f"{out.fit.epsilon_spent:.3f}" if out.fit.epsilon_spent is not None else "–"
        sigma = f"{privacy['noise_multiplier']:.3f}" if privacy else "–"
        print(f"| {text} | {spent} | {sigma} | {out.test['ndcg@10']:.4f} | {out.fit.epochs_run} | "
              f"{out.fit.seconds_per_epoch:.3f} | {out.fit.train_seconds:.1f} | {wall:.1f} |", flush=True)
        print(json.dumps({"epsilon": text, "summary": out.summary(), "privacy": privacy}), flush=True)


if __name__ == "__main__":
    main()
