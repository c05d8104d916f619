"""Private training (issue 27): per-user clipping, noise calibration, refusals, the recorded ε."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from recsys_gui.core.config import TrainConfig
from recsys_gui.core.data.batching import PairBatch, PointBatch
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation.evaluator import Evaluator
from recsys_gui.core.models import base as models
from recsys_gui.core.models.kernels import reference_kernels
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.training.privacy import PrivateTraining, accounting, run_privacy
from recsys_gui.core.training.privacy.objectives import UserExamples
from recsys_gui.core.training.privacy.sampling import UserSampler
from recsys_gui.core.training.trainer import Trainer

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "tiny.csv"
TINY_CONFIGS = {"mf": {"embedding_dim": 4, "negatives": 2},
                "mlp": {"embedding_dim": 4, "layers": (6, 3), "negatives": 2},
                "nmf": {"embedding_dim": 4, "mlp_embedding_dim": 3, "layers": (6, 3), "negatives": 2},
                "vae": {"hidden": 6, "latent": 3}}


def _model(name: str, split, seed: int = 0):
    torch.manual_seed(seed)
    config = models.make_config(name, TINY_CONFIGS[name])
    return models.build_model(name, config, split.n_users, split.n_items)


def _plan(model, split, **train) -> PrivateTraining:
    cfg = TrainConfig(**{"dp_epsilon": 5.0, "epochs": 2, "dp_examples_per_user": 8, **train})
    return PrivateTraining.plan(model, split, cfg, torch.device("cpu"))


def _reference_clipped_sum(plan: PrivateTraining, users, examples: UserExamples, clip: float):
    """A plain loop: per user, autograd of that user's loss on the FULL parameter tables, the norm over
    all shared parameters, the clip, the sum. Own tables collect the unclipped gradients."""
    step = plan.step
    shared, own = step.shared, step.own
    total = {k: torch.zeros_like(p) for k, p in shared.items()}
    own_total = {k: torch.zeros_like(p) for k, p in own.items()}
    for j, u in enumerate(users.tolist()):
        params = {k: p.detach().clone().requires_grad_(True) for k, p in {**shared, **own}.items()}
        rows = {k: F.embedding(idx[j], params[k]) for k, idx in examples.rows.items()}
        own_rows = {k: params[k][u] for k in own}
        dense = {k: params[k] for k in step.dense}
        loss = step.objective.loss(dense, rows, own_rows, *(e[j] for e in examples.other))
        grads = dict(zip(params, torch.autograd.grad(loss, list(params.values()), allow_unused=True),
                         strict=True))
        grads = {k: torch.zeros_like(params[k]) if g is None else g for k, g in grads.items()}
        norm = torch.sqrt(sum(grads[k].pow(2).sum() for k in shared))
        factor = min(1.0, clip / (float(norm) + 1e-12))
        for k in shared:
            total[k] += factor * grads[k]
        for k in own:
            own_total[k] += grads[k]
    return total, own_total


@pytest.mark.parametrize("name", ["mf", "mlp", "nmf", "vae"])
@pytest.mark.parametrize("clip", [1e-3, 1e3])  # every user clipped / none clipped
def test_per_user_clipped_gradient_equals_a_per_user_loop(tiny, name, clip):
    torch.set_default_dtype(torch.float64)  # 1e-6 is a statement about the algorithm, not float32 rounding
    try:
        model = _model(name, tiny).double()
        plan = _plan(model, tiny, dp_clip_norm=clip, dp_sample_rate=0.5)
        model.eval()  # no dropout or latent sampling: the two computations see the same function
        users = plan.sampler.sample_users()
        assert users.numel() > 3
        state = torch.random.get_rng_state()
        gen_state = plan.sampler.generator.get_state()
        with reference_kernels():
            summed, own_grads, _ = plan.step.clipped_sum(users)
        plan.sampler.generator.set_state(gen_state)  # the same examples again
        torch.random.set_rng_state(state)
        examples = plan.step.objective.examples(users, plan.sampler, plan.step.m)
        if name == "mf":  # few items, many draws: an item repeats within a user, rows must add up first
            idx = examples.rows["Q.weight"]
            assert any(len(set(r.tolist())) < len(r) for r in idx)
        ref, ref_own = _reference_clipped_sum(plan, users, examples, clip)
    finally:
        torch.set_default_dtype(torch.float32)
    for k in ref:
        torch.testing.assert_close(summed[k], ref[k], rtol=0, atol=1e-6, msg=k)
    for k in ref_own:
        torch.testing.assert_close(own_grads[k], ref_own[k], rtol=0, atol=1e-6, msg=k)
    if clip == 1e-3:  # every user's contribution has norm C: the sum is at most |U|·C
        norm = torch.sqrt(sum(v.pow(2).sum() for v in summed.values()))
        assert float(norm) <= users.numel() * clip * (1 + 1e-9)


def test_the_private_losses_are_the_models_objectives_on_one_users_examples(tiny):
    """MF's BPR and MLP's log loss on one user's examples, through the model's own forward."""
    for name in ("mf", "mlp"):
        model = _model(name, tiny)
        model.eval()
        plan = _plan(model, tiny)
        users = plan.sampler.sample_users()[:1]
        ex = plan.step.objective.examples(users, plan.sampler, 8)
        step = plan.step
        rows = {k: step.tables[k][idx[0]] for k, idx in ex.rows.items()}
        own = {k: step.own[k][users[0]] for k in step.own}
        with reference_kernels(), torch.no_grad():
            ours = step.objective.loss(dict(step.dense), rows, own, *(e[0] for e in ex.other))
            idx = ex.rows["Q.weight"][0]
            if name == "mf":
                pairs = idx.view(8, 3)
                theirs = model(PairBatch(users.expand(8), pairs[:, 0], pairs[:, 1:]))["loss"]
            else:
                theirs = model(PointBatch(users.expand(idx.numel()), idx, ex.other[0][0]))["loss"]
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)


def test_the_sampler_draws_each_users_examples_from_that_users_data_only(tiny):
    sampler = UserSampler(tiny.train, tiny.n_users, tiny.n_items, sample_rate=0.3, device=torch.device("cpu"),
                          seed=1)
    sizes = [sampler.sample_users().numel() for _ in range(200)]
    assert 0.25 * tiny.n_users < sum(sizes) / len(sizes) < 0.35 * tiny.n_users  # Poisson at rate q
    users = sampler.sample_users()
    own = {(u, i) for u, i in zip(tiny.train.users.tolist(), tiny.train.items.tolist(), strict=True)}
    pos, neg = sampler.positives(users, 16), sampler.negatives(users, (users.numel(), 16))
    for j, u in enumerate(users.tolist()):
        assert all((u, i) in own for i in pos[j].tolist())
        assert not any((u, i) in own for i in neg[j].tolist())
    rows = sampler.rows(users)
    for j, u in enumerate(users.tolist()):
        assert set(rows[j].nonzero().squeeze(1).tolist()) == {i for (v, i) in own if v == u}


@pytest.mark.parametrize("epsilon", [1.0, 10.0])
def test_a_private_run_spends_at_most_its_epsilon(tiny, epsilon):
    model = _model("mf", tiny)
    cfg = TrainConfig(dp_epsilon=epsilon, epochs=3, dp_sample_rate=0.2, seed=3)
    fit = Trainer(cfg, evaluator=Evaluator(["ndcg@10"], seed=0)).fit(model, tiny, torch.device("cpu"))
    assert fit.epsilon_spent is not None and 0.9 * epsilon < fit.epsilon_spent <= epsilon
    assert fit.privacy["steps"] == 3 * 5 and fit.privacy["delta"] == pytest.approx(1 / tiny.n_users)
    assert fit.best_epoch == 2  # the last epoch is kept: validation never picks a private run's weights
    # the accountant agrees with itself: more steps at the same noise spend more
    sigma, q = fit.privacy["noise_multiplier"], fit.privacy["sample_rate"]
    assert accounting.epsilon_spent(sigma, q, 30, fit.privacy["delta"]) > fit.epsilon_spent


def test_without_an_early_stopping_metric_the_last_epoch_is_kept(tiny):
    """'none: keep the last' kept the FIRST validated epoch (0.0 > 0.0 never held)."""
    model = _model("mf", tiny)
    cfg = TrainConfig(epochs=3, early_stop_metric=None, batch_size=64)
    fit = Trainer(cfg, evaluator=Evaluator(["ndcg@10"], seed=0)).fit(model, tiny, torch.device("cpu"))
    assert fit.best_epoch == 2 and fit.epsilon_spent is None


@pytest.mark.parametrize(("model", "model_cfg", "train", "says"), [
    ("ease", {}, {}, "not available for EASE"),
    ("gru4rec", {}, {}, "not available for GRU4Rec"),
    ("mf", {"loss": "mse"}, {}, "loss=bpr only"),
    ("nmf", {"pretrain_epochs": 1}, {}, "pretrain_epochs=0"),
    ("mf", {}, {"amp": True}, "'amp'"),
    ("mf", {}, {"grad_clip": 1.0}, "'grad_clip'"),
])
def test_what_cannot_be_accounted_for_is_refused_in_one_line(tmp_path, model, model_cfg, train, says):
    spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model=model, model_config=model_cfg,
                   train={"epochs": 1, "device": "cpu", "dp_epsilon": 3.0, **train})
    with pytest.raises(ConfigError) as err:
        run_training(spec, workspace=tmp_path)
    message = str(err.value)
    assert says.lower() in message.lower() and "\n" not in message
    assert "dp_epsilon" in message or "'amp'" in message or "'grad_clip'" in message


def test_dp_settings_are_checked_and_reach_the_forms(tmp_path):
    from recsys_gui.core.config import describe_fields, from_mapping

    settings = {"dp_epsilon": "3", "dp_delta": "none", "dp_clip_norm": "0.1"}
    cfg = from_mapping(TrainConfig, settings, "the trainer")
    assert (cfg.dp_epsilon, cfg.dp_delta, cfg.dp_clip_norm) == (3.0, None, 0.1)
    for bad in ({"dp_epsilon": "0"}, {"dp_delta": "0.5"}, {"dp_sample_rate": "0"}):
        with pytest.raises(ConfigError, match="dp_"):
            from_mapping(TrainConfig, bad, "the trainer")
    fields = {f["name"]: f for f in describe_fields(TrainConfig)}
    assert fields["dp_epsilon"]["label"].startswith("Private training")
    assert fields["dp_epsilon"]["optional"] and fields["dp_clip_norm"]["advanced"]


def test_a_private_session_run_records_epsilon_spent(tmp_path):
    spec = RunSpec(data=DataSpec(path=str(SAMPLE)), model="mf", metrics=("ndcg@10",),
                   train={"epochs": 2, "device": "cpu", "dp_epsilon": 4.0, "dp_sample_rate": 0.5})
    out = run_training(spec, workspace=tmp_path)
    assert 0 < out.fit.epsilon_spent <= 4.0
    assert out.summary()["epsilon_spent"] == out.fit.epsilon_spent
    row = RunStore(tmp_path).get_run(out.run_id)
    assert run_privacy(row)["epsilon_spent"] == out.fit.epsilon_spent
    plain = run_training(RunSpec(data=DataSpec(path=str(SAMPLE)), model="mf", metrics=("ndcg@10",),
                                 train={"epochs": 1, "device": "cpu"}), workspace=tmp_path)
    assert "epsilon_spent" not in plain.summary()
    assert run_privacy(RunStore(tmp_path).get_run(plain.run_id)) is None


@pytest.mark.slow
def test_train_cli_prints_and_lists_epsilon_spent(tmp_path):
    app = [sys.executable, "-m", "recsys_gui"]
    done = subprocess.run([*app, "train", "--data", str(SAMPLE), "--model", "mf", "--epochs", "2",
                           "--dp-epsilon", "3", "--dp-delta", "1e-3", "--json", "--quiet", "--workspace",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads([ln for ln in done.stdout.splitlines() if ln.startswith("{")][-1])
    assert 0 < result["epsilon_spent"] <= 3
    listed = subprocess.run([*app, "runs", "list", "--json", "--workspace", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert json.loads(listed.stdout)[0]["epsilon_spent"] == result["epsilon_spent"]
