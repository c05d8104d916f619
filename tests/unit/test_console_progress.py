"""The CLI's progress line shows an epoch's own validation beside it, never the previous epoch's."""

from __future__ import annotations

import io
import re

from recsys_gui.cli.common import ConsoleProgress
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.training import events as ev


class Recorder:
    def __init__(self) -> None:
        self.valid: dict[int, float] = {}

    def on_event(self, e) -> None:
        if isinstance(e, ev.ValidationEnded):
            self.valid[e.epoch + 1] = e.metrics["ndcg@10"]


def epoch_lines(text: str) -> dict[int, str]:
    return {int(m.group(1)): line for line in text.splitlines() if (m := re.match(r"epoch (\d+)/", line))}


def test_each_epoch_line_of_a_real_run_shows_that_epochs_validation(tiny, tmp_path):
    out, seen = io.StringIO(), Recorder()
    spec = RunSpec(data=DataSpec(path="memory"), model="mf", model_config={"embedding_dim": 8},
                   train={"epochs": 4, "batch_size": 64, "device": "cpu", "early_stop_metric": "ndcg@10",
                          "eval_every_n_epochs": 2}, metrics=("ndcg@10",))
    run_training(spec, workspace=tmp_path, split=tiny, callbacks=[ConsoleProgress(stream=out), seen])
    lines = epoch_lines(out.getvalue())
    assert sorted(lines) == [1, 2, 3, 4] and sorted(seen.valid) == [2, 4]
    for epoch, line in lines.items():
        if epoch in seen.valid:
            assert f"valid ndcg@10 {seen.valid[epoch]:.4f}" in line, (epoch, line)
        else:
            assert "valid" not in line, (epoch, line)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_redraws_the_epoch_with_its_validation_and_steps_show_none():
    out = Terminal()
    p = ConsoleProgress(stream=out)
    for e in (ev.RunStarted("r", "mf", 10, 10, 100, "cpu", epochs=2),
              ev.EpochStarted(0, 2), ev.StepLogged(0, 1, 2, {"loss": 0.9}, 0.1, 1.0),
              ev.EpochEnded(0, {"loss": 0.9}, 1),
              ev.CheckpointSaved(0, "best.pt", True), ev.ValidationEnded(0, {"ndcg@10": 0.1111}, True),
              ev.EpochStarted(1, 2), ev.StepLogged(1, 0, 3, {"loss": 0.5}, 0.1, 1.0)):
        p.on_event(e)
    frames = [f for f in out.getvalue().split("\r\033[K") if f.startswith("epoch")]
    assert any(f.startswith("epoch 1/2") and "0.1111" in f for f in frames)
    assert all("0.1111" not in f for f in frames if f.startswith("epoch 2/2")), frames
