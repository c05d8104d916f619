"""Jobs the pages run through ``run_in_thread``: thin, Qt-free compositions of core calls.

Nothing here touches a widget; every function returns plain data for the GUI thread to show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def preview(path: str, options: dict[str, Any], nrows: int = 500) -> tuple[Any, Any]:
    from recsys_gui.core.data.loaders import LoadOptions, read_table

    frame, sniff = read_table(path, LoadOptions(**options), nrows=nrows)
    return frame, sniff


def sniff(path: str) -> Any:
    from recsys_gui.core.data.loaders import sniff as _sniff

    return _sniff(path)


def load(path: str, options: dict[str, Any], metadata: str | None = None,
         progress: Callable[[float, str], None] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """Load + the statistics the data page plots."""
    from recsys_gui.core.data.loaders import LoadOptions, load_interactions

    data, report = load_interactions(path, LoadOptions(**options), item_metadata=metadata, progress=progress)
    return data, report, statistics(data)


def _log_hist(counts: np.ndarray, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    counts = counts[counts > 0]
    if counts.size == 0:
        return np.array([1.0, 2.0]), np.array([0.0])
    edges = np.unique(np.logspace(0, np.log10(max(counts.max(), 2)) + 1e-9, bins + 1))
    hist, edges = np.histogram(counts, bins=edges)
    return edges, hist.astype(float)


def statistics(data: Any) -> dict[str, Any]:
    """Histograms for the plots (interactions per user/item on log bins, ratings, activity)."""
    out: dict[str, Any] = {"users": _log_hist(data.user_counts()), "items": _log_hist(data.item_counts())}
    vals = np.asarray(data.values, dtype=float)
    uniq = np.unique(vals)
    if uniq.size <= 20:
        out["ratings"] = (uniq, np.array([(vals == u).sum() for u in uniq], dtype=float))
    else:
        hist, edges = np.histogram(vals, bins=20)
        out["ratings"] = ((edges[:-1] + edges[1:]) / 2, hist.astype(float))
    if data.timestamps is not None and len(data.timestamps):
        ts = np.asarray(data.timestamps, dtype=float)
        hist, edges = np.histogram(ts, bins=min(60, max(5, int(np.sqrt(len(ts))))))
        out["time"] = (edges, hist.astype(float))
    else:
        out["time"] = None
    return out


def split_preview(data: Any, spec_text: str, seed: int) -> dict[str, Any]:
    from recsys_gui.core.data.splits import describe_split, make_split

    return describe_split(make_split(data, spec_text, seed=seed))


def split_help() -> dict[str, str]:
    from recsys_gui.core.data.splits import SPLIT_HELP

    return dict(SPLIT_HELP)


def evaluate(workspace: str, run_id: str, metrics: str | None = None, compare_with: str | None = None,
             device: str = "auto") -> dict[str, Any]:
    from recsys_gui.core.evaluation.service import evaluate_run

    return evaluate_run(workspace, run_id, metrics=metrics, compare_with=compare_with, device=device)


def metric_vs_k(workspace: str, run_id: str, ks: tuple[int, ...] = (1, 5, 10, 20, 50),
                names: tuple[str, ...] = ("ndcg", "recall", "precision", "hit")) -> dict[str, Any]:
    keys = ",".join(f"{n}@{k}" for n in names for k in ks)
    res = evaluate(workspace, run_id, metrics=keys)
    curves = {n: [res["metrics"].get(f"{n}@{k}", float("nan")) for k in ks] for n in names}
    return {"ks": list(ks), "curves": curves, "by_activity": res["by_activity"], "users": res["users"],
            "protocol": res["protocol"]}


# --- loaded models are cached per run: the inspector asks many users of the same run -------------
_cache_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[Any, Any, Any]] = {}


def _run_model(workspace: str, run_id: str) -> tuple[Any, Any, Any]:
    key = (str(workspace), run_id)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    from recsys_gui.core.session import load_run_model, load_split

    model, spec, row = load_run_model(workspace, run_id)
    split, _ = load_split(spec, seed=spec.train_config().seed)
    with _cache_lock:
        _cache.clear()  # keep one model in memory
        _cache[key] = (model, spec, split)
    return model, spec, split


def inspect_user(workspace: str, run_id: str, raw_user: str, k: int = 20) -> dict[str, Any]:
    """A user's known history (with titles) and the run's top-k for them (seen items excluded)."""
    import pandas as pd
    import torch

    from recsys_gui.core.errors import RecsysError
    from recsys_gui.core.evaluation.ranking import DeviceCSR, topk_for_users

    model, _spec, split = _run_model(workspace, run_id)
    known = split.known_for_test()
    ids = known.user_ids
    pos = ids.get_indexer([raw_user])[0]
    if pos < 0:
        # raw ids may be ints in the index
        try:
            pos = ids.get_indexer([int(raw_user)])[0]
        except (TypeError, ValueError):
            pos = -1
    if pos < 0:
        raise RecsysError(f"No user '{raw_user}' in this run's data.")
    titles = known.item_titles()
    rows = known.users == pos
    hist_items = known.items[rows]
    hist = pd.DataFrame({"_idx": hist_items, "item_id": known.item_ids.take(hist_items).astype(str),
                         "value": known.values[rows]})
    if known.timestamps is not None:
        hist["timestamp"] = pd.to_datetime(known.timestamps[rows], unit="s", errors="coerce")
        hist = hist.sort_values("timestamp", ascending=False, kind="stable")
    if titles is not None:
        hist.insert(2, "title", titles.iloc[hist["_idx"].to_numpy()].astype(str).to_numpy())
    hist = hist.drop(columns="_idx")
    dev = torch.device("cpu")
    csr = DeviceCSR(known, dev)
    users = torch.tensor([pos], dtype=torch.long)
    items, scores = topk_for_users(model, users, k=k, history=csr, exclude=csr)
    it = items[0].cpu().numpy()
    recs = pd.DataFrame({"rank": np.arange(1, len(it) + 1), "item_id": known.item_ids.take(it).astype(str),
                         "score": scores[0].cpu().numpy()})
    if titles is not None:
        recs.insert(2, "title", titles.iloc[it].astype(str).to_numpy())
    test_items = set(split.test.items[split.test.users == pos].tolist())
    recs["in_test"] = [("yes" if i in test_items else "") for i in it]
    return {"user": raw_user, "history": hist.reset_index(drop=True), "recs": recs,
            "n_history": int(rows.sum())}


def embeddings_projection(workspace: str, run_id: str, method: str = "pca", sample: int = 5000,
                          seed: int = 0) -> dict[str, Any]:
    """2-D projections of the run's item (and user, when the model has them) embeddings."""
    import torch

    from recsys_gui.core.export.embeddings import project_embeddings
    from recsys_gui.core.evaluation.ranking import DeviceCSR

    model, _spec, split = _run_model(workspace, run_id)
    known = split.known_for_test()
    caps = model.capabilities
    out: dict[str, Any] = {"model": type(model).name, "user_side": bool(caps.user_embeddings)}
    titles = known.item_titles()
    with torch.no_grad():
        item = model.item_embeddings()
        if item is not None:
            emb = item.detach().cpu().float().numpy()
            idx = _sample(len(emb), sample, seed)
            xy = project_embeddings(emb[idx], method=method, sample=None, seed=seed)
            labels = known.item_ids.take(idx).astype(str).to_numpy()
            if titles is not None:
                labels = np.array([f"{a} · {t}" for a, t in zip(labels, titles.iloc[idx].astype(str))])
            out["items"] = {"xy": np.asarray(xy), "labels": labels, "popularity": known.item_counts()[idx]}
        if caps.user_embeddings:
            n = known.n_users
            idx = _sample(n, sample, seed)
            users = torch.as_tensor(idx, dtype=torch.long)
            hist = DeviceCSR(known, torch.device("cpu")).dense(users) if caps.scoring_needs_history else None
            ue = model.user_embeddings(users, hist)
            if ue is not None:
                xy = project_embeddings(ue.detach().cpu().float().numpy(), method=method, sample=None, seed=seed)
                out["users"] = {"xy": np.asarray(xy), "labels": known.user_ids.take(idx).astype(str).to_numpy(),
                                "popularity": known.user_counts()[idx]}
    return out


