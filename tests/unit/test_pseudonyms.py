"""Pseudonymised exports (issue 27): keyed user pseudonyms, the workspace key, rotation, mapping back."""

from __future__ import annotations

import argparse
import csv
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.cli import build_parser, main
from recsys_gui.core.errors import ConfigError, ExportError
from recsys_gui.core.export.ids import Labels, items_table, raw_id_array
from recsys_gui.core.export.recommendations import export_recommendations, recommend_frames, run_info
from recsys_gui.core.export.sinks import write_recommendations
from recsys_gui.core.privacy import ExportPrivacy, key_id, key_path, map_back, pseudonymise, rotate_key
from recsys_gui.core.privacy.pseudonyms import read_key, workspace_key
from recsys_gui.core.session import DataSpec, RunSpec, load_run_model, load_split, run_training

N_USERS, N_ITEMS = 40, 30


def _raw_user(u: int) -> str:
    return f"cust-{u:03d}-{(u * 7919) % 10007:05d}"  # distinctive: cannot occur by chance elsewhere


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, str, list[str], list[str]]:
    """An MF run on text user ids and titled items: (workspace, run id, raw user ids, titles)."""
    root = tmp_path_factory.mktemp("privacy")
    rng = np.random.default_rng(3)
    rows = [
        (_raw_user(u), f"sku{i}", 1) for u in range(N_USERS) for i in rng.choice(N_ITEMS, 9, replace=False)
    ]
    pd.DataFrame(rows, columns=["user_id", "item_id", "rating"]).to_csv(root / "data.csv", index=False)
    titles = [f"Secret title {i}" for i in range(N_ITEMS)]
    pd.DataFrame({"item_id": [f"sku{i}" for i in range(N_ITEMS)], "title": titles}).to_csv(
        root / "items.csv", index=False
    )
    spec = RunSpec(
        data=DataSpec(path=str(root / "data.csv"), item_metadata=str(root / "items.csv")),
        model="mf",
        train={"epochs": 1, "device": "cpu", "seed": 1},
    )
    ws = root / "ws"
    run_id = run_training(spec, workspace=ws).run_id
    return ws, run_id, [_raw_user(u) for u in range(N_USERS)], titles


def _export(ws: Path, run_id: str, out: Path, privacy: ExportPrivacy) -> Path:
    """The SQLite export as ``export_recommendations`` makes it, with the privacy options applied
    where they act: the labels (``ids``), the items table and the run table."""
    model, spec, row = load_run_model(ws, run_id, device=torch.device("cpu"))
    split, _ = load_split(spec, seed=spec.train_config().seed)
    model.set_context(split.known_for_test())
    labels = Labels.from_data(split.train, privacy=privacy, workspace=ws)
    frames = recommend_frames(model, split, k=5, labels=labels, device=torch.device("cpu"))
    info = run_info(row, spec.to_dict(), top=5, include_seen=False, users=None, items=None,
                    fingerprint=split.train.fingerprint())
    info.update(privacy.run_info(ws))
    path, _ = write_recommendations(frames, out, labels=labels, fmt="sqlite", run_info=info,
                                    items=items_table(split.train, privacy))
    return path


def _pseudonyms_cmd(*argv: str) -> int:
    """``recsys-gui pseudonyms ...`` through its own module (main() lists it once the lead adds it)."""
    from recsys_gui.cli import privacy_cmd

    parser = argparse.ArgumentParser()
    privacy_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["pseudonyms", *map(str, argv)])
    return args.func(args)


