"""P1 benchmark: train every neural family with its default settings on RecBole's ml-100k split.

Prints test NDCG@10 next to the bar from PROTOCOLS.md (P1) — the same thing as
``recsys-gui train --train P1/train.tsv --valid P1/valid.tsv --test P1/test.tsv --model NAME --seed S``.

    .venv/bin/python benchmarks/p1_models.py [--models nmf,mlp,cnn,vae,gan] [--seeds 2020] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

P1 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k" / "recbole-811"
BARS = {"nmf": 0.2724, "mlp": 0.2600, "cnn": 0.2500, "vae": 0.2854, "gan": 0.2834}


def run(model: str, seed: int, threads: int | None, data: Path, workspace: Path) -> dict:
    from recsys_gui.core.session import DataSpec, RunSpec, run_training

    train = {"seed": seed} | ({"threads": threads} if threads else {})
    spec = RunSpec(
        data=DataSpec(
            train=str(data / "train.tsv"), valid=str(data / "valid.tsv"), test=str(data / "test.tsv")
        ),
        model=model,
        train=train,
        metrics=("ndcg@10", "recall@10", "mrr@10"),
    )
    out = run_training(spec, workspace=workspace)
    s = out.summary()
    return {
        "model": model,
        "seed": seed,
        "ndcg@10": round(s["test"]["ndcg@10"], 4),
        "bar": BARS.get(model),
        "best_epoch": s["best_epoch"],
        "epochs_run": s["epochs_run"],
        "s_per_epoch": s["seconds_per_epoch"],
        "total_s": s["total_seconds"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(BARS))
    ap.add_argument("--seeds", default="2020")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data", type=Path, default=P1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as ws:
        for model in args.models.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run(model, seed, args.threads, args.data, Path(ws))
                row["pass"] = row["bar"] is None or row["ndcg@10"] >= row["bar"]
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
