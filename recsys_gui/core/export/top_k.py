"""Each user's top-K, ranked in blocks of users on the device and labelled with raw ids.

``recommend_frames(model, data, ...)`` ranks users in chunks (one ``score`` call, masking and
``torch.topk`` through ``evaluation.ranking.topk_for_users``, the one place that masks) and yields
DataFrames ``user_id, rank, item_id, score[, title][, because]``: memory is bounded by the chunk,
not by the number of users. ``because`` (asked with ``explain=N``) names the N history items behind
each row, worked out for the whole chunk at once (``explanations.top_reasons``). ``prefetched``
runs that ranking a few chunks ahead of the file writer.

Seen items (train and valid) are excluded unless asked otherwise; the history a model scores
from is the training part, exactly as ``Evaluator`` does it, so the exported lists are the lists
``recsys-gui evaluate`` scores.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from recsys_gui.core import memory
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import ExportError, TrainingCancelled
from recsys_gui.core.evaluation.evaluator import held_out_users
from recsys_gui.core.evaluation.ranking import DeviceCSR, FoldInScorer, fold_in_view, topk_for_users
from recsys_gui.core.explanations import top_reasons
from recsys_gui.core.export.ids import Labels
from recsys_gui.core.models.base import Recommender

# Scores held per chunk: bounds memory for any catalogue. On a CPU a block that stays in cache (16 MB)
# ranks ~30% faster per user than a 64 MB one (benchmarks/export_bench.py); a GPU wants big launches.
SCORE_BUDGET = {"cpu": 1 << 22, "cuda": 1 << 24}


def auto_chunk_users(n_items: int, device: str = "cpu", budget: int | None = None) -> int:
    """Users per chunk so that one chunk's score matrix holds about ``budget`` floats."""
    budget = budget or SCORE_BUDGET.get(device, SCORE_BUDGET["cuda"])
    return int(max(64, min(65536, budget // max(n_items, 1))))


def chunk_that_fits(step: int, n_items: int, device: torch.device) -> int:
    """``step`` users per chunk, or fewer when their score rows would not fit in free memory.

    The ranker holds ``prefetched``'s chunks of output too, but those are k columns wide; the score
    block (n_items wide) is what grows with the catalogue.
    """
    remedies = [memory.KCORE, memory.SAMPLE_USERS]
    if device.type == "cuda":
        remedies.append(memory.USE_CPU)
    return memory.batch_that_fits(
        step,
        n_items * memory.RANK_BYTES_PER_CELL,
        f"Ranking one user against {n_items:,} items for the export",
        device,
        remedies=remedies,
    )


def recommend_frames(
    model: Recommender,
    data: Split | InteractionData,
    *,
    k: int = 20,
    users: np.ndarray | Sequence[int] | None = None,
    exclude_seen: bool = True,
    allow_items: np.ndarray | Sequence[int] | None = None,
    device: torch.device | str | None = None,
    chunk_users: int | None = None,
    labels: Labels | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    explain: int = 0,
) -> Iterator[pd.DataFrame]:
    """Top-``k`` rows per user, one DataFrame per chunk of users, with raw ids.

    ``data`` is a ``Split`` (seen = train + valid + fold-in; history = train + fold-in, and the
    users it held out of training scored through fold-in, as the evaluator does) or a single
    ``InteractionData`` used for both. ``users`` and
    ``allow_items`` are dense indices (``resolve_ids`` turns raw ids into them); ``None`` = all.
    Rows whose score is -inf (fewer than ``k`` candidates left after masking) are dropped, so such
    a user gets fewer than ``k`` rows with ranks still 1, 2, ... ``on_chunk(n)`` is told how many
    users each chunk held; ``should_stop()`` is polled between chunks. ``explain`` > 0 adds a
    ``because`` column: that many history items behind each row ("id title; id title").
    """
    if k < 1:
        raise ExportError(f"The number of recommendations per user must be at least 1 (got {k}).")
    if isinstance(data, Split):
        history_data, seen_data, ref = data.known_for_valid(), data.known_for_test(), data.train
    else:
        history_data = seen_data = ref = data
    if (model.n_users, model.n_items) != (ref.n_users, ref.n_items):
        raise ExportError(
            f"The model was built for {model.n_users} users × {model.n_items} items but the data has "
            f"{ref.n_users} × {ref.n_items}; it is not the data this model was trained on."
        )
    dev = torch.device(device) if device is not None else model.device
    model.to(dev)
    model.eval()
    labels = labels or Labels.from_data(ref)
    user_idx = np.arange(ref.n_users, dtype=np.int64) if users is None else np.asarray(users, dtype=np.int64)
    if user_idx.size and (user_idx.min() < 0 or user_idx.max() >= ref.n_users):
        raise ExportError("A user index is outside the model's id space.")
    # users a held-out-users split kept out of training are scored through fold-in, as evaluated
    new_users = held_out_users(data) if isinstance(data, Split) else None
    scorer = fold_in_view(model, None if new_users is None else torch.as_tensor(new_users), history_data, dev)
    needs_history = scorer.capabilities.scoring_needs_history
    history = None
    if isinstance(scorer, FoldInScorer):
        history = scorer.history
    elif needs_history or explain > 0:
        history = DeviceCSR(history_data, dev)
    reason_labels = _reason_labels(labels) if explain > 0 else None
    exclude = DeviceCSR(seen_data, dev) if exclude_seen else None
    allow = None
    if allow_items is not None:
        allow = torch.as_tensor(np.asarray(allow_items, dtype=np.int64), device=dev)
    step = int(chunk_users) if chunk_users else auto_chunk_users(ref.n_items, dev.type)
    if step < 1:
        raise ExportError(f"chunk_users must be at least 1 (got {chunk_users}).")
    step = chunk_that_fits(step, ref.n_items, dev)
    ranks = np.arange(1, min(k, ref.n_items) + 1, dtype=np.int32)
    for start in range(0, user_idx.size, step):
        if should_stop is not None and should_stop():
            raise TrainingCancelled("Export stopped.")
        chunk = user_idx[start : start + step]
        ut = torch.as_tensor(chunk, device=dev)
        idx, vals = topk_for_users(scorer, ut, k=k, history=history, exclude=exclude, allow_items=allow)
        because = None
        if reason_labels is not None and history is not None:
            found = top_reasons(model, history.dense(ut), idx, explain)
            because = _because(found.items.cpu().numpy(), reason_labels)
        yield _frame(chunk, idx.cpu().numpy(), vals.cpu().numpy(), ranks, labels, because)
        if on_chunk is not None:
            on_chunk(chunk.size)


def _reason_labels(labels: Labels) -> np.ndarray:
    """The text "id title" (or "id") per dense item, and "" at the end for the -1 of a missing reason."""
    ids = labels.items.astype(str).astype(object)
    if labels.titles is not None:
        titles = np.array(["" if t is None else f" {t}" for t in labels.titles], dtype=object)
        ids = ids + titles
    return np.append(ids, "").astype(object)


def _because(reasons: np.ndarray, reason_labels: np.ndarray) -> np.ndarray:
    """[B, k, n] reason item indices (-1 = none) → [B, k] texts "id title; id title".

    One elementwise string operation per reason column, not one per row.
    """
    names = reason_labels[reasons]  # -1 picks the trailing ""
    out = names[..., 0]
    for c in range(1, names.shape[-1]):
        col = names[..., c]
        out = np.where(col != "", out + "; " + col, out)
    return out


def _frame(
    users: np.ndarray,
    idx: np.ndarray,
    vals: np.ndarray,
    ranks: np.ndarray,
    labels: Labels,
    because: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flatten one chunk's [B, k] top-k into labelled rows, dropping masked (-inf) slots."""
    ok = vals > -np.inf  # also drops NaN scores, which are not recommendations
    if ok.all():
        u = np.repeat(users, idx.shape[1])
        r = np.tile(ranks[: idx.shape[1]], users.size)
        items, scores = idx.reshape(-1), vals.reshape(-1)
        reasons = None if because is None else because.reshape(-1)
    else:
        u = np.repeat(users, ok.sum(1))
        r = np.cumsum(ok, axis=1, dtype=np.int32)[ok]
        items, scores = idx[ok], vals[ok]
        reasons = None if because is None else because[ok]
    cols: dict[str, Any] = {
        "user_id": labels.users[u],
        "rank": r.astype(np.int32, copy=False),
        "item_id": labels.items[items],
        "score": scores.astype(np.float32, copy=False),
    }
    if labels.titles is not None:
        cols["title"] = labels.titles[items]
    if reasons is not None:
        cols["because"] = reasons
    frame = pd.DataFrame(cols)
    frame.attrs["users"] = int(users.size)  # users ranked in this chunk, including any left with no rows
    return frame


def prefetched(frames: Iterator[pd.DataFrame], depth: int = 2) -> Iterator[pd.DataFrame]:
    """Run ``frames`` in a background thread, ``depth`` chunks ahead of the consumer.

    Ranking (torch, which releases the GIL) then overlaps with writing (SQLite, CSV), which is
    single-threaded. ``depth`` bounds the memory: at most ``depth + 2`` chunks exist at once. An
    error in the producer is raised in the consumer; if the consumer stops early, the producer is
    told to stop and is joined, so no thread outlives the export.
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    done = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not done.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for f in frames:
                if not put(("frame", f)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer thread
            put(("error", exc))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="recsys-export-ranker", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "frame":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        done.set()
        worker.join()
