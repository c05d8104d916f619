"""Import speed and memory: `recsys-gui import` against plain `pandas.read_csv(engine="pyarrow")`.

    python benchmarks/import_bench.py --csv /tmp/big.csv      # the ML-20M-shaped file (ml20m_shaped.py)
    python benchmarks/import_bench.py --rows 10000000         # or a generated file

Measures what issue 23's acceptance measures: each whole process, one after the other, alternating
``--repeat`` times: ``recsys-gui import FILE --json`` and ``python -c "pandas.read_csv(FILE,
engine='pyarrow')"``; wall seconds (best of the runs) and peak RSS (the child's ru_maxrss, as
``/usr/bin/time -v`` reports it) side by side, with the ratios (goals: <= 1.5x the seconds, <= 1.2x
the memory). Inside each process the read/load alone is timed too, with its CPU seconds (all
threads), which vary less than wall time on a shared machine. The last stdout line is JSON.
Without ``--csv`` a user_id,item_id,rating,timestamp CSV is generated (unique pairs, power-law
item popularity) in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# Each reader runs as a whole fresh process, as the acceptance check runs them; the JSON line it
# prints last gives its own timing of the read/load and its peak RSS (ru_maxrss, what
# /usr/bin/time -v reports as "Maximum resident set size").
_BASELINE = """
import json, resource, sys, time
start, cpu = time.perf_counter(), time.process_time()
import pandas as pd
df = pd.read_csv(sys.argv[1], engine="pyarrow")
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": len(df),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_OURS = """
import contextlib, io, json, resource, sys, time
sys.path.insert(0, sys.argv[2])
start, cpu = time.perf_counter(), time.process_time()
from recsys_gui.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["import", sys.argv[1], "--json"])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
if code:
    sys.exit(code)
report = json.loads(out.getvalue().strip().splitlines()[-1])
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": report["rows"],
                  "interactions": report["interactions"], "users": report["users"], "items": report["items"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate_csv(path: Path, rows: int, *, seed: int = 0, text_ids: bool = False) -> None:
    """Unique (user, item) pairs; users uniform, items skewed; ratings 1-5; epoch-second times.
    With ``text_ids`` the ids look like "u000123"/"i000045" (the exact-text path)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n_users = max(rows // 100, 100)
    n_items = max(rows // 200, 100)
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < rows:
        extra = int((rows - len(keys)) * 1.3) + 10
        users = rng.integers(0, n_users, extra)
        items = (n_items * rng.random(extra) ** 2).astype(np.int64)
        keys = np.unique(np.concatenate([keys, users * n_items + items]))
    keys = rng.permutation(keys)[:rows]
    users, items = keys // n_items + 1, keys % n_items + 1
    if text_ids:
        users = pc.binary_join_element_wise("u", pc.utf8_lpad(pa.array(users).cast(pa.string()), 6, "0"), "")
        items = pc.binary_join_element_wise("i", pc.utf8_lpad(pa.array(items).cast(pa.string()), 6, "0"), "")
    table = pa.table(
        {
            "user_id": users,
            "item_id": items,
            "rating": rng.integers(1, 6, rows),
            "timestamp": rng.integers(978_300_000, 1_700_000_000, rows),
        }
    )
    with path.open("wb") as f:
        f.write(b"user_id,item_id,rating,timestamp\n")
        pacsv.write_csv(table, f, write_options=pacsv.WriteOptions(include_header=False))


def run_once(code: str, path: Path) -> dict:
    """One fresh process: its wall seconds from outside (start-up and imports included), the rest
    from its own JSON line."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(REPO)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark subprocess failed:\n{proc.stderr}")
    return {"process_seconds": wall, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each reader (best time)")
    parser.add_argument("--csv", type=Path, help="use this file instead of generating one (e.g. the "
                        "ML-20M-shaped file of benchmarks/ml20m_shaped.py)")
    parser.add_argument("--text-ids", action="store_true", help='ids like "u000123" instead of integers')
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="import_bench_") as tmp:
        path = args.csv or Path(tmp) / "interactions.csv"
        if args.csv is None:
            start = time.perf_counter()
            generate_csv(path, args.rows, text_ids=args.text_ids)
            print(
                f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) "
                f"in {time.perf_counter() - start:.1f} s"
            )
        base, ours = [], []
        for k in range(args.repeat):
            base.append(run_once(_BASELINE, path))
            ours.append(run_once(_OURS, path))
            print(
                f"run {k + 1}: pandas+pyarrow {base[-1]['process_seconds']:.2f} s "
                f"({base[-1]['peak_mb']:,.0f} MB), recsys-gui import {ours[-1]['process_seconds']:.2f} s "
                f"({ours[-1]['peak_mb']:,.0f} MB)"
            )
    b = min(r["process_seconds"] for r in base)
    o = min(r["process_seconds"] for r in ours)
    b_mb = max(r["peak_mb"] for r in base)
    o_mb = max(r["peak_mb"] for r in ours)
    result = {
        "rows": ours[0]["rows"],
        "users": ours[0]["users"],
        "items": ours[0]["items"],
        "interactions": ours[0]["interactions"],
        "baseline_seconds": round(b, 3),
        "ours_seconds": round(o, 3),
        "ratio": round(o / b, 3),
        "cpu_ratio": round(min(r["cpu_seconds"] for r in ours) / min(r["cpu_seconds"] for r in base), 3),
        "baseline_peak_mb": round(b_mb),
        "ours_peak_mb": round(o_mb),
        "memory_ratio": round(o_mb / b_mb, 3),
    }
    result["ratio_ok"] = result["ratio"] <= 1.5
    result["memory_ok"] = result["memory_ratio"] <= 1.2
    print(f"best of {args.repeat}, whole processes:        seconds        peak RSS")
    print(f"  pandas.read_csv(engine='pyarrow')  {b:8.2f}      {b_mb:8,.0f} MB")
    print(
        f"  recsys-gui import --json           {o:8.2f} ({o / b:.2f}x, goal <= 1.5)"
        f"  {o_mb:8,.0f} MB ({o_mb / b_mb:.2f}x, goal <= 1.2)"
    )
    print(f"  CPU seconds ratio {result['cpu_ratio']:.2f} (less noisy on a shared machine)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
