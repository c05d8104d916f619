"""iALS (``ials``): the batched solves against plain per-row least squares, one sweep per epoch, fold-in
as the training user solve, and accuracy beyond popularity on the sample data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.interactions import Split
from recsys_gui.core.models.ials import IALS, IALSConfig, Pattern, observed_grams, solve_rows
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.model_checks import check_recommender, synthetic_split
from recsys_gui.core.training.trainer import Trainer

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
CPU = torch.device("cpu")


def _problem(seed: int = 0, rows: int = 40, cols: int = 25, d: int = 6):
    g = torch.Generator().manual_seed(seed)
    history = (torch.rand(rows, cols, generator=g) < 0.3).float()
    history[0] = 0.0  # a row with no observations: its solution is the zero vector
    other = torch.randn(cols, d, generator=g)
    reg = torch.rand(rows, generator=g) + 0.5
    return history, other, reg


def _reference(history: torch.Tensor, other: torch.Tensor, alpha: float, reg: torch.Tensor) -> np.ndarray:
    """Each row's weighted ridge regression written out densely: c = 1 + α on observed entries."""
    y = other.double().numpy()
    out = []
    for row, lam in zip(history.double().numpy(), reg.double().numpy(), strict=True):
        c = 1.0 + alpha * row
        a = (y.T * c) @ y + lam * np.eye(y.shape[1])
        out.append(np.linalg.solve(a, (y.T * c) @ row))
    return np.array(out)


def _objective(history, other, alpha, reg, x) -> np.ndarray:
    h, y, x = history.double().numpy(), other.double().numpy(), x.double().numpy()
    c = 1.0 + alpha * h
    return (c * (h - x @ y.T) ** 2).sum(1) + reg.double().numpy() * (x**2).sum(1)


@pytest.mark.parametrize("cg_steps", [None, 30], ids=["cholesky", "cg"])
def test_the_batched_solves_match_dense_least_squares(cg_steps):
    history, other, reg = _problem()
    alpha = 3.0
    x, objective = solve_rows(Pattern.from_dense(history), other, alpha, reg, None, cg_steps)
    ref = _reference(history, other, alpha, reg)
    np.testing.assert_allclose(x.double().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(objective.double().numpy(), _objective(history, other, alpha, reg, x),
                               rtol=1e-4, atol=1e-4)


def test_a_few_warm_started_cg_steps_approach_the_solution():
    """CG from a start near the answer (the previous sweep's vectors) gets closer with every step."""
    history, other, reg = _problem(seed=1)
    pattern = Pattern.from_dense(history)
    exact, _ = solve_rows(pattern, other, 2.0, reg, None, None)
    start = exact + 0.1 * torch.randn(exact.shape, generator=torch.Generator().manual_seed(2))
    errors = [float((solve_rows(pattern, other, 2.0, reg, start, k)[0] - exact).norm()) for k in (1, 2, 3)]
    assert errors[0] < float((start - exact).norm()) and errors[2] < errors[1] < errors[0]


def test_observed_grams_sum_the_outer_products_of_each_rows_items(monkeypatch):
    history, other, _ = _problem(d=5)
    monkeypatch.setattr("recsys_gui.core.models.ials.GRAM_CELLS", 2 * other.numel())  # several bands
    grams = observed_grams(Pattern.from_dense(history), other.double())
    ref = torch.einsum("rj,jd,je->rde", history.double(), other.double(), other.double())
    torch.testing.assert_close(grams, ref)


def _fit(split: Split, epochs: int, batch_size: int = 1_000_000, **config) -> tuple[IALS, list[dict]]:
    torch.manual_seed(0)
    model = IALS(IALSConfig(embedding_dim=8, **config), split.n_users, split.n_items)
    losses: list[dict] = []

    class Grab:
        def on_event(self, e):
            if isinstance(e, ev.EpochEnded):
                losses.append(e.losses)

    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, seed=0, device="cpu", early_stop_metric=None)
    Trainer(cfg, callbacks=[Grab()]).fit(model, Split(split.train, None, split.test, protocol="t"), CPU)
    return model.eval(), losses


def test_every_epoch_lowers_the_objective_with_exact_solves():
    """Alternating exact minimisation never raises the objective: each half-step is a minimum."""
    _, losses = _fit(synthetic_split(), epochs=6, solver="cholesky")
    values = [d["loss"] for d in losses]
    assert all(b <= a * (1 + 1e-5) for a, b in itertools.pairwise(values)), values
    assert values[-1] < values[0] and all(0 < d["l2"] < d["loss"] for d in losses)


def test_the_user_batch_size_does_not_change_the_result():
    """The items are fixed during a user sweep, so solving the users in batches of 7 or all at once
    gives the same vectors."""
    split = synthetic_split()
    whole, _ = _fit(split, epochs=3)
    batched, _ = _fit(split, epochs=3, batch_size=7)
    torch.testing.assert_close(batched.user_factors, whole.user_factors, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batched.item_factors, whole.item_factors, rtol=1e-4, atol=1e-5)


def test_fold_in_is_the_training_user_solve():
    """After a sweep every trained user is solved exactly against the items: folding the same history
    in (with the checkpointed scaling of λ) gives that user's own vector and scores."""
    split = synthetic_split()
    model, _ = _fit(split, epochs=4, solver="cholesky", reg_exponent=1.0)
    users = torch.arange(split.n_users)
    history = torch.zeros(split.n_users, split.n_items)
    history[torch.as_tensor(split.train.users), torch.as_tensor(split.train.items)] = 1.0
    torch.testing.assert_close(model.fold_in(history), model.user_factors, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        own = model.score(users, None)
    torch.testing.assert_close(model.score_new_users(history), own, rtol=1e-4, atol=1e-5)
    back = IALS.from_checkpoint(model.to_checkpoint()).eval()
    torch.testing.assert_close(back.score_new_users(history), own, rtol=1e-4, atol=1e-5)


def test_regularisation_grows_with_a_rows_weight_and_is_lambda_on_average():
    model = IALS(IALSConfig(reg=5.0, alpha=2.0, reg_exponent=1.0), 4, 10)
    counts = torch.tensor([0, 3, 6])
    reg = model._scaled_reg(counts, 10, 10 + 2.0 * 3)  # the mean row has 3 observations
    torch.testing.assert_close(reg, torch.tensor([5.0 * 10 / 16, 5.0, 5.0 * 22 / 16]))
    flat = IALS(IALSConfig(reg=5.0, reg_exponent=0.0), 4, 10)._scaled_reg(counts, 10, 16.0)
    torch.testing.assert_close(flat, torch.full((3,), 5.0))


def test_ials_keeps_the_model_contract():
    assert "fold-in" in check_recommender(IALS)


@pytest.mark.slow
def test_ials_beats_popularity_clearly_on_the_sample_data(tmp_path):
    def run(model: str) -> float:
        spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model=model, metrics=["ndcg@10"],
                       train={"device": "cpu", "seed": 0})
        return run_training(spec, workspace=tmp_path).test["ndcg@10"]

    ials, pop = run("ials"), run("pop")
    assert ials > 1.5 * pop, (ials, pop)
