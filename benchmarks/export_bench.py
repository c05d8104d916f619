"""Export throughput: a synthetic MF model's top-K lists for every user, streamed to a file.

Default shape (the issue's bar): 500,000 users × 20,000 items, dim 64, top-20 → 10 million rows to
SQLite in at most 90 s with peak RSS under 2 GB on a 2-core machine. Every user also has
``--seen`` random "already seen" items, so the masking path runs as in a real export.

    .venv/bin/python benchmarks/export_bench.py [--users N] [--items N] [--format sqlite|csv|parquet]

Prints seconds, rows/s and peak RSS, and checks the file (row count, primary key, ranks).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def build(n_users: int, n_items: int, dim: int, seen: int, seed: int):
    import numpy as np
    import pandas as pd
    import torch

    from recsys_gui.core.data.interactions import InteractionData
    from recsys_gui.core.models.base import build_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model("mf", {"embedding_dim": dim}, n_users, n_items)
    users = np.repeat(np.arange(n_users, dtype=np.int64), seen)
    items = rng.integers(0, n_items, size=users.size, dtype=np.int64)
    data = InteractionData(
        users,
        items,
        np.ones(users.size, np.float32),
        None,
        pd.Index(np.arange(1, n_users + 1, dtype=np.int64)),
        pd.Index(np.arange(1, n_items + 1, dtype=np.int64)),
    )
    return model, data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=500_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--seen", type=int, default=10, help="random already-seen items per user (masked)")
    ap.add_argument("--format", choices=("sqlite", "csv", "parquet"), default="sqlite")
    ap.add_argument("--chunk-users", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--out", help="output file (default: a temporary file, deleted afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the output file")
    ap.add_argument(
        "--no-prefetch", action="store_true", help="rank and write in one thread (for comparison)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from recsys_gui.core.export.recommendations import (
        Labels,
        prefetched,
        recommend_frames,
        write_recommendations,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    t_build = time.perf_counter()
    model, data = build(args.users, args.items, args.dim, args.seen, seed=0)
    t_build = time.perf_counter() - t_build
    rss_before = peak_rss_mb()

    tmpdir = tempfile.mkdtemp(prefix="export-bench-")
    out = Path(args.out) if args.out else Path(tmpdir) / f"recs.{args.format}"
    t0 = time.perf_counter()
    frames = recommend_frames(model, data, k=args.top, device="cpu", chunk_users=args.chunk_users)
    if not args.no_prefetch:
        frames = prefetched(frames)
    path, rows = write_recommendations(
        frames,
        out,
        labels=Labels.from_data(data),
        fmt=args.format,
        overwrite=True,
        run_info={"benchmark": "export_bench"},
    )
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    size_mb = path.stat().st_size / 1e6

    ok = rows == args.users * min(args.top, args.items)
    if args.format == "sqlite":
        import sqlite3

        db = sqlite3.connect(path)
        n = db.execute("select count(*) from recommendations").fetchone()[0]
        max_rank = db.execute("select max(rank) from recommendations").fetchone()[0]
        ok = ok and n == rows and max_rank == args.top
        db.close()
    result = {
        "users": args.users,
        "items": args.items,
        "dim": args.dim,
        "top": args.top,
        "format": args.format,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak),
        "rss_after_build_mb": round(rss_before),
        "build_seconds": round(t_build, 2),
        "file_mb": round(size_mb, 1),
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "checked": ok,
    }
    if not args.keep:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.rmdir(tmpdir)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{rows:,} rows ({args.users:,} users × top {args.top}, {args.items:,} items, dim {args.dim}) "
            f"→ {args.format} in {seconds:.1f} s = {rows / seconds:,.0f} rows/s; peak RSS {peak:,.0f} MB; "
            f"file {size_mb:,.0f} MB; check {'ok' if ok else 'FAILED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
