"""What-if latency: from a basket change to the redrawn, explained top-10, per model family.

Trains each family briefly on ml-1m (all five files, titles from movies.dat) in a temporary
workspace, loads the run once with ``load_run`` and times ``recommend(items=basket, explain=3)``
for 5-item baskets, each differing from the last in one item (one edit in the what-if panel).
The bars (issue 22): under 100 ms for mf, vae, ease and itemknn; under 1 s for the optimiser-based
fold-ins (nmf, mlp, cnn).

    .venv/bin/python benchmarks/whatif_latency.py [--models mf,vae,...] [--epochs 2] [--baskets 50]
        [--workspace DIR (keep/reuse the trained runs)] [--threads N]

Prints one JSON line per model (median and p90 in ms, training seconds) and a summary table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ML1M = ROOT.parent / "shared" / "datasets" / "ml-1m"
BARS_MS = {"mf": 100, "vae": 100, "ease": 100, "itemknn": 100, "nmf": 1000, "mlp": 1000, "cnn": 1000}


def ml1m_csv(folder: Path) -> Path:
    out = folder / "ml1m.csv"
    if out.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        f.write("user_id,item_id,rating\n")
        for part in sorted(ML1M.glob("test_1m*.dat")):
            f.write(part.read_text())
    return out


def train(model: str, data: Path, ws: Path, epochs: int) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "recsys_gui", "train", "--data", str(data), "--model", model]
    cmd += ["--items-meta", str(ML1M / "movies.dat"), "--epochs", str(epochs), "--seed", "1"]
    cmd += ["--workspace", str(ws), "--run-id", f"whatif-{model}", "--quiet", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training {model} failed: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - t0


def time_baskets(model: str, ws: Path, baskets: int, top: int, explain: int) -> dict[str, float | str]:
    import numpy as np

    from recsys_gui import load_run

    t0 = time.perf_counter()
    run = load_run(f"whatif-{model}", ws)
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    popular = np.asarray(run.item_ids)[np.argsort(-run.split.train.item_counts())[:500]].tolist()
    basket = list(rng.choice(popular, size=5, replace=False))
    run.recommend(items=basket, top=top, explain=explain)  # warm-up: first-call allocations
    times = []
    for _ in range(baskets):
        basket[int(rng.integers(5))] = popular[int(rng.integers(len(popular)))]  # one edit
        t = time.perf_counter()
        recs = run.recommend(items=basket, top=top, explain=explain)
        times.append((time.perf_counter() - t) * 1000)
        assert len(recs) == top
    ms = np.asarray(times)
    return {
        "model": model,
        "median_ms": round(float(np.median(ms)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "bar_ms": BARS_MS.get(model, 1000),
        "load_s": round(load_s, 2),
        "reasons": recs[0].because[0].kind if recs[0].because else "none",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(BARS_MS))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--baskets", type=int, default=50)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--explain", type=int, default=3)
    ap.add_argument("--workspace", type=Path, help="Reuse runs trained here before (whatif-<model>).")
    ap.add_argument("--threads", type=int, help="torch intra-op threads while timing (default: torch's).")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace or Path(tmp) / "ws"
        data = ml1m_csv(ws.parent if args.workspace else Path(tmp))  # the runs re-read it when loaded
        for model in args.models.split(","):
            trained = None
            if not (ws / "runs" / f"whatif-{model}" / "checkpoints" / "best.pt").exists():
                trained = round(train(model, data, ws, args.epochs), 1)
            try:
                row = time_baskets(model, ws, args.baskets, args.top, args.explain)
            except Exception as exc:  # a family without fold-in yet: reported, the others still run
                row = {"model": model, "error": f"{type(exc).__name__}: {exc}"}
            row["train_s"] = trained
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'model':8} {'median ms':>10} {'p90 ms':>8} {'bar ms':>7}  reasons")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:8} {r['error']}")
        else:
            ok = "ok" if r["median_ms"] < r["bar_ms"] else "OVER"
            cells = f"{r['median_ms']:>10} {r['p90_ms']:>8} {r['bar_ms']:>7}"
            print(f"{r['model']:8} {cells}  {r['reasons']} {ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
