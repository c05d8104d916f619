"""Reproducible bundles (issue 26): what a bundle holds, and a reproduction that gives the same figures."""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_gui.core.bundle import DataFiles, read_bundle, reproduce_bundle, write_bundle
from recsys_gui.core.errors import ConfigError, DataChangedError, ExportError, RecsysError
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "interactions.csv"
TINY = ROOT / "sample_data" / "tiny.csv"


def _train(ws: Path, model: str, epochs: int = 2, **data: str) -> str:
    spec = RunSpec(
        data=DataSpec(**(data or {"path": str(SAMPLE)})),
        model=model,
        train={"epochs": epochs, "device": "cpu", "seed": 7},
        name=f"{model}-baseline",
    )
    return run_training(spec, workspace=ws).run_id


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """pop and mf (2 epochs) on sample_data/interactions.csv, as the issue asks."""
    ws = tmp_path_factory.mktemp("bundle") / "ws"
    return ws, {m: _train(ws, m) for m in ("pop", "mf")}


def cli(*argv: str) -> argparse.Namespace:
    from recsys_gui.cli import bundle_cmd

    parser = argparse.ArgumentParser()
    bundle_cmd.register(parser.add_subparsers())
    return parser.parse_args(list(argv))


def test_a_bundle_holds_spec_fingerprint_split_ids_metrics_and_environment(sample_runs, tmp_path):
    ws, runs = sample_runs
    info = write_bundle(ws, "mf-baseline", tmp_path / "run.zip")  # by the run's name
    row = RunStore(ws).get_run(runs["mf"])
    assert info.run_id == row["id"]
    with zipfile.ZipFile(info.path) as zf:
        names = set(zf.namelist())
        assert {
            "manifest.json",
            "spec.json",
            "metrics.json",
            "environment.json",
            "requirements.txt",
            "split.parquet",
        } <= names
        assert not any(n.startswith(("data/", "checkpoint/")) for n in names)
        manifest = json.loads(zf.read("manifest.json"))
        metrics = json.loads(zf.read("metrics.json"))
        env = json.loads(zf.read("environment.json"))
        packages = zf.read("requirements.txt").decode().splitlines()
        split = pd.read_parquet(io.BytesIO(zf.read("split.parquet")))
        assert json.loads(zf.read("spec.json")) == row["spec"]
    assert manifest["data_fingerprint"] == row["data_fingerprint"]
    assert (
        manifest["data"]["path"]["file"] == "interactions.csv"
        and len(manifest["data"]["path"]["sha256"]) == 64
    )
    assert metrics["test"] == row["test"] and metrics["valid"] == row["valid"]
    assert [m["epoch"] for m in metrics["history"] if m["split"] == "valid" and m["name"] == "ndcg@10"] == [
        0,
        1,
    ]
    assert env["torch"] == torch.__version__ and env["cpu"] and "cuda" in env and "gpus" in env
    assert any(p.lower().startswith("torch==") for p in packages)
    notes = json.loads(row["notes"])["split"]
    counts = split["part"].value_counts()
    assert {p: int(counts[p]) for p in ("train", "valid", "test")} == {
        p: notes[f"{p}_rows"] for p in ("train", "valid", "test")
    }
    raw = pd.read_csv(SAMPLE)
    assert set(split["user"]) == set(raw["user_id"]) and set(split["item"]) <= set(raw["item_id"])


@pytest.mark.parametrize("model", ["pop", "mf"])
def test_reproduction_on_the_cpu_gives_the_same_test_ndcg(sample_runs, tmp_path, model, capsys):
    ws, runs = sample_runs
    bundle = tmp_path / f"{model}.zip"
    args = cli("bundle", runs[model], "--out", str(bundle), "--workspace", str(ws))
    assert args.func(args) == 0
    args = cli(
        "reproduce", str(bundle), "--data", str(SAMPLE), "--workspace", str(tmp_path / "ws2"), "--json"
    )
    capsys.readouterr()
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) >= {"bundled", "reproduced", "max_abs_diff"}
    assert abs(result["reproduced"]["ndcg@10"] - result["bundled"]["ndcg@10"]) <= 1e-6
    assert result["max_abs_diff"] <= 1e-6 and result["matches"]
    new = RunStore(tmp_path / "ws2").get_run(result["run_id"])
    assert new["data_fingerprint"] == RunStore(ws).get_run(runs[model])["data_fingerprint"]
    assert runs[model] in new["note"]


