"""`recsys-gui export-mlflow RUN… --to DIR`: stored runs into an MLflow file store (optional extra).

``runs export-mlflow`` calls ``export_and_print`` with the same arguments; the top-level command
registered here is the same handler under its own name.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from recsys_gui.cli.common import add_workspace, print_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export-mlflow",
        help="Write runs into an MLflow file store (needs the [mlflow] extra).",
        description="Params (the run's settings), per-epoch losses and validation metrics with "
        "their epoch as step, the test metrics, spec.json and the per-user test values "
        "as artifacts. Runs exported to the same store before are skipped.",
    )
    p.add_argument(
        "runs", nargs="+", metavar="RUN", help="A run's id, its unique name or a unique start of its id."
    )
    add_export_options(p)
    p.add_argument("--json", action="store_true")
    add_workspace(p)
    p.set_defaults(func=run)


def add_export_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, metavar="DIR", help="The MLflow store folder (an mlruns folder).")
    p.add_argument("--experiment", default=None, help="MLflow experiment name (default: 'RecSys Studio').")


def run(args: argparse.Namespace) -> int:
    return export_and_print(
        args.workspace, args.runs, args.to, experiment=args.experiment, as_json=getattr(args, "json", False)
    )


def export_and_print(
    workspace: str | None,
    runs: Sequence[str],
    to_dir: str,
    *,
    experiment: str | None = None,
    as_json: bool = False,
) -> int:
    from recsys_gui.core.tracking.mlflow_export import EXPERIMENT, export_runs_to_mlflow

    done = export_runs_to_mlflow(workspace, runs, to_dir, experiment=experiment or EXPERIMENT)
    if as_json:
        print_json(
            [{"run_id": d.run_id, "mlflow_run_id": d.mlflow_run_id, "skipped": d.skipped} for d in done]
        )
        return 0
    for d in done:
        print(
            f"{d.run_id} -> MLflow run {d.mlflow_run_id}"
            + (" (exported before; skipped)" if d.skipped else "")
        )
    store = Path(to_dir).expanduser().resolve()
    print(
        f"Open it with the full mlflow package: MLFLOW_ALLOW_FILE_STORE=true mlflow ui "
        f"--backend-store-uri {store.as_uri()}"
    )
    return 0
