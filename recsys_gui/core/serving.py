"""One stored run, loaded once, answering "what would it recommend to this user / this basket?".

``load_run(run)`` finds the run in the workspace (id, name or id prefix), loads its model from the
checkpoint (``weights_only=True``, through ``session.load_run_model``) and its split (refused when
the data changed since training), and keeps what every later call needs on the model's device.
Then ``recommend(user=…)`` or ``recommend(items=[…])`` costs one scoring call, a mask and a
``topk``: fast enough to redraw a list on every keystroke of the what-if panel, and the same code
serves the CLI's ``recommend --user/--items`` and notebooks (``from recsys_gui import load_run``).

A known user is scored as the evaluator and the export score them (``model.score`` on their
training history, or fold-in for a user the held-out-users split kept out of training; train and
valid items masked), so this list is the exported one; a basket is scored through fold-in
(``score_new_users``), as a user the model never saw.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from recsys_gui.core.cold_start import UserScore
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import RecsysError
from recsys_gui.core.evaluation.evaluator import held_out_users
from recsys_gui.core.evaluation.ranking import DeviceCSR, FoldInScorer, fold_in_view
from recsys_gui.core.explanations import ReasonKind, top_reasons
from recsys_gui.core.export.ids import raw_id_array
from recsys_gui.core.models.base import Recommender
from recsys_gui.core.session import load_run_model, load_run_split
from recsys_gui.core.user_inspection import search_ids
from recsys_gui.core.utils.devices import resolve_device

RawId = Any  # an id as the data file wrote it: int for integer id spaces, else str


@dataclass(frozen=True)
class Reason:
    """A history item behind a recommendation; ``kind`` says whether ``share`` is an exact part of
    the score ("contribution") or of the embedding similarity ("similarity")."""

    item: RawId
    title: str | None
    share: float
    kind: ReasonKind


@dataclass(frozen=True)
class Recommendation:
    rank: int
    item: RawId
    title: str | None
    score: float
    because: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "item": self.item,
            "title": self.title,
            "score": self.score,
            "because": [
                {"item": r.item, "title": r.title, "share": round(r.share, 6), "kind": r.kind}
                for r in self.because
            ],
        }


def load_run(
    run: str | os.PathLike[str], workspace: str | os.PathLike[str] | None = None, *, device: str = "cpu"
) -> LoadedRun:
    """A stored run ready to recommend: ``run`` is its id, name, id prefix or its run folder."""
    run_ref = os.fspath(run)
    folder = Path(run_ref)
    if workspace is None and folder.is_dir() and (folder / "spec.json").exists():
        workspace, run_ref = folder.resolve().parent.parent, folder.name  # <workspace>/runs/<id>
    dev = resolve_device(device)
    model, spec, row = load_run_model(workspace, run_ref, device=dev)
    split = load_run_split(spec, row)
    return LoadedRun(model, split, run_id=str(row["id"]), name=row.get("name"))


class LoadedRun:
    """A trained model with its data's id maps, known histories and titles (see module docstring)."""

    def __init__(self, model: Recommender, split: Split, *, run_id: str, name: str | None = None) -> None:
        if (model.n_users, model.n_items) != (split.n_users, split.n_items):
            raise RecsysError(
                f"Run {run_id}: the model is built for {model.n_users} users × {model.n_items} items but "
                f"its data has {split.n_users} × {split.n_items}."
            )
        self.run_id, self.name = run_id, name
        self.model_name = model.name
        self.model = model.eval()
        self.split = split
        self.device = model.device
        ref = split.train
        self.item_ids = raw_id_array(ref.item_ids)
        self.user_ids = raw_id_array(ref.user_ids)
        self._items = self.item_ids.tolist()  # Python ints or strs, for the returned values
        titles = ref.item_titles()
        self._titles: np.ndarray | None = None
        self.titles: dict[RawId, str] = {}
        if titles is not None:
            t = titles.reindex(range(ref.n_items)).astype(object)
            self._titles = t.where(t.notna(), None).to_numpy()
            self.titles = {i: str(v) for i, v in zip(self._items, self._titles.tolist(), strict=True) if v}
        self._item_text = pd.Index(self.item_ids.astype(str))
        self._user_text = pd.Index(self.user_ids.astype(str))
        known = split.known_for_test()
        model.set_context(known)  # sequence models: recommend after everything known
        self._known = _UserRows(known)  # everything known before the test part: masked, listed
        self._known_csr: DeviceCSR | None = None  # the same on the device, made for a new item's users
        # Known users are scored as the evaluator and the export score them: users held out of
        # training through fold-in, from the history the export scores from (train + fold-in).
        held_out = held_out_users(split)
        new_users = None if held_out is None else torch.as_tensor(held_out)
        self._scorer = fold_in_view(model, new_users, split.known_for_valid(), self.device)
        self._history = (
            self._scorer.history
            if isinstance(self._scorer, FoldInScorer)
            else DeviceCSR(split.known_for_valid(), self.device)
        )

    # --- look-ups -------------------------------------------------------------------------------
    def user_index(self, user: object) -> int:
        return int(self._lookup(self._user_text, [user], "user")[0])

    def item_indices(self, items: Sequence[object]) -> np.ndarray:
        return self._lookup(self._item_text, items, "item")

    def _lookup(self, index: pd.Index, raw: Sequence[object], what: str) -> np.ndarray:
        tokens = [str(v).strip() for v in raw]
        pos = index.get_indexer(tokens) if index.is_unique else np.array([_first(index, t) for t in tokens])
        missing = [t for t, p in zip(tokens, pos, strict=True) if p < 0]
        if missing:
            shown = ", ".join(f"'{t}'" for t in missing[:5]) + (" …" if len(missing) > 5 else "")
            sample = ", ".join(str(v) for v in index[:3])
            raise RecsysError(
                f"Run {self.run_id} does not know the {what} id{'s' if len(missing) > 1 else ''} {shown} "
                f"({what} ids look like: {sample})."
            )
        return np.asarray(pos, dtype=np.int64)

    def title_of(self, index: int) -> str | None:
        title = None if self._titles is None else self._titles[index]
        return None if title is None else str(title)

    def history_of(self, user: object) -> list[tuple[RawId, float]]:
        """A known user's interactions before the test part (train, valid, fold-in), oldest first."""
        items, values = self._known.row(self.user_index(user))
        return [(self._items[i], float(v)) for i, v in zip(items, values, strict=True)]

    def search_items(self, text: str, limit: int = 50) -> list[tuple[RawId, str | None]]:
        """Items whose raw id is ``text`` first, then those whose title contains it (any case)."""
        found = search_ids(self.item_ids, self._titles, text, limit)
        return [(self._items[i], self.title_of(int(i))) for i in found]

    # --- recommending ---------------------------------------------------------------------------
    def new_item_features(self) -> dict[str, dict[str, Any]]:
        """What a new item can be described by in this run: {column: {"kind", "values"}} from the
        model's item encoders (numeric columns list their bins; text columns their terms); empty when
        the model reads no item features (the what-if panel then hides its new-item box)."""
        rows = getattr(self.model, "item_rows", None)
        if rows is None:
            return {}
        return {e.column: {"kind": e.kind, "values": list(e.values)} for e in rows.features.encodings}

    def top_users_for_new_item(self, features: str, top: int = 10) -> list[UserScore]:
        """The ``top`` users (raw ids, best first, with scores) this run's model would recommend a new
        item to, the item given only by its features (``"genres=Comedy|Romance"``; several columns
        separated by ';'). Users are scored with everything known about them (train and valid).
        Needs a model trained with item features (MF with features=items or both, genre-pop)."""
        from recsys_gui.core.cold_start import top_users_for_new_item

        if self._known_csr is None:
            self._known_csr = DeviceCSR(self.split.known_for_test(), self.device)
        return top_users_for_new_item(self.model, features, history=self._known_csr,
                                      user_ids=self.user_ids.tolist(), top=top)

    def recommend(
        self,
        user: object | None = None,
        items: Sequence[object] | None = None,
        ratings: Sequence[float] | None = None,
        top: int = 10,
        explain: int = 0,
        exclude_known: bool = True,
    ) -> list[Recommendation]:
        """The top-``top`` for a known ``user`` or for a basket of raw item ids (``ratings`` parallel,
        1.0 each by default), best first; ``explain`` > 0 adds that many reasons to each."""
        if top < 1:
            raise RecsysError(f"The number of recommendations must be at least 1 (got {top}).")
        history, scores, masked = self._scores(user, items, ratings)
        if exclude_known:
            scores[0, masked] = -torch.inf
        vals, idx = torch.topk(scores[0], min(top, scores.shape[1]))
        ok = torch.isfinite(vals) | (vals == torch.inf)
        vals, idx = vals[ok], idx[ok]
        reasons = self._reasons(history, idx, explain)
        idx_list, vals_list = idx.tolist(), vals.tolist()
        return [
            Recommendation(
                rank=r + 1,
                item=self._items[i],
                title=self.title_of(i),
                score=float(v),
                because=reasons[r] if reasons else [],
            )
            for r, (i, v) in enumerate(zip(idx_list, vals_list, strict=True))
        ]

    def explain(
        self,
        user: object | None = None,
        items: Sequence[object] | None = None,
        recommended: Sequence[object] = (),
        top: int = 3,
        ratings: Sequence[float] | None = None,
    ) -> dict[RawId, list[Reason]]:
        """The ``top`` reasons for each of the ``recommended`` raw item ids, for a user or a basket."""
        history, _scores, _masked = self._scores(user, items, ratings, score=False)
        targets = torch.as_tensor(self.item_indices(list(recommended)), device=self.device)
        reasons = self._reasons(history, targets, top)
        return {self._items[int(t)]: reasons[r] if reasons else [] for r, t in enumerate(targets)}

    def _scores(
        self,
        user: object | None,
        items: Sequence[object] | None,
        ratings: Sequence[float] | None,
        *,
        score: bool = True,
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """(history row [1, n_items], scores [1, n_items] or None, item indices to mask)."""
        if (user is None) == (items is None):
            raise RecsysError("Give either a user or a basket of items, not both and not neither.")
        if user is not None:
            return self._user_scores(self.user_index(user), score=score)
        return self._basket_scores(list(items or ()), ratings, score=score)

    def _user_scores(self, u: int, *, score: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        users = torch.tensor([u], device=self.device)
        history = self._history.dense(users)
        known, _ = self._known.row(u)
        masked = torch.as_tensor(known, device=self.device)
        if not score:
            return history, None, masked
        needs = self._scorer.capabilities.scoring_needs_history
        with torch.no_grad():
            scores = self._scorer.score(users, history if needs else None)
        return history, scores.float(), masked

    def _basket_scores(
        self, items: list[object], ratings: Sequence[float] | None, *, score: bool
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        if not items:
            raise RecsysError("The basket is empty: add at least one item.")
        idx = self.item_indices(items)
        if ratings is None:
            values = np.ones(idx.size, dtype=np.float32)
        else:
            if len(ratings) != idx.size:
                raise RecsysError(f"{len(ratings)} ratings for {idx.size} items: give one rating per item.")
            values = np.asarray([float(r) for r in ratings], dtype=np.float32)
        where = torch.as_tensor(idx, device=self.device)
        history = torch.zeros(1, self.split.n_items, device=self.device)
        history[0, where] = torch.as_tensor(values, device=self.device)  # a repeated item: the last wins
        if not score:
            return history, None, where
        return history, fold_in_scores(self.model, history, where.view(1, -1)), where

    def _reasons(self, history: Tensor, targets: Tensor, n: int) -> list[list[Reason]]:
        if n <= 0 or targets.numel() == 0:
            return []
        found = top_reasons(self.model, history, targets.view(1, -1), n)
        if found.kind is None:
            return [[] for _ in range(targets.numel())]
        items, shares = found.items[0].tolist(), found.shares[0].tolist()
        return [
            [
                Reason(self._items[i], self.title_of(i), float(s), found.kind)
                for i, s in zip(row_items, row_shares, strict=True)
                if i >= 0
            ]
            for row_items, row_shares in zip(items, shares, strict=True)
        ]


def fold_in_scores(model: Recommender, history: Tensor, order: Tensor | None = None) -> Tensor:
    """Scores [B, n_items] for users the model did not train on, from their history alone.

    Not under ``no_grad``: the optimiser-based fold-ins (NeuMF, MLP, ConvNCF) need gradients for
    their fresh user vector and switch them off again themselves (CONTRACTS.md, interface 1).
    """
    try:
        return model.score_new_users(history, order).detach().float()
    except NotImplementedError as exc:  # a family without fold-in yet: say so, no traceback
        raise RecsysError(f"{model.label} cannot score a user it was not trained on ({exc}).") from None


class _UserRows:
    """Each user's interactions (item indices, values) in time order, found without a scan."""

    def __init__(self, data: InteractionData) -> None:
        keys = (data.users,) if data.timestamps is None else (np.asarray(data.timestamps), data.users)
        order = np.lexsort(keys)  # by user, then time; file order breaks ties (lexsort is stable)
        self.items = data.items[order]
        self.values = np.asarray(data.values, dtype=np.float32)[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(data.users, minlength=data.n_users))])

    def row(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct items of ``user`` (the latest occurrence of a repeated one) and their values."""
        lo, hi = self.indptr[user], self.indptr[user + 1]
        items, values = self.items[lo:hi], self.values[lo:hi]
        _, last = np.unique(items[::-1], return_index=True)
        keep = np.sort(items.size - 1 - last)
        return items[keep], values[keep]


def _first(index: pd.Index, token: str) -> int:
    hits = np.flatnonzero(index == token)
    return int(hits[0]) if hits.size else -1
