"""`recsys-gui recommend`: one user's or a basket's list on stdout, and `--explain N` in exports."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from recsys_gui.cli import main
from recsys_gui.core.serving import load_run
from tests.conftest import tiny_split


@pytest.fixture(scope="module")
def ease_run(tmp_path_factory):
    """An EASE run trained through the CLI on the tiny data, with titles (some with a comma)."""
    root = tmp_path_factory.mktemp("recommend_cli")
    split = tiny_split()
    split.train.concat(split.valid, split.test).to_frame().rename(
        columns={"user": "user_id", "item": "item_id", "value": "rating"}
    ).to_csv(root / "data.csv", index=False)
    titles = [f"Film {i}, The" if i % 5 == 0 else f"Film {i}" for i in range(split.n_items)]
    pd.DataFrame({"item_id": [f"i{i}" for i in range(split.n_items)], "title": titles}).to_csv(
        root / "movies.csv", index=False
    )
    ws = root / "ws"
    argv = ["train", "--data", str(root / "data.csv"), "--items-meta", str(root / "movies.csv")]
    assert main([*argv, "--model", "ease", "--workspace", str(ws), "--run-id", "e1", "--quiet"]) == 0
    return ws


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_user_prints_the_list_as_json_and_as_a_table(ease_run, capsys):
    assert (
        main(["recommend", "e1", "--user", "u3", "--top", "4", "--json", "--workspace", str(ease_run)]) == 0
    )
    out = _json(capsys)
    recs = out["recommendations"]
    assert out["user"] == "u3" and [r["rank"] for r in recs] == [1, 2, 3, 4]
    expected = load_run("e1", ease_run).recommend(user="u3", top=4)
    assert [r["item"] for r in recs] == [r.item for r in expected]
    assert all(r["title"].startswith("Film") and r["because"] == [] for r in recs)
    assert main(["recommend", "e1", "--user", "u3", "--top", "4", "--workspace", str(ease_run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["rank", "item", "score", "title"] and len(lines) == 5
    assert lines[1].split()[1] == recs[0]["item"]


def test_items_with_ratings_and_explain(ease_run, capsys):
    ws = str(ease_run)
    argv = ["recommend", "e1", "--items", "i0,i2,i4", "--ratings", "5,3,1", "--top", "3", "--explain", "2"]
    assert main([*argv, "--json", "--workspace", ws]) == 0
    out = _json(capsys)
    assert out["items"] == ["i0", "i2", "i4"] and out["ratings"] == [5.0, 3.0, 1.0]
    expected = load_run("e1", ease_run).recommend(
        items=["i0", "i2", "i4"], ratings=[5, 3, 1], top=3, explain=2
    )
    assert [r["item"] for r in out["recommendations"]] == [r.item for r in expected]
    for got, want in zip(out["recommendations"], expected, strict=True):
        assert [b["item"] for b in got["because"]] == [b.item for b in want.because]
        assert all(b["kind"] == "contribution" for b in got["because"]) and got["because"]
    assert main([*argv, "--workspace", ws]) == 0
    table = capsys.readouterr().out
    assert "because" in table.splitlines()[0] and "%)" in table


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--items", "i1,nope"], "item id 'nope'"),
        (["--user", "ghost"], "user id 'ghost'"),
        ([], "--out FILE"),
        (["--user", "u1", "--items", "i1"], "--out FILE"),
        (["--items", "i1,i2", "--ratings", "5,x"], "--ratings"),
        (["--items", "i1,i2", "--ratings", "5"], "one rating per item"),
        (["--user", "u1", "--out", "x.csv"], "leave out --out"),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(ease_run, capsys, extra, message):
    assert main(["recommend", "e1", *extra, "--workspace", str(ease_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["csv", "sqlite", "parquet"])
def test_explain_adds_a_because_column_to_every_export_format(ease_run, tmp_path, capsys, fmt):
    out = tmp_path / f"why.{fmt}"
    argv = ["recommend", "e1", "--top", "3", "--explain", "2", "--out", str(out), "--quiet"]
    assert main([*argv, "--workspace", str(ease_run)]) == 0
    if fmt == "csv":
        frame = pd.read_csv(out, dtype=str)
    elif fmt == "sqlite":
        frame = pd.read_sql("select * from recommendations", sqlite3.connect(out))
    else:
        frame = pd.read_parquet(out)
    assert list(frame.columns)[-1] == "because"
    run = load_run("e1", ease_run)
    for user in ("u0", "u7"):
        rows = frame[frame["user_id"].astype(str) == user]
        recs = run.recommend(user=user, top=3, explain=2)
        assert rows["item_id"].tolist() == [r.item for r in recs]
        want = ["; ".join(f"{b.item} {b.title}" for b in r.because) for r in recs]
        assert rows["because"].fillna("").tolist() == want
    plain = tmp_path / f"plain.{fmt}"
    assert main(["recommend", "e1", "--out", str(plain), "--quiet", "--workspace", str(ease_run)]) == 0
    columns = pd.read_parquet(plain).columns if fmt == "parquet" else None
    if fmt == "csv":
        columns = pd.read_csv(plain, nrows=1).columns
    elif fmt == "sqlite":
        columns = pd.read_sql("select * from recommendations limit 1", sqlite3.connect(plain)).columns
    assert "because" not in columns  # only asked for


def test_an_explained_export_can_be_pseudonymised_and_left_without_titles(ease_run, tmp_path):
    out = tmp_path / "private.csv"
    argv = ["recommend", "e1", "--top", "2", "--explain", "2", "--out", str(out), "--quiet"]
    assert main([*argv, "--pseudonymise", "--drop-titles", "--workspace", str(ease_run)]) == 0
    frame = pd.read_csv(out, dtype=str)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score", "because"]
    assert frame["user_id"].str.match(r"^u_[0-9a-f]{20}$").all()
    assert not frame["because"].fillna("").str.contains("Film").any()  # reasons are ids only
