"""A full disk (ENOSPC) gives one clear message, keeps the old file intact and leaves no temp file.

The disk is filled in the way each writer meets it: ``OSError(ENOSPC)`` from a file write (CSV,
checkpoints), Arrow's "No space left on device" text (Parquet), SQLite's real SQLITE_FULL (made by
capping the database's page count) for the SQLite export and the run store, and ENOSPC from the
final ``os.replace``.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from pathlib import Path

import pytest

from recsys_gui.core.errors import ExportError, RecsysError
from tests.conftest import tiny_split

OLD = b"user_id,rank,item_id,score\nold,1,file,1.0\n"


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _assert_disk_full(exc: BaseException, folder: Path) -> None:
    text = str(exc)
    assert re.search(rf"Disk full .*free space at {re.escape(str(folder))}", text), text
    assert "Traceback" not in text


def _only_target_left(folder: Path, target: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [target.name], "a temporary file was left behind"
    assert target.read_bytes() == OLD, "the existing export was changed"


@pytest.fixture(scope="module")
def model_and_split():
    from recsys_gui.core.models.base import build_model

    split = tiny_split()
    return build_model("mf", {"embedding_dim": 8}, split.n_users, split.n_items), split


def _many_users(n_users: int = 5000, n_items: int = 50):
    import numpy as np
    import pandas as pd

    from recsys_gui.core.data.interactions import InteractionData
    from recsys_gui.core.models.base import build_model

    data = InteractionData(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32), None,
                           pd.Index(np.arange(n_users)), pd.Index(np.arange(n_items)))
    return build_model("mf", {"embedding_dim": 8}, n_users, n_items), data


def _write(model_and_split, target: Path, fmt: str, *, chunk_users: int = 8):
    from recsys_gui.core.export.recommendations import Labels, recommend_frames, write_recommendations

    model, split = model_and_split
    frames = recommend_frames(model, split, k=5, chunk_users=chunk_users)
    ref = getattr(split, "train", split)
    return write_recommendations(frames, target, labels=Labels.from_data(ref), fmt=fmt, overwrite=True)


def test_csv_write_enospc_keeps_old_file(tmp_path, monkeypatch, model_and_split):
    from recsys_gui.core.export import recommendations as rec

    target = tmp_path / "recs.csv"
    target.write_bytes(OLD)
    calls = {"n": 0}
    original = rec.CsvSink.write

    def write_then_fill(self, frame):  # a few chunks reach the disk, then it is full
        calls["n"] += 1
        if calls["n"] > 2:
            _enospc()
        original(self, frame)

    monkeypatch.setattr(rec.CsvSink, "write", write_then_fill)
    with pytest.raises(ExportError) as err:
        _write(model_and_split, target, "csv")
    _assert_disk_full(err.value, tmp_path)
    assert "recs.csv was left as it was" in str(err.value)
    _only_target_left(tmp_path, target)


def test_replace_enospc_keeps_old_file(tmp_path, monkeypatch, model_and_split):
    from recsys_gui.core.utils import atomic

    target = tmp_path / "recs.csv"
    target.write_bytes(OLD)
    monkeypatch.setattr(atomic.os, "replace", _enospc)
    with pytest.raises(ExportError) as err:
        _write(model_and_split, target, "csv")
    _assert_disk_full(err.value, tmp_path)
    _only_target_left(tmp_path, target)


def test_sqlite_export_full_keeps_old_file(tmp_path, monkeypatch, model_and_split):
    from recsys_gui.core.export import recommendations as rec

    target = tmp_path / "recs.sqlite"
    target.write_bytes(OLD)
    original = rec.SqliteSink.__init__

    def small_disk(self, *a, **k):  # SQLite's own "database or disk is full" after a few pages
        original(self, *a, **k)
        self.conn.execute("PRAGMA max_page_count = 3")

    monkeypatch.setattr(rec.SqliteSink, "__init__", small_disk)
    with pytest.raises(ExportError) as err:
        _write(_many_users(), target, "sqlite", chunk_users=1000)  # ~25,000 rows: far more than 3 pages
    _assert_disk_full(err.value, tmp_path)
    _only_target_left(tmp_path, target)


def test_parquet_enospc_keeps_old_file(tmp_path, monkeypatch, model_and_split):
    import pyarrow.parquet as pq

    target = tmp_path / "recs.parquet"
    target.write_bytes(OLD)

    def arrow_full(self, *a, **k):  # Arrow puts the errno in the text, not in OSError.errno
        raise OSError("error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", arrow_full)
    with pytest.raises(ExportError) as err:
        _write(model_and_split, target, "parquet")
    _assert_disk_full(err.value, tmp_path)
    _only_target_left(tmp_path, target)


def test_other_write_errors_are_not_called_disk_full(tmp_path, monkeypatch, model_and_split):
    from recsys_gui.core.export import recommendations as rec

    target = tmp_path / "recs.csv"
    target.write_bytes(OLD)

    def broken(self, frame):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(rec.CsvSink, "write", broken)
    with pytest.raises(OSError) as err:
        _write(model_and_split, target, "csv")
    assert err.value.errno == errno.EIO and "Disk full" not in str(err.value)
    _only_target_left(tmp_path, target)


def test_cli_recommend_disk_full_is_one_line(tmp_path, monkeypatch, capsys):
    from recsys_gui.cli import main
    from recsys_gui.core.export import recommendations as rec
    from recsys_gui.core.session import DataSpec, RunSpec, run_training

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "tiny.csv"
    spec = RunSpec(data=DataSpec(path=str(sample)), model="mf",
                   train={"epochs": 1, "device": "cpu", "threads": 1})
    run_id = run_training(spec, workspace=tmp_path / "ws").run_id
    out = tmp_path / "out"
    out.mkdir()
    target = out / "recs.csv"
    target.write_bytes(OLD)
    monkeypatch.setattr(rec.CsvSink, "write", lambda self, frame: _enospc())
    code = main(["recommend", run_id, "--out", str(target), "--overwrite", "--quiet", "--workspace",
                 str(tmp_path / "ws")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: Disk full") and err.count("\n") == 1 and "Traceback" not in err
    _assert_disk_full(err, out)
    _only_target_left(out, target)


# --- checkpoints --------------------------------------------------------------------------------
def test_write_atomically_enospc_keeps_old_checkpoint(tmp_path, monkeypatch):
    import torch

    from recsys_gui.core.utils.atomic import write_atomically

    path = tmp_path / "best.pt"
    write_atomically(path, lambda tmp: torch.save({"w": torch.ones(3)}, tmp))
    before = path.read_bytes()

    def half_then_full(obj, f, *a, **k):
        Path(f).write_bytes(b"half a checkpoint")
        _enospc()

    monkeypatch.setattr(torch, "save", half_then_full)
    with pytest.raises(RecsysError) as err:
        write_atomically(path, lambda tmp: torch.save({"w": torch.zeros(3)}, tmp))
    _assert_disk_full(err.value, tmp_path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_training_checkpoint_enospc_is_clear_and_keeps_old(tmp_path, monkeypatch):
    import torch

    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.models.base import build_model
    from recsys_gui.core.training.trainer import Trainer

    split = tiny_split()
    ck = tmp_path / "checkpoints"
    cfg = TrainConfig(epochs=1, batch_size=64, device="cpu")
    Trainer(cfg, checkpoint_dir=ck).fit(build_model("mf", {}, split.n_users, split.n_items), split,
                                        torch.device("cpu"))
    before = {p.name: p.read_bytes() for p in ck.iterdir()}
    assert "best.pt" in before
    real_save = torch.save

    def half_then_full(obj, f, *a, **k):
        real_save({"partial": True}, f)
        _enospc()

    monkeypatch.setattr(torch, "save", half_then_full)
    with pytest.raises(RecsysError) as err:
        Trainer(cfg, checkpoint_dir=ck).fit(build_model("mf", {}, split.n_users, split.n_items), split,
                                            torch.device("cpu"))
    _assert_disk_full(err.value, ck)
    assert {p.name: p.read_bytes() for p in ck.iterdir()} == before


# --- the run store ------------------------------------------------------------------------------
def test_store_write_on_full_disk_is_clear_and_keeps_rows(tmp_path):
    from recsys_gui.core.store.run_store import RunStore

    ws = tmp_path / "ws"
    store = RunStore(ws)
    store.create_run(run_id="r1", model="mf", family="f", spec={"model": "mf"}, data_path="d",
                     data_fingerprint="x", split="s", seed=0, device="CPU", world_size=1, versions={})
    store.log_metrics("r1", [{"epoch": 0, "step": None, "split": "valid", "name": "ndcg@10", "value": 0.5}])
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full for this database
    rows = [{"epoch": i, "step": i, "split": "train_step", "name": f"loss{i % 7}", "value": float(i)}
            for i in range(20000)]
    with pytest.raises(RecsysError) as err:
        store.log_metrics("r1", rows)
    _assert_disk_full(err.value, ws)
    assert "run store was not changed" in str(err.value)
    store.close()

    again = RunStore(ws)  # still opens; nothing half-written
    assert again.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert again.get_run("r1")["status"] == "running"
    assert again.metrics("r1") == [{"epoch": 0, "step": None, "split": "valid", "name": "ndcg@10",
                                    "value": 0.5}]
    again.close()


def test_store_errors_that_are_not_disk_full_pass_through(tmp_path):
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(tmp_path / "ws")
    store.db.execute("PRAGMA query_only = 1")
    with pytest.raises(sqlite3.OperationalError):
        store.create_run(run_id="r1", model="mf", family="f", spec={}, data_path="d", data_fingerprint="x",
                         split="s", seed=0, device="CPU", world_size=1, versions={})
    store.close()


def test_is_disk_full_recognises_each_form():
    from recsys_gui.core.utils.atomic import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError("Detail: [errno 28] No space left on device"))
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(ValueError("disk is full"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
