"""Split protocols: parsing, exact sizes, no leakage where promised, determinism, speed, CLI output."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.data.loaders import load_interactions
from recsys_gui.core.data.splits import SPLIT_HELP, SplitSpec, describe_split, make_split, parse_split_spec
from recsys_gui.core.errors import ConfigError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def make_data(
    counts: list[int], *, n_items: int = 50, timestamps: bool = True, seed: int = 0
) -> InteractionData:
    """Users with the given numbers of distinct items; timestamps increase with the row number."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(len(counts)), counts)
    items = np.concatenate([rng.choice(n_items, size=c, replace=False) for c in counts])
    ts = rng.permutation(len(users)).astype(np.int64) * 10 if timestamps else None
    return InteractionData(
        users=users,
        items=items,
        values=np.ones(len(users), np.float32),
        timestamps=ts,
        user_ids=pd.Index(np.arange(len(counts)) + 100),
        item_ids=pd.Index(np.arange(n_items)),
    )


def rows_of(part: InteractionData | None) -> Counter:
    if part is None:
        return Counter()
    return Counter(zip(part.users.tolist(), part.items.tolist(), strict=True))


def assert_partition(data: InteractionData, split: Split) -> None:
    parts = [split.train, split.valid, split.test, split.fold_in]
    total = sum((rows_of(p) for p in parts), Counter())
    assert total == rows_of(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ratio:8,1,1", SplitSpec("ratio", (0.8, 0.1, 0.1))),
        ("", SplitSpec("ratio", (0.8, 0.1, 0.1))),
        ("ratio:0.7,0.3", SplitSpec("ratio", (0.7, 0.0, 0.3), valid=False)),
        ("random:8:1:1", SplitSpec("random", (0.8, 0.1, 0.1))),
        ("loo", SplitSpec("loo")),
        ("loo:novalid", SplitSpec("loo", valid=False)),
        ("temporal:0.8,0.9", SplitSpec("temporal", cutoffs=(0.8, 0.9))),
        ("temporal:0.75", SplitSpec("temporal", valid=False, cutoffs=(0.75, 0.75))),
        ("users:0.1,0.1,foldin=0.8", SplitSpec("users")),
        (
            "users:0.2,foldin=0.5",
            SplitSpec("users", valid=False, valid_users=0.0, test_users=0.2, fold_in=0.5),
        ),
        ("predefined", SplitSpec("predefined")),
    ],
)
def test_parse_and_round_trip(text, expected):
    spec = parse_split_spec(text)
    assert spec == expected
    assert parse_split_spec(spec.text) == spec


@pytest.mark.parametrize(
    "text",
    [
        "ratio:8,1",
        "ratio:0,1,1",
        "ratio:8,1,x",
        "loo:3",
        "temporal:0.9,0.8",
        "temporal:1.5",
        "users:0.6,0.6",
        "users:0.1,foldin=1",
        "kfold:5",
    ],
)
def test_bad_specs_are_config_errors(text):
    if text == "ratio:8,1":  # two numbers are train,test: valid
        assert parse_split_spec(text).valid is False
        return
    with pytest.raises(ConfigError):
        parse_split_spec(text)


def test_help_covers_every_protocol():
    assert set(SPLIT_HELP) == {"ratio", "random", "loo", "temporal", "users", "predefined"}
    assert all("leak" in text.lower() for text in SPLIT_HELP.values())


def test_ratio_per_user_follows_recbole_counts():
    # RecBole 8:1:1: valid = test = floor(0.1 n); a share under one row still gets one row while
    # more than one row stays in train (so n=2 -> 1/0/1 and n=3 -> 1/1/1).
    counts = [1, 2, 3, 5, 9, 10, 19, 20, 47]
    expected = {
        1: (1, 0, 0),
        2: (1, 0, 1),
        3: (1, 1, 1),
        5: (3, 1, 1),
        9: (7, 1, 1),
        10: (8, 1, 1),
        19: (17, 1, 1),
        20: (16, 2, 2),
        47: (39, 4, 4),
    }
    data = make_data(counts)
    split = make_split(data, "ratio:8,1,1", seed=3)
    assert_partition(data, split)
    for u, n in enumerate(counts):
        got = tuple(int((p.users == u).sum()) for p in (split.train, split.valid, split.test))
        assert got == expected[n], n
    assert split.describe()["train_users"] == len(counts)


