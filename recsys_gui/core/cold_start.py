"""Cold start in a run: the features a run trains with, the extra test figures of the cold-items
protocol, and the users a new item (given only by its features) would reach.

``run_training`` calls ``resolve_settings``, ``run_features``, ``attach`` and ``test_extras``; the
front ends call ``top_users_for_new_item`` (the CLI's ``recommend RUN --new-item``, the what-if
panel) through ``serving.LoadedRun.top_users_for_new_item``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from recsys_gui.core.data.features import FeatureOptions, FeatureSet, fit_features, load_user_metadata
from recsys_gui.core.data.interactions import Split
from recsys_gui.core.data.splits import held_out_items
from recsys_gui.core.errors import ConfigError, RecsysError
from recsys_gui.core.evaluation.evaluator import EvalResult, Evaluator, held_out_users
from recsys_gui.core.evaluation.item_segments import item_segments
from recsys_gui.core.evaluation.metrics import parse_metrics
from recsys_gui.core.models import base as models
from recsys_gui.core.models.feature_embeddings import FeatureAware, resolve_features_setting

if TYPE_CHECKING:
    from recsys_gui.core.evaluation.ranking import DeviceCSR


class FeatureSources(Protocol):
    """What a run names for its features: the session's ``DataSpec`` (not imported: it sits above)."""

    item_metadata: str | None
    user_metadata: str | None
    features: dict[str, Any]


def resolve_settings(model_config: Mapping[str, Any], model_name: str,
                     features: FeatureSet | None) -> dict[str, Any]:
    """A run's model settings with ``features="auto"`` made concrete (items when the run's item
    metadata gave features, else none), so the checkpoint records what the run used."""
    cls = models.get_model_class(model_name)
    fields = {f.name for f in dataclasses.fields(cls.config_cls)}
    has_items = features is not None and features.items is not None
    return resolve_features_setting(model_config, fields, item_metadata=has_items)


def run_features(data: FeatureSources, split: Split, cls: type[models.Recommender]) -> FeatureSet | None:
    """Item features from the split's metadata and user features from the run's user file, with its
    feature options; None when the run has neither. A model that needs item features (genre-pop)
    and gets none is refused here, before a run row exists."""
    options = FeatureOptions.from_mapping(data.features)
    items = fit_features(split.train.item_meta, options)
    users = None
    if data.user_metadata:
        frame = load_user_metadata(data.user_metadata, split.train.user_ids)
        user_options = FeatureOptions(exclude=options.exclude, numeric_bins=options.numeric_bins)
        users = fit_features(frame, user_options)
        if users is None:
            raise ConfigError(f"user metadata file {data.user_metadata}: no column can be a feature")
    if items is None and getattr(cls, "needs_item_features", False):
        why = ("its item metadata has no usable column" if data.item_metadata
               else "pass an item metadata file with --items-meta FILE (genres, categories, tags)")
        raise ConfigError(f"{cls.label} ranks items by their features and this run has none: {why}.")
    return None if items is None and users is None else FeatureSet(items=items, users=users)


def attach(model: models.Recommender, features: FeatureSet | None) -> None:
    """Hand the run's features to a model that reads them (its settings pick the sides)."""
    if isinstance(model, FeatureAware):
        model.attach_features(features)


def test_extras(model: models.Recommender, split: Split, metrics: Sequence[str], test: EvalResult, *,
                device: torch.device, seed: int, features: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a run summary adds beside ``test``: on a cold-items split the mixed ranking (held-out items
    competing with the trained ones, ``test_mixed``); the recall by item segment (cold, long tail,
    head) of the mixed ranking (``test`` counted it on other splits); the feature report."""
    out: dict[str, Any] = {}
    ranking = [s for s in parse_metrics(metrics) if s.k]
    cold = held_out_items(split, "test") is not None
    kw = {"history": split.known_for_valid(), "exclude": split.known_for_test(), "target": split.test,
          "device": device}
    if cold and ranking:
        mixed = Evaluator([s.key for s in ranking], seed=seed, new_users=held_out_users(split),
                          item_segments=item_segments(split.train))
        result = mixed.evaluate(model, **kw)
        out["test_mixed"] = result.metrics
        out["item_segments"] = result.item_segments
    elif test.item_segments:
        out["item_segments"] = test.item_segments
    if features:
        out["features"] = features
    return out


@dataclass(frozen=True)
class UserScore:
    """One user a new item would be recommended to: rank (1 = best), raw user id, model score."""

    rank: int
    user: Any
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "user": self.user, "score": self.score}


def top_users_for_new_item(model: models.Recommender, features: str, *, history: DeviceCSR,
                           user_ids: Sequence[Any], top: int = 10,
                           batch_users: int = 4096) -> list[UserScore]:
    """The ``top`` users (raw ids, best first) the model would recommend a new item to, the item given
    only by its features in text (``"genres=Comedy|Romance; year=1995"``, parsed by the run's item
    encoders). ``history``: the users' known items (the run's ``known_for_valid``). A model without item
    features (or without a new-item scorer) is a RecsysError that says which models can."""
    rows_source = getattr(model, "item_rows", None)
    if not isinstance(model, FeatureAware) or rows_source is None:
        raise RecsysError(f"{model.label} does not read item features, so it cannot score a new item by "
                          "its features: train MF, iALS or Mult-VAE with --set features=items (or "
                          "genre-pop) and --items-meta.")
    if top < 1:
        raise RecsysError(f"The number of users must be at least 1 (got {top}).")
    row = rows_source.features.encode_text(features)
    n_users = model.n_users
    best_vals = torch.empty(0)
    best_idx = torch.empty(0, dtype=torch.long)
    with models.inference(model):
        for lo in range(0, n_users, batch_users):
            users = torch.arange(lo, min(lo + batch_users, n_users), device=model.device)
            hist = history.dense(users) if model.capabilities.scoring_needs_history else None
            s = model.score_new_items(row, users, hist)[:, 0].float().cpu()
            vals = torch.cat([best_vals, s])
            idx = torch.cat([best_idx, users.cpu()])
            keep = torch.topk(vals, min(top, vals.numel())).indices
            best_vals, best_idx = vals[keep], idx[keep]
    order = torch.argsort(best_vals, descending=True, stable=True)
    ids = np.asarray(user_ids, dtype=object)
    return [UserScore(r + 1, _plain(ids[int(best_idx[j])]), float(best_vals[j]))
            for r, j in enumerate(order.tolist())]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


__all__ = ["UserScore", "attach", "resolve_settings", "run_features", "test_extras",
           "top_users_for_new_item"]
