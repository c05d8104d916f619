"""Memory guard: a step that would not fit says so plainly, before allocating, and names the ways out.

Every test fakes a small free-memory figure by replacing ``memory.available_bytes`` (the one probe
every check goes through) and then proves both halves: the message (what, how much, what is free,
the remedies) and that the expensive allocation never happened (a spy on it is never called).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.cli import main as cli_main
from recsys_gui.core import memory
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.loaders import load_interactions
from recsys_gui.core.errors import MemoryLimitError, RecsysError
from recsys_gui.core.evaluation.ranking import user_batches
from recsys_gui.core.export.recommendations import recommend_frames
from recsys_gui.core.models.base import build_model
from tests.conftest import tiny_split

MiB = 1 << 20


@pytest.fixture
def free_memory(monkeypatch):
    """Set the free memory every guard sees: ``free_memory(bytes)`` (per device kind via a dict)."""

    def set_free(value):
        def probe(device="cpu"):
            if isinstance(value, dict):
                return value.get(memory._device_type(device))
            return value

        monkeypatch.setattr(memory, "available_bytes", probe)

    return set_free


def test_the_real_probe_reports_plausible_ram():
    free = memory.available_bytes("cpu")
    assert free is not None, "this platform should report free memory"
    total = None
    try:
        with open("/proc/meminfo") as f:
            total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        pass
    assert 0 < free <= (total or free)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_real_probe_reports_gpu_memory():
    free = memory.available_bytes("cuda")
    assert free is not None and 0 < free <= torch.cuda.get_device_properties(0).total_memory


def test_check_fits_message_names_need_free_and_ways_out(free_memory):
    free_memory(1 << 30)
    memory.check_fits(0.5 * (1 << 30), "Small step")  # fits: silent
    with pytest.raises(MemoryLimitError) as info:
        memory.check_fits(3 << 30, "Building the thing", "cpu", (memory.KCORE, memory.SMALLER_BATCH))
    msg = str(info.value)
    assert msg.startswith("Building the thing needs about 3.0 GiB, but only 1.0 GiB is free in this comp")
    assert "k-core" in msg and "--batch-size" in msg
    assert isinstance(info.value, RecsysError)
    assert info.value.need == 3 << 30 and info.value.available == 1 << 30
    free_memory({"cpu": 1 << 40, "cuda": 256 * MiB})
    with pytest.raises(MemoryLimitError, match=r"is free on the GPU.*--device cpu"):
        memory.check_fits(1 << 30, "Scoring", "cuda:0", (memory.USE_CPU,))
    memory.check_fits(1 << 30, "Scoring", "cpu")
    free_memory(None)  # nothing measurable: the guard does not refuse work it cannot judge
    memory.check_fits(1 << 50, "Anything")


def test_batch_shrinks_to_fit_and_fails_only_when_one_row_does_not(free_memory):
    free_memory(100 * MiB)
    per_row = MiB
    got = memory.batch_that_fits(2048, per_row, "Scoring", "cpu")
    assert got == int(100 * MiB * memory.SAFETY * memory.BATCH_SHARE // per_row)
    assert memory.batch_that_fits(8, per_row, "Scoring", "cpu") == 8
    with pytest.raises(MemoryLimitError, match=r"Scoring one user needs about 200\.0 MiB"):
        memory.batch_that_fits(2048, 200 * MiB, "Scoring one user", "cpu")


def _csv(tmp_path, rows=20_000):
    p = tmp_path / "big.csv"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["user_id", "item_id", "rating"])
    w.writerows((f"u{k % 500}", f"i{k % 300}", 1 + k % 5) for k in range(rows))
    p.write_text(buf.getvalue())
    return p


def test_loading_a_file_that_does_not_fit_is_refused_before_reading(tmp_path, free_memory, monkeypatch):
    import pyarrow.csv as pacsv

    p = _csv(tmp_path)
    need = memory.csv_load_bytes(p.stat().st_size, 12)
    free_memory(need // 4)
    calls = []
    real = pacsv.read_csv
    monkeypatch.setattr(pacsv, "read_csv", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(MemoryLimitError) as info:
        load_interactions(p)
    msg = str(info.value)
    assert "Reading big.csv" in msg and "is free in this computer's memory" in msg and "sample" in msg
    assert calls == [], "the file must not be read at all"
    free_memory(need * 4)
    data, _ = load_interactions(p)
    assert data.n_users == 500 and calls


def test_cli_import_reports_the_memory_limit_without_a_traceback(tmp_path, free_memory, capsys):
    p = _csv(tmp_path)
    free_memory(MiB)
    assert cli_main(["import", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Reading big.csv" in err and "Traceback" not in err


def test_estimate_bounds_a_measured_import(tmp_path):
    """The load estimate is an upper bound on the real peak (a fresh process, VmHWM); the 2 GB
    version of this is the slow test in test_hostile_files."""
    import json
    import os
    import subprocess
    import sys

    from tests.hardening.test_hostile_files import _LOAD_CHILD, ROOT, write_big_csv

    if not os.path.exists("/proc/self/status"):
        pytest.skip("peak memory is read from /proc (Linux)")
    p = tmp_path / "mid.csv"
    write_big_csv(p, 20_000_000, batch=1_000_000)
    with p.open("rb") as f:
        head = f.read(1 << 16)
    estimate = memory.csv_load_bytes(p.stat().st_size, len(head) / head.count(b"\n"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _LOAD_CHILD, str(p)], capture_output=True, text=True,
                          env=env, timeout=300, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["rows"] == 1_000_000
    assert 0 < res["peak"] - res["base"] <= estimate


def test_user_batches_shrink_to_fit_and_cover_every_user(free_memory):
    users = torch.arange(1000)
    n_items = 10_000
    per_row = n_items * memory.RANK_BYTES_PER_CELL
    free_memory(int(40.5 * per_row / (memory.SAFETY * memory.BATCH_SHARE)))
    batches = list(user_batches(users, 2048, n_items=n_items))
    assert max(b.numel() for b in batches) == 40
    assert torch.equal(torch.cat(batches), users)
    assert [b.numel() for b in user_batches(users, 2048)] == [1000]  # no catalogue size: unchanged
    free_memory(per_row // 2)
    with pytest.raises(MemoryLimitError, match="Scoring one user against 10,000 items"):
        next(user_batches(users, 2048, n_items=n_items))


def test_export_chunks_shrink_and_give_the_same_lists(free_memory):
    split = tiny_split()
    torch.manual_seed(0)
    model = build_model("mf", {}, split.n_users, split.n_items)
    free_memory(None)
    whole = pd.concat(recommend_frames(model, split, k=5), ignore_index=True)
    per_row = split.n_items * memory.RANK_BYTES_PER_CELL
    free_memory(int(7.5 * per_row / (memory.SAFETY * memory.BATCH_SHARE)))
    frames = list(recommend_frames(model, split, k=5))
    assert len(frames) == -(-split.n_users // 7) and max(f.attrs["users"] for f in frames) == 7
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)


def test_export_refuses_before_scoring_when_one_user_does_not_fit(free_memory, monkeypatch):
    split = tiny_split()
    model = build_model("mf", {}, split.n_users, split.n_items)
    scored = []
    monkeypatch.setattr(model, "score", lambda *a, **k: scored.append(1))
    free_memory(100)
    with pytest.raises(MemoryLimitError, match=r"Ranking one user.*k-core.*--users"):
        next(recommend_frames(model, split, k=5))
    assert scored == []


@pytest.fixture
def zeros_spy(monkeypatch):
    """Records the shapes torch.zeros is asked for (the buffers a model allocates)."""
    shapes = []
    real = torch.zeros

    def spy(*size, **kw):
        shapes.append(tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size)
        return real(*size, **kw)

    monkeypatch.setattr(torch, "zeros", spy)
    return shapes


def test_ease_refuses_its_items_by_items_matrix_before_allocating(free_memory, zeros_spy):
    n_items = 5000  # 5000² float32 = 95 MiB
    free_memory(50 * MiB)
    with pytest.raises(MemoryLimitError) as info:
        build_model("ease", {}, 10, n_items)
    msg = str(info.value)
    assert "EASE's items × items weights (5,000 items) needs about 95.4 MiB" in msg and "k-core" in msg
    assert (n_items, n_items) not in zeros_spy


def test_ease_fit_is_refused_before_the_gram_matrix(free_memory, monkeypatch):
    data = _interactions(n_users=50, n_items=3000)
    model = build_model("ease", {}, data.n_users, data.n_items)  # B fits ...
    free_memory(8 * 3000 * 3000)  # ... but not the double-precision Gram, inverse and temporaries
    inverted = []
    monkeypatch.setattr(torch.linalg, "inv", lambda *a, **k: inverted.append(1))
    with pytest.raises(MemoryLimitError, match="Fitting EASE on 3,000 items"):
        model.prepare(data)
    assert inverted == []


def _interactions(n_users: int, n_items: int, per_user: int = 20, seed: int = 0) -> InteractionData:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return InteractionData(users, items.astype(np.int64), np.ones(len(users), np.float32), None,
                           pd.Index(np.arange(n_users)), pd.Index(np.arange(n_items)))


def test_itemknn_refuses_its_neighbour_table_and_similarities(free_memory, zeros_spy, monkeypatch):
    free_memory(10 * MiB)
    with pytest.raises(MemoryLimitError, match=r"ItemKNN's neighbour table.*fewer neighbours"):
        build_model("itemknn", {"k": 1000}, 10, 20_000)  # 20k × 1000 × 12 bytes = 229 MiB
    assert not any(s[:1] == (20_000,) for s in zeros_spy)
    data = _interactions(n_users=200, n_items=2000, per_user=100)
    model = build_model("itemknn", {"k": 10}, data.n_users, data.n_items)
    products = []
    import scipy.sparse as sp

    monkeypatch.setattr(sp.csr_matrix, "__matmul__", lambda *a: products.append(1))
    free_memory(20 * MiB)  # 200 users × 100² pairs × 64 bytes ≈ 122 MiB would be needed
    with pytest.raises(MemoryLimitError, match="ItemKNN's item-item similarities"):
        model.prepare(data)
    assert products == []
