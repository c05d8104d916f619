"""Sequential family: next-item models that read a user's items in time order.

* GRU4Rec — Hidasi, Karatzoglou, Baltrunas, Tikk, "Session-based Recommendations with Recurrent
  Neural Networks", ICLR 2016: a GRU over the item sequence.
* SASRec — Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018: causal
  self-attention with learned positional embeddings.

Both train with cross-entropy over the whole catalogue (RecBole's sequential default, and Klenitskiy
& Vasilev 2023 show it beats sampled BCE for SASRec) on :class:`SequenceBatch` es, and tie the output
layer to the item embeddings. Order matters but a ``history`` row has none, so a model keeps the
sequences it scores from as a buffer: ``prepare`` fills it from train (what validation should see)
and ``set_context`` refills it from any data (train + valid before testing, so the sequence ends
right before the test item). The buffer is in the state dict, so checkpoints score the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.data.sequences import SequenceBatch, last_items
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import foldin
from recsys_gui.core.models.base import (
    BatchOptions,
    Capabilities,
    Losses,
    ModelConfig,
    Recommender,
    inference,
)


@dataclass(frozen=True, kw_only=True)
class SequentialConfig(ModelConfig):
    embedding_dim: int = setting(64, "Embedding size", "Length of the item vectors.", min=4, max=1024)
    max_len: int = setting(50, "Max sequence length", "Most recent items a user is represented by.",
                           min=2, max=1000)
    dropout: float = setting(0.3, "Dropout", "Dropout on the item embeddings and hidden states.",
                             min=0.0, max=0.95)

    def validate(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"The 'dropout' setting must be in [0, 1). Got {self.dropout}.")


class SequentialRecommender(Recommender):
    """Shared plumbing: the sequence buffer, the full-catalogue CE loss, tied-output scoring."""

    family = "Sequential"
    capabilities = Capabilities(batch_kind="sequences", scoring_needs_history=False, user_embeddings=True,
                                item_embeddings=True)
    config: SequentialConfig
    # Random orders averaged when folding in a history without one (scores are linear in the state).
    FOLD_IN_ORDERS: ClassVar[int] = 4

    def __init__(self, config: SequentialConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        self.pad = n_items
        self.item_emb = nn.Embedding(n_items + 1, config.embedding_dim, padding_idx=n_items)
        self.register_buffer("sequences", torch.full((n_users, config.max_len), n_items, dtype=torch.long))
        self._context_cache: tuple[InteractionData, Tensor] | None = None
        self._more_orders: Tensor | None = None  # [FOLD_IN_ORDERS - 1, n_users, max_len], derived

    # --- context --------------------------------------------------------------------------------
    def prepare(self, train: InteractionData) -> None:
        self.set_context(train)

    def batch_options(self) -> BatchOptions:
        return BatchOptions(max_len=self.config.max_len)

    def set_context(self, data: InteractionData) -> None:
        """Score from each user's last ``max_len`` items of ``data`` (by time, ties by item id; without
        timestamps, in ``FOLD_IN_ORDERS`` keyed random orders, see ``user_embeddings``).

        The trainer calls this before every validation with the same object; the sort is skipped
        when the buffer still holds what was built from it (a checkpoint load may have changed it).
        """
        cached = self._context_cache
        if (cached is not None and cached[0] is data and cached[1].device == self.sequences.device
                and torch.equal(cached[1], self.sequences)):
            return
        device, max_len = self.sequences.device, self.config.max_len
        seqs = last_items(data, max_len, device=device)
        self.sequences.copy_(seqs)
        self._context_cache = (data, seqs)
        # unordered data: more keyed orders of the same histories, averaged in scoring like fold-in's
        self._more_orders = (None if data.timestamps is not None or self.FOLD_IN_ORDERS < 2 else
                             torch.stack([last_items(data, max_len, device=device, draw=k)
                                          for k in range(1, self.FOLD_IN_ORDERS)]))

    # --- model ----------------------------------------------------------------------------------
    def encode(self, items: Tensor) -> Tensor:
        """[B, L] left-padded items → [B, L, d]: the state after each position."""
        raise NotImplementedError

    def forward(self, batch: SequenceBatch) -> Losses:
        hidden = self.encode(batch.items)
        keep = batch.targets != self.pad
        h = hidden[keep]  # only positions with a target pay for the catalogue-wide logits
        logits = h @ self.item_emb.weight[: self.n_items].T
        ce = F.cross_entropy(logits, batch.targets[keep])
        return {"loss": ce}

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        """The state after the user's sequence; for a context without timestamps, the mean state over
        ``FOLD_IN_ORDERS`` keyed orders of the user's items (the same as folding the user in)."""
        more = self._more_orders
        if more is None or more.shape[1] != self.n_users:
            return self.encode(self.sequences[users])[:, -1]
        more = more.to(self.sequences.device)
        seqs = torch.cat([self.sequences[users].unsqueeze(0), more[:, users]]).flatten(0, 1)
        return self.encode(seqs)[:, -1].view(more.shape[0] + 1, users.numel(), -1).mean(0)

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.user_embeddings(users, history) @ self.item_emb.weight[: self.n_items].T

    def item_embeddings(self) -> Tensor:
        return self.item_emb.weight[: self.n_items]

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        """Encode the new users' own sequences like a trained user's: the state after the last item
        against every item. Given no ``order``, the history is read in ``FOLD_IN_ORDERS`` keyed random
        orders (as training reads unordered data) and the states are averaged, so the scores stand
        for the whole history rather than one arbitrary order of it."""
        draws = 1 if order is not None else self.FOLD_IN_ORDERS
        seqs = torch.cat([foldin.sequences_from(history, order, self.config.max_len, self.pad, draw=k)
                          for k in range(draws)])
        with inference(self):
            state = self.encode(seqs)[:, -1].view(draws, history.shape[0], -1).mean(0)
            return state @ self.item_emb.weight[: self.n_items].T


