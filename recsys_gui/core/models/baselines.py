"""One-pass baselines every comparison needs: Popularity, ItemKNN and EASE.

They are fitted in closed form in ``prepare`` and keep what they learned in buffers, so they
checkpoint, evaluate and export like every other model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recsys_gui.core import memory
from recsys_gui.core.config import setting
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models.base import Capabilities, ModelConfig, Recommender


@dataclass(frozen=True, kw_only=True)
class PopConfig(ModelConfig):
    pass


class Popularity(Recommender):
    """Most-interacted items first: true interaction counts over the training rows."""

    name = "pop"
    label = "Popularity"
    family = "Baseline"
    description = "Recommends the most interacted-with items to everyone; the bar every model must clear."
    aliases = ("popularity", "mostpop")
    config_cls = PopConfig
    capabilities = Capabilities(batch_kind="none", iterative=False)

    def __init__(self, config: PopConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        self.register_buffer("counts", torch.zeros(n_items))

    def prepare(self, train: InteractionData) -> None:
        self.counts.copy_(torch.as_tensor(train.to_csr().sum(axis=0).A1, dtype=torch.float32))

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.counts.unsqueeze(0).expand(users.numel(), -1).clone()


@dataclass(frozen=True, kw_only=True)
class ItemKNNConfig(ModelConfig):
    k: int = setting(200, "Neighbours", "Most similar items kept per item.", min=1, max=100000)
    shrink: float = setting(10.0, "Shrinkage", "Added to the cosine denominator; damps rare co-occurrences.",
                            min=0.0, max=1e6)


class ItemKNN(Recommender):
    """Item-based k-nearest neighbours with cosine similarity (Sarwar et al., WWW 2001)."""

    name = "itemknn"
    label = "ItemKNN (cosine)"
    family = "Baseline"
    description = "Scores items by their cosine similarity to what the user already has."
    aliases = ("knn", "item-knn")
    config_cls = ItemKNNConfig
    capabilities = Capabilities(batch_kind="none", iterative=False, scoring_needs_history=True)
    test_config: ClassVar = {"k": 10}
    config: ItemKNNConfig

    def __init__(self, config: ItemKNNConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        k = min(config.k, n_items)
        memory.check_fits(n_items * k * 12,
                          f"ItemKNN's neighbour table ({n_items:,} items × {k:,} neighbours)", "cpu",
                          (memory.KCORE, self.FEWER_NEIGHBOURS))
        # Sparse top-k neighbours as two dense [n_items, k] buffers: neighbour index and weight.
        self.register_buffer("nbr_index", torch.zeros(n_items, k, dtype=torch.long))
        self.register_buffer("nbr_weight", torch.zeros(n_items, k))
        self._votes_cache: tuple[tuple, Tensor] | None = None

    FEWER_NEIGHBOURS = "keep fewer neighbours per item (the Neighbours setting, k)"
    CO_BYTES_PER_PAIR = 64  # the sparse co-occurrence product, its COO copy and the similarity matrix

    def prepare(self, train: InteractionData) -> None:
        counts = train.to_csr().getnnz(axis=1).astype(np.float64)
        pairs = min(float((counts**2).sum()), float(self.n_items) ** 2)  # bound on co-occurring pairs
        block = min(self.n_items**2, 2**26) * 4 * 2  # one dense block of similarity columns, and its top-k
        memory.check_fits(pairs * self.CO_BYTES_PER_PAIR + block,
                          f"ItemKNN's item-item similarities ({self.n_items:,} items)", "cpu",
                          (memory.KCORE, self.FEWER_NEIGHBOURS))
        x = train.to_csr().tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        co = (x.T @ x).tocsr()  # item × item co-occurrence, sparse
        co.setdiag(0)
        co.eliminate_zeros()
        coo = co.tocoo()
        sim = sp.csc_matrix(((coo.data / (norms[coo.row] * norms[coo.col] + self.config.shrink + 1e-12))
                             .astype(np.float32), (coo.row, coo.col)), shape=(self.n_items, self.n_items))
        # Column j's k largest entries are the neighbours i that vote for item j; dense blocks of
        # columns keep memory bounded on large catalogues.
        k = self.nbr_index.shape[1]
        step = max(1, 2**26 // max(self.n_items, 1))
        for lo in range(0, self.n_items, step):
            block = torch.as_tensor(sim[:, lo:lo + step].toarray().T)
            w, idx = torch.topk(block, k, dim=1)
            self.nbr_index[lo:lo + step] = idx
            self.nbr_weight[lo:lo + step] = w

    GATHER_ELEMENTS = 2**24  # rows × items × k up to which scoring gathers instead of a sparse product

    def _votes(self) -> Tensor:
        """The sparse [target j, neighbour i] vote matrix, built once per neighbour table: sorting
        its entries cost 440 ms a call on ml-1m, more than the rest of a what-if update."""
        key = (self.nbr_index.data_ptr(), self.nbr_index._version, self.nbr_weight.data_ptr(),
               self.nbr_weight._version)
        if self._votes_cache is None or self._votes_cache[0] != key:
            n, k = self.nbr_index.shape
            targets = torch.arange(n, device=self.nbr_index.device).repeat_interleave(k)  # target j
            votes = torch.sparse_coo_tensor(torch.stack([targets, self.nbr_index.reshape(-1)]),
                                            self.nbr_weight.reshape(-1), (n, n), check_invariants=False)
            self._votes_cache = (key, votes.coalesce())
        return self._votes_cache[1]

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        """score[b, j] = Σ_k history[b, neighbour_k(j)] · weight_k(j): a gather for a few rows (a
        what-if basket), one sparse product for evaluation's batches; tests compare the two."""
        if history is None:
            raise ConfigError("ItemKNN scores from the user's known items; no history was given.")
        if history.shape[0] * self.nbr_index.numel() <= self.GATHER_ELEMENTS:
            return self._score_gather(history)
        return self._score_sparse(history)

    def _score_gather(self, history: Tensor) -> Tensor:
        return (history[:, self.nbr_index] * self.nbr_weight).sum(-1)

    def _score_sparse(self, history: Tensor) -> Tensor:
        return torch.sparse.mm(self._votes(), history.t()).t()


