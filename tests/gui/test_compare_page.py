"""Compare page: the significance verdict names the better run with its own numbers, either direction."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

TEST = {"t_p": 0.001, "wilcoxon_p": 0.002, "users": 900}


def test_verdict_quotes_the_better_runs_mean_first():
    from recsys_gui.gui.panels.compare import verdict

    a_better = {**TEST, "mean_a": 0.10, "mean_b": 0.08, "mean_diff": 0.02}
    words = verdict("ndcg@10", "A", "B", a_better)
    assert words.startswith("A is better than B on ndcg@10: 0.1000 vs 0.0800 (+25%)")
    b_better = {**TEST, "mean_a": 0.10, "mean_b": 0.12, "mean_diff": -0.02}
    assert "B looks better than A on ndcg@10 (0.1200 vs 0.1000 (+20%))" in verdict(
        "ndcg@10", "A", "B", {**b_better, "wilcoxon_p": 0.3}
    )


def test_verdict_follows_the_metrics_direction():
    from recsys_gui.gui.panels.compare import verdict

    lower_b = {**TEST, "mean_a": 0.90, "mean_b": 0.80, "mean_diff": 0.10}
    words = verdict("rmse", "A", "B", lower_b)
    assert words.startswith("B is better than A on rmse: 0.8000 vs 0.9000 (-11%)")
    assert verdict("gini@10", "A", "B", lower_b).startswith("B is better than A on gini@10")
    assert verdict("coverage@10", "A", "B", lower_b).startswith("A is better than B on coverage@10")
