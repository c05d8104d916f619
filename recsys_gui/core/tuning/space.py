"""The search space of a model: derived from its settings' own metadata, overridable per setting.

A setting's range (``config.setting``'s min/max/choices) says what is *allowed*, not what is worth
trying: an embedding size may be 2 to 1024, a hidden layer 2 to 100,000. So a range spanning more
than two decades is searched on a log scale in a window around the model's default (a decade
either side for real numbers, a factor of 4 for whole numbers); learning rates and regularisation
are always searched on a log scale, because their effect is multiplicative.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recsys_gui.core import config as cfgmod
from recsys_gui.core.config import TrainConfig
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import base as models

TRAINER_SEARCHED = ("lr", "batch_size")  # trainer settings searched by default, beside the model's own
LOG_NAMES = re.compile(r"^(lr|.*_lr|reg|.*_reg|reg_.*|weight_decay|l2|alpha)$")
FLOAT_WINDOW, INT_WINDOW = 10.0, 4.0  # how far from the default a wide range is searched
WIDE_DECADES = 2.0


@dataclass(frozen=True)
class Param:
    """One searched setting: where it goes (model or trainer) and its range or choices."""

    name: str
    target: str  # "model" | "train"
    kind: str  # "float" | "int" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    default: Any = None

    def distribution(self):
        import optuna

        if self.kind == "choice":
            return optuna.distributions.CategoricalDistribution(list(self.choices or ()))
        if self.kind == "int":
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in (self.choices or ())
        return value is not None and self.low <= value <= self.high

    def grid(self) -> list[Any]:
        """A few points for grid search: the ends of the range and the default between them."""
        if self.kind == "choice":
            return list(self.choices or ())
        lo, hi = self.low, self.high
        mid = self.default if self.contains(self.default) else (
            math.sqrt(lo * hi) if self.log else (lo + hi) / 2)
        points = [lo, mid, hi]
        if self.kind == "int":
            points = [round(p) for p in points]
        return sorted(set(points))

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.name}=" + "|".join(map(str, self.choices or ()))
        return f"{self.name}={_num(self.low)}:{_num(self.high)}" + (":log" if self.log else "")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["choices"] = list(self.choices) if self.choices is not None else None
        return d


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def suggest(self, trial) -> tuple[dict[str, Any], dict[str, Any]]:
        """Ask an Optuna trial for every setting; returns (model settings, trainer settings)."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "choice":
                values[p.name] = trial.suggest_categorical(p.name, list(p.choices or ()))
            elif p.kind == "int":
                values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
            else:
                values[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=p.log)
        return self.split_params(values)

    def split_params(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A trial's settings as (model settings, trainer settings)."""
        target = {p.name: p.target for p in self.params}
        model_cfg = {k: v for k, v in params.items() if target.get(k) == "model"}
        return model_cfg, {k: v for k, v in params.items() if target.get(k) == "train"}

    def defaults(self) -> dict[str, Any]:
        """The defaults that lie inside the space: the first trial, so tuned is never worse on valid."""
        return {p.name: p.default for p in self.params if p.contains(p.default)}

    def grid(self) -> dict[str, list[Any]]:
        return {p.name: p.grid() for p in self.params}

    def describe(self) -> str:
        return ", ".join(p.describe() for p in self.params)

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]


def search_space(model: str, overrides: str | None = None, *, base_train: Mapping[str, Any] | None = None,
                 base_model: Mapping[str, Any] | None = None) -> SearchSpace:
    """The space searched for ``model``.

    Without ``overrides``: every plain numeric setting of the model (not the advanced ones) plus the
    trainer's learning rate and batch size. With them (``"lr=1e-4:1e-1:log,dropout=0:0.7,variant"``):
    exactly the settings named, each with the range given or, for a bare name, its derived range.
    ``base_*`` are the run's own values (``--set``), which become the defaults the ranges centre on.
    """
    cls = models.get_model_class(model)
    defaults = _defaults(cls, base_model or {}, base_train or {})
    fields = {f.name: ("model", cls.config_cls, f) for f in dataclasses.fields(cls.config_cls)}
    for f in dataclasses.fields(TrainConfig):
        fields.setdefault(f.name, ("train", TrainConfig, f))
    if not overrides or not overrides.strip():
        # a closed-form model (EASE, and iALS's sweeps) has no learning rate, and its batches are work
        trained = cls.capabilities.iterative and cls.tunes_trainer
        names = [n for n, (target, _, f) in fields.items()
                 if (target == "model" and _searchable_by_default(cls.config_cls, f))
                 or (trained and n in TRAINER_SEARCHED)]
        if not names:
            raise ConfigError(f"{cls.label} has no settings to search.")
        return SearchSpace(tuple(_derived(n, *fields[n], defaults.get(n)) for n in names))
    params: list[Param] = []
    for item in _split_items(overrides):
        name, eq, rng = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"--search: {cls.label} has no setting '{name}'. Known settings: {known}.")
        if name in {p.name for p in params}:
            raise ConfigError(f"--search names '{name}' twice.")
        target, owner, f = fields[name]
        if eq:
            params.append(_given(name, target, owner, f, rng.strip(), defaults.get(name)))
        else:
            params.append(_derived(name, target, owner, f, defaults.get(name), named=True))
    if not params:
        raise ConfigError("--search names no setting; e.g. --search lr,dropout or lr=1e-4:1e-1:log.")
    return SearchSpace(tuple(params))


