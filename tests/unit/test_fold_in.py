"""Fold-in (``Recommender.score_new_users``) for every family, and strong generalisation: the
held-out-users split scores its users through fold-in (issue 22)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recsys_gui.core.evaluation.evaluator import Evaluator, held_out_users
from recsys_gui.core.models import available_models, foldin
from recsys_gui.core.models.base import Recommender, register_model, unregister_model
from recsys_gui.core.models.mf import MF, MFConfig
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.training import model_checks as mc

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
MODELS = sorted(available_models())


@pytest.fixture(scope="module")
def split():
    return mc.synthetic_split()


@pytest.mark.parametrize("name", MODELS)
def test_every_family_folds_in_new_users(name, split):
    """Shape, finite, deterministic, parameters untouched, and a trained user's history folded in ranks
    that user's held-out items about as well as the model's own scores (check_recommender's check)."""
    model, _, _ = mc._train(available_models()[name], split)
    mc._fold_in(model, split)


def _reference_implicit(history: np.ndarray, q: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """One plain solve per user, written the obvious way."""
    qtq = q.T @ q
    lam = reg * np.trace(qtq) / q.shape[1]
    out = []
    for row in history:
        qh = q[row != 0]
        a = qtq + alpha * qh.T @ qh + lam * np.eye(q.shape[1])
        out.append(np.linalg.solve(a, (1 + alpha) * qh.sum(0)))
    return np.array(out)


def _mf(loss: str = "bpr") -> MF:
    torch.manual_seed(0)
    model = MF(MFConfig(embedding_dim=6, loss=loss, reg=0.05), 10, 30).eval()
    if loss == "mse":
        with torch.no_grad():
            model.item_bias.weight.normal_(0, 0.3)
            model.global_mean.fill_(3.4)
    return model


def _histories(ratings: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(5, 30, generator=g) < 0.3
    values = torch.randint(1, 6, (5, 30), generator=g).float() if ratings else torch.ones(5, 30)
    return torch.where(mask, values, torch.zeros(()))


def test_mf_fold_in_is_the_implicit_least_squares_solution():
    model, history = _mf(), _histories(ratings=False)
    p, bias = model.fold_in(history)
    ref = _reference_implicit(history.numpy(), model.Q.weight.detach().double().numpy(),
                              MF.FOLD_IN_ALPHA, MF.FOLD_IN_REG)
    assert bias is None
    np.testing.assert_allclose(p.double().numpy(), ref, rtol=1e-5, atol=1e-5)
    scores = model.score_new_users(history)
    np.testing.assert_allclose(scores.numpy(), (p @ model.Q.weight.T).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_explicit_mf_fold_in_solves_its_own_squared_error_with_a_user_bias():
    model, history = _mf("mse"), _histories(ratings=True)
    p, bias = model.fold_in(history)
    q = model.Q.weight.detach().double().numpy()
    b_i = model.item_bias.weight.detach().double().numpy().ravel()
    mu = float(model.global_mean)
    for u, row in enumerate(history.numpy()):
        seen = row != 0
        x = np.hstack([q[seen], np.ones((seen.sum(), 1))])
        ridge = np.diag([0.05 * seen.sum()] * q.shape[1] + [0.0]) + 1e-6 * np.eye(q.shape[1] + 1)
        theta = np.linalg.solve(x.T @ x + ridge, x.T @ (row[seen] - mu - b_i[seen]))
        np.testing.assert_allclose(p[u].double().numpy(), theta[:-1], rtol=1e-5, atol=1e-5)
        assert abs(float(bias[u]) - theta[-1]) < 1e-5
    scores = model.score_new_users(history)
    expected = p @ model.Q.weight.T + bias.unsqueeze(1) + model.item_bias.weight.T + model.global_mean
    np.testing.assert_allclose(scores.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_history_models_fold_in_exactly_as_they_score(split):
    users = torch.arange(split.n_users)
    history = mc._history(split, users)
    for name in ("pop", "itemknn", "ease", "gan", "vae"):
        model, _, _ = mc._train(available_models()[name], split)
        with torch.no_grad():
            expected = model.score(users, history)
        assert torch.allclose(model.score_new_users(history), expected), name


@pytest.mark.parametrize("name", ["gru4rec", "sasrec"])
def test_sequence_models_fold_in_the_given_order_like_a_trained_users_sequence(name, split):
    model, _, _ = mc._train(available_models()[name], split)
    model.set_context(split.train)
    users = torch.arange(split.n_users)
    history, order = mc._ordered_rows(split, users)
    with torch.no_grad():
        expected = model.score(users, None)
    assert torch.allclose(model.score_new_users(history, order), expected, atol=1e-5)


def test_sequences_keep_the_most_recent_items_left_padded():
    order = torch.tensor([[4, 2, 7, -1, -1], [1, 3, 5, 6, 0], [-1, -1, -1, -1, -1]])
    seqs = foldin.sequences_from(torch.zeros(3, 9), order, max_len=3, pad=9)
    assert seqs.tolist() == [[4, 2, 7], [5, 6, 0], [9, 9, 9]]
    history = torch.zeros(1, 9)
    history[0, [8, 1]] = 1.0
    seq = foldin.sequences_from(history, None, max_len=3, pad=9)[0].tolist()  # unordered: a keyed order
    assert seq[0] == 9 and sorted(seq[1:]) == [1, 8]


def test_the_evaluator_scores_held_out_users_through_fold_in(split):
    """Fails on the old evaluator, which scored every user with its (never trained) vector."""
    model, _, _ = mc._train(MF, split)
    new = np.zeros(split.n_users, dtype=bool)
    new[::2] = True
    with torch.no_grad():
        model.P.weight[torch.as_tensor(new)] = 1e3  # an untrained vector would rank nonsense
    res = Evaluator(["ndcg@5"], new_users=new).evaluate(
        model, history=split.train, exclude=split.train, target=split.test, device=torch.device("cpu"),
        keep_per_user=True)
    users = torch.as_tensor(res.users)
    history = mc._history(split, users)
    scores = torch.where(torch.as_tensor(new)[users].unsqueeze(1), model.score_new_users(history),
                         model.score(users, None).detach())
    scores[history != 0] = -torch.inf
    top = scores.topk(5, dim=1).indices
    target = torch.zeros(split.n_users, split.n_items, dtype=torch.bool)
    target[torch.as_tensor(split.test.users), torch.as_tensor(split.test.items)] = True
    target = target[users]
    hits = target.gather(1, top).double()
    discount = 1 / torch.log2(torch.arange(2, 7).double())
    ideal = torch.cumsum(discount, 0)[target.sum(1).clamp(max=5) - 1]
    np.testing.assert_allclose(res.per_user["ndcg@5"], ((hits * discount).sum(1) / ideal).numpy(), rtol=1e-6)


def test_held_out_users_are_those_with_only_fold_in_rows():
    from recsys_gui.core.session import load_split

    spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model="pop", split="users:0.1,0.1,foldin=0.8")
    split, _ = load_split(spec, seed=0)
    new = held_out_users(split)
    assert new is not None
    assert set(np.flatnonzero(new)) == set(split.valid.users) | set(split.test.users)
    assert not new[split.train.users].any()
    ratio, _ = load_split(RunSpec(data=DataSpec(path=str(SAMPLE)), model="pop"), seed=0)
    assert held_out_users(ratio) is None


@pytest.mark.slow
def test_mf_on_held_out_users_beats_popularity_through_fold_in(tmp_path):
    """The acceptance in miniature: on the old code MF was refused on this split (or, before the
    refusal, scored the held-out users with untrained vectors: below popularity)."""
    def run(model: str, **train) -> float:
        spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model=model, split="users:0.2,0.2,foldin=0.8",
                       metrics=["ndcg@10"], train={"device": "cpu", "seed": 0, **train})
        return run_training(spec, workspace=tmp_path).test["ndcg@10"]

    assert run("mf", epochs=30) > run("pop")


def test_evaluating_a_stored_held_out_users_run_again_folds_its_users_in_as_training_did(tmp_path):
    """`recsys-gui evaluate` (and the Results page) once ranked a held-out-users split's test users
    with untrained user vectors, so its figures disagreed with the run's own."""
    from recsys_gui.core.run_evaluation import evaluate_run

    spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model="mf", split="users:0.2,0.2,foldin=0.8",
                   metrics=["ndcg@10"], train={"device": "cpu", "seed": 0, "epochs": 5})
    out = run_training(spec, workspace=tmp_path)
    again = evaluate_run(tmp_path, out.run_id, metrics="ndcg@10")
    assert again["metrics"]["ndcg@10"] == pytest.approx(out.test["ndcg@10"], abs=1e-6)


class _NoFoldIn(MF):
    """A plug-in with trained user vectors that does not implement fold-in."""

    name = "nofoldin-test"
    aliases = ()
    score_new_users = Recommender.score_new_users


def test_a_plug_in_without_fold_in_is_refused_on_held_out_users_and_skips_the_check(tmp_path):
    from recsys_gui.core.errors import ConfigError
    from recsys_gui.core.store.run_store import RunStore

    register_model(_NoFoldIn)
    try:
        spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model=_NoFoldIn.name,
                       split="users:0.1,0.1,foldin=0.8", train={"epochs": 1, "device": "cpu"})
        with pytest.raises(ConfigError, match="cannot fold in users"):
            run_training(spec, workspace=tmp_path)
        assert RunStore(tmp_path).list_runs() == []
    finally:
        unregister_model(_NoFoldIn.name)
    assert not _NoFoldIn.folds_in() and MF.folds_in()


class _FoldsInBackwards(available_models()["ease"]):
    name = "backwards-test"

    def score_new_users(self, history, order=None):
        return -super().score_new_users(history, order)


class _FoldInTrains(MF):
    name = "trains-test"

    def score_new_users(self, history, order=None):
        with torch.no_grad():
            self.Q.weight.mul_(1.01)
        return super().score_new_users(history, order)


@pytest.mark.parametrize("cls,what", [(_FoldsInBackwards, "rank the held-out items"),
                                      (_FoldInTrains, "changed the model")])
def test_the_fold_in_check_refuses_a_broken_fold_in(split, cls, what):
    model, _, _ = mc._train(cls, split)
    with pytest.raises(mc.ContractViolation, match=f"fold-in.*{what}"):
        mc._fold_in(model, split)
