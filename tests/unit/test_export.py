"""Exports: top-K frames, the three file formats, raw-id round trips, CSV safety, atomicity, embeddings."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ExportError, TrainingCancelled
from recsys_gui.core.export.csv_safety import needs_neutralising, neutralise_values
from recsys_gui.core.export.embeddings import embedding_paths, model_embeddings, write_embeddings
from recsys_gui.core.export.projection import project_embeddings, projection_sample
from recsys_gui.core.export.recommendations import (
    Labels,
    format_for,
    match_ids,
    prefetched,
    recommend_frames,
    write_recommendations,
)
from recsys_gui.core.models.base import build_model
from recsys_gui.core.utils.atomic import clean_stale_partials
from tests.conftest import tiny_split

ROOT = Path(__file__).resolve().parents[2]


def _model(split: Split, name: str = "mf", seed: int = 0):
    torch.manual_seed(seed)
    return build_model(name, {}, split.n_users, split.n_items)


def _seen(split: Split) -> set[tuple[int, int]]:
    known = split.known_for_test()
    return set(zip(known.users.tolist(), known.items.tolist(), strict=True))


def _odd_split() -> Split:
    """Text ids that must survive every format: leading zeros, commas, quotes, formula starters."""
    uid = pd.Index(["007", "a,b", 'say "hi"', "=cmd()", "-5", "+1+1", "@sum", "plain"], dtype=object)
    iid = pd.Index(["i,1", "=HYPERLINK(x)", "0042", "-3", "i5", "i6"], dtype=object)
    users = np.repeat(np.arange(len(uid)), 2)
    items = np.array([0, 1, 2, 3, 4, 5, 0, 2, 1, 3, 4, 0, 5, 1, 2, 4])
    meta = pd.DataFrame({"title": ["Toy, The", "=evil()", 'A "quoted" one', "-minus", "Plain", None]})
    data = InteractionData(users, items, np.ones(len(users), np.float32), None, uid, iid, item_meta=meta)
    return Split(data, None, data.subset(np.zeros(len(users), bool)))


# --- ranking ------------------------------------------------------------------------------------
def test_frames_are_complete_ranked_and_skip_seen_items():
    split = tiny_split()
    frame = pd.concat(recommend_frames(_model(split), split, k=5, chunk_users=7))
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score"]
    assert len(frame) == split.n_users * 5
    for _, g in frame.groupby("user_id", sort=False):
        assert g["rank"].tolist() == [1, 2, 3, 4, 5]
        assert (np.diff(g["score"].to_numpy()) <= 0).all()
    uidx = split.train.user_ids.get_indexer(frame["user_id"])
    iidx = split.train.item_ids.get_indexer(frame["item_id"])
    assert not (set(zip(uidx.tolist(), iidx.tolist(), strict=True)) & _seen(split))


def test_chunk_size_does_not_change_the_lists():
    split = tiny_split()
    model = _model(split)
    one = pd.concat(recommend_frames(model, split, k=8))
    many = pd.concat(recommend_frames(model, split, k=8, chunk_users=3), ignore_index=True)
    pd.testing.assert_frame_equal(one.reset_index(drop=True), many)
    # the background-thread pipeline yields the same frames, in order
    piped = pd.concat(prefetched(recommend_frames(model, split, k=8, chunk_users=3)), ignore_index=True)
    pd.testing.assert_frame_equal(piped, many)


def test_include_seen_and_item_allow_list():
    split = tiny_split()
    model = _model(split)
    with_seen = pd.concat(recommend_frames(model, split, k=20, exclude_seen=False))
    uidx = split.train.user_ids.get_indexer(with_seen["user_id"])
    iidx = split.train.item_ids.get_indexer(with_seen["item_id"])
    assert set(zip(uidx.tolist(), iidx.tolist(), strict=True)) & _seen(split)
    # allow-list of 4 items: a user whose unseen allowed items are fewer than k gets fewer rows,
    # ranks still 1..n with no gaps
    allowed = np.array([0, 1, 2, 3])
    frame = pd.concat(recommend_frames(model, split, k=3, allow_items=allowed))
    assert set(frame["item_id"]) <= {split.train.item_ids[i] for i in allowed}
    for _, g in frame.groupby("user_id"):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
    assert frame.groupby("user_id").size().min() < 3  # tiny users see only odd or even items


def test_users_subset_and_k_larger_than_catalogue():
    split = tiny_split()
    frame = pd.concat(recommend_frames(_model(split), split, k=500, users=[5, 2]))
    assert frame["user_id"].unique().tolist() == ["u5", "u2"]
    assert frame.groupby("user_id").size().max() <= split.n_items


def test_match_ids_reports_unknown_and_compares_text_forms():
    idx = pd.Index([7, 12, 30])
    dense, unknown = match_ids(["12", "007", "7", "99", "12"], idx)
    assert dense.tolist() == [1, 0] and unknown == ["007", "99"]
    text = pd.Index(["007", "7"], dtype=object)
    dense, unknown = match_ids(["007", "x"], text)
    assert dense.tolist() == [0] and unknown == ["x"]


def test_format_from_suffix():
    assert format_for(Path("a.db"), None) == "sqlite"
    assert format_for(Path("a.SQLITE"), None) == "sqlite"
    assert format_for(Path("a.csv"), None) == "csv"
    assert format_for(Path("a.parquet"), None) == "parquet"
    assert format_for(Path("a.txt"), "csv") == "csv"
    with pytest.raises(ExportError, match="--format"):
        format_for(Path("a.txt"), None)


# --- files --------------------------------------------------------------------------------------
def test_sqlite_schema_run_and_items_tables(tmp_path):
    import sqlite_utils

    split = _odd_split()
    labels = Labels.from_data(split.train)
    items = pd.DataFrame({"item_id": labels.items, "title": labels.titles})
    out = tmp_path / "recs.sqlite"
    _, rows = write_recommendations(
        recommend_frames(_model(split), split, k=3),
        out,
        labels=labels,
        run_info={"run_id": "r1", "model": "mf", "test_metrics_json": {"ndcg@10": 0.5}},
        items=items,
    )
    db = sqlite_utils.Database(out)
    assert db["recommendations"].pks == ["user_id", "rank"]
    assert any(ix.columns == ["item_id"] for ix in db["recommendations"].indexes)
    assert db["recommendations"].count == rows
    run = next(db["run"].rows)
    assert run["run_id"] == "r1" and json.loads(run["test_metrics_json"]) == {"ndcg@10": 0.5}
    assert db["items"].count == split.n_items and db["items"].pks == ["item_id"]
    con = sqlite3.connect(out)
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    # raw ids are exact in SQLite (no neutralising there)
    got = {r[0] for r in con.execute("select user_id from recommendations")}
    assert got == set(split.train.user_ids)


def test_raw_ids_round_trip_and_csv_is_spreadsheet_safe(tmp_path):
    split = _odd_split()
    model = _model(split)
    labels = Labels.from_data(split.train)
    for fmt in ("csv", "parquet", "sqlite"):
        write_recommendations(recommend_frames(model, split, k=2), tmp_path / f"r.{fmt}", labels=labels)
    expected = pd.concat(recommend_frames(model, split, k=2), ignore_index=True)

    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["user_id"] for r in rows] == [
        "'" + u if u in ("=cmd()", "+1+1", "@sum") else u for u in expected["user_id"]
    ]
    assert "007" in {r["user_id"] for r in rows} and "a,b" in {r["user_id"] for r in rows}
    assert 'say "hi"' in {r["user_id"] for r in rows}
    assert "-5" in {r["user_id"] for r in rows}  # a numeric literal cannot run: left alone
    titles = {r["title"] for r in rows}
    assert "'=evil()" in titles and "=evil()" not in titles and "'-minus" in titles
    assert all(
        float(r["score"]) == pytest.approx(float(s), rel=1e-6)
        for r, s in zip(rows, expected["score"], strict=True)
    )
    text = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert '"a,b"' in text and '"say ""hi"""' in text

    parquet = pd.read_parquet(tmp_path / "r.parquet")
    assert parquet["user_id"].tolist() == expected["user_id"].tolist()
    assert parquet["item_id"].tolist() == expected["item_id"].tolist()
    con = sqlite3.connect(tmp_path / "r.sqlite")
    sq = con.execute("select user_id, item_id from recommendations").fetchall()
    assert sorted(sq) == sorted(zip(expected["user_id"], expected["item_id"], strict=True))


