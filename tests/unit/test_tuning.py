"""Hyper-parameter search (issue 21): the space from the settings, trials as stored runs, pruning
through the stop token, resuming a study, and selection on validation only."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.session import DataSpec, RunSpec
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.tuning import search as search_mod
from recsys_gui.core.tuning.search import tune
from recsys_gui.core.tuning.space import search_space

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"


def _spec(epochs: int = 2, **train) -> RunSpec:
    return RunSpec(data=DataSpec(path=str(SAMPLE)), model="mf", model_config={"embedding_dim": 8},
                   train={"epochs": epochs, "device": "cpu", **train})


def _params(space):
    return {p.name: p for p in space.params}


# --- the search space ---------------------------------------------------------------------------

def test_default_space_comes_from_the_settings_with_log_scales_for_rates_and_wide_ranges():
    p = _params(search_space("mf"))
    assert set(p) == {"embedding_dim", "negatives", "reg", "lr", "batch_size"}  # not the 'loss' choice
    assert p["lr"].target == "train" and p["lr"].log and p["lr"].low == pytest.approx(5e-4)
    assert p["lr"].high == pytest.approx(5e-2)  # a decade either side of MF's own default 5e-3
    assert p["reg"].log and p["reg"].low > 0  # regularisation: log, so 0 cannot be its low end
    assert p["embedding_dim"].kind == "int" and p["embedding_dim"].log  # 2..1024 spans > 2 decades
    assert (p["embedding_dim"].low, p["embedding_dim"].high) == (16, 256)
    vae = _params(search_space("vae"))
    assert not vae["dropout"].log and (vae["dropout"].low, vae["dropout"].high) == (0.0, 0.99)
    assert "variant" not in vae and "lr" in vae


def test_closed_form_models_search_no_trainer_settings():
    assert set(_params(search_space("ease"))) == {"reg"}
    # iALS trains epoch by epoch but solves in closed form: its own settings, no lr or batch size
    assert set(_params(search_space("ials"))) == {"embedding_dim", "alpha", "reg", "reg_exponent"}
    with pytest.raises(ConfigError, match="no settings to search"):
        search_space("pop")


def test_overrides_name_exactly_the_settings_searched_with_their_ranges():
    space = search_space("vae", "lr=1e-4:1e-1:log, dropout=0:0.7, variant=vae|dae, latent")
    p = _params(space)
    assert list(p) == ["lr", "dropout", "variant", "latent"]
    assert (p["lr"].low, p["lr"].high, p["lr"].log) == (1e-4, 1e-1, True)
    assert (p["dropout"].low, p["dropout"].high, p["dropout"].log) == (0.0, 0.7, False)
    assert p["variant"].choices == ("vae", "dae")
    assert p["latent"].log and (p["latent"].low, p["latent"].high) == (16, 256)  # derived: default ÷× 4
    assert space.defaults() == {"lr": 1e-3, "dropout": 0.7, "variant": "vae", "latent": 64}


def test_the_defaults_follow_the_runs_own_settings():
    p = _params(search_space("mf", base_train={"lr": 0.02}, base_model={"reg": 0.01}))
    assert p["lr"].default == 0.02 and p["lr"].high == pytest.approx(0.2)
    assert p["reg"].default == 0.01


@pytest.mark.parametrize("text, message", [
    ("nope=1:2", "no setting 'nope'"),
    ("lr=1:0.1", "low end must be below"),
    ("dropout=0:2", "outside the allowed range"),
    ("lr=0:0.1:log", "outside the allowed range"),
    ("lr=1e-4", "expected LOW:HIGH"),
    ("variant=vae|gan", "expected choices"),
    ("lr,lr", "twice"),
])
def test_bad_overrides_are_one_clear_message(text, message):
    with pytest.raises(ConfigError, match=message):
        search_space("vae", text)


# --- searching ----------------------------------------------------------------------------------

def test_a_small_search_stores_its_trials_as_runs_and_picks_the_best_on_validation(tmp_path):
    events = []
    res = tune(_spec(), search_space("mf", "lr,reg"), workspace=tmp_path, trials=3, study_name="s",
               on_trial=events.append)
    runs = RunStore(tmp_path).list_runs(tag="s")
    assert sorted(r["name"] for r in runs) == ["s #1", "s #2", "s #3"]
    assert all(r["status"] == "completed" and "tune" in r["tags"] for r in runs)
    assert res.trials == 3 and res.pruned == 0 and (tmp_path / "tuning.db").is_file()
    best = max(runs, key=lambda r: r["valid"]["ndcg@10"])
    assert res.best_run_id == best["id"] and res.valid == best["valid"] and res.test == best["test"]
    assert [e["number"] for e in events] == [0, 1, 2] and events[0]["state"] == "complete"
    assert events[0]["params"] == {"lr": 5e-3, "reg": 3e-3}  # the first trial is the model's defaults
    assert json.dumps(res.summary())  # the CLI's JSON line


def test_selection_never_looks_at_test(tmp_path, monkeypatch):
    """Test figures made to run against validation: the chosen trial is still validation's best."""
    real = search_mod.run_training

    def anti_correlated(spec, **kw):
        out = real(spec, **kw)
        out.test = {"ndcg@10": 1.0 - out.valid["ndcg@10"]}
        RunStore(kw["workspace"]).update_run(out.run_id, test_json=out.test)
        return out

    monkeypatch.setattr(search_mod, "run_training", anti_correlated)
    res = tune(_spec(), search_space("mf", "lr"), workspace=tmp_path, trials=3, study_name="s",
               sampler="random")
    runs = RunStore(tmp_path).list_runs(tag="s")
    assert len({r["valid"]["ndcg@10"] for r in runs}) == 3
    best = max(runs, key=lambda r: r["valid"]["ndcg@10"])
    assert res.best_run_id == best["id"]
    assert res.test == {"ndcg@10": pytest.approx(1.0 - best["valid"]["ndcg@10"])}


