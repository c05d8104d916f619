"""Jobs the pages run through ``run_in_thread``: thin, Qt-free compositions of core calls.

Nothing here touches a widget; every function returns plain data for the GUI thread to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def preview(path: str, options: dict[str, Any], nrows: int = 500) -> tuple[Any, Any]:
    from recsys_gui.core.data.loaders import LoadOptions, read_table

    frame, sniff = read_table(path, LoadOptions(**options), nrows=nrows)
    return frame, sniff


def sniff(path: str) -> Any:
    from recsys_gui.core.data.loaders import sniff as _sniff

    return _sniff(path)


def load(
    path: str,
    options: dict[str, Any],
    metadata: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """Load + the statistics the data page plots; the core remembers the data for the runs' own reads."""
    from recsys_gui.core.data import recent
    from recsys_gui.core.data.loaders import LoadOptions, load_interactions

    data, report = load_interactions(path, LoadOptions(**options), item_metadata=metadata, progress=progress)
    recent.remember(path, metadata, options, data, report)
    return data, report, statistics(data)


def statistics(data: Any) -> dict[str, Any]:
    """Histograms for the data page's plots (computed in the core)."""
    from recsys_gui.core.user_inspection import interaction_statistics

    return interaction_statistics(data)


def split_preview(data: Any, spec_text: str, seed: int) -> dict[str, Any]:
    from recsys_gui.core.data.splits import describe_split, make_split

    return describe_split(make_split(data, spec_text, seed=seed))


def split_help() -> dict[str, str]:
    from recsys_gui.core.data.splits import SPLIT_HELP

    return dict(SPLIT_HELP)


def evaluate(
    workspace: str,
    run_id: str,
    metrics: str | None = None,
    compare_with: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    from recsys_gui.core.run_evaluation import evaluate_run

    return evaluate_run(workspace, run_id, metrics=metrics, compare_with=compare_with, device=device)


# The Results page's metric-against-K families (it draws the accuracy ones as one plot).
ACCURACY_CURVES = ("ndcg", "recall", "precision", "f1", "hit")
BEYOND = ("coverage", "gini", "novelty", "ild", "arp")


def metric_vs_k(
    workspace: str,
    run_id: str,
    ks: tuple[int, ...] = (1, 5, 10, 20, 50),
    names: tuple[str, ...] = (*ACCURACY_CURVES, *BEYOND),
) -> dict[str, Any]:
    """Every metric in ``names`` at every K (one evaluation pass) and the breakdown by user activity."""
    keys = ",".join(f"{n}@{k}" for n in names for k in ks)
    res = evaluate(workspace, run_id, metrics=keys)
    curves = {n: [res["metrics"].get(f"{n}@{k}", float("nan")) for k in ks] for n in names}
    return {
        "ks": list(ks),
        "curves": curves,
        "metrics": res["metrics"],
        "by_activity": res["by_activity"],
        "users": res["users"],
        "protocol": res["protocol"],
    }


# --- loaded models are cached per run: the inspector asks many users of the same run -------------
_cache_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[Any, Any, Any]] = {}


def _run_model(workspace: str, run_id: str) -> tuple[Any, Any, Any]:
    """(model, spec, split) of a run, kept for the next call on the same run."""
    key = (str(workspace), run_id)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    from recsys_gui.core.session import load_run_model, load_split

    model, spec, _row = load_run_model(workspace, run_id)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    with _cache_lock:
        _cache.clear()  # keep one model in memory
        _cache[key] = (model, spec, split)
    return model, spec, split


def inspect_user(workspace: str, run_id: str, raw_user: str, k: int = 20) -> Any:
    """A user's known history (with titles) and the run's top-k for them (core.inspect.UserInspection)."""
    from recsys_gui.core.user_inspection import inspect_user as _inspect

    model, _spec, split = _run_model(workspace, run_id)
    return _inspect(model, split, raw_user, k)


def embedding_view(
    workspace: str,
    run_id: str,
    side: str = "item",
    method: str = "pca",
    sample: int = 20_000,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """One side's projected embeddings of a run (core.inspect.EmbeddingView)."""
    from recsys_gui.core.user_inspection import embedding_view as _view

    tick = progress or (lambda _f, _t: None)
    tick(0.02, "Loading the model and its data")
    model, spec, split = _run_model(workspace, run_id)
    return _view(
        model, split, side, method=method, sample=sample, seed=seed, model_name=spec.model, progress=progress
    )


def neighbours(view: Any, row: int, k: int = 10) -> Any:
    """Nearest rows of an EmbeddingView in the full embedding space (a worker job: O(n·d))."""
    return view.neighbours(row, k)


def run_curves(workspace: str, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per-epoch rows (split, name, epoch, value) of several runs, for the overlay plots."""
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return {rid: [r for r in store.metrics(rid) if r["split"] in ("valid", "train")] for rid in run_ids}
    finally:
        store.close()


def paired_significance(workspace: str, run_a: str, run_b: str, metrics: str | None = None) -> dict[str, Any]:
    """Paired t-test and Wilcoxon per metric between two runs on the same split (core.compare_runs)."""
    res = evaluate(workspace, run_a, metrics=metrics, compare_with=run_b)
    return {"run_a": run_a, "run_b": run_b, "users": res["users"], "comparison": res.get("comparison", {})}


def export_recommendations(
    workspace: str,
    run_id: str,
    out: str,
    top: int,
    fmt: str,
    include_seen: bool,
    overwrite: bool,
    users: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    privacy: Any = None,
) -> Any:
    """The same export as ``recsys-gui recommend``; ``users`` is a file of raw ids or None for all.

    ``privacy`` is an ``ExportPrivacy`` (pseudonymous user ids, no titles) or None for a plain export.
    """
    from recsys_gui.core.export.recommendations import export_recommendations as _export

    return _export(
        workspace,
        run_id,
        Path(out),
        top=top,
        fmt=fmt,
        include_seen=include_seen,
        users=users,
        overwrite=overwrite,
        progress=progress,
        should_stop=should_stop,
        privacy=privacy,
    )


def export_embeddings(
    workspace: str,
    run_id: str,
    out: str,
    overwrite: bool,
    progress: Callable[[float, str], None] | None = None,
    privacy: Any = None,
) -> Any:
    """The same export as ``recsys-gui export-embeddings`` (it cannot be stopped half-way)."""
    from recsys_gui.core.export.embeddings import export_embeddings as _export

    return _export(workspace, run_id, Path(out), overwrite=overwrite, progress=progress, privacy=privacy)


def list_runs(workspace: str) -> list[dict[str, Any]]:
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return store.list_runs()
    finally:
        store.close()


def delete_runs(workspace: str, run_ids: list[str]) -> None:
    """Remove runs with their checkpoints and files."""
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        for rid in run_ids:
            store.delete_run(rid)
    finally:
        store.close()


def run_metrics(workspace: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return store.get_run(run_id), store.metrics(run_id)
    finally:
        store.close()
