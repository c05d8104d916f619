"""The trainer: stop within one batch, resume from the last checkpoint, divergence, early stopping."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from recsys_gui.core.errors import TrainingDiverged
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.training import events as ev
from recsys_gui.core.training.control import StopToken


def spec(**train):
    return RunSpec(data=DataSpec(path="memory"), model="mf", model_config={"embedding_dim": 8},
                   train={"device": "cpu", "batch_size": 16, "log_every_n_steps": 1, "seed": 1, **train},
                   metrics=("ndcg@5",))


class Recorder:
    def __init__(self, stop_after_steps=None, token=None):
        self.events, self.stop_after, self.token = [], stop_after_steps, token

    def on_event(self, e):
        self.events.append(e)
        if self.stop_after and isinstance(e, ev.StepLogged) and e.global_step >= self.stop_after:
            self.token.request_stop()


def test_stop_mid_epoch_ends_within_one_batch_and_marks_cancelled(tiny, tmp_path):
    token = StopToken()
    rec = Recorder(stop_after_steps=3, token=token)
    out = run_training(spec(epochs=50), workspace=tmp_path, callbacks=[rec], stop=token, split=tiny)
    steps = [e.global_step for e in rec.events if isinstance(e, ev.StepLogged)]
    assert out.status == "cancelled"
    assert max(steps) == 3  # the stop was seen before the 4th batch
    assert RunStore(tmp_path).get_run(out.run_id)["status"] == "cancelled"


def test_resume_continues_from_last_checkpoint(tiny, tmp_path):
    token = StopToken()
    n_batches = math.ceil(len(tiny.train) / 16)
    rec = Recorder(stop_after_steps=2 * n_batches + 1, token=token)  # stop early in epoch 3
    first = run_training(spec(epochs=6, early_stop_metric=None), workspace=tmp_path, callbacks=[rec],
                         stop=token, split=tiny)
    assert first.status == "cancelled"
    rec2 = Recorder()
    second = run_training(spec(epochs=6, early_stop_metric=None), workspace=tmp_path, callbacks=[rec2],
                          split=tiny, resume_run_id=first.run_id)
    started = [e.epoch for e in rec2.events if isinstance(e, ev.EpochStarted)]
    assert started == [2, 3, 4, 5]
    assert second.status == "completed" and second.run_id == first.run_id
    assert RunStore(tmp_path).get_run(first.run_id)["status"] == "completed"


def test_nan_loss_stops_with_a_clear_message(tiny, tmp_path, monkeypatch):
    from recsys_gui.core.models.mf import MF

    real = MF.forward
    monkeypatch.setattr(MF, "forward",
                        lambda self, batch: {k: v * float("nan") for k, v in real(self, batch).items()})
    with pytest.raises(TrainingDiverged, match="learning rate"):
        run_training(spec(epochs=3), workspace=tmp_path, split=tiny)
    runs = RunStore(tmp_path).list_runs()
    assert runs[0]["status"] == "failed"


def test_early_stopping_keeps_the_best_epoch(tiny, tmp_path):
    out = run_training(spec(epochs=200, patience=2, lr=0.05), workspace=tmp_path, split=tiny)
    assert out.status == "early_stopped"
    assert out.fit.best_epoch is not None and out.fit.epochs_run == out.fit.best_epoch + 3
    stored = RunStore(tmp_path).metrics(out.run_id)
    assert any(r["split"] == "valid" for r in stored) and any(r["split"] == "test" for r in stored)


def test_same_seed_same_result_on_cpu(tiny, tmp_path):
    a = run_training(spec(epochs=3, early_stop_metric=None), workspace=tmp_path, split=tiny)
    b = run_training(spec(epochs=3, early_stop_metric=None), workspace=tmp_path, split=tiny)
    assert a.test == b.test


def test_events_round_trip_through_json():
    import json

    for e in (ev.StepLogged(0, 1, 2, {"loss": 0.5}, 1e-3, 10.0),
              ev.RunFinished("completed", 3, {"a": 1.0}, 2.0)):
        back = ev.TrainingEvent.from_dict(json.loads(json.dumps(e.to_dict())))
        assert back == e


def test_cuda_request_without_cuda_is_a_clear_error(tiny, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from recsys_gui.core.errors import DeviceError

    with pytest.raises(DeviceError, match="no CUDA GPU"):
        run_training(spec(device="cuda"), workspace=tmp_path, split=tiny)


def test_people_read_the_best_epoch_numbered_from_one():
    """Events and the store count epochs from 0; the console line says the epoch the bar showed."""
    import io

    from recsys_gui.cli.common import ConsoleProgress

    out = io.StringIO()
    ConsoleProgress(stream=out).on_event(ev.RunFinished(status="completed", best_epoch=2, best_metrics={},
                                                        seconds=1.0, epochs_run=4))
    assert "best epoch 3" in out.getvalue()
    assert ev.shown_epoch(None) == "–"


def test_training_leaves_the_thread_count_alone(tiny, tmp_path):
    """The thread count is the entry point's to set (process_setup.apply_thread_count), never the
    library's: a GUI or a notebook that trains in-process keeps its own."""
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    run_training(spec(epochs=1, threads=target), workspace=tmp_path, split=tiny)
    assert torch.get_num_threads() == before


