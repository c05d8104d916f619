"""P1 (RecBole's ml-100k 8:1:1 split): exported top-K lists are complete, unseen, and are the lists
`recsys-gui evaluate` scores (NDCG@10 recomputed from the files equals the evaluator's)."""

from __future__ import annotations

import csv
import itertools
import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
P1 = SHARED / "ml-100k" / "recbole-811"
K = 20

pytestmark = pytest.mark.slow


def _read(part: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    with open(P1 / f"{part}.tsv", newline="") as f:
        r = csv.reader(f, delimiter="\t")
        next(r)
        for row in r:
            out[row[0]].add(row[1])
    return out


def _last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def _ndcg10(lists: dict[str, list[str]], test: dict[str, set[str]]) -> float:
    """PROTOCOLS.md: binary gains, log2(rank + 1) discount, IDCG over min(#test, 10), mean over
    users with test items."""
    disc = 1.0 / np.log2(np.arange(2, 12))
    vals = []
    for u, rel in test.items():
        top = lists.get(u, [])[:10]
        dcg = sum(disc[i] for i, it in enumerate(top) if it in rel)
        vals.append(dcg / disc[: min(len(rel), 10)].sum())
    return float(np.mean(vals))


@pytest.fixture(scope="module")
def p1_run(tmp_path_factory):
    if not (P1 / "train.tsv").exists():
        pytest.skip(f"the shared P1 data is not beside this clone ({P1})")
    from recsys_gui.cli import main

    ws = tmp_path_factory.mktemp("p1") / "ws"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(
            [
                "train",
                "--train",
                str(P1 / "train.tsv"),
                "--valid",
                str(P1 / "valid.tsv"),
                "--test",
                str(P1 / "test.tsv"),
                "--model",
                "mf",
                "--seed",
                "2020",
                "--epochs",
                "5",
                "--workspace",
                str(ws),
                "--json",
                "--quiet",
            ]
        )
    assert code == 0
    return ws, _last_json(buf.getvalue())["run_id"]


def _check(rows: list[tuple[str, int, str, float]], seen: dict[str, set[str]]) -> dict[str, list[str]]:
    by: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for u, rk, it, sc in rows:
        by[u].append((rk, it, sc))
    assert len(by) == 943 and len(rows) == 943 * K
    lists = {}
    for u, lst in by.items():
        lst.sort()
        assert [r for r, _, _ in lst] == list(range(1, K + 1))
        scores = [s for _, _, s in lst]
        assert all(a >= b for a, b in itertools.pairwise(scores))
        assert not {i for _, i, _ in lst} & seen[u], f"user {u} gets an already-seen item"
        lists[u] = [i for _, i, _ in lst]
    return lists


def test_p1_exports_are_complete_unseen_and_match_evaluate(p1_run, tmp_path, capsys):
    from recsys_gui.cli import main

    ws, run_id = p1_run
    for fmt in ("sqlite", "csv"):
        assert (
            main(
                [
                    "recommend",
                    run_id,
                    "--top",
                    str(K),
                    "--out",
                    str(tmp_path / f"recs.{fmt}"),
                    "--workspace",
                    str(ws),
                    "--json",
                ]
            )
            == 0
        )
        report = _last_json(capsys.readouterr().out)
        assert report["rows"] == 943 * K and report["users"] == 943
    seen = _read("train")
    for u, items in _read("valid").items():
        seen[u] |= items

    con = sqlite3.connect(tmp_path / "recs.sqlite")
    sq = [
        (str(u), int(r), str(i), float(s))
        for u, r, i, s in con.execute("select user_id, rank, item_id, score from recommendations")
    ]
    lists_sql = _check(sq, seen)
    assert con.execute("select model, data_fingerprint from run").fetchone()[0] == "mf"
    with open(tmp_path / "recs.csv", newline="") as f:
        rows = [(d["user_id"], int(d["rank"]), d["item_id"], float(d["score"])) for d in csv.DictReader(f)]
    lists_csv = _check(rows, seen)
    assert lists_csv == lists_sql

    assert main(["evaluate", run_id, "--workspace", str(ws), "--json"]) == 0
    evaluated = _last_json(capsys.readouterr().out)["metrics"]["ndcg@10"]
    assert _ndcg10(lists_sql, _read("test")) == pytest.approx(evaluated, abs=1e-9)


def test_p1_existing_export_is_refused_unchanged(p1_run, tmp_path, capsys):
    from recsys_gui.cli import main

    ws, run_id = p1_run
    out = tmp_path / "recs.csv"
    out.write_text("keep me\n")
    assert main(["recommend", run_id, "--top", "5", "--out", str(out), "--workspace", str(ws)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["recs.csv"]
