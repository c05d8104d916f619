"""The run store never loses or deletes a run it should keep (issue 19, defects 1, 2 and 9).

Ids are matched as text (no SQL patterns, no case folding); an emptied or lost ``recsys.db`` is
rebuilt from the run folders instead of making them look like rubbish; a run whose folder is gone
is listed as such.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from recsys_gui.cli import main
from recsys_gui.core.errors import RunNotFound
from recsys_gui.core.store.run_store import RunStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"


@pytest.fixture(scope="module")
def trained_ws(tmp_path_factory) -> Path:
    """A workspace with one real, completed popularity run named like a user would."""
    ws = tmp_path_factory.mktemp("ws")
    code = main(
        [
            "train",
            "--data",
            str(SAMPLE),
            "--model",
            "pop",
            "--run-id",
            "keep-2024.final",
            "--workspace",
            str(ws),
            "--quiet",
        ]
    )
    assert code == 0
    return ws


def _copy(ws: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(ws, dst)
    return dst


def _add_row(store: RunStore, run_id: str) -> None:
    store.create_run(
        run_id=run_id,
        model="pop",
        family="baseline",
        spec={},
        data_path="x",
        data_fingerprint="",
        split="ratio:8,1,1",
        seed=1,
        device="cpu",
        world_size=1,
        versions={},
    )
    store.finish_run(run_id, "completed")


@pytest.mark.parametrize("pattern", ["keep_2024_final", "%", "KEEP-2024.FINAL", "keep-2024_final", "_"])
def test_run_ids_are_matched_literally(trained_ws, tmp_path, pattern):
    ws = _copy(trained_ws, tmp_path)
    code = main(["runs", "delete", pattern, "--yes", "--workspace", str(ws)])
    assert code == 2
    assert RunStore(ws).get_run("keep-2024.final")["status"] == "completed"
    assert (ws / "runs" / "keep-2024.final").is_dir()


def test_a_unique_literal_prefix_finds_the_run_and_an_ambiguous_one_lists_candidates(tmp_path):
    store = RunStore(tmp_path)
    for rid in ("abc-1", "abc-2", "abd_x"):
        _add_row(store, rid)
    assert store.get_run("abd")["id"] == "abd_x"
    assert store.get_run("abc-1")["id"] == "abc-1"
    with pytest.raises(RunNotFound, match=r"ambiguous.*abc-1.*abc-2|ambiguous.*abc-2.*abc-1"):
        store.get_run("abc")
    with pytest.raises(RunNotFound):
        store.get_run("ab_")  # '_' is a character, not "any one character"


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_an_emptied_store_is_rebuilt_and_clean_keeps_completed_runs(trained_ws, tmp_path, damage):
    ws = _copy(trained_ws, tmp_path)
    db = ws / "recsys.db"
    for side in (db, ws / "recsys.db-wal", ws / "recsys.db-shm"):
        side.unlink(missing_ok=True)
    if damage == "empty":
        db.write_bytes(b"")
    assert main(["runs", "clean", "--interrupted", "--yes", "--workspace", str(ws)]) == 0
    assert (ws / "runs" / "keep-2024.final" / "checkpoints").is_dir()
    row = RunStore(ws).get_run("keep-2024.final")
    assert row["status"] == "completed"
    assert row["model"] == "pop"
    assert row["test"]  # the figures come back from events.jsonl


def test_clean_adopts_an_unknown_run_folder_instead_of_deleting_it(trained_ws, tmp_path):
    ws = _copy(trained_ws, tmp_path)
    store = RunStore(ws)
    _add_row(store, "other")  # the store is not empty, so opening it rebuilds nothing
    shutil.copytree(ws / "runs" / "keep-2024.final", ws / "runs" / "copied-run")
    removed = store.clean(("interrupted",), orphan_min_age_s=0)
    assert "copied-run" in removed["adopted"]
    assert (ws / "runs" / "copied-run").is_dir()
    assert store.get_run("copied-run")["status"] == "completed"


def test_clean_still_removes_a_folder_that_never_held_a_run(tmp_path):
    store = RunStore(tmp_path)
    (tmp_path / "runs" / "half-started").mkdir()
    removed = store.clean(("interrupted",), orphan_min_age_s=0)
    assert removed["orphans"] == ["half-started"]


def test_runs_list_says_when_a_run_folder_is_gone(trained_ws, tmp_path, capsys):
    ws = _copy(trained_ws, tmp_path)
    shutil.rmtree(ws / "runs" / "keep-2024.final")
    capsys.readouterr()
    assert main(["runs", "list", "--json", "--workspace", str(ws)]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["status"] for r in rows] == ["files-missing"]