def _every_cell(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [str(v) for t in tables for row in db.execute(f'SELECT * FROM "{t}"') for v in row]


# --- the key --------------------------------------------------------------------------------------
def test_the_key_is_made_once_private_and_random(tmp_path):
    key = workspace_key(tmp_path)
    path = key_path(tmp_path)
    assert len(key) == 32 and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert workspace_key(tmp_path) == key  # made on first use only
    assert workspace_key(tmp_path / "other") != key


def test_a_damaged_key_is_a_clear_error_not_a_new_key(tmp_path):
    workspace_key(tmp_path)
    key_path(tmp_path).write_text("not a key\n")
    with pytest.raises(ConfigError, match=r"pseudonym\.key: not a pseudonym key"):
        workspace_key(tmp_path)
    assert key_path(tmp_path).read_text() == "not a key\n"


def test_pseudonyms_are_keyed_stable_and_hash_the_text_form():
    k1, k2 = b"\x01" * 32, b"\x02" * 32
    p = pseudonymise(["alice", 7], k1)
    assert all(s.startswith("u_") and len(s) == 22 for s in p)
    assert list(pseudonymise(["alice", 7], k1)) == list(p)  # stable under one key
    assert list(pseudonymise(["7"], k1)) == [p[1]] == list(pseudonymise(np.array([7], np.int64), k1))
    assert not set(pseudonymise(["alice", 7], k2)) & set(p)  # another key: unlinkable
    assert "alice" not in p[0]


def test_rotation_keeps_the_old_key_and_old_pseudonyms_still_map_back(tmp_path):
    raw = [f"user{i}" for i in range(50)]
    old = workspace_key(tmp_path)
    before = pseudonymise(raw, old)
    retired, current = rotate_key(tmp_path)
    assert retired is not None and retired.name.startswith("pseudonym.") and read_key(retired) == old
    assert stat.S_IMODE(current.stat().st_mode) == 0o600
    new = workspace_key(tmp_path)
    assert new != old and key_id(new) != key_id(old)
    after = pseudonymise(raw, new)
    assert not set(before) & set(after)
    assert map_back(tmp_path, before, raw) == dict(zip(before, raw, strict=True))
    assert map_back(tmp_path, after, raw) == dict(zip(after, raw, strict=True))
    rotate_key(tmp_path)  # twice within a second: both retired keys are kept
    assert len(list((tmp_path / "privacy").glob("pseudonym.*.key"))) == 2
    assert map_back(tmp_path, before, raw) == dict(zip(before, raw, strict=True))
    assert map_back(tmp_path, ["u_0000"], raw) == {}


# --- exports --------------------------------------------------------------------------------------
def test_a_pseudonymised_sqlite_export_holds_no_raw_user_id_nor_the_key(trained, tmp_path):
    ws, run_id, raw_users, titles = trained
    plain = _export(ws, run_id, tmp_path / "plain.sqlite", ExportPrivacy())
    assert set(raw_users) <= set(_every_cell(plain))  # the scan below would see them
    assert set(titles) & set(_every_cell(plain))

    private = _export(
        ws, run_id, tmp_path / "private.sqlite", ExportPrivacy(pseudonymise=True, drop_titles=True)
    )
    cells = _every_cell(private)
    blob = private.read_bytes()
    key = workspace_key(ws)
    for raw in raw_users:
        assert raw.encode() not in blob
        assert not any(raw in c for c in cells)
    for t in titles:
        assert t.encode() not in blob
    assert key not in blob and key.hex().encode() not in blob and key.hex().upper().encode() not in blob
    with sqlite3.connect(private) as db:
        users = [u for (u,) in db.execute("SELECT DISTINCT user_id FROM recommendations")]
        cols = [c[1] for c in db.execute("PRAGMA table_info(recommendations)")]
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        run = dict(zip([c[0] for c in db.execute("SELECT * FROM run").description],
                       db.execute("SELECT * FROM run").fetchone(), strict=True))
    assert len(users) == N_USERS and all(u.startswith("u_") for u in users)
    assert "title" not in cols and "items" not in tables
    assert run["pseudonym_key_id"] == key_id(key) and run["user_ids"].startswith("pseudonymised")

    # mapping back with the workspace key (through the CLI) restores every id exactly, row for row
    assert _pseudonyms_cmd("map-back", private, "--run", run_id, "--workspace", ws,
                           "--out", tmp_path / "map.csv") == 0
    with open(tmp_path / "map.csv", newline="") as f:
        mapping = {r["pseudonym"]: r["user_id"] for r in csv.DictReader(f)}
    assert sorted(mapping.values()) == sorted(raw_users)
    with sqlite3.connect(private) as a, sqlite3.connect(plain) as b:
        q = "SELECT user_id, rank, item_id, score FROM recommendations ORDER BY user_id, rank"
        restored = sorted((mapping[u], r, i, s) for u, r, i, s in a.execute(q))
        assert restored == sorted(b.execute(q))


def test_map_back_refuses_a_file_from_another_workspace(trained, tmp_path):
    ws, run_id, raw_users, _ = trained
    stranger = tmp_path / "p.txt"
    stranger.write_text("\n".join(pseudonymise(raw_users, b"\x09" * 32)) + "\n")
    with pytest.raises(ExportError, match="None of the 40 user ids"):
        _pseudonyms_cmd("map-back", stranger, "--run", run_id, "--workspace", ws)


def test_embeddings_cli_pseudonymises_users_and_drops_titles(trained, tmp_path, capsys):
    ws, run_id, raw_users, titles = trained
    out = tmp_path / "emb.csv"
    assert main(["export-embeddings", run_id, "--out", str(out), "--pseudonymise", "--drop-titles",
                 "--workspace", str(ws), "--device", "cpu"]) == 0
    users = pd.read_csv(tmp_path / "emb.users.csv", dtype=str)
    items = pd.read_csv(tmp_path / "emb.items.csv", dtype=str)
    text = (tmp_path / "emb.users.csv").read_text() + (tmp_path / "emb.items.csv").read_text()
    assert not any(r in text for r in raw_users) and not any(t in text for t in titles)
    assert "title" not in items.columns and len(users) == N_USERS
    assert map_back(ws, users["user_id"], raw_users) == dict(
        zip(pseudonymise(raw_users, workspace_key(ws)), raw_users, strict=True)
    )


def test_labels_without_privacy_are_unchanged(trained):
    ws, run_id, _, _ = trained
    _, spec, _ = load_run_model(ws, run_id)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    labels = Labels.from_data(split.train)
    assert list(labels.users) == list(raw_id_array(split.train.user_ids))
    assert labels.titles is not None
    assert ExportPrivacy().run_info(ws) == {}


def test_the_cli_flags_become_the_option_object():
    from recsys_gui.cli.privacy_args import add_privacy_arguments, privacy_from_args

    p = argparse.ArgumentParser()
    add_privacy_arguments(p)
    assert privacy_from_args(p.parse_args(["--pseudonymize", "--drop-titles"])) == ExportPrivacy(True, True)
    assert privacy_from_args(p.parse_args([])) == ExportPrivacy()
    sub = build_parser()._subparsers._group_actions[0].choices
    assert "--pseudonymise" in sub["export-embeddings"].format_help()


def test_recommend_pseudonymises(trained, tmp_path):
    ws, run_id, raw_users, titles = trained
    export_recommendations(ws, run_id, tmp_path / "x.sqlite", privacy=ExportPrivacy(pseudonymise=True))
    assert not any(r.encode() in (tmp_path / "x.sqlite").read_bytes() for r in raw_users)
    out = tmp_path / "r.sqlite"
    assert main(["recommend", run_id, "--top", "5", "--out", str(out), "--pseudonymise", "--drop-titles",
                 "--workspace", str(ws), "--quiet"]) == 0
    blob = out.read_bytes()
    assert not any(r.encode() in blob for r in raw_users) and not any(t.encode() in blob for t in titles)
