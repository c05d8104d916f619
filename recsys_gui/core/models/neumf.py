"""NMF: Neural Matrix Factorization, i.e. NeuMF (He et al., "Neural Collaborative Filtering", WWW 2017).

Not non-negative matrix factorisation: "NMF" here is the NCF paper's fusion of a GMF branch
(element-wise product of embeddings) and an MLP branch (tower on concatenated embeddings), whose
last layers are concatenated into one logistic head. Pointwise log loss on sampled negatives.
Optional pre-training (§3.4.1, ``pretrain_epochs``): the trainer first trains a GMF model and an
MLP model with the same loop, then ``load_pretrained`` copies their weights in and weighs the two
heads by ``pretrain_alpha``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    Pretraining,
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
from recsys_gui.core.models.mlp import MLP, MLPConfig


@dataclass(frozen=True, kw_only=True)
class NeuMFConfig(EmbeddingConfig):
    mlp_embedding_dim: int = setting(
        32, "MLP embedding size", "Length of the MLP branch's user/item vectors.", min=2, max=1024
    )
    layers: tuple[int, ...] = setting((64, 32), "MLP layers", "Hidden sizes of the MLP branch, e.g. 128,64.")
    dropout: float = setting(0.1, "Dropout", "Dropout before every MLP layer.", min=0.0, max=0.99)
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
    pretrain_epochs: int = setting(
        0,
        "Pre-training epochs",
        "Epochs of a GMF and an MLP model trained first to start the two branches (NCF §3.4.1; 0: none).",
        min=0,
        max=10000,
        advanced=True,
    )
    pretrain_alpha: float = setting(
        0.5,
        "Pre-training α",
        "Weight of the GMF head when fusing pre-trained heads.",
        min=0.0,
        max=1.0,
        advanced=True,
    )

    def validate(self) -> None:
        check_layers(self.layers, "NeuMF")


class NeuMF(Recommender):
    """GMF ⊕ MLP fused in one logistic head (NeuMF)."""

    name = "nmf"
    label = "Neural MF (NeuMF)"
    family = "NMF"
    description = (
        "Neural Matrix Factorization (NeuMF, He et al. 2017): a GMF branch and an MLP branch fused "
        "in one head. Not non-negative matrix factorisation."
    )
    aliases = ("neumf", "ncf")
    config_cls = NeuMFConfig
    capabilities = Capabilities(batch_kind="pointwise", user_embeddings=True, item_embeddings=True)
    train_defaults: ClassVar = {"epochs": 200, "batch_size": 2048, "lr": 2e-3, "patience": 10}
    test_config: ClassVar = {"embedding_dim": 8, "mlp_embedding_dim": 8, "layers": (16, 8),
                             "pretrain_epochs": 1}
    retired_settings = ("pretrain_gmf_run", "pretrain_mlp_run")  # run ids nothing read; see pretrain_epochs
    config: NeuMFConfig

    def __init__(self, config: NeuMFConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d, dm = config.embedding_dim, config.mlp_embedding_dim
        self.P_gmf, self.Q_gmf = Embedding(n_users, d), Embedding(n_items, d)
        self.P_mlp, self.Q_mlp = Embedding(n_users, dm), Embedding(n_items, dm)
        for emb in (self.P_gmf, self.Q_gmf, self.P_mlp, self.Q_mlp):
            init_embedding(emb)
        self.tower = Tower(dm, dm, parse_layers(config.layers), config.dropout)
        self.head = nn.Linear(d + self.tower.out_dim, 1)
        init_linear(self.head)

    def batch_options(self) -> BatchOptions:
        return BatchOptions(negatives=self.config.negatives)

    def pretraining(self) -> Sequence[Pretraining]:
        if not self.config.pretrain_epochs:
            return ()
        cfg = self.config
        mlp = MLP(MLPConfig(embedding_dim=cfg.mlp_embedding_dim, layers=cfg.layers, dropout=cfg.dropout,
                            negatives=cfg.negatives, item_chunk=cfg.item_chunk), self.n_users, self.n_items)
        train = {"epochs": cfg.pretrain_epochs}
        gmf = GMF(cfg, self.n_users, self.n_items)
        return (Pretraining("GMF", gmf, train), Pretraining("MLP", mlp, train))

    def start_from(self, pretrained: Sequence[Recommender]) -> None:
        gmf, mlp = pretrained
        self.load_pretrained(gmf.state_dict(), mlp.state_dict())

    def _logits(self, users: Tensor, items: Tensor) -> Tensor:
        return self._pair_logits(self.P_gmf(users), self.P_mlp(users), items)

    def _pair_logits(self, pg: Tensor, pm: Tensor, items: Tensor) -> Tensor:
        """Logits of pairs from the user side's two vectors [N, d], [N, dm] and items [N]."""
        gmf = pg * self.Q_gmf(items)
        mlp = self.tower(pm, self.Q_mlp(items))
        d = self.config.embedding_dim  # head(concat(gmf, mlp)) as two products: no concatenation
        w = self.head.weight
        return torch.addmm(torch.addmm(self.head.bias, gmf, w[:, :d].T), mlp, w[:, d:].T).squeeze(-1)

    def forward(self, batch: PointBatch) -> Losses:
        return {
            "loss": F.binary_cross_entropy_with_logits(self._logits(batch.users, batch.items), batch.labels)
        }

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        return self._logits(users, items)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self._score_vectors(self.P_gmf(users), self.P_mlp(users))

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        """A few Adam steps on fresh GMF and MLP user vectors (from the trained users' mean), the
        network frozen: NeuMF's own log loss on the history's items and sampled negatives."""

        def loss(vecs: Sequence[Tensor], rows: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
            k = neg.shape[1]
            r = torch.cat([rows, rows.repeat_interleave(k)])
            items = torch.cat([pos, neg.reshape(-1)])
            labels = torch.cat([torch.ones(pos.numel(), device=pos.device),
                                torch.zeros(neg.numel(), device=pos.device)])
            logits = self._pair_logits(vecs[0][r], vecs[1][r], items)
            return F.binary_cross_entropy_with_logits(logits, labels)

        pg, pm = foldin.optimise_user_vectors(
            self, [self.P_gmf.weight.mean(0), self.P_mlp.weight.mean(0)], history, loss,
            steps=self.FOLD_IN_STEPS, lr=self.FOLD_IN_LR, negatives=self.FOLD_IN_NEGATIVES)
        with inference(self):
            return self._score_vectors(pg, pm)

    # Fold-in optimiser, chosen on ml-1m's validation users (users:0.1,0.1,foldin=0.8, seed 2020): 20 Adam
    # steps at lr 0.03 with one negative per history item reach NDCG@10 0.356 (the start alone: 0.201;
    # 40 steps with 4 negatives: 0.354 at four times the cost; lr 0.1: 0.328). MLP and ConvNCF use the same.
    FOLD_IN_STEPS: ClassVar[int] = 20
    FOLD_IN_LR: ClassVar[float] = 0.03
    FOLD_IN_NEGATIVES: ClassVar[int] = 1

    def _score_vectors(self, pg: Tensor, pm: Tensor) -> Tensor:
        d = self.config.embedding_dim
        w_gmf, w_mlp = self.head.weight[0, :d], self.head.weight[0, d:]
        pg = pg * w_gmf  # the GMF half of the head is linear: fold it into the user side

        def block(items: Tensor) -> Tensor:
            return pg @ self.Q_gmf(items).T + self.tower.grid(pm, self.Q_mlp(items)) @ w_mlp + self.head.bias

        return chunked_over_items(block, self.n_items, self.config.item_chunk, pg.device)

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return torch.cat([self.P_gmf(users), self.P_mlp(users)], -1)

    def item_embeddings(self) -> Tensor:
        return torch.cat([self.Q_gmf.weight, self.Q_mlp.weight], -1)

    @torch.no_grad()
    def load_pretrained(
        self, gmf_state: Mapping[str, Tensor], mlp_state: Mapping[str, Tensor], alpha: float | None = None
    ) -> None:
        """Start from a trained GMF (``P``, ``Q``, ``head``) and a trained MLP model's state (NCF §3.4.1).

        ``gmf_state`` holds ``P``/``Q`` weights (an MF checkpoint, ``P.weight``/``Q.weight``) and
        optionally ``head.weight``/``head.bias``; ``mlp_state`` is an :class:`MLP` state dict. The fused
        head is ``[α·h_gmf, (1-α)·h_mlp]``, so NeuMF starts as the α-mix of the two models.
        """
        a = self.config.pretrain_alpha if alpha is None else float(alpha)
        self.P_gmf.weight.copy_(gmf_state["P.weight"])
        self.Q_gmf.weight.copy_(gmf_state["Q.weight"])
        self.P_mlp.weight.copy_(mlp_state["P.weight"])
        self.Q_mlp.weight.copy_(mlp_state["Q.weight"])
        tower = {k[len("tower.") :]: v for k, v in mlp_state.items() if k.startswith("tower.")}
        self.tower.load_state_dict(tower)
        d = self.config.embedding_dim
        h_gmf = gmf_state.get("head.weight", torch.ones(1, d)).reshape(-1)
        b_gmf = gmf_state.get("head.bias", torch.zeros(1)).reshape(-1)
        self.head.weight[0, :d] = a * h_gmf
        self.head.weight[0, d:] = (1 - a) * mlp_state["head.weight"].reshape(-1)
        self.head.bias.copy_(a * b_gmf + (1 - a) * mlp_state["head.bias"].reshape(-1))


class GMF(Recommender):
    """NCF's generalised MF (§3.2): ``h · (P[u] ⊙ Q[i]) + b`` with log loss; NeuMF's first pre-training
    stage (not offered on its own: MF is the app's matrix factorisation)."""

    name = "gmf"
    label = "GMF (NeuMF pre-training)"
    family = "NMF"
    description = "NeuMF's GMF branch trained alone."
    config_cls = NeuMFConfig
    capabilities = Capabilities(batch_kind="pointwise", user_embeddings=True, item_embeddings=True)
    config: NeuMFConfig

    def __init__(self, config: NeuMFConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d = config.embedding_dim
        self.P, self.Q = Embedding(n_users, d), Embedding(n_items, d)
        init_embedding(self.P)
        init_embedding(self.Q)
        self.head = nn.Linear(d, 1)
        init_linear(self.head)

    def batch_options(self) -> BatchOptions:
        return BatchOptions(negatives=self.config.negatives)

    def forward(self, batch: PointBatch) -> Losses:
        logits = self.head(self.P(batch.users) * self.Q(batch.items)).squeeze(-1)
        return {"loss": F.binary_cross_entropy_with_logits(logits, batch.labels)}

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return (self.P(users) * self.head.weight) @ self.Q.weight.T + self.head.bias

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.P(users)

    def item_embeddings(self) -> Tensor:
        return self.Q.weight