def test_seeded_and_deterministic():
    data = make_data([30] * 40)
    for spec in ("ratio", "random:8,1,1", "loo", "users:0.1,0.1,foldin=0.8"):
        a, b = make_split(data, spec, seed=7), make_split(data, spec, seed=7)
        assert rows_of(a.test) == rows_of(b.test) and rows_of(a.train) == rows_of(b.train)
    a, c = make_split(data, "ratio", seed=7), make_split(data, "ratio", seed=8)
    assert rows_of(a.test) != rows_of(c.test)


def test_random_global_sizes():
    data = make_data([20] * 50)
    split = make_split(data, "random:8,1,1", seed=0)
    assert (len(split.train), len(split.valid), len(split.test)) == (800, 100, 100)
    assert_partition(data, split)


def test_leave_last_out_takes_the_latest():
    data = make_data([1, 2, 5, 8])
    split = make_split(data, "loo", seed=0)
    assert_partition(data, split)
    for u in range(4):
        ts = data.timestamps[data.users == u]
        test_ts = split.test.timestamps[split.test.users == u]
        valid_ts = split.valid.timestamps[split.valid.users == u]
        n = len(ts)
        assert len(test_ts) == (n >= 2) and len(valid_ts) == (n >= 3)
        if n >= 2:
            assert test_ts[0] == ts.max()
        if n >= 3:
            assert valid_ts[0] == np.sort(ts)[-2]
    no_time = make_data([6, 6], timestamps=False)
    a, b = make_split(no_time, "loo", seed=1), make_split(no_time, "loo", seed=1)
    assert rows_of(a.test) == rows_of(b.test) and len(a.test) == 2


def test_temporal_never_leaks_the_future():
    data = make_data([25] * 40)
    split = make_split(data, "temporal:0.8,0.9", seed=0)
    assert_partition(data, split)
    assert split.train.timestamps.max() < split.valid.timestamps.min()
    assert split.valid.timestamps.max() < split.test.timestamps.min()
    assert abs(len(split.test) - 100) <= 1 and abs(len(split.valid) - 100) <= 1
    with pytest.raises(ConfigError, match="timestamps"):
        make_split(make_data([5, 5], timestamps=False), "temporal:0.8", seed=0)


def test_held_out_users_are_never_trained_on():
    data = make_data([10] * 100)
    split = make_split(data, "users:0.1,0.1,foldin=0.8", seed=0)
    assert_partition(data, split)
    train_users = set(split.train.users.tolist())
    valid_users, test_users = set(split.valid.users.tolist()), set(split.test.users.tolist())
    assert len(valid_users) == 10 and len(test_users) == 10
    assert (
        not (train_users & valid_users) and not (train_users & test_users) and not (valid_users & test_users)
    )
    assert set(split.fold_in.users.tolist()) == valid_users | test_users
    assert len(split.fold_in) == 20 * 8 and len(split.test) == 10 * 2
    desc = describe_split(split)
    assert desc["test_cold_users"] == 10 and "Mult-VAE" in desc["help"]


def test_empty_part_is_a_clear_error():
    with pytest.raises(ConfigError, match="empty"):
        make_split(make_data([1, 1, 1]), "ratio:8,1,1", seed=0)
    with pytest.raises(ConfigError, match="predefined"):
        make_split(make_data([5, 5]), "predefined", seed=0)


