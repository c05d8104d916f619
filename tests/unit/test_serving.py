"""core.serving: a stored run loaded once, recommending for a known user, a held-out user or a basket."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.data.interactions import Split
from recsys_gui.core.errors import RecsysError
from recsys_gui.core.export.top_k import recommend_frames
from recsys_gui.core.models.base import build_model
from recsys_gui.core.serving import LoadedRun, load_run
from tests.conftest import ROOT, tiny_split


def _titled(split: Split) -> Split:
    meta = pd.DataFrame({"title": [f"Film {i}" for i in range(split.n_items)]})
    return Split(*(replace(p, item_meta=meta) for p in (split.train, split.valid, split.test)), protocol="t")


def _loaded(name: str, split: Split | None = None) -> LoadedRun:
    split = split or _titled(tiny_split())
    torch.manual_seed(0)
    model = build_model(name, {}, split.n_users, split.n_items)
    model.prepare(split.train)
    return LoadedRun(model, split, run_id="r1")


def _held_out_split() -> tuple[Split, np.ndarray]:
    """Users u50..u59 are held out: their train rows become fold-in history, never training rows."""
    split = tiny_split()
    held = np.arange(50, 60)
    out = np.isin(split.train.users, held)
    no_valid = ~np.isin(split.valid.users, held)
    return (
        Split(
            split.train.subset(~out), split.valid.subset(no_valid), split.test, split.train.subset(out), "u"
        ),
        held,
    )


@pytest.mark.parametrize("name", ["mf", "ease", "itemknn", "vae", "pop"])
def test_a_known_user_gets_the_exported_list(name):
    run = _loaded(name)
    frame = next(iter(recommend_frames(run.model, run.split, k=5, users=np.array([7]))))
    recs = run.recommend(user="u7", top=5)
    assert [r.item for r in recs] == frame["item_id"].tolist()
    assert np.allclose([r.score for r in recs], frame["score"].to_numpy(), atol=1e-6)
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5]
    assert [r.title for r in recs] == [f"Film {i[1:]}" for i in frame["item_id"]]


def test_a_basket_is_scored_from_its_items_and_ratings_and_masked():
    run = _loaded("ease")
    a, b = run.item_indices(["i3", "i8"])
    recs = run.recommend(items=["i3", "i8"], ratings=[5, 2], top=6)
    expected = 5 * run.model.B[a] + 2 * run.model.B[b]
    expected[[a, b]] = -torch.inf
    vals, idx = torch.topk(expected, 6)
    assert [r.item for r in recs] == [f"i{i}" for i in idx.tolist()]
    assert np.allclose([r.score for r in recs], vals.numpy(), atol=1e-6)
    assert {"i3", "i8"}.isdisjoint(r.item for r in recs)
    unmasked = run.recommend(items=["i3", "i8"], ratings=[5, 2], top=run.model.n_items, exclude_known=False)
    assert {"i3", "i8"} <= {r.item for r in unmasked}


def test_a_basket_goes_through_fold_in_and_a_held_out_user_too(monkeypatch):
    split, held = _held_out_split()
    run = _loaded("mf", split)
    seen = []
    native = run.model.score_new_users

    def score_new_users(history, order=None):
        seen.append((history.clone(), None if order is None else order.clone()))
        return native(history, order)

    monkeypatch.setattr(run.model, "score_new_users", score_new_users, raising=False)
    run.recommend(items=["i1", "i4"], top=3)
    assert len(seen) == 1 and seen[0][0].nonzero()[:, 1].tolist() == [1, 4]
    assert seen[0][1].tolist() == [[1, 4]]  # the basket's order, most recent last
    run.recommend(user="u3", top=3)  # trained on: its own vector, no fold-in
    assert len(seen) == 1
    u = int(held[0])
    recs = run.recommend(user=f"u{u}", top=5)
    assert len(seen) == 2
    fold_in = split.fold_in.items[split.fold_in.users == u]
    assert sorted(seen[1][0][0].nonzero()[:, 0].tolist()) == sorted(fold_in.tolist())
    assert not {f"i{i}" for i in fold_in} & {r.item for r in recs}  # their known items are masked
    # the same as a basket of those items, and as the export's list for that user
    basket = run.recommend(items=[f"i{i}" for i in sorted(fold_in)], top=5)
    assert [r.item for r in recs] == [r.item for r in basket]
    frame = next(iter(recommend_frames(run.model, split, k=5, users=np.array([u]))))
    assert frame["item_id"].tolist() == [r.item for r in recs]


def test_a_model_without_fold_in_refuses_a_basket_in_one_line(monkeypatch):
    run = _loaded("mf")

    def no_fold_in(history, order=None):
        raise NotImplementedError("MF keeps one vector per trained user")

    monkeypatch.setattr(run.model, "score_new_users", no_fold_in, raising=False)
    with pytest.raises(RecsysError, match="cannot score a user it was not trained on"):
        run.recommend(items=["i1"])


def test_unknown_ids_and_bad_requests_are_one_clear_message():
    run = _loaded("ease")
    with pytest.raises(RecsysError, match="item id 'zz'"):
        run.recommend(items=["i1", "zz"])
    with pytest.raises(RecsysError, match="user id 'nobody'"):
        run.recommend(user="nobody")
    with pytest.raises(RecsysError, match="either a user or a basket"):
        run.recommend(user="u1", items=["i1"])
    with pytest.raises(RecsysError, match="either a user or a basket"):
        run.recommend()
    with pytest.raises(RecsysError, match="one rating per item"):
        run.recommend(items=["i1", "i2"], ratings=[5])
    with pytest.raises(RecsysError, match="empty"):
        run.recommend(items=[])


def test_explanations_come_with_the_list_and_on_their_own():
    run = _loaded("ease")
    recs = run.recommend(items=["i0", "i2", "i4"], top=3, explain=2)
    for r in recs:
        assert 1 <= len(r.because) <= 2
        assert all(b.kind == "contribution" and b.item in {"i0", "i2", "i4"} for b in r.because)
        assert r.because[0].title == f"Film {str(r.because[0].item)[1:]}"
        assert [b.share for b in r.because] == sorted((b.share for b in r.because), reverse=True)
    alone = run.explain(items=["i0", "i2", "i4"], recommended=[r.item for r in recs], top=2)
    assert alone == {r.item: r.because for r in recs}
    assert all(r.because == [] for r in run.recommend(items=["i0"], top=2))  # explain=0: none asked


def test_history_search_and_id_maps():
    split = _titled(tiny_split())
    ts = np.arange(len(split.train), 0, -1)  # later rows are older
    split = replace(split, train=replace(split.train, timestamps=ts), valid=None)
    run = _loaded("pop", split)
    hist = run.history_of("u5")
    rows = np.flatnonzero(split.train.users == 5)
    expected = [f"i{i}" for i in split.train.items[rows][np.argsort(ts[rows])]]
    assert [item for item, _ in hist] == expected  # oldest first
    assert run.search_items("i7") == [("i7", "Film 7")]
    assert [i for i, _ in run.search_items("film 1", limit=3)] == ["i1", "i10", "i11"]
    assert run.item_ids.tolist()[:2] == ["i0", "i1"] and run.user_ids.tolist()[0] == "u0"
    assert run.titles["i3"] == "Film 3" and run.model_name == "pop"


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    from recsys_gui.cli import main

    root = tmp_path_factory.mktemp("serving")
    split = tiny_split()
    split.train.concat(split.valid, split.test).to_frame().rename(
        columns={"user": "user_id", "item": "item_id", "value": "rating"}
    ).to_csv(root / "data.csv", index=False)
    argv = ["train", "--data", str(root / "data.csv"), "--model", "ease", "--workspace", str(root / "ws")]
    assert main([*argv, "--run-id", "ease-1", "--name", "my-ease", "--quiet"]) == 0
    return root / "ws"


def test_load_run_finds_a_run_by_id_name_or_folder(stored_run):
    run = load_run("ease-1", stored_run)
    assert run.run_id == "ease-1" and run.model_name == "ease" and not run.model.training
    assert load_run("my-ease", stored_run).run_id == "ease-1"
    assert load_run(stored_run / "runs" / "ease-1").run_id == "ease-1"
    recs = run.recommend(user=run.user_ids[0], top=4)
    assert len(recs) == 4
    with pytest.raises(RecsysError, match="No run 'nope'"):
        load_run("nope", stored_run)


def test_the_package_offers_load_run_without_importing_torch_first():
    code = (
        "import sys, recsys_gui; assert 'torch' not in sys.modules; print(recsys_gui.__version__); "
        "from recsys_gui import load_run; assert callable(load_run); assert 'PySide6' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
