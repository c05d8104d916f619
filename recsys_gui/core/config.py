"""Settings as frozen dataclasses whose field metadata (label, range, help) drive the CLI and the GUI forms.

A leaf module: imports nothing from the package but the errors.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from recsys_gui.core.errors import ConfigError


def setting(default: Any, label: str, help: str = "", *, min: float | None = None,
            max: float | None = None, choices: tuple[Any, ...] | None = None,
            advanced: bool = False) -> Any:
    """A dataclass field with the metadata forms and `recsys-gui models` read."""
    meta = {"label": label, "help": help, "min": min, "max": max, "choices": choices, "advanced": advanced}
    return field(default=default, metadata=meta)


def field_type(cls: type, f: dataclasses.Field) -> type:
    """The plain Python type of a field (the non-None member of an Optional)."""
    hints = typing.get_type_hints(cls)
    tp = hints[f.name]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0]
    return tp


def is_optional(cls: type, f: dataclasses.Field) -> bool:
    tp = typing.get_type_hints(cls)[f.name]
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def coerce(cls: type, name: str, value: Any) -> Any:
    """Turn a CLI/GUI value (often a string) into the field's type, with a clear error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"Unknown setting '{name}'. Known settings: {known}.")
    f = fields[name]
    tp = field_type(cls, f)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
        if is_optional(cls, f):
            return None
        raise ConfigError(f"Setting '{name}' needs a value.")
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if not isinstance(value, (bool, int)):
                raise TypeError(value)
            return bool(value)
        if tp is int:
            return _whole_number(value)
        if tp is float:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TypeError(value)  # float(True) is 1.0, but a JSON true is no learning rate
            return float(value)
        if tp is str:
            if not isinstance(value, (str, int, float)):
                raise TypeError(value)
            return str(value)
        if typing.get_origin(tp) is tuple or tp is tuple:
            if isinstance(value, str):
                parts = [v for v in value.strip("()[] ").split(",") if v.strip()]
            elif isinstance(value, (list, tuple)):
                parts = list(value)
            else:
                raise TypeError(value)
            return tuple(_whole_number(v) for v in parts)
    except (TypeError, ValueError, OverflowError):
        expected = "whole numbers separated by commas" if tp is tuple or typing.get_origin(tp) is tuple \
            else getattr(tp, "__name__", tp)
        raise ConfigError(f"Setting '{name}' expects {expected}, got {_shown(value)}.") from None
    return value


def _whole_number(value: Any) -> int:
    """An int from an int, an integral float or its text ("3", "3.0", "1e3"); refuses "1.5", "inf", true.

    int(float(text)) alone truncated 1.5 to 1 and raised OverflowError (a traceback) on "inf".
    """
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            value = float(value)
    if not isinstance(value, float) or not value.is_integer():
        raise ValueError(value)
    return int(value)


