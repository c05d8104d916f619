"""genre-pop: popularity within the user's favourite features, the cold-start baseline to beat.

score(u, i) = (affinity(u, i) + ε) · pop(i), where affinity is the share of the user's history that
carries item i's features (both sides' feature rows normalised to sum 1) and pop(i) is the item's
training count, or, for an item no one trained on, the mean count of the items that share its
features. So a new item is ranked by the popularity of its features among the user's tastes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recsys_gui.core.data.features import ColumnEncoding, FeatureMatrix, fit_features
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models.base import Capabilities, ModelConfig, Recommender
from recsys_gui.core.models.feature_embeddings import FeatureAware, FeatureRows

TIE_BREAK = 1e-3  # items off the user's features still rank among themselves by popularity


@dataclass(frozen=True, kw_only=True)
class GenrePopConfig(ModelConfig):
    pass


class GenrePop(FeatureAware, Recommender):
    """Popularity within the user's favourite item features (genres, categories, tags)."""

    name = "genre-pop"
    label = "Genre popularity"
    family = "Baseline"
    description = ("Popular items among the features (genres, categories) the user likes most; scores new "
                   "items from the popularity of their features. Needs item metadata.")
    aliases = ("genrepop", "feature-pop")
    config_cls = GenrePopConfig
    capabilities = Capabilities(batch_kind="none", iterative=False, scoring_needs_history=True)
    needs_item_features: ClassVar[bool] = True  # the session refuses a run without item metadata

    def __init__(self, config: GenrePopConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        self.item_rows: FeatureRows | None = None
        self.user_rows = None
        self.register_buffer("pop", torch.zeros(n_items))
        self.register_buffer("feature_pop", torch.zeros(0))

    def wanted_sides(self) -> tuple[bool, bool]:
        return True, False

    def _use_features(self, items: FeatureMatrix | None, users: FeatureMatrix | None) -> None:
        if items is None:
            raise ConfigError(f"{self.label} ranks items by their features and this data has none: "
                              "pass an item metadata file (--items-meta FILE)")
        if items.matrix.shape[0] != self.n_items:
            raise ConfigError(f"{self.label}: features for {items.matrix.shape[0]} items, the data has "
                              f"{self.n_items}")
        self.item_rows = FeatureRows(items)
        self.feature_pop = torch.zeros(items.n_features, device=self.pop.device)

    def prepare(self, train: InteractionData) -> None:
        if self.item_rows is None:
            # no metadata (the contract checks' synthetic data): one shared feature, plain popularity
            items = fit_features(train.item_meta) or _one_feature(self.n_items)
            self._use_features(items, None)
        assert self.item_rows is not None
        x = self.item_rows.features.row_normalised()
        counts = train.item_counts().astype(np.float64)
        feature_pop = _mean_count_per_feature(x, counts)
        estimate = np.asarray(x @ feature_pop).ravel()  # what an item with these features tends to get
        pop = np.where(counts > 0, counts, estimate)
        self.pop = torch.as_tensor(pop, dtype=torch.float32, device=self.pop.device)
        self.feature_pop = torch.as_tensor(feature_pop, dtype=torch.float32, device=self.pop.device)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        if history is None:
            raise ConfigError(f"{self.label} scores from the user's known items; no history was given.")
        if self.item_rows is None:
            raise ConfigError(f"{self.label} has not been fitted (no item features yet).")
        x = self.item_rows.sparse()  # [items, features]
        profile = torch.sparse.mm(x.t(), history.float().t()).t()  # [B, features]
        profile = profile / profile.sum(1, keepdim=True).clamp(min=1e-12)
        affinity = torch.sparse.mm(x, profile.t()).t()  # [B, items]
        return (affinity + TIE_BREAK) * self.pop

    def score_new_items(self, rows: sp.csr_matrix, users: Tensor, history: Tensor | None) -> Tensor:
        """Scores [B users, n new items] for items given only by their feature rows (``FeatureMatrix.
        encode_text``), ``history`` [B, n_items] the users' known items: the cold-item formula."""
        if history is None or self.item_rows is None:
            raise ConfigError(f"{self.label} scores new items from the users' known items and its features.")
        norm = FeatureMatrix(sp.csr_matrix(rows), self.item_rows.features.encodings).row_normalised()
        new = torch.as_tensor(norm.toarray(), dtype=torch.float32, device=history.device)  # [n, F]
        x = self.item_rows.sparse()
        profile = torch.sparse.mm(x.t(), history.float().t()).t()
        profile = profile / profile.sum(1, keepdim=True).clamp(min=1e-12)
        return (profile @ new.t() + TIE_BREAK) * (new @ self.feature_pop)


def _mean_count_per_feature(x: sp.csr_matrix, counts: np.ndarray) -> np.ndarray:
    """Per feature: the mean training count of the trained items carrying it (weighted by the item's
    share of that feature)."""
    trained = (counts > 0).astype(np.float64)
    weight = np.asarray(x.T @ trained).ravel()
    total = np.asarray(x.T @ counts).ravel()
    return np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)


def _one_feature(n_items: int) -> FeatureMatrix:
    """Every item with one shared feature: genre-pop without metadata is plain popularity."""
    m = sp.csr_matrix(np.ones((n_items, 1), dtype=np.float32))
    return FeatureMatrix(m, (ColumnEncoding("all", "category", ("1",)),))


__all__ = ["GenrePop", "GenrePopConfig"]