def test_integer_ids_stay_integers(tmp_path):
    split = tiny_split()
    data = split.train
    ints = InteractionData(
        data.users,
        data.items,
        data.values,
        None,
        pd.Index(np.arange(100, 100 + data.n_users)),
        pd.Index(np.arange(data.n_items) * 3),
    )
    sp = Split(ints, None, ints.subset(np.zeros(len(ints), bool)))
    labels = Labels.from_data(ints)
    for fmt in ("csv", "sqlite", "parquet"):
        write_recommendations(recommend_frames(_model(sp), sp, k=2), tmp_path / f"r.{fmt}", labels=labels)
    con = sqlite3.connect(tmp_path / "r.sqlite")
    assert con.execute("select typeof(user_id), typeof(item_id) from recommendations limit 1").fetchone() == (
        "integer",
        "integer",
    )
    assert pd.read_parquet(tmp_path / "r.parquet")["user_id"].dtype == np.int64
    assert pd.read_csv(tmp_path / "r.csv")["user_id"].dtype == np.int64


def test_csv_safety_rules():
    for bad in ("=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert needs_neutralising(bad)
    for ok in ("-5", "+1.5e3", "abc", "", "'=x", "1=1", 5, -5.0, None):
        assert not needs_neutralising(ok)
    out = neutralise_values(pd.Series(["=a", "b", None, "-1"], dtype=object))
    assert out.tolist() == ["'=a", "b", None, "-1"]
    ints = pd.Index([-1, 2])
    assert neutralise_values(ints) is ints


# --- atomicity ----------------------------------------------------------------------------------
def test_existing_target_is_refused_and_left_unchanged(tmp_path):
    split = tiny_split()
    labels = Labels.from_data(split.train)
    out = tmp_path / "recs.csv"
    out.write_text("precious\n")
    with pytest.raises(ExportError, match="--overwrite"):
        write_recommendations(recommend_frames(_model(split), split, k=2), out, labels=labels)
    assert out.read_text() == "precious\n"
    write_recommendations(recommend_frames(_model(split), split, k=2), out, labels=labels, overwrite=True)
    assert out.read_text().startswith("user_id,rank,item_id,score\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recs.csv"]


@pytest.mark.parametrize("fmt", ["sqlite", "csv", "parquet"])
def test_cancel_or_error_mid_export_leaves_nothing(tmp_path, fmt):
    split = tiny_split()
    labels = Labels.from_data(split.train)
    out = tmp_path / f"recs.{fmt}"
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(TrainingCancelled):
        write_recommendations(
            prefetched(recommend_frames(_model(split), split, k=3, chunk_users=5, should_stop=stop)),
            out,
            labels=labels,
        )
    assert list(tmp_path.iterdir()) == []

    def broken():
        yield from recommend_frames(_model(split), split, k=3, chunk_users=5)
        raise RuntimeError("disk on fire")

    out.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_recommendations(broken(), out, labels=labels, overwrite=True)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


_KILL_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np, pandas as pd, torch
    from recsys_gui.core.data.interactions import InteractionData
    from recsys_gui.core.export.recommendations import Labels, recommend_frames, write_recommendations
    from recsys_gui.core.models.base import build_model
    n_users, n_items = 20000, 300
    data = InteractionData(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32), None,
                           pd.Index(np.arange(n_users)), pd.Index(np.arange(n_items)))
    model = build_model("mf", {"embedding_dim": 8}, n_users, n_items)
    def slow(n):
        print("chunk", flush=True)
        time.sleep(0.05)
    frames = recommend_frames(model, data, k=10, chunk_users=100, on_chunk=slow)
    write_recommendations(frames, sys.argv[1], labels=Labels.from_data(data))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_export_leaves_no_file_at_target(tmp_path):
    target = tmp_path / "recs.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(target)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        for _ in range(5):  # a few chunks are written: the export is well under way
            assert proc.stdout.readline().startswith(b"chunk"), "the child export did not start"
        partials = list(tmp_path.glob(".recs.sqlite.*.partial"))
        assert partials, "the export should be writing a temporary file beside the target"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    # the next export to that target removes the dead process's leftover
    assert clean_stale_partials(target) == partials
    assert list(tmp_path.iterdir()) == []


