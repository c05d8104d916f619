"""MLP: the NCF multi-layer perceptron (He et al., "Neural Collaborative Filtering", WWW 2017, §3.3).

``sigmoid(h · tower(concat(P[u], Q[i])))`` trained pointwise with binary cross-entropy on each
positive and ``negatives`` uniformly sampled non-interacted items (the NCF log loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.batching import PointBatch
from recsys_gui.core.models import foldin
from recsys_gui.core.models.base import (
    BatchOptions,
    Capabilities,
    EmbeddingConfig,
    Losses,
    Recommender,
    inference,
)
from recsys_gui.core.models.layers import (
    Embedding,
    Tower,
    check_layers,
    chunked_over_items,
    init_embedding,
    init_linear,
    parse_layers,
)


@dataclass(frozen=True, kw_only=True)
class MLPConfig(EmbeddingConfig):
    layers: tuple[int, ...] = setting((64, 32), "Tower layers", "Hidden sizes of the MLP tower, e.g. 128,64.")
    dropout: float = setting(0.1, "Dropout", "Dropout before every tower layer.", min=0.0, max=0.99)
    negatives: int = setting(
        4, "Negatives per positive", "Sampled non-interacted items per positive.", min=1, max=256
    )
    item_chunk: int = setting(
        64,
        "Scoring chunk (items)",
        "Items scored per step; bounds memory.",
        min=1,
        max=1_000_000,
        advanced=True,
    )

    def validate(self) -> None:
        check_layers(self.layers, "MLP")


class MLP(Recommender):
    """NCF's MLP tower on concatenated user and item embeddings."""

    name = "mlp"
    label = "MLP (NCF tower)"
    family = "MLP"
    description = (
        "Neural Collaborative Filtering's MLP: a feed-forward tower on the concatenated user and "
        "item vectors, trained with log loss on sampled negatives."
    )
    aliases = ("ncf-mlp",)
    config_cls = MLPConfig
    capabilities = Capabilities(batch_kind="pointwise", user_embeddings=True, item_embeddings=True)
    train_defaults: ClassVar = {"epochs": 200, "batch_size": 2048, "lr": 2e-3, "patience": 10}
    test_config: ClassVar = {"embedding_dim": 8, "layers": (16, 8)}
    config: MLPConfig

    def __init__(self, config: MLPConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d = config.embedding_dim
        self.P = Embedding(n_users, d)
        self.Q = Embedding(n_items, d)
        init_embedding(self.P)
        init_embedding(self.Q)
        self.tower = Tower(d, d, parse_layers(config.layers), config.dropout)
        self.head = nn.Linear(self.tower.out_dim, 1)
        init_linear(self.head)

    def batch_options(self) -> BatchOptions:
        return BatchOptions(negatives=self.config.negatives)

    def forward(self, batch: PointBatch) -> Losses:
        logits = self.head(self.tower(self.P(batch.users), self.Q(batch.items))).squeeze(-1)
        return {"loss": F.binary_cross_entropy_with_logits(logits, batch.labels)}

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        return self.head(self.tower(self.P(users), self.Q(items))).squeeze(-1)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self._score_vectors(self.P(users))

    FOLD_IN_STEPS: ClassVar[int] = 20
    FOLD_IN_LR: ClassVar[float] = 0.03
    FOLD_IN_NEGATIVES: ClassVar[int] = 1

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        """A few Adam steps on a fresh user vector (from the trained users' mean), the tower frozen:
        the model's own log loss on the history's items and sampled negatives."""

        def loss(vecs: Sequence[Tensor], rows: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
            k = neg.shape[1]
            r = torch.cat([rows, rows.repeat_interleave(k)])
            items = torch.cat([pos, neg.reshape(-1)])
            labels = torch.cat([torch.ones(pos.numel(), device=pos.device),
                                torch.zeros(neg.numel(), device=pos.device)])
            logits = self.head(self.tower(vecs[0][r], self.Q(items))).squeeze(-1)
            return F.binary_cross_entropy_with_logits(logits, labels)

        (pu,) = foldin.optimise_user_vectors(self, [self.P.weight.mean(0)], history, loss,
                                             steps=self.FOLD_IN_STEPS, lr=self.FOLD_IN_LR,
                                             negatives=self.FOLD_IN_NEGATIVES)
        with inference(self):
            return self._score_vectors(pu)

    def _score_vectors(self, pu: Tensor) -> Tensor:
        return chunked_over_items(
            lambda it: self.head(self.tower.grid(pu, self.Q(it))).squeeze(-1),
            self.n_items,
            self.config.item_chunk,
            pu.device,
        )

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.P(users)

    def item_embeddings(self) -> Tensor:
        return self.Q.weight