def _sample(n: int, sample: int | None, seed: int) -> np.ndarray:
    if sample is None or n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def export_recommendations(workspace: str, run_id: str, out: str, top: int, fmt: str, include_seen: bool,
                           overwrite: bool, progress: Callable[[float, str], None] | None = None,
                           should_stop: Callable[[], bool] | None = None) -> Any:
    from recsys_gui.core.export.recommendations import export_recommendations as _export

    return _export(workspace, run_id, Path(out), top=top, fmt=fmt, include_seen=include_seen,
                   overwrite=overwrite, progress=progress, should_stop=should_stop)


def export_embeddings(workspace: str, run_id: str, out: str, overwrite: bool,
                      progress: Callable[[float, str], None] | None = None,
                      should_stop: Callable[[], bool] | None = None) -> Any:
    import inspect

    from recsys_gui.core.export.embeddings import export_embeddings as _export

    params = inspect.signature(_export).parameters
    kwargs: dict[str, Any] = {}
    for name, value in (("overwrite", overwrite), ("progress", progress), ("should_stop", should_stop)):
        if name in params:
            kwargs[name] = value
    return _export(workspace, run_id, Path(out), **kwargs)


def list_runs(workspace: str) -> list[dict[str, Any]]:
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return store.list_runs()
    finally:
        store.close()


def run_metrics(workspace: str, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(workspace)
    try:
        return store.get_run(run_id), store.metrics(run_id)
    finally:
        store.close()