# --- embeddings ---------------------------------------------------------------------------------
def test_model_embeddings_sides():
    split = tiny_split()
    embs = model_embeddings(_model(split), split, chunk_users=7)
    assert embs["user"].shape == (split.n_users, 64) and embs["item"].shape == (split.n_items, 64)
    model = _model(split)
    np.testing.assert_allclose(embs["user"], model.P.weight.detach().numpy())
    ease = build_model("ease", {}, split.n_users, split.n_items)
    assert model_embeddings(ease, split) == {"user": None, "item": None}


def test_embedding_files_round_trip(tmp_path):
    split = _odd_split()
    labels = Labels.from_data(split.train)
    emb = np.random.default_rng(0).normal(size=(split.n_items, 3)).astype(np.float32)
    for name in ("e.csv", "e.parquet", "e.npy"):
        kind, paths = embedding_paths(tmp_path / name, None, ("item",))
        write_embeddings(emb, labels.items, paths["item"], kind, "item", titles=labels.titles)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e.items.csv",
        "e.items.ids.csv",
        "e.items.npy",
        "e.items.parquet",
    ]
    pq = pd.read_parquet(tmp_path / "e.items.parquet")
    assert pq["item_id"].tolist() == list(split.train.item_ids)
    np.testing.assert_array_equal(pq[["e0", "e1", "e2"]].to_numpy(), emb)
    np.testing.assert_array_equal(np.load(tmp_path / "e.items.npy"), emb)
    with open(tmp_path / "e.items.ids.csv", newline="", encoding="utf-8") as f:
        ids = [r["item_id"] for r in csv.DictReader(f)]
    assert ids == ["i,1", "'=HYPERLINK(x)", "0042", "-3", "i5", "i6"]
    table = pd.read_csv(tmp_path / "e.items.csv", dtype={"item_id": str})
    np.testing.assert_allclose(table[["e0", "e1", "e2"]].to_numpy(), emb, rtol=1e-6)
    with pytest.raises(ExportError, match="--overwrite"):
        write_embeddings(emb, labels.items, [tmp_path / "e.items.csv"], "csv", "item")
    # a folder gets users.<fmt> / items.<fmt>
    kind, paths = embedding_paths(tmp_path / "dir", "parquet")
    assert kind == "parquet" and paths["user"] == [tmp_path / "dir" / "users.parquet"]