def _fit(model, split, callbacks=(), stop=None, **train):
    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.training.trainer import Trainer

    cfg = TrainConfig(**{"epochs": 2, "batch_size": 64, "seed": 0, "device": "cpu", "early_stop_metric": None,
                         "log_every_n_steps": 1, **train})
    return Trainer(cfg, callbacks=callbacks, stop=stop).fit(model, split, torch.device("cpu"))


def test_a_stop_during_pretraining_ends_the_run_before_the_models_own_steps(tiny):
    """ConvNCF's MF pre-training goes through the trainer: it reports progress and honours the stop
    token (it once ran a loop of its own in ``prepare``, silent and unstoppable)."""
    from recsys_gui.core.models import build_model

    token = StopToken()
    seen = []

    class StopAtSecondMessage:
        def on_event(self, e):
            seen.append(e)
            if sum(isinstance(x, ev.Message) for x in seen) == 2:  # "2 epochs", then "epoch 1/..."
                token.request_stop()

    model = build_model("cnn", {"embedding_dim": 8, "channels": 4, "pretrain_epochs": 50}, tiny.n_users,
                        tiny.n_items)
    fit = _fit(model, tiny, callbacks=[StopAtSecondMessage()], stop=token)
    texts = [e.text for e in seen if isinstance(e, ev.Message)]
    assert fit.status == "cancelled" and fit.epochs_run == 0
    assert texts[0] == "Pre-training BPR-MF embeddings: 50 epochs."
    assert texts[-1] == "Pre-training BPR-MF embeddings stopped in epoch 2."
    assert not any(isinstance(e, (ev.StepLogged, ev.EpochStarted)) for e in seen)


def test_a_resumed_run_does_not_pretrain_again(tiny, tmp_path, monkeypatch):
    """Its checkpoint holds the weights; training the MF ConvNCF starts from again would be wasted."""
    from recsys_gui.core.models.mf import MF

    cnn = {"embedding_dim": 8, "channels": 4, "pretrain_epochs": 2}
    first_spec = RunSpec(data=DataSpec(path="memory"), model="cnn", model_config=cnn,
                         train={"device": "cpu", "batch_size": 64, "epochs": 1, "early_stop_metric": None})
    first = run_training(first_spec, workspace=tmp_path, split=tiny)
    mf_steps = []
    real = MF.forward
    monkeypatch.setattr(MF, "forward", lambda self, batch: mf_steps.append(1) or real(self, batch))
    again = Recorder()
    resumed = dataclasses.replace(first_spec, train={**first_spec.train, "epochs": 2})
    run_training(resumed, workspace=tmp_path, split=tiny, callbacks=[again], resume_run_id=first.run_id)
    assert [e.epoch for e in again.events if isinstance(e, ev.EpochStarted)] == [1]
    assert not mf_steps


def test_the_batcher_is_cut_as_the_model_declares(tiny):
    """Negatives per positive come from ``batch_options()``, not from a config field looked up by name."""
    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.models import BatchOptions, build_model
    from recsys_gui.core.models.mf import MF
    from recsys_gui.core.training.distributed import DistContext
    from recsys_gui.core.training.trainer import make_batcher

    class FiveNegatives(MF):
        def batch_options(self):
            return BatchOptions(negatives=5)

    model = FiveNegatives(build_model("mf", {"negatives": 3}, tiny.n_users, tiny.n_items).config,
                          tiny.n_users, tiny.n_items)
    batcher = make_batcher(model, tiny, TrainConfig(batch_size=16), torch.device("cpu"), DistContext())
    assert next(iter(batcher.epoch(0))).neg.shape == (16, 5)


def test_the_trainer_reads_uses_ratings_from_the_capabilities(tiny):
    """A model that declares ``Capabilities(uses_ratings=True)`` is trained on the rating values."""
    from recsys_gui.core.config import TrainConfig
    from recsys_gui.core.models import Capabilities, build_model
    from recsys_gui.core.models.mf import MF
    from recsys_gui.core.training.distributed import DistContext
    from recsys_gui.core.training.trainer import make_batcher

    class Rated(MF):
        capabilities = Capabilities(batch_kind="pointwise", uses_ratings=True)

    values = np.arange(len(tiny.train), dtype=np.float32) + 2
    split = dataclasses.replace(tiny, train=dataclasses.replace(tiny.train, values=values))
    model = Rated(build_model("mf", {}, tiny.n_users, tiny.n_items).config, tiny.n_users, tiny.n_items)
    batch = next(iter(make_batcher(model, split, TrainConfig(batch_size=10_000), torch.device("cpu"),
                                   DistContext()).epoch(0)))
    assert sorted(batch.labels.tolist()) == sorted(values.tolist())


def test_set_context_is_a_method_of_every_model(tiny):
    """The trainer's module-level ``set_context`` (kept for older callers) calls the model's method;
    models that need no context inherit a no-op."""
    from recsys_gui.core.models import build_model
    from recsys_gui.core.models.base import Recommender
    from recsys_gui.core.training.trainer import set_context

    mf = build_model("mf", {}, tiny.n_users, tiny.n_items)
    assert type(mf).set_context is Recommender.set_context
    set_context(mf, tiny.known_for_test())
    calls = []
    mf.set_context = calls.append
    set_context(mf, tiny.train)
    assert calls == [tiny.train]