@dataclass(frozen=True, kw_only=True)
class EASEConfig(ModelConfig):
    reg: float = setting(400.0, "L2 regularisation (λ)", "Larger values shrink item-item weights.",
                         min=0.0, max=1e7)


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019): closed-form item-item weights."""

    name = "ease"
    label = "EASE"
    family = "Baseline"
    description = "Closed-form linear item-to-item model; often the strongest baseline."
    aliases = ("ease-r",)
    config_cls = EASEConfig
    capabilities = Capabilities(batch_kind="none", iterative=False, scoring_needs_history=True,
                                item_embeddings=False)
    config: EASEConfig

    MAX_ITEMS = 40_000  # dense n_items² weights; beyond this the memory guard refuses

    def __init__(self, config: EASEConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        if n_items > self.MAX_ITEMS:
            raise ConfigError(f"EASE keeps an items × items matrix; {n_items:,} items would need "
                              f"{n_items * n_items * 4 / 2**30:.1f} GiB. Filter rare items (k-core) first.")
        memory.check_fits(4 * n_items * n_items, f"EASE's items × items weights ({n_items:,} items)", "cpu",
                          (memory.KCORE,))
        self.register_buffer("B", torch.zeros(n_items, n_items))

    PREPARE_BYTES_PER_CELL = 32  # float64 Gram matrix, its inverse, a temporary and B before the cast

    def prepare(self, train: InteractionData) -> None:
        memory.check_fits(self.PREPARE_BYTES_PER_CELL * self.n_items**2,
                          f"Fitting EASE on {self.n_items:,} items (items × items in double precision)",
                          "cpu", (memory.KCORE,))
        x = train.to_csr()
        g = torch.as_tensor((x.T @ x).toarray(), dtype=torch.float64)
        g.diagonal().add_(self.config.reg)
        p = torch.linalg.inv(g)
        b = -p / p.diagonal().unsqueeze(0)
        b.diagonal().zero_()
        self.B.copy_(b.float())

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        if history is None:
            raise ConfigError("EASE scores from the user's known items; no history was given.")
        return history @ self.B
