"""The worker side of the What-if page: loaded runs kept per run id, and the calls made on them.

Nothing here touches Qt. Loading a run (checkpoint, split, id maps) takes a second or more, so each
run is loaded once, in a worker, and kept; the calls after that (search, recommend, history) are one
scoring call each, fast enough to redo on every basket change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

KEEP_RUNS = 6  # loaded models kept in memory; the least recently used one goes first
SEARCH_LIMIT = 200  # matches listed for one search: enough to scroll, few enough to draw at once


@dataclass(frozen=True)
class RunAnswer:
    """One run's list for a basket, or the one-line reason it has none."""

    run_id: str
    recommendations: list[Any]  # serving.Recommendation
    error: str | None = None


class LoadedRuns:
    """``serving.LoadedRun`` per run id of one workspace, loaded on first use (thread-safe).

    Two workers asking for the same run at once share one load: the second waits on the run's own
    lock instead of loading the checkpoint a second time.
    """

    def __init__(self, workspace: str, keep: int = KEEP_RUNS) -> None:
        self.workspace, self.keep = workspace, keep
        self._runs: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, run_id: str) -> Any:
        with self._lock:
            if run_id in self._runs:
                self._runs.move_to_end(run_id)
                return self._runs[run_id]
            gate = self._loading.setdefault(run_id, threading.Lock())
        with gate:
            with self._lock:
                if run_id in self._runs:
                    return self._runs[run_id]
            from recsys_gui.core.serving import load_run

            loaded = load_run(run_id, self.workspace)
            with self._lock:
                self._runs[run_id] = loaded
                self._loading.pop(run_id, None)
                while len(self._runs) > self.keep:
                    self._runs.popitem(last=False)
            return loaded

    def cached(self, run_id: str) -> Any | None:
        with self._lock:
            return self._runs.get(run_id)


def load(runs: LoadedRuns, run_id: str) -> Any:
    return runs.get(run_id)


def search(
    runs: LoadedRuns, run_id: str, text: str, limit: int = SEARCH_LIMIT
) -> list[tuple[Any, str | None]]:
    return runs.get(run_id).search_items(text, limit=limit)


def history(runs: LoadedRuns, run_id: str, user: str) -> list[tuple[Any, str | None, float]]:
    """A known user's (item, title, rating), oldest first: the template for a basket."""
    loaded = runs.get(run_id)
    return [(item, loaded.titles.get(item), rating) for item, rating in loaded.history_of(user.strip())]


def recommend_for_basket(
    runs: LoadedRuns,
    run_ids: Sequence[str],
    items: Sequence[Any],
    ratings: Sequence[float] | None,
    top: int,
    explain: int = 3,
) -> list[RunAnswer]:
    """Each run's top-``top`` for the basket with ``explain`` reasons per item; a run that cannot
    answer (an item it does not know, no fold-in) gets its message instead of failing the others."""
    answers = []
    for run_id in run_ids:
        try:
            recs = runs.get(run_id).recommend(
                items=list(items),
                ratings=None if ratings is None else list(ratings),
                top=top,
                explain=explain,
            )
        except Exception as exc:  # one run's failure is shown in its own column
            answers.append(RunAnswer(run_id, [], _message(exc)))
        else:
            answers.append(RunAnswer(run_id, recs))
    return answers


def _message(exc: Exception) -> str:
    from recsys_gui.core.errors import RecsysError

    return str(exc) if isinstance(exc, RecsysError) else f"{type(exc).__name__}: {exc}"


def new_item_users(
    runs: LoadedRuns, run_id: str, features: str, top: int
) -> list[tuple[int, Any, int, float]]:
    """The ``top`` users the run would recommend a new item to, the item given by its features
    (``"genres=Comedy|Romance"``), as (rank, user id, known interactions, score), best first."""
    loaded = runs.get(run_id)
    users = loaded.top_users_for_new_item(features, top=top)
    return [(u.rank, u.user, len(loaded.history_of(u.user)), u.score) for u in users]