def test_project_embeddings_pca_and_tsne():
    rng = np.random.default_rng(0)
    emb = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(8, 1, (60, 8))]).astype(np.float32)
    xy = project_embeddings(emb, "pca")
    assert xy.shape == (120, 2) and np.isfinite(xy).all()
    assert abs(xy[:60, 0].mean() - xy[60:, 0].mean()) > 5  # the two clusters separate on PC1
    sampled = project_embeddings(emb, "pca", sample=30, seed=1)
    assert sampled.shape == (120, 2) and np.isfinite(sampled).all()
    ts = project_embeddings(emb, "tsne", sample=50, seed=0)
    rows = projection_sample(120, 50, 0)
    assert ts.shape == (120, 2) and np.isfinite(ts[rows]).all()
    assert np.isnan(np.delete(ts, rows, axis=0)).all()
    assert project_embeddings(emb[:1], "tsne").shape == (1, 2)


# --- CLI on a tiny predefined split -------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-epoch MF run trained through the CLI on the tiny split written as TSV files."""
    from recsys_gui.cli import main

    root = tmp_path_factory.mktemp("tiny_run")
    split = tiny_split()
    for name, part in (("train", split.train), ("valid", split.valid), ("test", split.test)):
        df = part.to_frame().rename(columns={"user": "user_id", "item": "item_id", "value": "rating"})
        df.to_csv(root / f"{name}.tsv", sep="\t", index=False)
    ws = root / "ws"
    code = main(
        [
            "train",
            "--train",
            str(root / "train.tsv"),
            "--valid",
            str(root / "valid.tsv"),
            "--test",
            str(root / "test.tsv"),
            "--model",
            "mf",
            "--epochs",
            "2",
            "--seed",
            "1",
            "--workspace",
            str(ws),
            "--json",
            "--quiet",
        ]
    )
    assert code == 0
    from recsys_gui.core.store.run_store import RunStore

    run_id = RunStore(ws).list_runs()[0]["id"]
    return root, ws, run_id, split


