"""How training events become metric rows: one translation for the live writer and the rebuild."""

from __future__ import annotations

from typing import Any

from recsys_gui.core.training import events as ev


def metric_rows(event: ev.TrainingEvent) -> list[dict[str, Any]]:
    """The ``metrics`` table rows one event adds (none for events that carry no figures)."""
    if isinstance(event, ev.StepLogged):
        return [
            {"epoch": event.epoch, "step": event.global_step, "split": "train_step", "name": k, "value": v}
            for k, v in event.losses.items()
        ]
    if isinstance(event, ev.EpochEnded):
        return [
            *(
                {"epoch": event.epoch, "step": None, "split": "train", "name": k, "value": v}
                for k, v in event.losses.items()
            ),
            {
                "epoch": event.epoch,
                "step": None,
                "split": "time",
                "name": "epoch_seconds",
                "value": event.seconds,
            },
        ]
    if isinstance(event, ev.ValidationEnded):
        return [
            {"epoch": event.epoch, "step": None, "split": "valid", "name": k, "value": v}
            for k, v in event.metrics.items()
        ]
    if isinstance(event, ev.RunFinished):
        return [
            {"epoch": event.best_epoch, "step": None, "split": "test", "name": k, "value": v}
            for k, v in event.test_metrics.items()
        ]
    return []
