"""What a model needs to read item and user features: the sparse rows on the device, the pooled sum
of feature vectors (LightFM-style), and checkpoints that carry the features with the weights.

A feature-aware model mixes in :class:`FeatureAware`. The session hands it the run's
:class:`~recsys_gui.core.data.features.FeatureSet` through ``attach_features`` before training; a
model built elsewhere (the contract checks, a tuning trial) reads item features from the training
data's metadata in ``prepare``. The features travel in the checkpoint (``FeatureRows``' extra state),
so a stored run scores a new item described by its features without the metadata file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.data.features import FeatureMatrix, FeatureSet, fit_features
from recsys_gui.core.errors import ConfigError

FEATURE_CHOICES = ("auto", "none", "items", "users", "both")
FEATURES_HELP = ("none (or empty): ids only; items/users/both: add the sum of the item's (user's) feature "
                 "vectors to its id vector, so items never trained on are scored from their features; "
                 "auto: items when an item metadata file is loaded.")


class FeatureRows(nn.Module):
    """A row × feature matrix (rows normalised to sum 1) as device buffers, plus the encoders.

    The raw matrix and its encoders (as UTF-8 JSON bytes) are saved buffers, so a checkpoint carries
    the features as tensors (weights-only loading) and ``matrix_from_state`` rebuilds them.
    """

    def __init__(self, features: FeatureMatrix) -> None:
        super().__init__()
        self.features = features
        raw = sp.csr_matrix(features.matrix)
        header = {"shape": list(raw.shape), "encodings": features.to_state()["encodings"],
                  "skipped": dict(features.skipped)}
        self.register_buffer("raw_indptr", torch.as_tensor(raw.indptr.astype(np.int64)))
        self.register_buffer("raw_indices", torch.as_tensor(raw.indices.astype(np.int64)))
        self.register_buffer("raw_data", torch.as_tensor(raw.data.astype(np.float32)))
        self.register_buffer("header_json", torch.frombuffer(bytearray(json.dumps(header).encode()),
                                                             dtype=torch.uint8).clone())
        norm = sp.csr_matrix(features.row_normalised())
        norm.sort_indices()  # the sparse view below is declared coalesced: row-major, sorted
        self.register_buffer("indptr", torch.as_tensor(norm.indptr.astype(np.int64)), persistent=False)
        self.register_buffer("indices", torch.as_tensor(norm.indices.astype(np.int64)), persistent=False)
        self.register_buffer("weights", torch.as_tensor(norm.data.astype(np.float32)), persistent=False)
        self.n_rows, self.n_features = norm.shape

    @staticmethod
    def matrix_from_state(state: Mapping[str, Any], prefix: str) -> FeatureMatrix | None:
        """The :class:`FeatureMatrix` saved under ``prefix`` in a state dict, or None if there is none."""
        header = state.get(f"{prefix}.header_json")
        if header is None:
            return None
        meta = json.loads(bytes(header.cpu().numpy().tobytes()).decode())
        return FeatureMatrix.from_state({**meta, "indptr": state[f"{prefix}.raw_indptr"].cpu().numpy(),
                                         "indices": state[f"{prefix}.raw_indices"].cpu().numpy(),
                                         "data": state[f"{prefix}.raw_data"].cpu().numpy()})

    def sparse(self, scale: Tensor | None = None) -> Tensor:
        """The normalised matrix [rows, features] as a sparse tensor (rows optionally scaled)."""
        rows = torch.repeat_interleave(torch.arange(self.n_rows, device=self.indptr.device),
                                       self.indptr[1:] - self.indptr[:-1])
        w = self.weights if scale is None else self.weights * scale[rows]
        return torch.sparse_coo_tensor(torch.stack([rows, self.indices]), w, (self.n_rows, self.n_features),
                                       is_coalesced=True, check_invariants=False)

    def pool(self, rows: Tensor, table: Tensor) -> Tensor:
        """Σ_f x[row, f] · table[f] for each of ``rows`` (any shape): [*rows.shape, d], differentiable
        in ``table``; one ``embedding_bag`` call, no loop over rows. When the batch looks up more rows
        than the matrix has (a small catalogue), every row is pooled once and indexed: faster."""
        if rows.numel() > self.n_rows:
            return self.pool_all(table)[rows]
        flat = rows.reshape(-1)
        starts = self.indptr[flat]
        counts = self.indptr[flat + 1] - starts
        offsets = torch.cumsum(counts, 0) - counts
        pos = torch.arange(int(counts.sum()), device=flat.device) - torch.repeat_interleave(offsets, counts)
        at = torch.repeat_interleave(starts, counts) + pos
        out = F.embedding_bag(self.indices[at], table, offsets, mode="sum",
                              per_sample_weights=self.weights[at])
        return out.view(*rows.shape, table.shape[1])

    def pool_all(self, table: Tensor) -> Tensor:
        """Pooled vectors of every row [rows, d]."""
        return torch.sparse.mm(self.sparse(), table)


def pool_new(features: FeatureMatrix, row: sp.csr_matrix, table: Tensor) -> Tensor:
    """Pooled vector [n, d] of rows encoded outside training (a new item), normalised like the rest."""
    norm = FeatureMatrix(sp.csr_matrix(row), features.encodings).row_normalised().tocoo()
    dense = torch.zeros(norm.shape[0], norm.shape[1], device=table.device)
    dense[torch.as_tensor(norm.row, dtype=torch.long), torch.as_tensor(norm.col, dtype=torch.long)] = (
        torch.as_tensor(norm.data, dtype=torch.float32, device=table.device))
    return dense @ table


class FeatureAware:
    """Mixin for a :class:`Recommender` that reads features. The model implements
    ``_use_features(items, users)`` (build its feature parts; either side may be None) and says which
    sides it wants with ``wanted_sides()``."""

    item_rows: FeatureRows | None
    user_rows: FeatureRows | None

    def wanted_sides(self) -> tuple[bool, bool]:
        """(items, users) this model's ``features`` setting asks for (auto: items, when there are any)."""
        mode = self.config.features  # type: ignore[attr-defined]
        return mode in ("items", "both", "auto"), mode in ("users", "both")

    @property
    def uses_features(self) -> bool:
        return getattr(self, "item_rows", None) is not None or getattr(self, "user_rows", None) is not None

    def _use_features(self, items: FeatureMatrix | None, users: FeatureMatrix | None) -> None:
        raise NotImplementedError

    def attach_features(self, features: FeatureSet | None) -> None:
        """Take the run's features (before training or loading weights); a side the settings ask for and
        the data lacks is a ConfigError naming the file to pass."""
        want_items, want_users = self.wanted_sides()
        features = features or FeatureSet()
        if want_items and features.items is None:
            raise ConfigError(f"{self.label}: item features were asked for and there are none: pass an item "  # type: ignore[attr-defined]
                              "metadata file (--items-meta FILE) with at least one usable column")
        if want_users and features.users is None:
            raise ConfigError(f"{self.label}: user features were asked for and there are none: pass a user "  # type: ignore[attr-defined]
                              "metadata file (--users-meta FILE) with at least one usable column")
        self._use_features(features.items if want_items else None, features.users if want_users else None)

    def score_new_items(self, rows: sp.csr_matrix, users: Tensor, history: Tensor | None) -> Tensor:
        """Scores [B, n] of ``users`` for n items the model never saw, given only by their feature rows
        (``FeatureMatrix.encode_text``); ``history`` [B, n_items]: the users' known items, for models
        that score from them. Evaluation mode, no gradients."""
        raise NotImplementedError

    def features_from_training(self, train: Any) -> None:
        """Called from ``prepare``: when nothing was attached, item features from the training data's
        metadata (default columns), so a model built outside the session still gets them."""
        if self.item_rows is not None or self.user_rows is not None:
            return
        want_items, want_users = self.wanted_sides()
        if not (want_items or want_users):
            return
        items = fit_features(getattr(train, "item_meta", None)) if want_items else None
        if items is None and getattr(self.config, "features", None) == "auto":  # type: ignore[attr-defined]
            return  # auto without usable metadata: ids only
        self.attach_features(FeatureSet(items=items))

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Rebuild the feature parts a checkpoint carries before loading the weights into them."""
        sides = {}
        for side in ("item_rows", "user_rows"):
            if getattr(self, side) is None:
                matrix = FeatureRows.matrix_from_state(state_dict, side)
                if matrix is not None:
                    sides[side] = matrix
        if sides:
            self._use_features(sides.get("item_rows"), sides.get("user_rows"))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)  # type: ignore[misc]


class HybridEmbeddings(FeatureAware):
    """LightFM-style vectors for a model with id tables ``P`` (users) and ``Q`` (items) and a
    ``features`` setting: an item's vector is its id vector plus the sum of its feature vectors
    (weights normalised per item); the same for users. An item with no training rows has an untrained
    id vector, so only its feature part counts: a new item is scored from its features alone.

    The model calls ``_init_hybrid()`` in ``__init__`` and ``_hybrid_prepare(train)`` in ``prepare``,
    and reads its vectors through ``user_vectors``, ``item_vectors`` and ``all_item_vectors``.
    """

    P: nn.Module
    Q: nn.Module

    def _init_hybrid(self) -> None:
        self.item_rows = None
        self.user_rows = None
        self.item_table: nn.Parameter | None = None
        self.user_table: nn.Parameter | None = None
        self.register_buffer("item_trained", torch.ones(self.n_items, dtype=torch.bool))  # type: ignore[attr-defined]
        self.register_buffer("user_trained", torch.ones(self.n_users, dtype=torch.bool))  # type: ignore[attr-defined]

    def _use_features(self, items: FeatureMatrix | None, users: FeatureMatrix | None) -> None:
        d = self.P.weight.shape[1]
        device = self.P.weight.device
        if items is not None:
            self.item_rows = FeatureRows(items).to(device)
            self.item_table = _table(items.n_features, d, device)
        if users is not None:
            self.user_rows = FeatureRows(users).to(device)
            self.user_table = _table(users.n_features, d, device)

    def _hybrid_prepare(self, train: Any) -> None:
        """Features from the training metadata when none were attached; which ids were trained."""
        self.features_from_training(train)
        self.item_trained.copy_(trained_mask(train.item_counts(), self.n_items))  # type: ignore[attr-defined]
        self.user_trained.copy_(trained_mask(train.user_counts(), self.n_users))  # type: ignore[attr-defined]

    def item_vectors(self, items: Tensor) -> Tensor:
        v = self.Q(items)
        if self.item_rows is None or self.item_table is None:
            return v
        keep = self.item_trained[items].unsqueeze(-1).to(v.dtype)  # a float mask: bool × float is slow
        return v * keep + self.item_rows.pool(items, self.item_table)

    def all_item_vectors(self) -> Tensor:
        q = self.Q.weight
        if self.item_rows is None or self.item_table is None:
            return q
        return q * self.item_trained.unsqueeze(-1).to(q.dtype) + self.item_rows.pool_all(self.item_table)

    def user_vectors(self, users: Tensor) -> Tensor:
        p = self.P(users)
        if self.user_rows is None or self.user_table is None:
            return p
        keep = self.user_trained[users].unsqueeze(-1).to(p.dtype)
        return p * keep + self.user_rows.pool(users, self.user_table)

    def new_item_vectors(self, rows: sp.csr_matrix) -> Tensor:
        """Vectors [n, d] of items given only by their feature rows (no id vector)."""
        if self.item_rows is None or self.item_table is None:
            raise ConfigError(f"{self.label} was trained without item features, so a new item cannot be "  # type: ignore[attr-defined]
                              "scored: train it with --set features=items and --items-meta FILE")
        return pool_new(self.item_rows.features, rows, self.item_table)


def trained_mask(counts: np.ndarray, n: int) -> Tensor:
    """Bool [n]: the rows with training interactions (a model may be built larger than its data)."""
    out = torch.zeros(n, dtype=torch.bool)
    m = min(n, len(counts))
    out[:m] = torch.as_tensor(counts[:m] > 0)
    return out


def _table(n_features: int, d: int, device: torch.device) -> nn.Parameter:
    return nn.Parameter(nn.init.xavier_normal_(torch.empty(n_features, d, device=device)))


def resolve_features_setting(values: Mapping[str, Any], config_fields: Any, *,
                             item_metadata: bool) -> dict[str, Any]:
    """A model's settings with ``features="auto"`` made concrete for this run: items when an item
    metadata file is loaded, else none (user features are asked for by name); others kept as given."""
    out = dict(values)
    if "features" in config_fields and out.get("features", "auto") == "auto":
        out["features"] = "items" if item_metadata else "none"
    return out


__all__ = ["FEATURES_HELP", "FEATURE_CHOICES", "FeatureAware", "FeatureRows", "HybridEmbeddings", "pool_new",
           "resolve_features_setting"]