def test_cli_recommend_formats_users_and_overwrite(tiny_run, tmp_path, capsys):
    from recsys_gui.cli import main

    _root, ws, run_id, split = tiny_run
    (tmp_path / "users.txt").write_text("u3\nnobody\nu1\n\n")
    out = tmp_path / "recs.db"
    assert (
        main(
            [
                "recommend",
                run_id,
                "--top",
                "4",
                "--out",
                str(out),
                "--users",
                str(tmp_path / "users.txt"),
                "--workspace",
                str(ws),
                "--json",
            ]
        )
        == 0
    )
    cap = capsys.readouterr()
    report = json.loads(cap.out.strip().splitlines()[-1])
    assert report["rows"] == 8 and report["users"] == 2 and report["unknown_users"] == ["nobody"]
    assert "nobody" in cap.err
    con = sqlite3.connect(out)
    assert {r[0] for r in con.execute("select user_id from recommendations")} == {"u1", "u3"}
    assert con.execute("select model from run").fetchone()[0] == "mf"
    before = out.read_bytes()
    assert main(["recommend", run_id, "--top", "4", "--out", str(out), "--workspace", str(ws)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert (
        main(
            [
                "recommend",
                run_id,
                "--top",
                "4",
                "--out",
                str(out),
                "--workspace",
                str(ws),
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    con.close()  # the old connection still sees the replaced file's inode
    con = sqlite3.connect(out)
    assert con.execute("select count(*) from recommendations").fetchone()[0] == 4 * split.n_users
    assert main(["recommend", run_id, "--out", str(tmp_path / "x.txt"), "--workspace", str(ws)]) == 2
    (tmp_path / "items.txt").write_text("i0\ni2\ni4\ni6\ni8\n")
    assert (
        main(
            [
                "recommend",
                run_id,
                "--top",
                "3",
                "--out",
                str(tmp_path / "allow.parquet"),
                "--items",
                str(tmp_path / "items.txt"),
                "--include-seen",
                "--workspace",
                str(ws),
            ]
        )
        == 0
    )
    allow = pd.read_parquet(tmp_path / "allow.parquet")
    assert set(allow["item_id"]) <= {"i0", "i2", "i4", "i6", "i8"}


def test_cli_export_embeddings(tiny_run, tmp_path, capsys):
    from recsys_gui.cli import main

    _, ws, run_id, split = tiny_run
    assert (
        main(
            [
                "export-embeddings",
                run_id,
                "--out",
                str(tmp_path / "emb.parquet"),
                "--workspace",
                str(ws),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["shapes"] == {"user": [split.n_users, 64], "item": [split.n_items, 64]}
    users = pd.read_parquet(tmp_path / "emb.users.parquet")
    assert sorted(users["user_id"]) == sorted(split.train.user_ids)  # the loader's own id order
    assert (
        main(["export-embeddings", run_id, "--out", str(tmp_path / "emb.parquet"), "--workspace", str(ws)])
        == 2
    )