def test_other_data_is_refused_before_any_training(sample_runs, tmp_path):
    ws, runs = sample_runs
    bundle = write_bundle(ws, runs["pop"], tmp_path / "pop.zip").path
    other = tmp_path / "other.csv"
    other.write_bytes(SAMPLE.read_bytes()[:20000])
    with pytest.raises(DataChangedError, match=r"other\.csv.*not the data of run .*fingerprint") as err:
        reproduce_bundle(bundle, DataFiles(data=str(other)), workspace=tmp_path / "ws3")
    assert "\n" not in str(err.value) and err.value.exit_code == 2
    assert RunStore(tmp_path / "ws3").list_runs() == []


def test_with_data_and_checkpoint_a_bundle_reproduces_on_its_own(tmp_path):
    data = tmp_path / "events.csv"
    data.write_bytes(TINY.read_bytes())
    run = _train(tmp_path / "ws", "mf", path=str(data))
    bundle = write_bundle(tmp_path / "ws", run, tmp_path / "b.zip", with_data=True, with_checkpoint=True).path
    data.unlink()  # the original is gone: the bundle's copy is used
    with zipfile.ZipFile(bundle) as zf:
        assert "data/path/events.csv" in zf.namelist()
        state = torch.load(io.BytesIO(zf.read("checkpoint/best.pt")), weights_only=True)
    assert state
    result = reproduce_bundle(bundle, DataFiles(), workspace=tmp_path / "ws2")
    assert result.matches and result.bundled["ndcg@10"] == pytest.approx(
        result.reproduced["ndcg@10"], abs=1e-6
    )
    spec = RunStore(tmp_path / "ws2").get_run(result.run_id)["spec"]
    assert Path(spec["data"]["path"]).is_relative_to(tmp_path / "ws2")


def test_a_bundle_without_data_asks_for_it(sample_runs, tmp_path):
    ws, runs = sample_runs
    bundle = write_bundle(ws, runs["pop"], tmp_path / "pop.zip").path
    with pytest.raises(ConfigError, match=r"holds no data.*--data FILE.*interactions\.csv"):
        reproduce_bundle(bundle, DataFiles(), workspace=tmp_path / "ws2")


def test_predefined_split_runs_reproduce_from_their_three_files(tmp_path):
    frame = pd.read_csv(TINY)
    part_of_row = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2])[np.arange(len(frame)) % 10]  # 8:1:1 by row
    parts = {}
    for i, name in enumerate(("train", "valid", "test")):
        parts[name] = tmp_path / f"{name}.csv"
        frame[part_of_row == i].to_csv(parts[name], index=False)
    run = _train(tmp_path / "ws", "pop", 1, **{k: str(v) for k, v in parts.items()})
    bundle = write_bundle(tmp_path / "ws", run, tmp_path / "p.zip").path
    with pytest.raises(ConfigError, match="predefined files"):
        reproduce_bundle(bundle, DataFiles(data=str(parts["train"])), workspace=tmp_path / "ws2")
    files = DataFiles(train=str(parts["train"]), valid=str(parts["valid"]), test=str(parts["test"]))
    assert reproduce_bundle(bundle, files, workspace=tmp_path / "ws2").matches


def test_a_changed_data_file_or_an_unfinished_run_is_not_bundled(tmp_path):
    data = tmp_path / "events.csv"
    data.write_bytes(TINY.read_bytes())
    run = _train(tmp_path / "ws", "pop", 1, path=str(data))
    data.write_text("\n".join(data.read_text().splitlines()[:-30]) + "\n")
    with pytest.raises(DataChangedError, match=r"events\.csv\) has changed.*restore the file"):
        write_bundle(tmp_path / "ws", run, tmp_path / "b.zip")
    RunStore(tmp_path / "ws").update_run(run, status="cancelled")
    with pytest.raises(ConfigError, match="cancelled"):
        write_bundle(tmp_path / "ws", run, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


def test_an_existing_zip_is_kept_unless_overwrite(sample_runs, tmp_path):
    ws, runs = sample_runs
    out = tmp_path / "run.zip"
    out.write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        write_bundle(ws, runs["pop"], out)
    assert out.read_text() == "mine"
    write_bundle(ws, runs["pop"], out, overwrite=True)
    assert read_bundle(out).run_id == runs["pop"]


def test_anything_but_a_bundle_is_one_clear_line(tmp_path):
    text = tmp_path / "notes.zip"
    text.write_text("not a zip")
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hello")
    for path, msg in (
        (text, "not a readable zip"),
        (other, "not a RecSys Studio bundle"),
        (tmp_path / "missing.zip", "no such bundle"),
    ):
        with pytest.raises(RecsysError, match=msg) as err:
            read_bundle(path)
        assert "\n" not in str(err.value)
