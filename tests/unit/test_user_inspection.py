"""core.user_inspection: statistics, one user's history and top-N, neighbours, search, colours, views."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core import user_inspection as ins
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import RecsysError
from recsys_gui.core.export.top_k import recommend_frames
from recsys_gui.core.models.base import build_model
from tests.conftest import tiny_split


def _titled(split: Split) -> Split:
    meta = pd.DataFrame(
        {
            "title": [f"Film {i}" for i in range(split.n_items)],
            "genres": ["Drama|War" if i % 3 else "Comedy" for i in range(split.n_items)],
            "year": 1950 + np.arange(split.n_items),
        }
    )
    return Split(*(replace(p, item_meta=meta) for p in (split.train, split.valid, split.test)), protocol="t")


def _mf(split: Split):
    torch.manual_seed(0)
    return build_model("mf", {}, split.n_users, split.n_items)


def test_log_histogram_counts_every_positive_entry_once():
    counts = np.array([0, 1, 1, 2, 5, 40, 300, 7])
    edges, hist = ins.log_histogram(counts, bins=10)
    assert hist.sum() == 7  # the zero is left out
    assert np.all(np.diff(edges) > 0) and edges[0] == 1 and edges[-1] >= 300
    edges, hist = ins.log_histogram(np.zeros(3))
    assert hist.tolist() == [0.0]


def test_interaction_statistics_match_the_data():
    split = tiny_split()
    stats = ins.interaction_statistics(split.train)
    assert stats["users"][1].sum() == split.n_users  # every user has train rows
    assert stats["ratings"][0].tolist() == [1.0] and stats["ratings"][1].tolist() == [len(split.train)]
    assert stats["time"] is None


def test_find_user_compares_text_and_names_unknown_ids():
    ids = pd.Index([7, 12, 30])
    assert ins.find_user(ids, "12") == 1 and ins.find_user(ids, " 30 ") == 2
    with pytest.raises(RecsysError, match="No user 'zz'"):
        ins.find_user(ids, "zz")
    with pytest.raises(RecsysError, match="Type a user id"):
        ins.find_user(ids, "  ")


def test_user_history_holds_train_and_valid_not_test():
    split = _titled(tiny_split())
    u = 5
    hist = ins.user_history(split, u)
    known = split.known_for_test()
    expected = sorted(f"i{i}" for i in known.items[known.users == u])
    assert sorted(hist["item_id"]) == expected
    assert set(hist["part"]) == {"train", "valid"}
    test_items = {f"i{i}" for i in split.test.items[split.test.users == u]}
    assert not test_items & set(hist["item_id"])
    row = hist.iloc[0]
    assert row["title"] == f"Film {row['item_id'][1:]}"


def test_top_n_is_the_export_list_and_marks_test_hits():
    split = tiny_split()
    model = _mf(split)
    u = 3
    recs = ins.user_top_n(model, split, u, k=10)
    frame = next(iter(recommend_frames(model, split, k=10, users=np.array([u]))))
    assert recs["item_id"].tolist() == frame["item_id"].astype(str).tolist()
    np.testing.assert_allclose(recs["score"], frame["score"], rtol=1e-6)
    known = split.known_for_test()
    seen = {f"i{i}" for i in known.items[known.users == u]}
    assert not seen & set(recs["item_id"])
    test_items = {f"i{i}" for i in split.test.items[split.test.users == u]}
    assert recs.loc[recs["in_test"], "item_id"].tolist() == [i for i in recs["item_id"] if i in test_items]
    # with the whole unseen catalogue the held-out item must be found and marked
    everything = ins.user_top_n(model, split, u, k=split.n_items)
    assert everything["in_test"].sum() == len(test_items)


def test_inspect_user_by_raw_id():
    split = tiny_split()
    res = ins.inspect_user(_mf(split), split, "u3", k=5)
    assert res.user == "u3" and len(res.recs) == 5 and res.n_test == 1
    assert len(res.history) == 11 and res.hits == int(res.recs["in_test"].sum())


def test_nearest_neighbours_match_brute_force_on_100k_rows():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(100_000, 16)).astype(np.float32)
    emb[5] = 0.0  # a zero vector must not produce NaN
    unit = ins.unit_rows(emb)
    idx, sims = ins.nearest_neighbours(unit, 42, k=10)
    full = (emb @ emb[42]) / (np.linalg.norm(emb, axis=1).clip(1e-12) * np.linalg.norm(emb[42]))
    full[42] = -np.inf
    assert idx.tolist() == np.argsort(-full)[:10].tolist()
    np.testing.assert_allclose(sims, np.sort(full)[::-1][:10], rtol=1e-4)
    assert 42 not in idx and np.all(np.diff(sims) <= 0)
    self_idx, self_sims = ins.nearest_neighbours(unit, 42, k=3, exclude_self=False)
    assert self_idx[0] == 42 and self_sims[0] == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(ins.nearest_neighbours(unit, 5, k=3)[1]).all()


def test_search_finds_exact_id_first_then_titles():
    ids = np.array(["10", "1", "100", "7"], dtype=object)
    titles = np.array(["Alien (1979)", "One", "Aliens (1986)", None], dtype=object)
    assert ins.search_ids(ids, titles, "1").tolist() == [1, 0, 2]  # the exact id, then titles with "1"
    assert ins.search_ids(ids, titles, "7").tolist() == [3, 0]
    assert ins.search_ids(ids, titles, "alien").tolist() == [0, 2]
    assert ins.search_ids(ids, titles, "  ").size == 0
    assert ins.search_ids(ids, None, "Alien").size == 0


def test_colour_coding_bins_numbers_and_groups_categories():
    pop = np.array([1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987] * 4)
    c = ins.colour_coding(pop, bins=4, log=True)
    assert c.ordered and len(c.labels) == 4 and set(c.codes) == {0, 1, 2, 3}
    assert c.codes[pop.argmin()] == 0 and c.codes[pop.argmax()] == 3
    text = pd.Series(["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d", "e", None])
    c = ins.colour_coding(text, max_categories=3)
    assert c.labels == ["a", "b", "other (3 values)"] and not c.ordered
    assert c.codes.tolist() == [0] * 5 + [1] * 4 + [2] * 3 + [2, 2, -1]
    genres = ins.first_genre(pd.Series(["Drama|War", "Comedy, Romance", None]))
    assert genres.iloc[0] == "Drama" and genres.iloc[1] == "Comedy" and pd.isna(genres.iloc[2])


def test_embedding_view_items_colours_and_neighbours():
    split = _titled(tiny_split())
    model = _mf(split)
    seen = []
    view = ins.embedding_view(model, split, "item", sample=30, progress=lambda f, t: seen.append(f))
    assert view.rows.size == 30 and view.xy.shape == (30, 2) and np.isfinite(view.xy).all()
    assert view.unit.shape == (split.n_items, 64) and seen[-1] == 1.0
    assert view.colour_options() == ["popularity", "genre", "year"]
    genre = view.colours("genre")
    assert set(genre.labels) == {"Drama", "Comedy"}
    assert view.colours("popularity").codes.shape == (30,)
    nb = view.neighbours(4, k=5)
    assert len(nb) == 5 and "i4" not in set(nb["item_id"]) and nb["cosine"].is_monotonic_decreasing
    assert view.label(4) == "i4 · Film 4"
    assert view.search("film 1")[:2].tolist() == [1, 10]


def test_embedding_view_refuses_a_side_the_model_lacks():
    split = tiny_split()
    ease = build_model("ease", {}, split.n_users, split.n_items)
    ease.prepare(split.train)
    with pytest.raises(RecsysError, match="no user embeddings"):
        ins.embedding_view(ease, split, "user")
    assert "pca" in ins.projection_methods() and "tsne" in ins.projection_methods()


def test_history_of_a_user_without_rows_is_empty():
    uid, iid = pd.Index(["a", "b"]), pd.Index(["x", "y"])
    data = InteractionData(np.array([0]), np.array([1]), np.ones(1, np.float32), None, uid, iid)
    split = Split(data, None, data.subset(np.zeros(1, bool)))
    assert ins.user_history(split, 1).empty
