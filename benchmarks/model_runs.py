"""Train models with their default settings on a protocol and report quality and time to best.

P1 is RecBole's ml-100k 8:1:1 split (``recbole-811``); P4 is ml-100k ``u.data`` with leave-last-out
by timestamp (PROTOCOLS.md). Each row gives test NDCG@10 next to the bar and the wall time from the
call of ``run_training`` (data loading included) to the validation that turned out best — the
"whole run to its best validation score" of the speed bars. The same thing as
``recsys-gui train --train P/train.tsv --valid P/valid.tsv --test P/test.tsv --model NAME --seed S``.

    .venv/bin/python benchmarks/model_runs.py --protocol p1 --models nmf,mlp --seeds 2020,1,2 [--threads 2]
    .venv/bin/python benchmarks/model_runs.py --protocol p4 --models gru4rec,sasrec --device cuda
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
BARS = {
    "p1": {"mf": 0.2928, "ease": 0.3295, "itemknn": 0.2834, "nmf": 0.2724, "mlp": 0.2600,
           "cnn": 0.2500, "vae": 0.2854, "gan": 0.2834},
    "p4": {"gru4rec": 0.0511, "sasrec": 0.0650},
}


def write_p4(u_data: Path, out: Path) -> Path:
    """Leave-last-out by time (ties by item id), as PROTOCOLS.md P4 and the acceptance check do."""
    rows: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for line in u_data.read_text().splitlines():
        u, i, r, t = line.split()
        rows[u].append((int(t), int(i), r))
    parts: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for u, events in rows.items():
        events.sort()
        last = len(events) - 1
        for k, (t, i, r) in enumerate(events):
            part = "test" if k == last else "valid" if k == last - 1 else "train"
            parts[part].append(f"{u}\t{i}\t{r}\t{t}\n")
    out.mkdir(parents=True, exist_ok=True)
    for name, lines in parts.items():
        (out / f"{name}.tsv").write_text("user_id\titem_id\trating\ttimestamp\n" + "".join(lines))
    return out


class BestClock:
    """Callback noting the wall time of each validation; the best one's time is the time to best."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.best_at: float | None = None

    def on_event(self, event) -> None:
        from recsys_gui.core.training import events as ev

        if isinstance(event, ev.ValidationEnded) and event.is_best:
            self.best_at = time.perf_counter() - self.start


def run(model: str, seed: int, data: Path, workspace: Path, train_overrides: dict) -> dict:
    from recsys_gui.core.session import DataSpec, RunSpec, run_training

    spec = RunSpec(
        data=DataSpec(
            train=str(data / "train.tsv"), valid=str(data / "valid.tsv"), test=str(data / "test.tsv")
        ),
        model=model,
        train={"seed": seed, **train_overrides},
        metrics=("ndcg@10", "recall@10", "mrr@10"),
    )
    clock = BestClock()
    s = run_training(spec, workspace=workspace, callbacks=[clock]).summary()
    return {
        "model": model, "seed": seed, "ndcg@10": round(s["test"]["ndcg@10"], 4),
        "best_epoch": s["best_epoch"], "epochs_run": s["epochs_run"],
        "s_per_epoch": round(s["seconds_per_epoch"] or 0.0, 3),
        "time_to_best_s": round(clock.best_at, 1) if clock.best_at is not None else None,
        "total_s": round(time.perf_counter() - clock.start, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--protocol", choices=sorted(BARS), default="p1")
    ap.add_argument("--models", default=None, help="comma-separated (default: every model with a bar)")
    ap.add_argument("--seeds", default="2020")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    args = ap.parse_args()
    bars = BARS[args.protocol]
    overrides = {k: v for k, v in (("threads", args.threads), ("device", args.device)) if v}
    with tempfile.TemporaryDirectory() as tmp:
        if args.protocol == "p4":
            data = write_p4(args.datasets / "ml-100k" / "u.data", Path(tmp) / "p4")
        else:
            data = args.datasets / "ml-100k" / "recbole-811"
        for model in (args.models or ",".join(bars)).split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run(model, seed, data, Path(tmp) / "ws", overrides)
                row["bar"] = bars.get(model)
                row["pass"] = row["bar"] is None or row["ndcg@10"] >= row["bar"]
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