class _PruneAllButFirst(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.number >= 1


def test_a_pruned_trial_stops_its_run_and_is_marked_pruned_not_failed(tmp_path):
    res = tune(_spec(epochs=30, patience=100), search_space("mf", "lr"), workspace=tmp_path, trials=2,
               study_name="p", pruner=_PruneAllButFirst())
    assert (res.trials, res.pruned, res.failed, res.best_trial) == (2, 1, 0, 0)
    rows = {r["name"]: r for r in RunStore(tmp_path).list_runs()}
    assert rows["p #2"]["status"] == "pruned"
    assert rows["p #2"]["epochs_run"] == 1  # stopped after its first validation, not after 30 epochs
    assert rows["p #1"]["status"] == "completed" and rows["p #1"]["epochs_run"] == 30


def test_a_study_resumes_under_its_name_and_refuses_another_search(tmp_path):
    space = search_space("mf", "lr")
    first = tune(_spec(), space, workspace=tmp_path, trials=2, study_name="r", sampler="random")
    again = tune(_spec(), space, workspace=tmp_path, trials=3, study_name="r", sampler="random")
    assert (first.trials, again.trials, again.trials_run) == (2, 3, 1)
    runs = RunStore(tmp_path).list_runs(tag="r")
    assert sorted(r["name"] for r in runs) == ["r #1", "r #2", "r #3"]
    params = [r["spec"]["train"]["lr"] for r in sorted(runs, key=lambda r: r["name"])]
    assert params[0] == 5e-3 and 5e-3 not in params[1:]  # the defaults are enqueued once
    assert tune(_spec(), space, workspace=tmp_path, trials=3, study_name="r").trials_run == 0  # done
    with pytest.raises(ConfigError, match="search space"):
        tune(_spec(), search_space("mf", "reg"), workspace=tmp_path, trials=4, study_name="r")
    with pytest.raises(ConfigError, match="fixed settings"):
        tune(_spec(epochs=3), space, workspace=tmp_path, trials=4, study_name="r")


def test_the_time_budget_ends_the_running_trial_and_keeps_its_best_epoch(tmp_path):
    res = tune(_spec(epochs=10_000, patience=10_000), search_space("mf", "lr"), workspace=tmp_path,
               trials=5, timeout_s=2.0, study_name="t")
    assert res.trials_run == 1 and res.trials == 1
    row = RunStore(tmp_path).get_run(res.best_run_id)
    assert 1 <= row["epochs_run"] < 10_000 and res.valid["ndcg@10"] > 0


def test_tune_cli_prints_the_result_as_its_last_json_line(tmp_path, capsys):
    code = cli_main(["tune", "--data", str(SAMPLE), "--model", "mf", "--set", "embedding_dim=8",
                     "--epochs", "2", "--trials", "2", "--timeout", "5m", "--search", "lr=1e-3:1e-2:log",
                     "--sampler", "random", "--workspace", str(tmp_path), "--json", "--quiet"])
    assert code == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("best_run_id", "best_params", "valid", "test", "trials", "pruned", "seconds"):
        assert key in d
    assert set(d["best_params"]) == {"lr"} and d["trials"] == 2
    assert RunStore(tmp_path).get_run(d["best_run_id"])["status"] == "completed"


def test_tune_cli_refuses_bad_budgets_and_ranges(tmp_path, capsys):
    base = ["tune", "--data", str(SAMPLE), "--model", "mf", "--workspace", str(tmp_path)]
    assert cli_main([*base, "--trials", "0"]) == 2
    assert cli_main([*base, "--search", "lr=1:0"]) == 2
    with pytest.raises(SystemExit):
        cli_main([*base, "--timeout", "soon"])
    assert "expected a duration" in capsys.readouterr().err
    assert RunStore(tmp_path).list_runs() == []


def test_a_grid_search_tries_each_point_once_and_stops_when_the_grid_is_done(tmp_path):
    space = search_space("mf", "reg=1e-3:1e-2:log,loss")
    assert space.grid() == {"reg": [1e-3, 3e-3, 1e-2], "loss": ["bpr", "mse"]}  # ends and the default
    res = tune(_spec(epochs=1), space, workspace=tmp_path, trials=10, sampler="grid", study_name="g")
    seen = {(r["spec"]["model_config"]["reg"], r["spec"]["model_config"]["loss"])
            for r in RunStore(tmp_path).list_runs(tag="g")}
    assert res.trials == 6 and len(seen) == 6
