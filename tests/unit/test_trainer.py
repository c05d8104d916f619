"""The trainer: stop within one batch, resume from the last checkpoint, divergence, early stopping."""

from __future__ import annotations

import math
import sys

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
    first = run_training(spec(epochs=6, early_stop_metric=None), workspace=tmp_path, callbacks=[rec], stop=token,
                         split=tiny)
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
    monkeypatch.setattr(MF, "forward", lambda self, batch: {k: v * float("nan") for k, v in real(self, batch).items()})
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

    for e in (ev.StepLogged(0, 1, 2, {"loss": 0.5}, 1e-3, 10.0), ev.RunFinished("completed", 3, {"a": 1.0}, 2.0)):
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


_MALLOC_PROBE = """
import ctypes, sys
from recsys_gui.core.training.allocator import keep_freed_memory
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def mapped_for_a_block():
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(16 << 20)
    grew = libc.mallinfo2().hblkhd > before
    libc.free(p)
    return grew
print(mapped_for_a_block(), keep_freed_memory(), mapped_for_a_block())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")
def test_training_keeps_freed_blocks_in_the_process():
    """After ``keep_freed_memory`` a 16 MB block comes from the heap, not from pages mapped for it
    (and unmapped again on free, to be faulted in anew by the next training step)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], capture_output=True, text=True, timeout=120)
    if "mallinfo2" in out.stderr:
        pytest.skip("this C library has no mallinfo2")
    assert out.stdout.split() == ["True", "True", "False"], out.stderr


def test_cpu_training_sets_the_allocator_up(tiny, tmp_path):
    from recsys_gui.core.training import allocator

    run_training(spec(epochs=1), workspace=tmp_path, split=tiny)
    assert allocator._done == sys.platform.startswith("linux")
