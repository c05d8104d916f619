"""Repeated seeds (issue 21): train --seeds N and tune --seeds N report mean, std and a 95% interval."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.cli.train_cmd import _dp_settings
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.tuning.seeds import mean_std_ci, summarise

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
TRAIN = ["train", "--data", str(SAMPLE), "--model", "mf", "--set", "embedding_dim=8", "--epochs", "2",
         "--quiet", "--json"]


def test_mean_std_and_interval_of_a_few_values():
    mean, std, half = mean_std_ci([1.0, 2.0, 3.0])
    assert (mean, std) == (2.0, 1.0)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)  # Student's t, 2 degrees of freedom
    assert mean_std_ci([0.3]) == (0.3, 0.0, None)


def test_summary_keeps_only_metrics_every_run_has():
    s = summarise([{"valid": {"a": 1.0, "b": 2.0}, "test": {"a": 0.5}},
                   {"valid": {"a": 3.0}, "test": {"a": 0.7}}], ["r1", "r2"], [7, 8])
    assert s["mean"]["valid"] == {"a": 2.0} and s["mean"]["test"]["a"] == pytest.approx(0.6)
    assert s["std"]["valid"]["a"] == pytest.approx(math.sqrt(2))
    low, high = s["ci95"]["test"]["a"]
    assert low < 0.6 < high and (s["runs"], s["seeds"], s["n"]) == (["r1", "r2"], [7, 8], 2)


def test_train_with_three_seeds_reports_their_spread(tmp_path, capsys):
    assert cli_main([*TRAIN, "--seeds", "3", "--seed", "5", "--workspace", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["seeds"] == [5, 6, 7] and len(d["runs"]) == 3 and d["n"] == 3
    store = RunStore(tmp_path)
    rows = [store.get_run(r) for r in d["runs"]]
    assert [r["seed"] for r in rows] == [5, 6, 7]
    values = [r["test"]["ndcg@10"] for r in rows]
    assert d["mean"]["test"]["ndcg@10"] == pytest.approx(sum(values) / 3)
    assert d["std"]["test"]["ndcg@10"] > 0 and d["std"]["valid"]["ndcg@10"] > 0
    low, high = d["ci95"]["test"]["ndcg@10"]
    assert low < d["mean"]["test"]["ndcg@10"] < high


def test_tune_with_seeds_retrains_the_best_and_reuses_it_as_the_first_seed(tmp_path, capsys):
    code = cli_main(["tune", "--data", str(SAMPLE), "--model", "mf", "--set", "embedding_dim=8",
                     "--epochs", "2", "--trials", "2", "--search", "lr", "--seeds", "2",
                     "--workspace", str(tmp_path), "--json", "--quiet"])
    assert code == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["runs"][0] == d["best_run_id"] and len(d["runs"]) == 2 and d["seeds"] == [2020, 2021]
    second = RunStore(tmp_path).get_run(d["runs"][1])
    assert second["spec"]["train"]["lr"] == d["best_params"]["lr"] and second["seed"] == 2021
    assert d["std"]["test"]["ndcg@10"] > 0


def test_seeds_must_be_at_least_one(tmp_path):
    assert cli_main([*TRAIN, "--seeds", "0", "--workspace", str(tmp_path)]) == 2
    assert RunStore(tmp_path).list_runs() == []


def test_dp_flags_become_the_trainer_settings_set_would_give():
    args = argparse.Namespace(dp_epsilon=1.0, dp_delta=1e-5)
    assert _dp_settings(args) == ["dp_epsilon=1.0", "dp_delta=1e-05"]
    assert _dp_settings(argparse.Namespace(dp_epsilon=None, dp_delta=None)) == []