# --- GRU4Rec ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class GRU4RecConfig(SequentialConfig):
    hidden: int = setting(128, "GRU hidden size", "Width of the recurrent state.", min=4, max=4096)
    n_layers: int = setting(1, "GRU layers", "Stacked recurrent layers.", min=1, max=8)


class GRU4Rec(SequentialRecommender):
    """GRU4Rec (Hidasi et al., ICLR 2016) with full cross-entropy, as in RecBole.

    Embedding dropout → GRU → linear projection back to the embedding space → dot with every item.
    """

    name = "gru4rec"
    label = "GRU4Rec (recurrent next-item)"
    description = "A GRU reads the user's items in time order and predicts the next one."
    aliases = ("gru", "rnn")
    config_cls = GRU4RecConfig
    train_defaults: ClassVar = {"batch_size": 64, "lr": 3e-3, "epochs": 300, "patience": 10}
    test_config: ClassVar = {"embedding_dim": 8, "hidden": 16, "max_len": 20}
    config: GRU4RecConfig

    def __init__(self, config: GRU4RecConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d = config.embedding_dim
        self.drop = nn.Dropout(config.dropout)
        self.gru = nn.GRU(d, config.hidden, num_layers=config.n_layers, batch_first=True, bias=False)
        self.proj = nn.Linear(config.hidden, d)
        nn.init.xavier_normal_(self.item_emb.weight)
        with torch.no_grad():
            self.item_emb.weight[self.pad].zero_()
        for name, w in self.gru.named_parameters():
            if name.startswith("weight_hh"):
                nn.init.orthogonal_(w)
            else:
                nn.init.xavier_uniform_(w)

    def encode(self, items: Tensor) -> Tensor:
        out, _ = self.gru(self.drop(self.item_emb(items)))
        return self.proj(out)


# --- SASRec -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SASRecConfig(SequentialConfig):
    dropout: float = setting(0.5, "Dropout", "Dropout on embeddings, attention and feed-forward outputs.",
                             min=0.0, max=0.95)
    n_layers: int = setting(2, "Attention blocks", "Stacked self-attention blocks.", min=1, max=12)
    heads: int = setting(2, "Attention heads", "Heads per block; must divide the embedding size.",
                         min=1, max=64)
    inner: int = setting(256, "Feed-forward size", "Width of each block's feed-forward layer.",
                         min=4, max=8192)

    def validate(self) -> None:
        super().validate()
        if self.embedding_dim % self.heads:
            raise ConfigError(f"The 'heads' setting of SASRec must divide 'embedding_dim' "
                              f"({self.embedding_dim}). Got {self.heads}.")


class _Block(nn.Module):
    """Post-norm transformer block (as in RecBole's SASRec): attention, then GELU feed-forward."""

    def __init__(self, d: int, heads: int, inner: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.p = heads, dropout
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d, eps=1e-12)
        self.ff = nn.Sequential(nn.Linear(d, inner), nn.GELU(), nn.Linear(inner, d))
        self.ln2 = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.p if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        x = self.ln1(x + self.drop(self.out(att.transpose(1, 2).reshape(b, n, d))))
        return self.ln2(x + self.drop(self.ff(x)))


class SASRec(SequentialRecommender):
    """SASRec (Kang & McAuley, ICDM 2018) with full cross-entropy at every position.

    Item + positional embeddings, causal self-attention blocks (padding keys masked, each position
    always sees itself so left padding never yields an empty softmax), output tied to the items.
    """

    name = "sasrec"
    label = "SASRec (self-attention next-item)"
    description = "Causal self-attention over the user's items in time order predicts the next one."
    aliases = ("attention", "transformer")
    config_cls = SASRecConfig
    train_defaults: ClassVar = {"batch_size": 64, "lr": 2e-3, "epochs": 300, "patience": 10}
    test_config: ClassVar = {"embedding_dim": 8, "heads": 2, "inner": 16, "max_len": 20}
    config: SASRecConfig

    def __init__(self, config: SASRecConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d, L = config.embedding_dim, config.max_len
        self.pos_emb = nn.Embedding(L, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(d, config.heads, config.inner, config.dropout)
                                    for _ in range(config.n_layers))
        self.register_buffer("causal", torch.ones(L, L, dtype=torch.bool).tril(), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()

    def encode(self, items: Tensor) -> Tensor:
        n = items.shape[1]
        x = self.item_emb(items) + self.pos_emb.weight[-n:]
        x = self.drop(self.ln(x))
        real = items != self.pad
        eye = torch.eye(n, dtype=torch.bool, device=items.device)
        mask = (self.causal[-n:, -n:] & real.unsqueeze(1)) | eye  # [B, L(query), L(key)]
        mask = mask.unsqueeze(1)
        for blk in self.blocks:
            x = blk(x, mask)
        return x


__all__ = ["GRU4Rec", "GRU4RecConfig", "SASRec", "SASRecConfig", "SequentialConfig"]
