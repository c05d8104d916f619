"""F1@K: per user 2PR/(P+R) (0 without a hit), averaged over users, in the evaluator, train and evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys_gui.cli import main
from recsys_gui.core.evaluation import metrics as M
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models.base import build_model
from recsys_gui.core.session import load_run_model, load_run_split
from tests.conftest import tiny_split

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "sample_data" / "tiny.csv"


def _f1_from(per_user: dict[str, np.ndarray], k: int) -> np.ndarray:
    p, r = per_user[f"precision@{k}"], per_user[f"recall@{k}"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def test_hand_computed_and_no_hit_is_zero():
    hits = torch.tensor([[0, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.float64)
    n_rel = torch.tensor([3, 2], dtype=torch.float64)
    p, r = 2 / 5, 2 / 3
    assert M.f1(hits, n_rel).tolist() == pytest.approx([2 * p * r / (p + r), 0.0], abs=1e-12)
    assert M.parse_metric("F1@10").key == "f1@10"
    assert "f1" in M.ranking_metric_names() and M.higher_is_better("f1@5")


def test_evaluator_f1_is_the_user_mean_of_2pr_over_p_plus_r():
    split = tiny_split()
    torch.manual_seed(0)
    model = build_model("mf", {}, split.n_users, split.n_items)
    res = Evaluator("precision@10,recall@10,f1@10,f1@3,precision@3,recall@3").evaluate(
        model,
        history=split.known_for_valid(),
        exclude=split.known_for_test(),
        target=split.test,
        device=torch.device("cpu"),
        keep_per_user=True,
    )
    for k in (10, 3):
        expected = _f1_from(res.per_user, k)
        np.testing.assert_allclose(res.per_user[f"f1@{k}"], expected, rtol=0, atol=1e-12)
        assert res.metrics[f"f1@{k}"] == pytest.approx(float(expected.mean()), abs=1e-9)
    assert res.metrics["f1@10"] > 0  # some user has a hit, so the check above compares non-zeros


def _cli_json(capsys, *argv: str) -> dict:
    assert main([str(a) for a in argv]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1])


def test_train_and_evaluate_report_f1_equal_to_per_user_2pr_over_p_plus_r(tmp_path, capsys):
    ws = tmp_path / "ws"
    trained = _cli_json(
        capsys, "train", "--data", TINY, "--model", "mf", "--epochs", "2", "--device", "cpu",
        "--metrics", "ndcg@10,precision@10,recall@10,f1@10", "--workspace", ws, "--json",
    )
    run_id = trained["run_id"]
    evaluated = _cli_json(capsys, "evaluate", run_id, "--metrics", "f1@10", "--workspace", ws, "--json")

    # the same ranking, per user, from the evaluator: F1 from that user's precision and recall
    model, spec, row = load_run_model(ws, run_id, device=torch.device("cpu"))
    split = load_run_split(spec, row)
    model.set_context(split.known_for_test())
    res = Evaluator("precision@10,recall@10").evaluate(
        model,
        history=split.known_for_valid(),
        exclude=split.known_for_test(),
        target=split.test,
        device=torch.device("cpu"),
        keep_per_user=True,
    )
    expected = float(_f1_from(res.per_user, 10).mean())
    assert expected > 0
    assert evaluated["metrics"]["f1@10"] == pytest.approx(expected, abs=1e-9)
    assert trained["test"]["f1@10"] == pytest.approx(expected, abs=1e-9)
