"""Checks of a run spec document (a spec.json file, or a stored run's spec) before anything is built from it.

A spec file may be hand-edited or crafted, and Python's json reads NaN and Infinity. Each key is
checked for the JSON type the app writes, so a wrong one is refused with a message naming the key
instead of a TypeError deep in the loader or the trainer. The settings' own ranges are checked
later by ``config.from_mapping``, as for the CLI's flags and the GUI's forms.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Mapping
from typing import Any

from recsys_gui.core.errors import ConfigError

SPEC_KEYS = ("data", "model", "split", "model_config", "train", "metrics", "name")
DATA_PATH_KEYS = ("path", "train", "valid", "test", "item_metadata", "user_metadata")


class SpecProblem(Exception):
    """One bad key of a spec document; ``check_spec_document`` turns it into the user's message."""


def check_spec_document(doc: Any, source: str | None = None) -> None:
    """Raise a ConfigError naming ``source`` and the first bad key, unless ``doc`` is a usable spec."""
    try:
        _check_document(doc)
    except SpecProblem as exc:
        where = f"{source}: not a usable run spec" if source else "Not a usable run spec"
        raise ConfigError(f"{where}: {exc}") from None


def _check_document(doc: Any) -> None:
    if not isinstance(doc, Mapping):
        raise SpecProblem(f"expected a JSON object with {', '.join(SPEC_KEYS)}, got {_kind(doc)}.")
    unknown = [k for k in doc if k not in SPEC_KEYS]
    if unknown:
        raise SpecProblem(f"unknown key {_shown(unknown[0])} (known: {', '.join(SPEC_KEYS)}).")
    for key in ("data", "model"):
        if key not in doc:
            raise SpecProblem(f"'{key}' is missing.")
    _check_data(doc["data"])
    if not isinstance(doc["model"], str) or not doc["model"].strip():
        raise SpecProblem(f"'model' must be a model name (text), got {_shown(doc['model'])}.")
    if "split" in doc:
        _text(doc["split"], "split", "a split such as 'ratio:8,1,1'")
    for key in ("model_config", "train"):
        if key in doc:
            _check_settings(doc[key], key)
    metrics = doc.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list):
            raise SpecProblem(f"'metrics' must be a list of metric names, got {_shown(metrics)}.")
        for i, m in enumerate(metrics):
            _text(m, f"metrics[{i}]", "a metric name such as 'ndcg@10'")
    if doc.get("name") is not None:
        _text(doc["name"], "name", "text or null")


def _check_data(data: Any) -> None:
    if not isinstance(data, Mapping):
        raise SpecProblem(f"'data' must be an object (path, train, valid, test, item_metadata, options), "
                          f"got {_shown(data)}.")
    known = (*DATA_PATH_KEYS, "options", "features")
    unknown = [k for k in data if k not in known]
    if unknown:
        raise SpecProblem(f"unknown key 'data.{_plain(unknown[0])}' (known: {', '.join(known)}).")
    for key in DATA_PATH_KEYS:
        if data.get(key) is not None:
            _text(data[key], f"data.{key}", "a file path or null")
    features = data.get("features")
    if features is not None:
        _check_feature_options(features)
    options = data.get("options", {})
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise SpecProblem(f"'data.options' must be an object of loader settings, got {_shown(options)}.")
    _check_load_options(options)


def _check_feature_options(features: Any) -> None:
    from recsys_gui.core.data.features import FeatureOptions

    if not isinstance(features, Mapping):
        raise SpecProblem(f"'data.features' must be an object of feature options, got {_shown(features)}.")
    try:
        FeatureOptions.from_mapping(dict(features))
    except ConfigError as exc:
        raise SpecProblem(f"'data.features': {exc}") from None


def _check_load_options(options: Mapping[str, Any]) -> None:
    from recsys_gui.core.data.loaders import LoadOptions

    hints = typing.get_type_hints(LoadOptions)
    names = [f.name for f in dataclasses.fields(LoadOptions)]
    for key, value in options.items():
        if key not in names:
            raise SpecProblem(f"unknown key 'data.options.{_plain(key)}' (known: {', '.join(names)}).")
        _check_typed(value, hints[key], f"data.options.{key}")
    try:
        LoadOptions(**options)
    except ConfigError as exc:
        raise SpecProblem(f"'data.options': {exc}.") from None


def _check_settings(values: Any, key: str) -> None:
    """Model or trainer settings: names to JSON scalars (a list of whole numbers for layer sizes)."""
    if not isinstance(values, Mapping):
        raise SpecProblem(f"'{key}' must be an object of settings, got {_shown(values)}.")
    for name, value in values.items():
        where = f"{key}.{name}"
        items = value if isinstance(value, list) else [value]
        for v in items:
            if v is not None and not isinstance(v, (str, int, float, bool)):
                raise SpecProblem(f"'{_plain(where)}' must be a number, text, true/false or a list of "
                                  f"numbers, got {_shown(value)}.")
            if isinstance(v, float) and not math.isfinite(v):
                raise SpecProblem(f"'{_plain(where)}' must be a finite number, got {v}.")
            if isinstance(v, str) and "\0" in v:
                raise SpecProblem(f"'{_plain(where)}' holds a NUL character.")


def _check_typed(value: Any, hint: Any, where: str) -> None:
    """``value`` against a LoadOptions annotation: str, int, float, bool, Literal, or Optional of one."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is typing.Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(map(str, typing.get_args(hint)))
            raise SpecProblem(f"'{where}' must be one of {allowed}, got {_shown(value)}.")
        return
    ok = {
        str: isinstance(value, str) and "\0" not in value,
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
    }.get(hint, True)
    if not ok:
        expected = {str: "text", bool: "true, false or null", int: "a whole number",
                    float: "a finite number"}[hint]
        raise SpecProblem(f"'{where}' must be {expected}, got {_shown(value)}.")


def _text(value: Any, where: str, expected: str) -> None:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise SpecProblem(f"'{where}' must be {expected}, got {_shown(value)}.")


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false",
            type(None): "null"}.get(
        type(value), type(value).__name__)


def _plain(key: Any, limit: int = 60) -> str:
    text = str(key)
    return text if len(text) <= limit else text[:limit] + "…"


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def _shown(value: Any) -> str:
    """The value's repr cut short (reprlib never walks all of a huge or deep value): one readable line."""
    return _SHORT.repr(value)
