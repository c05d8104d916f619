"""MLflow export (issue 26, optional extra): a file store MLflow itself reads back, or one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from recsys_gui.core.errors import RecsysError
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.tracking.mlflow_export import INSTALL_HINT, export_runs_to_mlflow, flatten, metric_key

TINY = Path(__file__).resolve().parents[2] / "sample_data" / "tiny.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, list[str]]:
    ws = tmp_path_factory.mktemp("mlflow") / "ws"
    ids = []
    for model, epochs in (("pop", 1), ("mf", 3)):
        spec = RunSpec(data=DataSpec(path=str(TINY)), model=model, train={"epochs": epochs, "device": "cpu"})
        ids.append(run_training(spec, workspace=ws).run_id)
    store = RunStore(ws)
    store.rename_run(ids[1], "baseline-mf")
    store.tag_run(ids[1], add=["keep"])
    store.set_note(ids[1], "tuned on P3")
    return ws, ids


def test_without_mlflow_the_export_is_one_line_naming_the_extra(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow...` now raises ImportError
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    ws, ids = runs
    with pytest.raises(RecsysError) as err:
        export_runs_to_mlflow(ws, ids, tmp_path / "mlruns")
    assert str(err.value) == INSTALL_HINT and 'pip install "recsys-gui[mlflow]"' in str(err.value)


def test_names_and_settings_become_valid_mlflow_keys():
    assert metric_key("ndcg@10") == "ndcg_at_10" and metric_key("loss") == "loss"
    flat = flatten(
        {"data": {"path": "/d.csv", "options": {"dedupe": "last"}}, "metrics": ["ndcg@10", "mrr@10"]}
    )
    assert flat == {"data.path": "/d.csv", "data.options.dedupe": "last", "metrics": "ndcg@10,mrr@10"}


def test_runs_are_written_to_a_file_store_that_mlflow_reads_back(runs, tmp_path):
    mlflow = pytest.importorskip(
        "mlflow", reason="the [mlflow] extra is not installed (pip install mlflow-skinny)"
    )
    ws, ids = runs
    store_dir = tmp_path / "mlruns"
    done = export_runs_to_mlflow(ws, [ids[0], "baseline-mf"], store_dir)  # a name works as well as an id
    assert [d.run_id for d in done] == ids and not any(d.skipped for d in done)

    monkey = pytest.MonkeyPatch()
    monkey.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 opens a file store only when told to
    try:
        client = mlflow.tracking.MlflowClient(tracking_uri=store_dir.resolve().as_uri())
        row = RunStore(ws).get_run(ids[1])
        mid = done[1].mlflow_run_id
        run = client.get_run(mid)
        assert run.info.run_name == "baseline-mf" and run.info.status == "FINISHED"
        assert run.data.tags["recsys.run_id"] == ids[1] and run.data.tags["recsys.tag.keep"] == "true"
        assert run.data.tags["mlflow.note.content"] == "tuned on P3"
        assert run.data.params["model"] == "mf" and run.data.params["train.epochs"] == "3"
        assert run.data.params["data.path"] == str(TINY)
        assert run.data.metrics["test/ndcg_at_10"] == pytest.approx(row["test"]["ndcg@10"])
        valid = sorted((m.step, m.value) for m in client.get_metric_history(mid, "valid/ndcg_at_10"))
        stored = [
            m["value"]
            for m in RunStore(ws).metrics(ids[1])
            if m["split"] == "valid" and m["name"] == "ndcg@10"
        ]
        assert [step for step, _ in valid] == [1, 2, 3]  # epochs as people count them
        assert [v for _, v in valid] == pytest.approx(stored)
        assert len(client.get_metric_history(mid, "train/loss")) == 3
        artifacts = {a.path for a in client.list_artifacts(mid)}
        assert artifacts == {"spec.json", "per_user_test.parquet"}
        exp = client.get_experiment_by_name("RecSys Studio")
        assert (store_dir / exp.experiment_id / "meta.yaml").is_file()  # the mlruns layout `mlflow ui` reads
    finally:
        monkey.undo()

    again = export_runs_to_mlflow(ws, ids, store_dir)
    assert [d.skipped for d in again] == [True, True]
    assert [d.mlflow_run_id for d in again] == [d.mlflow_run_id for d in done]
