"""Every CSV the app writes is safe to open in a spreadsheet, and its numbers stay numbers.

The CSV writers: top-K recommendations (``recsys-gui recommend`` / Export page), user and item
embeddings (``recsys-gui embeddings``, ``.csv``) and the id file beside ``.npy`` embeddings.
(``recsys-gui split`` writes TSV data files for re-import, not for spreadsheets: ids there must
stay byte-exact, so they are deliberately not neutralised.)

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``;
numeric columns (ranks, scores, embedding values, integer ids) are never touched, and a text id
that is a plain number ("-5") cannot run as a formula and is left alone.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.cli import main as cli_main
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.export.csv_safety import DANGEROUS_FIRST
from recsys_gui.core.export.embeddings import write_embeddings
from recsys_gui.core.export.recommendations import Labels, recommend_frames, write_recommendations
from recsys_gui.core.models.base import build_model

DANGEROUS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=tab", "\r=cr", "=HYPERLINK(\"x\")"]
HARMLESS = ["-5", "+1.5e3", "007", "plain", "a=b", "'=already"]
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _split(uid: list, iid: list, titles: list | None = None) -> Split:
    n_u, n_i = len(uid), len(iid)
    users = np.repeat(np.arange(n_u), 2)
    items = np.array([(2 * u + j) % n_i for u in range(n_u) for j in range(2)])
    meta = None if titles is None else pd.DataFrame({"title": titles})
    data = InteractionData(users, items, np.ones(len(users), np.float32), None,
                           pd.Index(uid, dtype=object if isinstance(uid[0], str) else np.int64),
                           pd.Index(iid, dtype=object if isinstance(iid[0], str) else np.int64),
                           item_meta=meta)
    return Split(data, None, data.subset(np.zeros(len(users), bool)))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _raw_cells(path: Path, column: str) -> list[str]:
    """The cells of ``column`` exactly as a spreadsheet reads them (quotes removed)."""
    return [r[column] for r in _rows(path)]


def _assert_safe(cells: list[str]) -> None:
    for c in cells:
        assert not c.startswith(DANGEROUS_FIRST) or _NUMBER.fullmatch(c), f"formula-like cell {c!r}"


def test_recommendations_csv_neutralises_text_and_keeps_numbers(tmp_path):
    uid = DANGEROUS + HARMLESS
    iid = [*DANGEROUS, "-7", "i1", "i2"]
    titles = ["=evil()", "-minus", "@at", "+plus", "ok", "\tt", "\rr", "Toy, The", None, "=2", "x"]
    split = _split(uid, iid, titles[: len(iid)])
    torch.manual_seed(0)
    model = build_model("mf", {}, split.n_users, split.n_items)
    labels = Labels.from_data(split.train)
    out = tmp_path / "recs.csv"
    write_recommendations(recommend_frames(model, split, k=len(iid), exclude_seen=False), out, labels=labels)
    rows = _rows(out)
    assert {r["user_id"] for r in rows} == {"'" + u for u in DANGEROUS} | set(HARMLESS)
    assert {r["item_id"] for r in rows} == {"'" + i for i in DANGEROUS} | {"-7", "i1", "i2"}
    for col in ("user_id", "item_id", "title"):
        _assert_safe([r[col] for r in rows])
    assert "'=evil()" in {r["title"] for r in rows} and "'-minus" in {r["title"] for r in rows}
    # numbers stay numbers: every rank is an integer, every score a float (negative ones included)
    assert all(r["rank"].isdigit() for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert any(s < 0 for s in scores) and all(np.isfinite(scores))
    text = out.read_bytes().decode("utf-8")
    assert "\"'\r=cr\"" in text  # the carriage return inside the id is quoted, so the row stays whole
    assert not re.search(r',"-?\d+\.\d+', text), "a score was written as quoted text"


def test_integer_ids_are_numbers_and_are_never_prefixed(tmp_path):
    split = _split([-3, -2, 5, 7], [-1, 4, 9])
    model = build_model("pop", {}, split.n_users, split.n_items)
    model.prepare(split.train)
    out = tmp_path / "recs.csv"
    write_recommendations(recommend_frames(model, split, k=3, exclude_seen=False), out,
                          labels=Labels.from_data(split.train))
    frame = pd.read_csv(out)
    assert frame["user_id"].dtype == np.int64 and set(frame["user_id"]) == {-3, -2, 5, 7}
    assert frame["item_id"].dtype == np.int64 and -1 in set(frame["item_id"])


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_embedding_csvs_neutralise_ids_and_titles_not_values(tmp_path, kind):
    ids = np.array(DANGEROUS + HARMLESS, dtype=object)
    titles = np.array(["=t"] * len(ids), dtype=object)
    emb = -np.abs(np.random.default_rng(0).normal(size=(len(ids), 3)).astype(np.float32))  # all negative
    paths = [tmp_path / f"e.items.{kind}"] + ([tmp_path / "e.items.ids.csv"] if kind == "npy" else [])
    write_embeddings(emb, ids, paths, kind, "item", titles=titles)
    table = paths[0] if kind == "csv" else paths[1]
    rows = _rows(table)
    assert [r["item_id"] for r in rows] == ["'" + i for i in DANGEROUS] + HARMLESS
    assert {r["title"] for r in rows} == {"'=t"}
    _assert_safe([r["item_id"] for r in rows])
    if kind == "csv":
        values = pd.read_csv(table, usecols=["e0", "e1", "e2"])
        assert all(values[c].dtype == np.float32 or values[c].dtype == np.float64 for c in values)
        np.testing.assert_allclose(values.to_numpy(), emb, rtol=1e-6)  # -0.12 stays -0.12, not '-0.12
    else:
        np.testing.assert_array_equal(np.load(paths[0]), emb)


def test_cli_recommend_csv_is_spreadsheet_safe(tmp_path, capsys):
    """The command an analyst runs, end to end: a file with formula ids, trained, exported."""
    data = tmp_path / "evil.csv"
    users, items = ("=cmd()", "@u", "u3", "-4"), ("=i1", "+i2", "i3", "i4")
    lines = ["user_id,item_id"] + [f"{u},{i}" for u in users for i in items]
    data.write_text("\n".join(lines) + "\n")
    ws = tmp_path / "ws"
    assert cli_main(["train", "--data", str(data), "--model", "pop", "--workspace", str(ws), "--json",
                     "--device", "cpu"]) == 0
    capsys.readouterr()
    from recsys_gui.core.store.run_store import RunStore

    run_id = RunStore(ws).list_runs()[0]["id"]
    out = tmp_path / "recs.csv"
    assert cli_main(["recommend", run_id, "--out", str(out), "--top", "4", "--include-seen",
                     "--workspace", str(ws), "--device", "cpu"]) == 0
    rows = _rows(out)
    assert {r["user_id"] for r in rows} == {"'=cmd()", "'@u", "u3", "-4"}
    assert {r["item_id"] for r in rows} == {"'=i1", "'+i2", "i3", "i4"}
