"""Settings and spec documents are checked where they enter: non-finite numbers, wrong JSON types and
deep nesting are one line naming the file and the key, exit 2, and no run row is left behind."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core import config as cfgmod
from recsys_gui.core.config import TrainConfig
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import base as models
from recsys_gui.core.session import DataSpec, RunSpec

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "sample_data" / "tiny.csv"
NON_FINITE = ("nan", "inf", "-inf", float("nan"), float("inf"), float("-inf"))


def float_settings() -> list[tuple[type, str, str]]:
    """(config class, field, owner) for every float setting of the trainer and of every model."""
    out = [(TrainConfig, f.name, "the trainer") for f in dataclasses.fields(TrainConfig)
           if cfgmod.field_type(TrainConfig, f) is float]
    for cls in models.available_models().values():
        out += [(cls.config_cls, f.name, cls.label) for f in dataclasses.fields(cls.config_cls)
                if cfgmod.field_type(cls.config_cls, f) is float]
    return out


FLOAT_SETTINGS = float_settings()


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize(("cls", "name", "owner"), FLOAT_SETTINGS, ids=lambda x: getattr(x, "__name__", x))
def test_non_finite_floats_are_refused_for_every_setting(cls, name, owner, value):
    with pytest.raises(ConfigError, match=f"'{name}' setting of .* must be a finite number"):
        cfgmod.from_mapping(cls, {name: value}, owner)


@pytest.mark.parametrize(("name", "value"), [
    ("epochs", "inf"), ("epochs", "1e400"), ("epochs", "1.5"), ("epochs", True), ("lr", True),
    ("device", {"a": 1}), ("batch_size", "9" * 5000),
])
def test_wrong_typed_values_are_a_config_error(name, value):
    with pytest.raises(ConfigError, match=f"Setting '{name}' expects"):
        cfgmod.from_mapping(TrainConfig, {name: value}, "the trainer")


def test_whole_numbers_and_layer_lists_are_coerced():
    assert cfgmod.from_mapping(TrainConfig, {"epochs": "1e3", "batch_size": 64.0}, "t").epochs == 1000
    assert models.make_config("mlp", {"layers": [64, "32"]}).layers == (64, 32)
    with pytest.raises(ConfigError, match="whole numbers"):
        models.make_config("mlp", {"layers": [64.5]})


# ------------------------------------------------------------------------------------ spec documents

def good_spec() -> dict:
    return RunSpec(data=DataSpec(path=str(TINY), options={"min_user_count": 0, "dedupe": "last"}),
                   model="pop", train={"epochs": 1}).to_dict()


def changed(**parts) -> dict:
    doc = good_spec()
    for key, value in parts.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            if "." in inner:
                mid, leaf = inner.split(".")
                doc[outer][mid][leaf] = value
            else:
                doc[outer][inner] = value
        else:
            doc[key] = value
    return doc


BAD_SPECS = {
    "model 123": (changed(model=123), "'model'"),
    "options a list": (changed(**{"data.options": [1, 2]}), "'data.options'"),
    "lr NaN": (changed(train={"lr": float("nan")}), "'train.lr'"),
    "lr Infinity": (changed(train={"lr": float("inf")}), "'train.lr'"),
    "reg -Infinity": (changed(model="mf", model_config={"reg": float("-inf")}), "'model_config.reg'"),
    "min_user_count text": (changed(**{"data.options.min_user_count": "x"}), "'data.options.min_user_count'"),
    "header maybe": (changed(**{"data.options.header": "maybe"}), "'data.options.header'"),
    "min_rating NaN": (changed(**{"data.options.min_rating": float("nan")}), "'data.options.min_rating'"),
    "negative count": (changed(**{"data.options.min_item_count": -3}), "'data.options'"),
    "unknown option": (changed(**{"data.options.bogus": 1}), "'data.options.bogus'"),
    "split {}": (changed(split={}), "'split'"),
    "metrics 5": (changed(metrics=5), "'metrics'"),
    "metric unknown": (changed(metrics=["nope@10"]), "nope@10"),
    "data text": (changed(data="x"), "'data'"),
    "path a number": (changed(**{"data.path": 7}), "'data.path'"),
    "model_config a list": (changed(model_config=[]), "'model_config'"),
    "nested setting": (changed(train={"lr": {"a": [1]}}), "'train.lr'"),
    "top-level list": ([1], "JSON object"),
    "epochs too big": (changed(train={"epochs": 10**30}), "'epochs'"),
}


@pytest.mark.parametrize("doc, key", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_bad_spec_documents_are_one_line_naming_file_and_key(tmp_path, capsys, doc, key):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(doc))  # Python's json writes (and reads) NaN and Infinity
    ws = tmp_path / "ws"
    assert cli_main(["train", "--spec", str(path), "--workspace", str(ws), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not a usable run spec") and key in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not list(ws.glob("runs/*")), "a refused spec left a run behind"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"data": ' * 50_000 + "1" + "}" * 50_000])
def test_deeply_nested_spec_is_refused(tmp_path, capsys, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert cli_main(["train", "--spec", str(path), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not a usable run spec") and "nested too deeply" in err


def test_spec_file_that_never_ends_is_refused(tmp_path, capsys):
    big = tmp_path / "big.json"
    big.write_text(" " * (2 << 20) + "{}")
    assert cli_main(["train", "--spec", str(big), "--workspace", str(tmp_path / "ws")]) == 2
    assert "larger than" in capsys.readouterr().err


def test_from_dict_names_the_source_and_round_trips():
    doc = good_spec()
    assert RunSpec.from_dict(doc).to_dict() == doc
    with pytest.raises(ConfigError, match=r"^s\.json: not a usable run spec: 'data\.options\.header'"):
        RunSpec.from_dict(changed(**{"data.options.header": 1}), source="s.json")
    with pytest.raises(ConfigError, match=r"^Not a usable run spec: 'model'"):
        RunSpec.from_dict(changed(model=""))


def test_a_good_spec_file_still_trains(tmp_path, capsys):
    """The control: the checks refuse the bad documents above, not the ones the app writes."""
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(good_spec()))
    assert cli_main(["train", "--spec", str(path), "--workspace", str(tmp_path / "ws"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["model"] == "pop" and math.isfinite(out["test"]["ndcg@10"])


def test_the_cold_start_keys_of_a_spec_are_checked_where_the_others_are_and_round_trip():
    spec = RunSpec(data=DataSpec(path="x.csv", user_metadata="users.dat", features={"exclude": ["zip"]}),
                   model="mf")
    again = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again.data.user_metadata == "users.dat" and again.data.features == {"exclude": ["zip"]}
    for bad, key in (({"user_metadata": 3}, "data.user_metadata"), ({"features": [1]}, "data.features"),
                     ({"features": {"colour": 1}}, "data.features")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            RunSpec.from_dict({"data": {"path": "x.csv", **bad}, "model": "mf"}, source="spec.json")
