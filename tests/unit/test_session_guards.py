"""The session refuses what would give wrong numbers silently (issue 19, defects 6, 7 and 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_gui.core.errors import DataChangedError
from recsys_gui.core.session import DataSpec, RunSpec, load_run_split, run_training
from recsys_gui.core.store.run_store import RunStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "interactions.csv"
HELD_OUT = "users:0.1,0.1,foldin=0.8"


def _spec(path: Path, model: str, split: str = "ratio:8,1,1", **train) -> RunSpec:
    return RunSpec(data=DataSpec(path=str(path)), model=model, split=split,
                   train={"epochs": 1, "device": "cpu", **train})


@pytest.mark.parametrize("model", ["mf", "nmf", "mlp", "cnn"])
def test_held_out_users_split_scores_models_with_trained_user_vectors_through_fold_in(tmp_path, model):
    """Refused before fold-in (issue 22): now the held-out users are scored from their fold-in rows."""
    out = run_training(_spec(SAMPLE, model, HELD_OUT), workspace=tmp_path)
    assert out.status == "completed"
    assert 0.0 <= out.test["ndcg@10"] <= 1.0


@pytest.mark.parametrize("model", ["pop", "ease"])
def test_held_out_users_split_still_trains_models_that_score_from_history(tmp_path, model):
    out = run_training(_spec(SAMPLE, model, HELD_OUT), workspace=tmp_path)
    assert out.status == "completed"


def test_a_changed_data_file_is_refused_by_name_unless_allowed(tmp_path):
    data = tmp_path / "events.csv"
    data.write_text(SAMPLE.read_text())
    out = run_training(_spec(data, "pop"), workspace=tmp_path / "ws")
    store = RunStore(tmp_path / "ws")
    row = store.get_run(out.run_id)
    spec = RunSpec.from_dict(row["spec"])
    assert load_run_split(spec, row).train.fingerprint() == row["data_fingerprint"]
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:-50]) + "\n")  # the analyst edited the file since
    with pytest.raises(DataChangedError, match=r"events\.csv.*--allow-changed-data"):
        load_run_split(spec, row)
    assert load_run_split(spec, row, allow_changed_data=True).train.fingerprint() != row["data_fingerprint"]


def test_a_failed_resume_keeps_the_finished_status(tmp_path):
    data = tmp_path / "events.csv"
    data.write_text(SAMPLE.read_text())
    out = run_training(_spec(data, "mf", epochs=1), workspace=tmp_path / "ws")
    store = RunStore(tmp_path / "ws")
    before = store.get_run(out.run_id)["status"]
    (tmp_path / "ws" / "runs" / out.run_id / "checkpoints" / "last.pt").unlink()
    spec = RunSpec.from_dict(store.get_run(out.run_id)["spec"])
    with pytest.raises(Exception, match="resume"):
        run_training(spec, workspace=tmp_path / "ws", resume_run_id=out.run_id)
    row = RunStore(tmp_path / "ws").get_run(out.run_id)
    assert row["status"] == before
    assert "resume" in (row["error"] or "").lower()
