"""Progress as a stream of small frozen events, each a plain JSON-serialisable dict on the wire.

Epochs are numbered from 0 in events and in the store; people see them numbered from 1.
The same stream reaches Qt as signals, the CLI as a progress bar, torchrun runs as events.jsonl
and the run store as rows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


def shown_epoch(epoch: int | None) -> str:
    """An epoch as people read it: numbered from 1 ("–" when there is none)."""
    return "–" if epoch is None else str(int(epoch) + 1)


@dataclass(frozen=True)
class TrainingEvent:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> TrainingEvent:
        d = dict(d)
        cls = EVENT_TYPES[d.pop("kind")]
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class RunStarted(TrainingEvent):
    kind: ClassVar[str] = "run_started"
    run_id: str
    model: str
    n_users: int
    n_items: int
    n_train: int
    device: str
    world_size: int = 1
    epochs: int = 0
    batches_per_epoch: int = 0


@dataclass(frozen=True)
class EpochStarted(TrainingEvent):
    kind: ClassVar[str] = "epoch_started"
    epoch: int
    n_batches: int


@dataclass(frozen=True)
class StepLogged(TrainingEvent):
    kind: ClassVar[str] = "step"
    epoch: int
    step: int
    global_step: int
    losses: dict[str, float]
    lr: float
    batches_per_s: float
    gpu_memory_mb: float | None = None


@dataclass(frozen=True)
class EpochEnded(TrainingEvent):
    kind: ClassVar[str] = "epoch_ended"
    epoch: int
    losses: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class ValidationEnded(TrainingEvent):
    kind: ClassVar[str] = "validation"
    epoch: int
    metrics: dict[str, float]
    is_best: bool
    seconds: float = 0.0


@dataclass(frozen=True)
class CheckpointSaved(TrainingEvent):
    kind: ClassVar[str] = "checkpoint"
    epoch: int
    path: str
    is_best: bool


@dataclass(frozen=True)
class Message(TrainingEvent):
    kind: ClassVar[str] = "message"
    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunFinished(TrainingEvent):
    kind: ClassVar[str] = "run_finished"
    status: str
    best_epoch: int | None
    best_metrics: dict[str, float]
    seconds: float
    epochs_run: int = 0
    test_metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailed(TrainingEvent):
    kind: ClassVar[str] = "run_failed"
    error_type: str
    message: str
    traceback: str = ""


EVENT_TYPES: dict[str, type[TrainingEvent]] = {
    c.kind: c for c in (RunStarted, EpochStarted, StepLogged, EpochEnded, ValidationEnded, CheckpointSaved,
                        Message, RunFinished, RunFailed)
}
