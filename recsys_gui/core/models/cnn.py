"""CNN: ConvNCF (He et al., "Outer Product-based Neural Collaborative Filtering", IJCAI 2018).

The outer product ``p_u q_iᵀ`` is a d×d interaction map; a 4×4/stride-4 convolution then 2×2/stride-2
ones (RecBole's layout; ``channels`` maps each, ReLU) shrinks it to 1×1 and a linear head gives the score.
Trained with pairwise BPR. As in the paper, the embeddings start from a BPR-MF pre-training run
(``pretrain_epochs``, trained first by the trainer). In addition, two of the channels start as an exact
"trace" path — relu(x) and relu(-x) of the diagonal sums, so head = Σ p_a q_a — which makes the
untrained stack equal to MF's dot product: training refines MF instead of relearning it, the reason
ConvNCF from scratch converges so slowly.
Scoring costs B·I·d²·channels, so it runs over ``item_chunk`` items at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.batching import PairBatch
from recsys_gui.core.errors import ConfigError
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
from recsys_gui.core.models.layers import Embedding, chunked_over_items
from recsys_gui.core.models.mf import MF, MFConfig


@dataclass(frozen=True, kw_only=True)
class ConvNCFConfig(EmbeddingConfig):
    embedding_dim: int = setting(
        32,
        "Embedding size",
        "Length of the user and item vectors (a power of 2; "
        "the map is d×d; the first conv has a 4×4 kernel, stride 4).",
        min=4,
        max=256,
    )
    channels: int = setting(8, "Channels", "Feature maps per convolution layer (≥ 2).", min=2, max=256)
    negatives: int = setting(1, "Negatives per positive", "Sampled negatives per BPR term.", min=1, max=64)
    reg: float = setting(
        1e-4, "L2 on used embeddings", "Penalty on the embeddings touched by each batch.", min=0.0, max=1.0
    )
    pretrain_epochs: int = setting(
        20,
        "MF pre-training epochs",
        "BPR-MF epochs that initialise the embeddings (0: random start).",
        min=0,
        max=10000,
    )
    trace_init: bool = setting(
        True, "Start as MF", "Initialise two channels so the stack starts as the dot product.", advanced=True
    )
    item_chunk: int = setting(
        64,
        "Scoring chunk (items)",
        "Items scored per step; memory grows with users × chunk × d².",
        min=1,
        max=100000,
        advanced=True,
    )

    def validate(self) -> None:
        d = self.embedding_dim
        if d & (d - 1):
            raise ConfigError(f"The 'embedding_dim' parameter of ConvNCF must be a power of 2. Got {d}.")


class ConvNCF(Recommender):
    """Outer-product interaction map → 2×2/stride-2 conv stack → linear score."""

    name = "cnn"
    label = "ConvNCF"
    family = "CNN"
    description = (
        "ConvNCF (He et al. 2018): a CNN over the outer product of the user and item vectors, "
        "trained with BPR; starts from MF-pre-trained embeddings."
    )
    aliases = ("convncf",)
    config_cls = ConvNCFConfig
    capabilities = Capabilities(batch_kind="pairs", user_embeddings=True, item_embeddings=True)
    train_defaults: ClassVar = {"epochs": 6, "batch_size": 1024, "lr": 1e-3, "patience": 2,
                                "eval_every_n_epochs": 3}
    test_config: ClassVar = {"embedding_dim": 8, "channels": 4, "pretrain_epochs": 1}
    config: ConvNCFConfig

    def __init__(self, config: ConvNCFConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d, c = config.embedding_dim, config.channels
        self.P = Embedding(n_users, d)
        self.Q = Embedding(n_items, d)
        nn.init.normal_(self.P.weight, 0.0, 0.1)
        nn.init.normal_(self.Q.weight, 0.0, 0.1)
        self.k1 = (
            4 if d >= 4 else d
        )  # first kernel/stride 4 (RecBole's layout): the map is cheap from then on
        n_layers = 1 + int(math.log2(d // self.k1))
        # A k×k/stride-k convolution over non-overlapping patches is a matmul on channels-last patches.
        self.convs = nn.ModuleList(nn.Linear(self.k1**2 if k == 0 else 4 * c, c) for k in range(n_layers))
        for conv in self.convs:
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        self.head = nn.Linear(c, 1)
        if config.trace_init:
            self._trace_init()

    @torch.no_grad()
    def _trace_init(self) -> None:
        """Channels 0/1 carry relu(s)/relu(-s) of the running diagonal sum s; head = ch0 − ch1 = p·q."""
        c = self.config.channels
        for k, conv in enumerate(self.convs):
            kk = self.k1 if k == 0 else 2
            w = conv.weight.view(c, kk, kk, -1)  # [out, row offset, col offset, in]
            w.mul_(0.1)
            w[:2].zero_()
            if k:
                w[:, :, :, :2].zero_()  # the free channels start off the exact path's inputs
            for t in range(kk):
                if k == 0:
                    w[0, t, t, 0], w[1, t, t, 0] = 1.0, -1.0
                else:
                    w[0, t, t, 0], w[0, t, t, 1] = 1.0, -1.0
                    w[1, t, t, 0], w[1, t, t, 1] = -1.0, 1.0
        self.head.weight.mul_(0.1)
        self.head.weight[0, :2] = torch.tensor([1.0, -1.0])
        self.head.bias.zero_()

    def batch_options(self) -> BatchOptions:
        return BatchOptions(negatives=self.config.negatives)

    def pretraining(self) -> Sequence[Pretraining]:
        """BPR-MF pre-training of ``P`` and ``Q`` (ConvNCF §4.1), run by the trainer like any MF."""
        if self.config.pretrain_epochs == 0:
            return ()
        mf = MF(MFConfig(embedding_dim=self.config.embedding_dim, negatives=1, reg=5e-4), self.n_users,
                self.n_items)
        train = {"epochs": self.config.pretrain_epochs, "batch_size": 2048, "lr": 5e-3, "weight_decay": 0.0}
        return (Pretraining("BPR-MF embeddings", mf, train),)

    @torch.no_grad()
    def start_from(self, pretrained: Sequence[Recommender]) -> None:
        (mf,) = pretrained
        self.P.weight.copy_(mf.P.weight)
        self.Q.weight.copy_(mf.Q.weight)

    def _fold_items(self, q: Tensor) -> Tensor:
        """Layer 1's weights folded into the item side: T[n, j, a, c] = Σ_b W[c, a, b] q[k·j + b]."""
        c, k = self.config.channels, self.k1
        w = self.convs[0].weight.view(c, k, k)
        return torch.einsum("njb,cab->njac", q.unflatten(-1, (-1, k)), w)

    def _first_layer(self, p: Tensor, q: Tensor) -> Tensor:
        """Layer 1 on the outer product without building it: pairs [N, d] × [N, d] → [N, h, h, C].

        out[i, j, c] = Σ_ab W[c, a, b] p[k·i+a] q[k·j+b] = Σ_a p[k·i+a] T[j, a, c]: one small bmm.
        """
        t = self._fold_items(q)  # [N, h, k, C]
        n, h, k, c = t.shape
        out = torch.bmm(p.view(n, h, k), t.transpose(1, 2).reshape(n, k, h * c)).view(n, h, h, c)
        return F.relu(out + self.convs[0].bias)

    def _first_layer_grid(self, p: Tensor, q: Tensor) -> Tensor:
        """Every user with every item: [B, d] × [I, d] → [B·I, h, h, C] with one matmul."""
        t = self._fold_items(q)  # [I, h, k, C]
        i, h, k, c = t.shape
        b = p.shape[0]
        out = p.reshape(b * h, k) @ t.permute(2, 0, 1, 3).reshape(k, i * h * c)  # [(B, h_i), (I, h_j, C)]
        out = out.view(b, h, i, h, c).transpose(1, 2).reshape(b * i, h, h, c)
        return F.relu(out + self.convs[0].bias)

    def _stack(self, x: Tensor) -> Tensor:
        """Layers 2… on channels-last maps [N, H, W, C] → logits [N]."""
        for conv in self.convs[1:]:
            n, hh, ww, c = x.shape
            x = x.view(n, hh // 2, 2, ww // 2, 2, c).transpose(2, 3).reshape(n, hh // 2, ww // 2, 4 * c)
            x = F.relu(conv(x))
        return self.head(x.flatten(1)).squeeze(-1)

    def _pair_logits(self, pu: Tensor, qi: Tensor) -> Tensor:
        """``pu``, ``qi`` [N, d] → [N]."""
        return self._stack(self._first_layer(pu, qi))

    def forward(self, batch: PairBatch) -> Losses:
        pu, qi = self.P(batch.users), self.Q(batch.pos)
        neg = batch.neg if batch.neg.dim() == 2 else batch.neg.unsqueeze(1)
        k = neg.shape[1]
        qj = self.Q(neg.reshape(-1))
        pos = self._pair_logits(pu, qi)
        negs = self._pair_logits(pu.repeat_interleave(k, 0), qj).view(-1, k)
        bpr = -F.logsigmoid(pos.unsqueeze(1) - negs).mean()
        n = pu.shape[0]
        reg = self.config.reg * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum() / k) / n
        return {"loss": bpr + reg, "bpr": bpr.detach()}

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        return self._pair_logits(self.P(users), self.Q(items))

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self._score_vectors(self.P(users))

    FOLD_IN_STEPS: ClassVar[int] = 20
    FOLD_IN_LR: ClassVar[float] = 0.03
    FOLD_IN_NEGATIVES: ClassVar[int] = 1

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        """A few Adam steps on a fresh user vector (from the trained users' mean), the network frozen:
        ConvNCF's own BPR loss with its L2 term on the history's items against sampled negatives."""

        def loss(vecs: Sequence[Tensor], rows: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
            k = neg.shape[1]
            pu = vecs[0][rows]
            q = self.Q.weight.detach()
            pos_l = self._pair_logits(pu, q[pos])
            neg_l = self._pair_logits(pu.repeat_interleave(k, 0), q[neg.reshape(-1)]).view(-1, k)
            bpr = -F.logsigmoid(pos_l.unsqueeze(1) - neg_l).mean()
            return bpr + self.config.reg * pu.pow(2).sum() / pu.shape[0]

        (pu,) = foldin.optimise_user_vectors(self, [self.P.weight.mean(0)], history, loss,
                                             steps=self.FOLD_IN_STEPS, lr=self.FOLD_IN_LR,
                                             negatives=self.FOLD_IN_NEGATIVES)
        with inference(self):
            return self._score_vectors(pu)

    def _score_vectors(self, pu: Tensor) -> Tensor:
        b = pu.shape[0]

        def block(items: Tensor) -> Tensor:
            qi = self.Q(items)
            c = qi.shape[0]
            return self._stack(self._first_layer_grid(pu, qi)).view(b, c)

        return chunked_over_items(block, self.n_items, self.config.item_chunk, pu.device)

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.P(users)

    def item_embeddings(self) -> Tensor:
        return self.Q.weight
