"""Cold start through run_training: features reach the models, the cold-items protocol's figures, the
refusals, and the top users of a new item from a stored run."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_gui.core.errors import ConfigError, RecsysError
from recsys_gui.core.session import DataSpec, RunSpec, run_training


def _files(tmp_path, n_users: int = 60, n_items: int = 40, per_user: int = 12):
    rng = np.random.default_rng(0)
    rows = ["user_id,item_id,rating"]
    for u in range(n_users):
        for i in rng.choice(np.arange(u % 2, n_items, 2), per_user, replace=False):
            rows.append(f"{u},{i},4")
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    movies = tmp_path / "movies.dat"
    movies.write_text("".join(f"{i}::Film {i} (1990)::{'Drama|Romance' if i % 2 == 0 else 'Action'}\n"
                              for i in range(n_items)))
    users = tmp_path / "users.dat"
    users.write_text("".join(f"{u}::{'FM'[u % 2]}::25::{u % 3}::00000\n" for u in range(n_users)))
    return data, movies, users


def _spec(data, movies, model, split="cold-items:0.2", users=None, **cfg):
    return RunSpec(DataSpec(path=str(data), item_metadata=str(movies) if movies else None,
                            user_metadata=str(users) if users else None),
                   model=model, split=split, model_config=cfg, metrics=("ndcg@10",),
                   train={"epochs": 2, "seed": 1, "device": "cpu", "threads": 1})


def test_cold_items_run_reports_held_out_mixed_segments_and_features(tmp_path):
    data, movies, _ = _files(tmp_path)
    out = run_training(_spec(data, movies, "genre-pop"), workspace=tmp_path / "ws").summary()
    assert out["test"]["ndcg@10"] > 0.5  # the taste of every user is its items' genre
    assert "ndcg@10" in out["test_mixed"]
    assert set(out["item_segments"]) == {"cold"}
    assert out["features"]["items"]["columns"]["genres"] == {"kind": "multi", "values": 3}


def test_a_model_that_needs_features_is_refused_without_metadata(tmp_path):
    data, _movies, _ = _files(tmp_path)
    with pytest.raises(ConfigError, match="--items-meta"):
        run_training(_spec(data, None, "genre-pop"), workspace=tmp_path / "ws")


def test_spec_with_user_file_round_trips_and_old_specs_stay_valid(tmp_path):
    data, movies, users = _files(tmp_path)
    spec = _spec(data, movies, "genre-pop", users=users)
    data_spec = DataSpec(**{**spec.data.__dict__, "features": {"exclude": ["x"]}})
    spec = RunSpec(**{**spec.__dict__, "data": data_spec})
    again = RunSpec.from_dict(spec.to_dict())
    assert again.data.user_metadata == str(users) and again.data.features == {"exclude": ["x"]}
    plain = _spec(data, movies, "pop").to_dict()
    assert "user_metadata" not in plain["data"] and "features" not in plain["data"]
    bad = spec.to_dict()
    bad["data"]["features"] = {"colour": 1}
    with pytest.raises(ConfigError, match="colour"):
        RunSpec.from_dict(bad)


def test_hybrid_mf_ranks_cold_items_from_features_and_a_stored_run_scores_a_new_item(tmp_path):
    from recsys_gui.core.serving import load_run

    data, movies, _ = _files(tmp_path, n_users=100, n_items=200, per_user=20)
    train = {"epochs": 30, "seed": 1, "device": "cpu", "threads": 1, "lr": 0.05}

    def spec(features):
        return RunSpec(DataSpec(path=str(data), item_metadata=str(movies)), model="mf",
                       split="cold-items:0.2", model_config={"features": features, "embedding_dim": 8},
                       metrics=("ndcg@10",),
                       train=train, name=features)
    hybrid = run_training(spec("auto"), workspace=tmp_path / "ws", run_id="hy")
    plain = run_training(spec("none"), workspace=tmp_path / "ws", run_id="plain")
    assert hybrid.test["ndcg@10"] > 0.35 and hybrid.test["ndcg@10"] > 1.5 * plain.test["ndcg@10"]
    run = load_run("hy", tmp_path / "ws")
    assert run.model.config.features == "items"  # auto, with metadata loaded
    assert run.new_item_features() == {"genres": {"kind": "multi", "values": ["Action", "Drama", "Romance"]}}
    users = run.top_users_for_new_item("genres=Drama|Romance", top=10)
    assert [u.rank for u in users] == list(range(1, 11))
    assert all(u.user % 2 == 0 for u in users)  # even users like the even items' genres
    assert load_run("plain", tmp_path / "ws").new_item_features() == {}
    with pytest.raises(RecsysError, match="does not read item features"):
        load_run("plain", tmp_path / "ws").top_users_for_new_item("genres=Action")


def test_user_features_reach_mf(tmp_path):
    data, movies, users = _files(tmp_path)
    spec = _spec(data, movies, "mf", split="ratio:8,1,1", users=users, features="both", embedding_dim=8)
    out = run_training(spec, workspace=tmp_path / "ws")
    assert out.summary()["features"]["users"]["columns"]["gender"]["values"] == 2
    with pytest.raises(ConfigError, match="--users-meta"):
        run_training(_spec(data, movies, "mf", features="users"), workspace=tmp_path / "ws")


def test_mult_vae_reads_item_features_on_the_decoder(tmp_path):
    from recsys_gui.core.serving import load_run

    data, movies, _ = _files(tmp_path, n_users=100, n_items=200, per_user=20)
    train = {"epochs": 20, "seed": 1, "device": "cpu", "threads": 1, "batch_size": 16,
             "eval_every_n_epochs": 1}

    def spec(features):
        return RunSpec(DataSpec(path=str(data), item_metadata=str(movies)), model="vae",
                       split="cold-items:0.2", metrics=("ndcg@10",), train=train,
                       model_config={"features": features, "hidden": 32, "latent": 8})
    hybrid = run_training(spec("items"), workspace=tmp_path / "ws", run_id="vh")
    plain = run_training(spec("none"), workspace=tmp_path / "ws", run_id="vp")
    assert hybrid.test["ndcg@10"] > 1.3 * plain.test["ndcg@10"]
    users = load_run("vh", tmp_path / "ws").top_users_for_new_item("genres=Action", top=5)
    assert all(u.user % 2 == 1 for u in users)


def test_evaluating_a_stored_cold_items_run_ranks_its_held_out_items_as_training_reported(tmp_path):
    from recsys_gui.core.run_evaluation import evaluate_run

    data, movies, _ = _files(tmp_path)
    out = run_training(_spec(data, movies, "genre-pop"), workspace=tmp_path / "ws")
    again = evaluate_run(tmp_path / "ws", out.run_id, metrics="ndcg@10", device="cpu")
    assert again["metrics"]["ndcg@10"] == pytest.approx(out.summary()["test"]["ndcg@10"])