def test_vectorised_on_a_million_rows():
    rng = np.random.default_rng(0)
    n = 1_000_000
    data = InteractionData(
        users=np.sort(rng.integers(0, 50_000, n)),
        items=rng.integers(0, 20_000, n),
        values=np.ones(n, np.float32),
        timestamps=rng.integers(0, 10**9, n),
        user_ids=pd.RangeIndex(50_000),
        item_ids=pd.RangeIndex(20_000),
    )
    for spec in ("ratio:8,1,1", "loo", "temporal:0.8,0.9", "users:0.1,0.1,foldin=0.8"):
        start = time.perf_counter()
        split = make_split(data, spec, seed=0)
        assert time.perf_counter() - start < 5, spec
        assert len(split.train) + len(split.test) + len(split.valid or []) + len(split.fold_in or []) == n


def test_sample_data_is_learnable():
    """A rank-16 factorisation must clearly beat popularity on the shipped sample data."""
    data, _ = load_interactions(SAMPLE / "interactions.csv")
    split = make_split(data, "ratio:8,1,1", seed=1)
    train = split.train.to_csr().toarray()
    test = split.test.to_csr().toarray()

    def recall_at_10(scores: np.ndarray) -> float:
        scores = np.where(train > 0, -np.inf, scores)
        top = np.argsort(-scores, axis=1)[:, :10]
        hits = np.take_along_axis(test, top, axis=1).sum(axis=1)
        n = test.sum(axis=1)
        return float((hits[n > 0] / np.minimum(n[n > 0], 10)).mean())

    gram = train.T @ train  # PureSVD: project onto the top-16 item factors (subspace iteration)
    top = np.random.default_rng(0).normal(size=(gram.shape[0], 16))
    for _ in range(10):
        top, _r = np.linalg.qr(gram @ top)
    mf = recall_at_10(train @ top @ top.T)
    pop = recall_at_10(np.tile(train.sum(axis=0), (train.shape[0], 1)))
    assert pop > 0.1 and mf > 1.5 * pop


def test_split_cli_writes_raw_ids_that_reimport(tmp_path, capsys):
    src = tmp_path / "d.csv"
    rows = [
        f"{u},{i},{k % 5 + 1}"
        for k, (u, i) in enumerate(
            (u, i) for u in ("007", "7", "u-x", "42") for i in ("A", "0B", "c", "d", "e")
        )
    ]
    src.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert (
        cli_main(["split", str(src), "--split", "random:6,2,2", "--seed", "1", "--out", str(out), "--json"])
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train_rows"] == 12 and summary["protocol"].startswith("random")
    back = pd.concat([pd.read_csv(out / f"{p}.tsv", sep="\t", dtype=str) for p in ("train", "valid", "test")])
    assert sorted(zip(back.user_id, back.item_id, strict=True)) == sorted(
        (r.split(",")[0], r.split(",")[1]) for r in rows
    )
    data, _ = load_interactions(out / "train.tsv")
    assert {"007", "7"} <= set(data.user_ids) and "0B" in set(data.item_ids)
    assert cli_main(["split", str(src), "--out", str(out)]) == 2  # exists: refuses without --force


def test_split_out_replaces_links_not_what_they_point_to_and_checks_every_part_first(tmp_path, capsys):
    """`split --out --overwrite` follows the export rule: a part file that is a symbolic link is
    replaced as a link (the file it points to is left alone), and a part that may not be replaced
    stops the command before any part is written."""
    rows = [f"u{u},i{i},1" for u in range(6) for i in range(5)]
    src = tmp_path / "in.csv"
    src.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (out / "train.tsv").symlink_to(precious)
    assert cli_main(["split", str(src), "--out", str(out), "--overwrite"]) == 0
    assert precious.read_text() == "keep me"
    assert not (out / "train.tsv").is_symlink() and "user_id" in (out / "train.tsv").read_text()

    (out / "test.tsv").unlink()
    (out / "test.tsv").mkdir()  # a folder is never replaced, even with --overwrite
    before = (out / "train.tsv").read_text()
    (out / "train.tsv").write_text("edited")
    assert cli_main(["split", str(src), "--out", str(out), "--overwrite"]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert (out / "train.tsv").read_text() == "edited" != before
