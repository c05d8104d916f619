"""Full-ranking evaluation in user batches on the device, with per-user values kept.

One ``score`` call per batch of users (through fold-in for users the model did not train on), known
items masked, ``torch.topk`` with the largest k any metric needs, hits against the target rows. No
per-user Python loops. Under torchrun users are sharded across ranks and sums are all-reduced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core.data.batching import PositiveIndex
from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.errors import TrainingCancelled
from recsys_gui.core.evaluation import metrics as M
from recsys_gui.core.evaluation.ild_basis import item_basis
from recsys_gui.core.evaluation.item_segments import ITEM_SEGMENTS, segment_recall
from recsys_gui.core.evaluation.ranking import (
    DeviceCSR,
    FoldInScorer,
    fold_in_view,
    full_scores,
    topk_for_users,
    user_batches,
)
from recsys_gui.core.models.base import Recommender


@dataclass
class EvalResult:
    """Averages by metric key, and per-user values (dense user index → value) when kept."""

    metrics: dict[str, float]
    users: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    n_users: int = 0
    item_segments: dict[str, dict[str, float]] = field(default_factory=dict)  # see item_segments.py


class Evaluator:
    """Ranks every evaluated user against the whole catalogue (or the labelled 1 + N sampled protocol)."""

    def __init__(
        self,
        metrics: Sequence[str] | str = ("ndcg@10", "recall@10"),
        *,
        batch_users: int = 2048,
        sampled_negatives: int | None = None,
        seed: int = 0,
        new_users: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        item_segments: np.ndarray | None = None,
    ) -> None:
        """``new_users``: bool [n_users], the users no model trained on (``held_out_users(split)``);
        a model with trained user vectors scores them through fold-in from their history rows.
        ``candidates``: item indices, the only items ranked (a cold-items split's held-out items,
        ``splits.held_out_items``); None ranks the whole catalogue. ``item_segments``: int [n_items]
        (``item_segments.item_segments``): the result then says how many test rows of each item segment
        reach the top-k (no extra ranking pass)."""
        self.specs = M.parse_metrics(metrics)
        self.batch_users = int(batch_users)
        self.sampled_negatives = sampled_negatives
        self.seed = seed
        self.new_users = new_users
        self.candidates = candidates
        self.item_segments = item_segments

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.specs]

    @torch.no_grad()
    def evaluate(
        self,
        model: Recommender,
        *,
        history: InteractionData,
        exclude: InteractionData,
        target: InteractionData,
        device: torch.device,
        keep_per_user: bool = False,
        rank: int = 0,
        world_size: int = 1,
        all_reduce: Callable[[Tensor], Tensor] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> EvalResult:
        """Evaluate ``model`` on ``target``.

        ``history`` feeds history-based scoring and ``exclude`` is masked.
        """
        was_training = model.training
        model.eval()
        try:
            return self._evaluate(
                model,
                history,
                exclude,
                target,
                device,
                keep_per_user,
                rank,
                world_size,
                all_reduce,
                should_stop,
            )
        finally:
            model.train(was_training)

    def _evaluate(
        self,
        model,
        history,
        exclude,
        target,
        device,
        keep_per_user,
        rank,
        world_size,
        all_reduce,
        should_stop,
    ) -> EvalResult:
        users_all = np.unique(target.users)
        shard = np.array_split(users_all, world_size)[rank] if world_size > 1 else users_all
        users_t = torch.as_tensor(shard, dtype=torch.long, device=device)
        new_users = None if self.new_users is None else torch.as_tensor(self.new_users, dtype=torch.bool)
        folds_in = fold_in_view(model, new_users, history, device)
        hist = folds_in.history if isinstance(folds_in, FoldInScorer) else DeviceCSR(history, device)
        scorer = folds_in
        excl = DeviceCSR(exclude, device)
        tgt = DeviceCSR(target, device)
        ranking = [s for s in self.specs if s.name in M.RANKING_METRICS]
        lists = [s for s in self.specs if s.name in M.LIST_METRICS]
        kmax = max([s.k or 0 for s in ranking + lists] or [0])
        want_auc = any(s.name == "auc" for s in self.specs)
        item_pop = torch.as_tensor(
            np.bincount(history.items, minlength=history.n_items), dtype=torch.float64, device=device
        )
        n_hist_users = max(int(np.unique(history.users).size), 1)
        # one basis for the whole pass: looking it up hashes the history (its fingerprint)
        want_ild = self.sampled_negatives is None and any(s.name == "ild" for s in lists)
        ild_items = item_basis(history, device) if want_ild else None

        per_user: dict[str, list[Tensor]] = {s.key: [] for s in ranking}
        if want_auc:
            per_user["auc"] = []
        exposure = {s.k: torch.zeros(model.n_items, dtype=torch.float64, device=device) for s in lists}
        list_sums: dict[str, Tensor] = {
            s.key: torch.zeros((), dtype=torch.float64, device=device) for s in lists
        }
        sampled = self.sampled_negatives is not None
        neg_index = (
            PositiveIndex(
                torch.as_tensor(np.concatenate([exclude.users, target.users]), device=device),
                torch.as_tensor(np.concatenate([exclude.items, target.items]), device=device),
                model.n_items,
            )
            if sampled
            else None
        )
        gen = torch.Generator(device=device)
        gen.manual_seed(self.seed)
        seg = None if self.item_segments is None else torch.as_tensor(self.item_segments, dtype=torch.long,
                                                                      device=device)
        seg_found = torch.zeros(len(ITEM_SEGMENTS), dtype=torch.float64, device=device)
        allow = None if self.candidates is None else torch.as_tensor(self.candidates, dtype=torch.long,
                                                                     device=device)

        for ub in user_batches(users_t, self.batch_users, n_items=model.n_items):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("Evaluation stopped.")
            n_rel = tgt.row_lengths(ub).double()
            if sampled:
                vals = self._sampled_batch(scorer, ub, hist, tgt, neg_index, gen, ranking)
                for key, v in vals.items():
                    per_user[key].append(v)
            elif kmax:
                idx, _ = topk_for_users(scorer, ub, k=kmax, history=hist, exclude=excl, allow_items=allow)
                hits = tgt.contains(ub, idx).double()
                if seg is not None:
                    seg_found += torch.bincount(seg[idx][hits > 0], minlength=len(ITEM_SEGMENTS)).double()
                for s in ranking:
                    per_user[s.key].append(M.RANKING_METRICS[s.name](hits[:, : s.k], n_rel))
                for s in lists:
                    top = idx[:, : s.k]
                    self._list_metric(s, top, exposure, list_sums, item_pop, n_hist_users, model, ild_items)
            if want_auc:
                per_user["auc"].append(self._auc(scorer, ub, hist, excl, tgt))

        n_eval = torch.tensor(float(users_t.numel()), dtype=torch.float64, device=device)
        sums = {
            k: (torch.cat(v).sum() if v else torch.zeros((), dtype=torch.float64, device=device))
            for k, v in per_user.items()
        }
        if all_reduce is not None and world_size > 1:
            n_eval = all_reduce(n_eval)
            sums = {k: all_reduce(v) for k, v in sums.items()}
            exposure = {k: all_reduce(v) for k, v in exposure.items()}
            list_sums = {k: all_reduce(v) for k, v in list_sums.items()}
        n = max(float(n_eval), 1.0)
        out: dict[str, float] = {k: float(v) / n for k, v in sums.items()}
        for s in lists:
            if s.name == "coverage":
                out[s.key] = float((exposure[s.k] > 0).sum()) / model.n_items
            elif s.name == "gini":
                out[s.key] = M.gini(exposure[s.k])
            else:
                out[s.key] = float(list_sums[s.key]) / n
        for s in self.specs:
            if s.name in M.RATING_METRICS:
                out.update(self._rating_errors(scorer, target, device))
        ordered = {s.key: out[s.key] for s in self.specs if s.key in out}
        result = EvalResult(ordered, n_users=int(n))
        if seg is not None and kmax and not sampled:
            result.item_segments = segment_recall(self.item_segments, target, seg_found.cpu().numpy(), kmax)
        if keep_per_user:
            result.users = shard
            result.per_user = {k: torch.cat(v).cpu().numpy() for k, v in per_user.items() if v}
        return result

    # --- beyond accuracy ------------------------------------------------------------------------
    def _list_metric(self, s, top, exposure, list_sums, item_pop, n_hist_users, model, ild_items) -> None:
        exposure[s.k] += torch.bincount(top.reshape(-1), minlength=model.n_items).double()
        if s.name == "novelty":
            p = (item_pop[top].clamp(min=1.0)) / n_hist_users
            list_sums[s.key] += (-torch.log2(p)).mean(1).sum()
        elif s.name == "arp":
            list_sums[s.key] += item_pop[top].mean(1).sum()
        elif s.name == "ild":
            v = ild_items[top]  # [B, k, d], unit length
            sim = v @ v.transpose(1, 2)
            k = top.shape[1]
            if k > 1:
                off = (sim.sum((1, 2)) - sim.diagonal(dim1=1, dim2=2).sum(1)) / (k * (k - 1))
                list_sums[s.key] += (1.0 - off).double().sum()

    def _auc(self, model, ub, hist, excl, tgt) -> Tensor:
        scores = full_scores(model, ub, history=hist, exclude=excl).double()
        cand = torch.isfinite(scores)
        pos = tgt.dense(ub, dtype=torch.bool) & cand
        order = torch.argsort(scores, dim=1, descending=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order))
        n_cand = cand.sum(1).double()
        p = pos.sum(1).double()
        n_neg = n_cand - p
        lower = torch.where(pos, n_cand.unsqueeze(1) - 1 - ranks.double(), torch.zeros_like(scores)).sum(1)
        correct = lower - p * (p - 1) / 2
        return torch.where((p > 0) & (n_neg > 0), correct / (p * n_neg).clamp(min=1), torch.zeros_like(p))

    def _sampled_batch(self, model, ub, hist, tgt, neg_index, gen, ranking) -> dict[str, Tensor]:
        """ "1 positive + N sampled negatives" (compatibility only): per-user mean over its positives."""
        from recsys_gui.core.data.batching import sample_negatives

        n = int(self.sampled_negatives or 99)
        scores = full_scores(model, ub, history=hist, exclude=None).double()
        r, c = tgt.coords(ub)
        negs = sample_negatives(neg_index, ub[r], (r.numel(), n), model.n_items, gen)
        pos_s = scores[r, c]
        neg_s = scores[r.unsqueeze(1), negs]
        rank = (neg_s >= pos_s.unsqueeze(1)).sum(1)  # 0-based rank of the positive
        counts = torch.bincount(r, minlength=ub.numel()).double().clamp(min=1)
        out = {}
        for s in ranking:
            inside = (rank < s.k).double()
            if s.name in ("hit", "recall"):
                v = inside
            elif s.name == "ndcg":
                v = inside / torch.log2(rank.double() + 2)
            elif s.name in ("mrr", "map"):
                v = inside / (rank.double() + 1)
            elif s.name == "f1":  # one positive per sample: 2PR / (P + R) with P = hit / k, R = hit
                v = 2 * inside / (s.k + 1)
            else:  # precision
                v = inside / s.k
            out[s.key] = (
                torch.zeros(ub.numel(), dtype=torch.float64, device=ub.device).index_add_(0, r, v) / counts
            )
        return out

    def _rating_errors(
        self, model: Recommender | FoldInScorer, target: InteractionData, device: torch.device
    ) -> dict[str, float]:
        if not getattr(model, "uses_ratings", False):
            return {}
        u = torch.as_tensor(target.users, device=device)
        i = torch.as_tensor(target.items, device=device)
        y = torch.as_tensor(target.values, dtype=torch.float32, device=device)
        preds = torch.cat(
            [model.predict_pairs(u[s : s + 65536], i[s : s + 65536]) for s in range(0, u.numel(), 65536)]
        )
        err = preds.float() - y
        return {"rmse": float(err.pow(2).mean().sqrt()), "mae": float(err.abs().mean())}


def held_out_users(split: Split) -> np.ndarray | None:
    """Bool [n_users]: the users of a held-out-users split (strong generalisation), known only by their
    fold-in rows; None for a split that trains on every user."""
    if split.fold_in is None:
        return None
    new = np.zeros(split.n_users, dtype=bool)
    new[split.fold_in.users] = True
    new[split.train.users] = False
    return new


def breakdown_by_activity(
    users: np.ndarray,
    values: np.ndarray,
    train_counts: np.ndarray,
    cold_max: int = 5,
    heavy_quantile: float = 0.9,
) -> dict[str, dict[str, float]]:
    """Mean of a per-user metric for cold (≤ cold_max train rows), warm and heavy (top decile) users."""
    act = train_counts[users]
    heavy_min = (
        float(np.quantile(train_counts[train_counts > 0], heavy_quantile)) if (train_counts > 0).any() else 0
    )
    groups = {"cold": act <= cold_max, "heavy": (act > cold_max) & (act >= heavy_min)}
    groups["warm"] = ~groups["cold"] & ~groups["heavy"]
    return {
        g: {"users": int(m.sum()), "mean": float(values[m].mean()) if m.any() else float("nan")}
        for g, m in groups.items()
    }
