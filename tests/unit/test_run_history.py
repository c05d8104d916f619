"""Run history people can navigate (issue 26): names, tags, notes, filters, artifacts listed once."""

from __future__ import annotations

import json

import pytest

from recsys_gui.cli import main
from recsys_gui.core.errors import ConfigError, RunNotFound
from recsys_gui.core.store.run_store import RunStore


def _add(store: RunStore, run_id: str, model: str = "mf", data: str = "/data/ml-100k/u.data") -> None:
    store.create_run(run_id=run_id, model=model, family="mf", spec={}, data_path=data, data_fingerprint="",
                     split="ratio:8,1,1", seed=1, device="cpu", world_size=1, versions={})
    store.finish_run(run_id, "completed", test_json={"ndcg@10": 0.3})


@pytest.fixture
def ws(tmp_path):
    store = RunStore(tmp_path)
    _add(store, "20261201-mf-aaa")
    _add(store, "20261201-ease-bbb", model="ease", data="/data/steam/steam.csv")
    return tmp_path


def _json_out(capsys) -> object:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_rename_then_every_command_takes_the_name(ws, capsys):
    assert main(["runs", "rename", "20261201-mf-aaa", "baseline-mf", "--workspace", str(ws)]) == 0
    assert main(["runs", "tag", "baseline-mf", "keep", "paper", "--workspace", str(ws)]) == 0
    assert main(["runs", "note", "baseline-mf", "tuned", "on", "P3", "--workspace", str(ws)]) == 0
    capsys.readouterr()
    assert main(["runs", "show", "baseline-mf", "--json", "--workspace", str(ws)]) == 0
    row = _json_out(capsys)
    assert (row["id"], row["name"], row["tags"], row["note"]) == (
        "20261201-mf-aaa", "baseline-mf", ["keep", "paper"], "tuned on P3")
    assert main(["runs", "list", "--workspace", str(ws)]) == 0
    assert "baseline-mf" in capsys.readouterr().out


def test_names_stay_unique_and_an_ambiguous_name_is_refused(ws):
    store = RunStore(ws)
    store.rename_run("20261201-mf-aaa", "same")
    with pytest.raises(ConfigError, match="already used"):
        store.rename_run("20261201-ease-bbb", "same")
    with pytest.raises(ConfigError, match="already used"):
        store.rename_run("20261201-ease-bbb", "20261201-mf-aaa")  # a name may not hide another run's id
    store.update_run("20261201-ease-bbb", name="same")  # made elsewhere, e.g. two `train --name same`
    with pytest.raises(RunNotFound, match=r"ambiguous.*name"):
        store.get_run("same")


def test_list_filters_by_text_tag_model_dataset_and_date(ws, capsys):
    RunStore(ws).tag_run("20261201-ease-bbb", add=["keep"])

    def ids(*flags: str) -> list[str]:
        capsys.readouterr()
        assert main(["runs", "list", "--json", "--workspace", str(ws), *flags]) == 0
        return sorted(r["id"] for r in _json_out(capsys))

    assert ids("--tag", "keep") == ["20261201-ease-bbb"]
    assert ids("--model", "mf") == ["20261201-mf-aaa"]
    assert ids("--dataset", "STEAM") == ["20261201-ease-bbb"]
    assert ids("--search", "mf-a") == ["20261201-mf-aaa"]
    assert ids("--since", "2999-01-01") == []
    assert len(ids("--until", "2999-01-01")) == 2


def test_tags_can_be_removed(ws):
    store = RunStore(ws)
    store.tag_run("20261201-mf-aaa", add=["a", "b", "a"])
    assert store.tag_run("20261201-mf-aaa", remove=["a"]) == ["b"]


def test_an_artifact_registered_again_is_listed_once(ws, tmp_path):
    store = RunStore(ws)
    f = ws / "runs" / "20261201-mf-aaa" / "checkpoints" / "best.pt"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"x")
    store.add_artifact("20261201-mf-aaa", "checkpoint_best", f)
    store.add_artifact("20261201-mf-aaa", "checkpoint_best", f)  # as a resumed run does
    assert len(store.artifacts("20261201-mf-aaa")) == 1


def test_the_store_itself_lists_a_run_whose_folder_is_gone_as_files_missing(ws):
    """The window reads list_runs directly, so the store (not only `runs list`) must say it."""
    store = RunStore(ws)
    store.workspace.run_dir("20261201-mf-aaa").mkdir(parents=True)
    store.create_run(run_id="live", model="mf", family="mf", spec={}, data_path="x", data_fingerprint="",
                     split="ratio:8,1,1", seed=1, device="cpu", world_size=1, versions={})
    rows = {r["id"]: r for r in store.list_runs()}
    assert rows["20261201-mf-aaa"]["status"] == "completed"
    assert rows["20261201-ease-bbb"]["status"] == "files-missing"
    assert rows["20261201-ease-bbb"]["stored_status"] == "completed"
    assert rows["live"]["status"] == "running"  # a starting run has no folder yet: not "missing"
    store.finish_run("20261201-ease-bbb", "interrupted")
    assert store.clean(("interrupted",), orphan_min_age_s=0)["runs"] == ["20261201-ease-bbb"]