def _shown(value: Any, limit: int = 60) -> str:
    """The repr of a bad value, cut short: a message stays one readable line whatever was typed."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def validate_ranges(cfg: Any, owner: str) -> None:
    """Check every field against its min/max/choices metadata; a float must be finite.

    NaN compares false with every bound, so without the finiteness check it passed every range and
    reached the optimiser (a traceback from torch) or the loss (a "lower the learning rate" hint).
    """
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if v is None or isinstance(v, (tuple, list)):
            continue
        lo, hi, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
        label = f"The '{f.name}' setting of {owner}"
        if choices is not None and v not in choices:
            raise ConfigError(f"{label} must be one of {', '.join(map(str, choices))}. Got {_shown(v)}.")
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{label} must be a finite number. Got {v}.")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if lo is not None and v < lo:
                raise ConfigError(f"{label} must be at least {lo}. Got {v}.")
            if hi is not None and v > hi:
                raise ConfigError(f"{label} must be at most {hi}. Got {v}.")


def from_mapping(cls: type, values: typing.Mapping[str, Any], owner: str) -> Any:
    """Build and validate a config from user-given values (strings allowed)."""
    kwargs = {k: coerce(cls, k, v) for k, v in values.items()}
    cfg = cls(**kwargs)
    validate_ranges(cfg, owner)
    check = getattr(cfg, "validate", None)
    if callable(check):
        check()
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()}


def describe_fields(cls: type) -> list[dict[str, Any]]:
    """Field descriptions (name, type, default, label, range, help) for forms and `models --json`."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append({
            "name": f.name, "type": getattr(field_type(cls, f), "__name__", "str"),
            "optional": is_optional(cls, f),
            "default": list(default) if isinstance(default, tuple) else default,
            "label": f.metadata.get("label", f.name), "help": f.metadata.get("help", ""),
            "min": f.metadata.get("min"), "max": f.metadata.get("max"),
            "choices": list(f.metadata["choices"]) if f.metadata.get("choices") else None,
            "advanced": f.metadata.get("advanced", False),
        })
    return out


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How the trainer runs; models may change the defaults through ``train_defaults``."""

    epochs: int = setting(100, "Epochs", "Maximum number of passes over the training data.",
                          min=1, max=100000)
    batch_size: int = setting(2048, "Batch size", "Training examples per step.", min=1, max=10_000_000)
    lr: float = setting(1e-3, "Learning rate", "Adam step size.", min=1e-7, max=10.0)
    weight_decay: float = setting(0.0, "Weight decay", "L2 penalty applied by the optimiser.",
                                  min=0.0, max=1.0)
    seed: int = setting(2020, "Seed", "Seeds every random draw; the same seed gives the same run on CPU.",
                        min=0, max=2**31 - 1)
    device: str = setting("auto", "Device", "auto picks CUDA when present, else CPU.")
    amp: bool = setting(False, "Mixed precision (bf16)", "CUDA only: bfloat16 autocast.", advanced=True)
    grad_clip: float | None = setting(None, "Gradient clipping", "Clip the gradient norm to this value.",
                                      min=0.0, advanced=True)
    log_every_n_steps: int = setting(20, "Log every N steps", "How often losses are read back and plotted.",
                                     min=1, advanced=True)
    eval_every_n_epochs: int = setting(1, "Validate every N epochs", "Validation schedule.", min=1, max=10000)
    early_stop_metric: str | None = setting(
        "ndcg@10", "Early-stopping metric",
        "Validation metric that picks the best epoch (none: keep the last).")
    patience: int = setting(10, "Patience", "Validations without improvement before stopping.",
                            min=1, max=10000)
    threads: int | None = setting(None, "CPU threads", "torch threads on CPU (none: library default).",
                                  min=1, max=1024, advanced=True)
    # Private training (user-level differential privacy, core/training/privacy). Under it an epoch is
    # one expected pass over the users (1/q steps) and batch_size is not used.
    dp_epsilon: float | None = setting(
        None, "Private training: target ε",
        "Train with user-level differential privacy spending at most this ε (none: ordinary training). "
        "Smaller is more private and less accurate; MF, NeuMF, MLP and Mult-VAE.", min=0.01, max=1000.0)
    dp_delta: float | None = setting(
        None, "Private training: δ",
        "Chance the ε guarantee may fail; keep it below 1/number of users (none: 1/number of users).",
        min=1e-12, max=0.1)
    dp_clip_norm: float = setting(
        0.05, "Private training: per-user clipping norm",
        "Each user's gradient on the shared parameters is scaled down to at most this norm.",
        min=1e-6, max=1e6, advanced=True)
    dp_sample_rate: float = setting(
        0.25, "Private training: user sampling rate q",
        "Each step takes every user independently with this probability (Poisson sampling).",
        min=1e-6, max=1.0, advanced=True)
    dp_examples_per_user: int = setting(
        32, "Private training: examples per user and step",
        "Training examples drawn from each sampled user per step (Mult-VAE: the user's one row).",
        min=1, max=100000, advanced=True)
