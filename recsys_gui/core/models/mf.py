"""MF: Bayesian Personalized Ranking matrix factorisation (Rendle et al., UAI 2009).

Pairwise BPR on sampled negatives by default; ``loss="mse"`` is the explicit-rating variant with
user and item biases around the global mean (Koren et al., 2009), trained on observed ratings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import TrainConfig, setting
from recsys_gui.core.data.batching import PairBatch, PointBatch
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.models import foldin, kernels, row_updates
from recsys_gui.core.models.base import (
    BatchOptions,
    Capabilities,
    EmbeddingConfig,
    Losses,
    Recommender,
    StepContext,
    inference,
)
from recsys_gui.core.models.feature_embeddings import FEATURE_CHOICES, FEATURES_HELP, HybridEmbeddings
from recsys_gui.core.models.layers import Embedding


@dataclass(frozen=True, kw_only=True)
class MFConfig(EmbeddingConfig):
    loss: str = setting("bpr", "Objective",
                        "bpr: ranking from implicit feedback; mse: predict explicit ratings.",
                        choices=("bpr", "mse"))
    negatives: int = setting(4, "Negatives per positive", "Sampled negatives averaged in each BPR term.",
                             min=1, max=256)
    reg: float = setting(3e-3, "L2 on used embeddings", "Penalty on the embeddings touched by each batch.",
                         min=0.0, max=1.0)
    updates: str = setting("auto", "Embedding updates",
                           "rows: each step updates only the rows its batch used (row-wise Adagrad, "
                           "fast for large tables on the CPU; batches of at least 32,768 pairs); "
                           "dense: Adam over the whole tables; auto: rows for large tables on the CPU.",
                           choices=("auto", "dense", "rows"))
    # Optional: the settings reader turns the text "none" into None, which here means ids only.
    features: str | None = setting("auto", "Features", FEATURES_HELP, choices=FEATURE_CHOICES)


class MF(HybridEmbeddings, Recommender):
    name = "mf"
    label = "MF (BPR matrix factorisation)"
    family = "MF"
    description = "Dot product of learned user and item vectors; the fast, strong classic."
    aliases = ("bpr", "bprmf", "bpr-mf")
    config_cls = MFConfig
    capabilities = Capabilities(batch_kind="pairs", user_embeddings=True, item_embeddings=True)
    # From a sweep on P1 (benchmarks/README.md): lr 5e-3 with reg 3e-3 reaches its best validation in
    # about half the epochs of lr 2e-3 / reg 1e-3, and scores higher.
    train_defaults: ClassVar = {"batch_size": 4096, "lr": 5e-3, "epochs": 300}
    test_config: ClassVar = {"embedding_dim": 8}
    config: MFConfig

    def __init__(self, config: MFConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d = config.embedding_dim
        self.P = Embedding(n_users, d)
        self.Q = Embedding(n_items, d)
        nn.init.xavier_normal_(self.P.weight)
        nn.init.xavier_normal_(self.Q.weight)
        self._init_hybrid()  # item/user feature vectors (features setting), attached before training
        self.explicit = config.loss == "mse"
        if self.explicit:  # trained on the observed ratings: pointwise batches that carry the values
            self.capabilities = dataclasses.replace(MF.capabilities, batch_kind="pointwise",
                                                    uses_ratings=True)
            self.user_bias = Embedding(n_users, 1)
            self.item_bias = Embedding(n_items, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
            self.register_buffer("global_mean", torch.zeros(()))

    def batch_options(self) -> BatchOptions:
        rows = getattr(self, "rowwise", False)
        return BatchOptions(negatives=self.config.negatives, min_batch_size=self.ROW_MIN_BATCH if rows else 1)

    def prepare(self, train: InteractionData) -> None:
        self._hybrid_prepare(train)
        if self.explicit:
            self.global_mean.fill_(float(train.values.mean()) if len(train) else 0.0)
            return
        # Decided here, on the device training runs on: the trainer reads the capabilities after this.
        entries = (self.n_users + self.n_items) * self.config.embedding_dim
        self.rowwise = (not self.uses_features  # feature vectors train through autograd
                        and row_updates.use_row_updates(self.config.updates, entries, self.P.weight.device))
        self.capabilities = dataclasses.replace(MF.capabilities, manual_optimization=self.rowwise)

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        if getattr(self, "rowwise", False):
            return [row_updates.RowAdagrad([self.P.weight, self.Q.weight], lr=train.lr * self.ROW_LR_SCALE)]
        return super().configure_optimizers(train)

    ROW_LR_SCALE: ClassVar[float] = 20.0
    # Row-wise steps take batches of at least this many pairs: each parallel operator of a step costs
    # a thread wake-up whatever its size, so small batches spent most of an epoch waking sleeping
    # OpenMP threads; at this size they no longer do, and P3's quality rose rather than fell
    # (benchmarks/README.md, "Scale").
    ROW_MIN_BATCH: ClassVar[int] = 32_768

    def forward(self, batch: PairBatch | PointBatch) -> Losses:
        if isinstance(batch, PointBatch):  # explicit ratings
            pred = self.predict_pairs(batch.users, batch.items)
            mse = F.mse_loss(pred, batch.labels)
            reg = self._reg(self.user_vectors(batch.users), self.item_vectors(batch.items))
            return {"loss": mse + reg, "mse": mse.detach()}
        pu = self.user_vectors(batch.users)
        neg = batch.neg if batch.neg.dim() == 2 else batch.neg.unsqueeze(1)
        q = self.item_vectors(torch.cat([batch.pos.unsqueeze(1), neg], 1))  # one lookup: [B, 1 + k, d]
        loss, bpr = kernels.bpr_with_l2(pu, q, self.config.reg)
        return {"loss": loss, "bpr": bpr}

    def training_step(self, batch: PairBatch, ctx: StepContext) -> Losses:
        """A BPR step that reads and writes only the batch's rows (``rowwise``: large tables on the CPU)."""
        neg = batch.neg if batch.neg.dim() == 2 else batch.neg.unsqueeze(1)
        p, q = self.P.weight, self.Q.weight  # not detached copies: the optimiser keys its state by them
        with torch.no_grad():
            qn = q.index_select(0, neg.reshape(-1)).view(*neg.shape, -1)
            loss, bpr, g_u, g_i, g_n = row_updates.bpr_row_gradients(
                p.index_select(0, batch.users), q.index_select(0, batch.pos), qn, self.config.reg)
        (opt,) = ctx.optimizers
        opt.update_rows(p, batch.users, g_u)
        opt.update_rows(q, batch.pos, g_i)
        opt.update_rows(q, neg.reshape(-1), g_n.view(-1, g_n.shape[-1]))
        return {"loss": loss, "bpr": bpr}

    def _reg(self, *embs: Tensor) -> Tensor:
        if self.config.reg == 0:
            return torch.zeros((), device=embs[0].device)
        n = embs[0].shape[0]
        return self.config.reg * sum(e.pow(2).sum() for e in embs) / n

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        out = (self.user_vectors(users) * self.item_vectors(items)).sum(-1)
        if self.explicit:
            bias = self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
            out = out + bias + self.global_mean
        return out

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        out = self.user_vectors(users) @ self.all_item_vectors().T
        if self.explicit:
            out = out + self.user_bias(users) + self.item_bias.weight.T + self.global_mean
        return out

    # iALS fold-in weights, chosen on ml-1m's validation users (users:0.1,0.1,foldin=0.8, seed 2020):
    # the confidence α of a history item over an unseen one, and λ relative to the mean eigenvalue of
    # QᵀQ. Strong ridge wins (valid NDCG@10 0.408 at λ 3 against 0.353 at 0.03); α matters little below
    # 10, and plain least squares on the history alone (α → ∞) ranks far worse (0.20).
    FOLD_IN_ALPHA: ClassVar[float] = 3.0
    FOLD_IN_REG: ClassVar[float] = 3.0

    def fold_in(self, history: Tensor) -> tuple[Tensor, Tensor | None]:
        """User vectors (and, explicit, biases) for new users by least squares against the fixed
        item factors: iALS-weighted for BPR, the model's own MSE objective for ratings."""
        q = self.all_item_vectors().detach()
        if self.explicit:
            return foldin.explicit_user_vectors(history, q, self.item_bias.weight.detach().view(-1),
                                                self.global_mean, self.config.reg)
        return foldin.implicit_user_vectors(history, q, self.FOLD_IN_ALPHA, self.FOLD_IN_REG), None

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        with inference(self):
            p, bias = self.fold_in(history)
            out = p @ self.all_item_vectors().T
            if bias is not None:
                out = out + bias.unsqueeze(1) + self.item_bias.weight.T + self.global_mean
            return out

    def score_new_items(self, rows: sp.csr_matrix, users: Tensor, history: Tensor | None = None) -> Tensor:
        """Scores [B, n] for items given only by their feature rows: the feature part of the vector."""
        with inference(self):
            out = self.user_vectors(users) @ self.new_item_vectors(rows).T
            if self.explicit:
                out = out + self.user_bias(users) + self.global_mean
            return out

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.user_vectors(users)

    def item_embeddings(self) -> Tensor:
        return self.all_item_vectors()