def _defaults(cls: type[models.Recommender], base_model: Mapping[str, Any],
              base_train: Mapping[str, Any]) -> dict[str, Any]:
    model_defaults = cfgmod.to_dict(models.make_config(cls.name, dict(base_model)))
    train_values = {**cls.train_defaults, **base_train}
    train = cfgmod.to_dict(cfgmod.from_mapping(TrainConfig, train_values, "the trainer"))
    return {**train, **model_defaults}


def _searchable_by_default(owner: type, f: dataclasses.Field) -> bool:
    """Plain numbers only: a choice (an objective, a variant) changes what the model is, so it is
    searched only when named; advanced settings are about speed, not quality."""
    tp = cfgmod.field_type(owner, f)
    return (tp in (int, float) and tp is not bool and not f.metadata.get("advanced")
            and not f.metadata.get("choices"))


def _derived(name: str, target: str, owner: type, f: dataclasses.Field, default: Any,
             named: bool = False) -> Param:
    """A setting's range from its metadata, narrowed around ``default`` when the allowed range is wide."""
    meta = f.metadata
    tp = cfgmod.field_type(owner, f)
    if meta.get("choices"):
        return Param(name, target, "choice", choices=tuple(meta["choices"]), default=default)
    if tp is bool:
        return Param(name, target, "choice", choices=(False, True), default=default)
    if tp not in (int, float):
        raise ConfigError(f"--search: '{name}' is not a number or a choice; give it with --set instead.")
    lo, hi = meta.get("min"), meta.get("max")
    is_int = tp is int
    wide = _spans_decades(lo, hi, default)
    # sizes and counts act multiplicatively too: 1 to 12 layers is searched on a log scale
    log = bool(LOG_NAMES.match(name)) or wide or (is_int and lo is not None and lo >= 1 and hi / lo > 10)
    if log and (wide or LOG_NAMES.match(name)):
        if default is None or default <= 0:
            raise ConfigError(f"--search: '{name}' has no positive default to centre a log range on; "
                              f"give its range, e.g. {name}=1e-6:1e-2:log.")
        factor = INT_WINDOW if is_int else FLOAT_WINDOW
        low, high = default / factor, default * factor
        if lo is not None:
            low = max(low, lo)
        if hi is not None:
            high = min(high, hi)
        if is_int:
            low, high = max(1, math.ceil(low)), max(1, math.floor(high))
    else:  # the whole allowed range, linear or log
        if lo is None or hi is None:
            raise ConfigError(f"--search: '{name}' has no bounded range; give one, e.g. {name}=LOW:HIGH.")
        low, high = (int(lo), int(hi)) if is_int else (float(lo), float(hi))
    if low >= high:
        if named:
            raise ConfigError(f"--search: '{name}' has nothing to search between {low} and {high}; "
                              f"give its range, e.g. {name}=LOW:HIGH.")
        low, high = (low, low + 1) if is_int else (low, high)
    return Param(name, target, "int" if is_int else "float", low, high, log, default=default)


def _spans_decades(lo: float | None, hi: float | None, default: Any) -> bool:
    """Whether an allowed range is wider than two decades (measured from the default when it starts at 0)."""
    if hi is None:
        return True
    if lo is not None and lo > 0:
        return math.log10(hi / lo) >= WIDE_DECADES
    return isinstance(default, (int, float)) and default > 0 and math.log10(hi / default) > WIDE_DECADES - 1


def _given(name: str, target: str, owner: type, f: dataclasses.Field, text: str, default: Any) -> Param:
    """A range typed by the user: LOW:HIGH[:log] for numbers, A|B|C for choices."""
    tp = cfgmod.field_type(owner, f)
    if "|" in text or tp in (str, bool):
        choices = tuple(cfgmod.coerce(owner, name, c.strip()) for c in text.split("|") if c.strip())
        allowed = f.metadata.get("choices")
        bad = [c for c in choices if allowed and c not in allowed]
        if not choices or bad:
            raise ConfigError(f"--search {name}={text}: expected choices separated by '|'"
                              + (f" from {', '.join(map(str, allowed))}" if allowed else "") + ".")
        return Param(name, target, "choice", choices=choices, default=default)
    parts = [p.strip() for p in text.split(":")]
    scale = parts.pop().lower() if len(parts) == 3 else "linear"
    if len(parts) != 2 or scale not in ("log", "linear", "lin"):
        raise ConfigError(f"--search {name}={text}: expected LOW:HIGH or LOW:HIGH:log.")
    low, high = (cfgmod.coerce(owner, name, p) for p in parts)
    if tp not in (int, float) or low is None or high is None:
        raise ConfigError(f"--search {name}={text}: '{name}' is not a number.")
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    for v in (low, high):
        if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"--search {name}={text}: {v} is outside the allowed range "
                              f"{_num(lo)} to {_num(hi)}.")
    if low >= high:
        raise ConfigError(f"--search {name}={text}: the low end must be below the high end.")
    log = scale == "log"
    if log and low <= 0:
        raise ConfigError(f"--search {name}={text}: a log range must start above 0.")
    return Param(name, target, "int" if tp is int else "float", low, high, log, default=default)


def _split_items(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _num(v: Any) -> str:
    return "–" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
