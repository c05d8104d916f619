"""iALS: implicit alternating least squares (Hu, Koren & Volinsky, ICDM 2008), with the frequency-scaled
regularisation of Rendle et al., "Revisiting the performance of iALS on item recommendation
benchmarks" (RecSys 2022).

Objective, over every user u and item i (observed or not):

    Σ_u Σ_i c_ui (p_ui − x_u·y_i)²  +  Σ_u λ_u ‖x_u‖²  +  Σ_i λ_i ‖y_i‖²

with p = 1 and c = 1 + α on the observed pairs, p = 0 and c = 1 elsewhere. With the items fixed, each
user's vector is a ridge regression in closed form, (YᵀY + α·Y_uᵀY_u + λ_u I) x_u = (1 + α)·Y_uᵀ1, and
the other way round for items. YᵀY (the Gramian) is shared by every row, so a half-step costs the
observed pairs, not users × items. The rows are solved all at once, never one by one: by a few steps
of conjugate gradient warm-started from the previous vectors (implicit's default, 3 steps), whose
products with the observed pairs are one sampled dense-dense product (SDDMM) and one sparse-dense
product (SpMM) per step; or exactly, by a batched Cholesky factorisation.

One trainer epoch is one alternating sweep: the items are solved at the start of the epoch
(``on_epoch_start``) and the users in the trainer's batches of user rows (``training_step``), so
validation curves, early stopping, the stop button and checkpoints work as for every other model.
After an epoch every trained user is solved against the current items, exactly as ``fold_in`` solves
a new user.

With features (``features``: items, users or both) a vector is its id part plus the sum of its
feature vectors, as in the hybrid MF, solved the ALS way: the feature vectors W are the ridge
regression of the trained rows' vectors on their features (refitted after every sweep), each trained
row is regularised towards its feature part X·W instead of towards zero (λ‖y − X·W‖²), and a row
with no interactions (a cold item, a new item given by its features) is X·W itself. With
uninformative features W tends to zero and the model is plain iALS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from recsys_gui.core.config import TrainConfig, setting
from recsys_gui.core.data.batching import RowBatch
from recsys_gui.core.data.features import FeatureMatrix
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models.base import (
    Capabilities,
    EmbeddingConfig,
    Losses,
    Recommender,
    StepContext,
    inference,
)
from recsys_gui.core.models.feature_embeddings import (
    FEATURE_CHOICES,
    FEATURES_HELP,
    FeatureAware,
    FeatureRows,
    pool_new,
    trained_mask,
)

GRAM_CELLS = 2**22  # float64 cells of per-row Gram matrices (and their Khatri-Rao factors) built at once
# Ridge of the feature map, relative to the mean squared feature weight per column: keeps the vectors
# of rare features (a word of a title) near zero without shrinking those of common ones (a genre).
FEATURE_RIDGE = 0.1
FEATURE_CG_STEPS = 25  # per refit, warm-started from the last map: the map moves little between sweeps


@dataclass(frozen=True, kw_only=True)
class IALSConfig(EmbeddingConfig):
    alpha: float = setting(2.0, "Confidence (α)",
                           "Weight of an observed interaction over an unobserved one: c = 1 + α.",
                           min=0.0, max=1e5)
    reg: float = setting(48.0, "L2 regularisation (λ)",
                         "Ridge penalty on the vectors, for a row of average weight (see the scaling).",
                         min=0.0, max=1e6)
    reg_exponent: float = setting(
        1.0, "Regularisation scaling (ν)",
        "λ grows with a row's weight Σc (Rendle et al. 2022): λ·(Σc / mean Σc)^ν; 0: the same λ for all.",
        min=0.0, max=2.0)
    solver: str = setting("cg", "Solver",
                          "cg: a few conjugate-gradient steps per sweep, warm-started (fast); "
                          "cholesky: exact solves (slower, for checking).", choices=("cg", "cholesky"))
    cg_steps: int = setting(3, "Conjugate-gradient steps", "Steps per row and sweep (solver cg).",
                            min=1, max=64, advanced=True)
    init_std: float = setting(0.01, "Initial std", "Standard deviation of the random initial vectors.",
                              min=0.0, max=10.0, advanced=True)
    # Optional: the settings reader turns the text "none" into None, which here means ids only.
    features: str | None = setting("auto", "Features", FEATURES_HELP, choices=FEATURE_CHOICES)


@dataclass(frozen=True)
class Pattern:
    """Which columns each row observed, as CSR arrays on the device (binary feedback: no values)."""

    crow: Tensor  # [rows + 1]
    col: Tensor  # [nnz], the columns of row r at crow[r]:crow[r + 1]
    n_cols: int

    @property
    def n_rows(self) -> int:
        return self.crow.numel() - 1

    def counts(self) -> Tensor:
        return torch.diff(self.crow)

    def matrix(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """The 0/1 [rows, n_cols] matrix as a torch sparse CSR tensor."""
        ones = torch.ones(self.col.numel(), dtype=dtype, device=self.col.device)
        return torch.sparse_csr_tensor(self.crow, self.col, ones, (self.n_rows, self.n_cols),
                                       check_invariants=False)

    def rows(self, lo: int, hi: int) -> Pattern:
        a, b = int(self.crow[lo]), int(self.crow[hi])
        return Pattern(self.crow[lo:hi + 1] - a, self.col[a:b], self.n_cols)

    @classmethod
    def from_dense(cls, history: Tensor) -> Pattern:
        """The nonzero entries of a dense [B, n] history."""
        rows, cols = (history != 0).nonzero(as_tuple=True)
        counts = torch.bincount(rows, minlength=history.shape[0])
        crow = torch.zeros(history.shape[0] + 1, dtype=torch.long, device=history.device)
        crow[1:] = torch.cumsum(counts, 0)
        return cls(crow, cols, history.shape[1])

    @classmethod
    def from_batch(cls, batch: RowBatch) -> Pattern:
        end = batch.offsets.new_tensor([batch.items.numel()])
        return cls(torch.cat([batch.offsets, end]), batch.items, batch.n_items)


def solve_rows(pattern: Pattern, other: Tensor, alpha: float, reg: Tensor, start: Tensor | None,
               cg_steps: int | None, prior: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Every row's iALS least squares against the fixed ``other`` factors [n_cols, d].

    Minimises Σ_j c_rj (p_rj − x_r·y_j)² + reg_r ‖x_r − m_r‖² for each row r of ``pattern``, with m
    the ``prior`` [rows, d] (zeros when None): (YᵀY + α·Y_rᵀY_r + reg_r I) x_r = (1 + α)·Y_rᵀ1 + reg_r·m_r.
    ``cg_steps``: that many conjugate-gradient steps from ``start`` (zeros when None); None: exact, by
    Cholesky in double precision. Returns the vectors [rows, d] and each row's objective, its part of
    the iALS loss.
    """
    gram = other.T @ other
    matrix = pattern.matrix(other.dtype)
    b = (1.0 + alpha) * (matrix @ other)
    if prior is not None:
        b.addcmul_(reg.unsqueeze(1), prior)
    if cg_steps is None:
        x = _exact(pattern, other, gram, alpha, reg)
        r = torch.zeros_like(x)
    else:
        x = start.clone() if start is not None else torch.zeros_like(b)
        x, r = _conjugate_gradient(matrix, other, gram, alpha, reg, b, x, cg_steps)
    # f(x) = xᵀAx − 2bᵀx + (1 + α)·n_r + reg_r‖m_r‖² and Ax = b − r, so f = (1 + α)·n_r − x·(b + r) + ….
    objective = (1.0 + alpha) * pattern.counts().to(x.dtype) - (x * (b + r)).sum(1)
    if prior is not None:
        objective = objective + reg * prior.pow(2).sum(1)
    return x, objective


def ridge_map(features: Tensor, target: Tensor, start: Tensor, steps: int) -> Tensor:
    """W [n_features, d] minimising ‖X·W − target‖² + μ‖W‖² by ``steps`` conjugate-gradient steps from
    ``start``, for the sparse X = ``features`` [rows, n_features] (rows to leave out scaled to zero).

    Only sparse products with X, so a large text vocabulary costs its nonzeros, not n_features².
    μ is ``FEATURE_RIDGE`` times the mean squared weight per column.
    """
    xt = features.t()
    mu = FEATURE_RIDGE * float(features.values().pow(2).sum()) / max(features.shape[1], 1)

    def normal(w: Tensor) -> Tensor:  # (XᵀX + μI)·w
        return torch.sparse.mm(xt, torch.sparse.mm(features, w)).add_(w, alpha=mu)

    w = start.clone()
    r = torch.sparse.mm(xt, target) - normal(w)
    p = r.clone()
    rs = (r * r).sum(0)  # each column of W is its own system with the same matrix
    for _ in range(steps):
        ap = normal(p)
        step = rs / (p * ap).sum(0).clamp(min=1e-30)
        w.addcmul_(step.unsqueeze(0), p)
        r.addcmul_(step.unsqueeze(0), ap, value=-1.0)
        rs_next = (r * r).sum(0)
        p = torch.addcmul(r, (rs_next / rs.clamp(min=1e-30)).unsqueeze(0), p)
        rs = rs_next
    return w


def _conjugate_gradient(matrix: Tensor, other: Tensor, gram: Tensor, alpha: float, reg: Tensor, b: Tensor,
                        x: Tensor, steps: int) -> tuple[Tensor, Tensor]:
    """``steps`` steps of CG on every row's system at once; returns x and its residual b − Ax."""
    other_t = other.T.contiguous()

    def times_a(p: Tensor) -> Tensor:
        # α·Σ_j (p·y_j) y_j over the row's observed columns: SDDMM then SpMM, no [nnz, d] temporary.
        dots = torch.sparse.sampled_addmm(matrix, p, other_t, beta=0.0, alpha=alpha)
        return (dots @ other).addmm_(p, gram).addcmul_(reg.unsqueeze(1), p)

    # Few passes over the [rows, d] vectors (fused products, dot products with vecdot): each is a
    # parallel region whose threads meet at a barrier, which a busy machine makes slow. The step
    # sizes need no guard: a direction p is zero only where the residual already is, so 0 / tiny = 0.
    r = b - times_a(x)
    p = r.clone()
    rs = torch.linalg.vecdot(r, r)
    for _ in range(steps):
        ap = times_a(p)
        step = (rs / torch.linalg.vecdot(p, ap).clamp(min=1e-30)).unsqueeze(1)
        x.addcmul_(step, p)
        r.addcmul_(step, ap, value=-1.0)
        rs_next = torch.linalg.vecdot(r, r)
        p = torch.addcmul(r, (rs_next / rs.clamp(min=1e-30)).unsqueeze(1), p)
        rs = rs_next
    return x, r


def _exact(pattern: Pattern, other: Tensor, gram: Tensor, alpha: float, reg: Tensor) -> Tensor:
    """The exact solutions, in chunks of rows: batched Gram matrices, Cholesky, triangular solves."""
    d = other.shape[1]
    other64, gram64 = other.double(), gram.double()
    out = torch.empty(pattern.n_rows, d, dtype=other.dtype, device=other.device)
    step = max(1, GRAM_CELLS // (d * d))
    for lo in range(0, pattern.n_rows, step):
        hi = min(lo + step, pattern.n_rows)
        part = pattern.rows(lo, hi)
        a = alpha * observed_grams(part, other64) + gram64
        a.diagonal(dim1=1, dim2=2).add_(reg[lo:hi].double().unsqueeze(1))
        b = (1.0 + alpha) * (part.matrix(torch.float64) @ other64)
        chol = torch.linalg.cholesky(a)
        out[lo:hi] = torch.cholesky_solve(b.unsqueeze(2), chol).squeeze(2).to(other.dtype)
    return out


def observed_grams(pattern: Pattern, other: Tensor) -> Tensor:
    """Σ_{j observed by r} y_j y_jᵀ for every row r: [rows, d, d].

    One sparse product with the rows of the items' outer products (their Khatri-Rao product), a band
    of the d × d output at a time so that no temporary exceeds ``GRAM_CELLS``.
    """
    n, d = other.shape
    matrix = pattern.matrix(other.dtype)
    out = torch.empty(pattern.n_rows, d, d, dtype=other.dtype, device=other.device)
    band = max(1, min(d, GRAM_CELLS // max(n * d, 1)))
    for lo in range(0, d, band):
        hi = min(lo + band, d)
        outer = (other[:, lo:hi, None] * other[:, None, :]).reshape(n, (hi - lo) * d)
        out[:, lo:hi, :] = (matrix @ outer).view(pattern.n_rows, hi - lo, d)
    return out


class _ClosedForm(torch.optim.Optimizer):
    """Stands in for an optimiser: iALS sets its vectors by solves, but the trainer logs the first
    optimiser's learning rate and checkpoints its state."""

    def __init__(self, params) -> None:
        super().__init__(params, {"lr": 0.0})

    def step(self, closure=None) -> None:
        return None


class IALS(FeatureAware, Recommender):
    name = "ials"
    label = "iALS (alternating least squares)"
    family = "MF"
    description = ("Matrix factorisation solved in closed form, one side at a time, weighting every "
                   "unobserved item a little; fast and strong on implicit feedback.")
    aliases = ("als", "wmf", "implicit-als")
    config_cls = IALSConfig
    capabilities = Capabilities(batch_kind="user_rows", manual_optimization=True, user_embeddings=True,
                                item_embeddings=True)
    # One batch holds every user (the batcher's cheapest epoch); a smaller batch size gives the same
    # result, since the item side is fixed for the whole user sweep.
    tunes_trainer: ClassVar[bool] = False
    train_defaults: ClassVar = {"epochs": 15, "batch_size": 1_000_000, "patience": 3}
    test_config: ClassVar = {"embedding_dim": 8}
    config: IALSConfig

    def __init__(self, config: IALSConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        d = config.embedding_dim
        self.user_factors = nn.Parameter(torch.randn(n_users, d) * config.init_std, requires_grad=False)
        self.item_factors = nn.Parameter(torch.randn(n_items, d) * config.init_std, requires_grad=False)
        # The mean row weight Σc of the training users, which a new user's λ is scaled against.
        self.register_buffer("user_weight_mean", torch.tensor(float(n_items)))
        # The item side's observed users and λ per item: rebuilt from the training data by ``prepare``.
        self.register_buffer("item_crow", torch.zeros(n_items + 1, dtype=torch.long), persistent=False)
        self.register_buffer("item_col", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("item_reg", torch.full((n_items,), float(config.reg)), persistent=False)
        self.item_rows: FeatureRows | None = None
        self.user_rows: FeatureRows | None = None
        self.item_map: nn.Parameter | None = None  # W of the items' features [n_features, d]
        self.user_map: nn.Parameter | None = None
        self.register_buffer("item_trained", torch.ones(n_items, dtype=torch.bool))
        self.register_buffer("user_trained", torch.ones(n_users, dtype=torch.bool))
        self._user_prior: Tensor | None = None  # every user's X·W this sweep (user features only)

    # --- features -------------------------------------------------------------------------------
    def _use_features(self, items: FeatureMatrix | None, users: FeatureMatrix | None) -> None:
        d, device = self.config.embedding_dim, self.item_factors.device
        if items is not None:
            self.item_rows = FeatureRows(items).to(device)
            self.item_map = nn.Parameter(torch.zeros(items.n_features, d, device=device), requires_grad=False)
        if users is not None:
            self.user_rows = FeatureRows(users).to(device)
            self.user_map = nn.Parameter(torch.zeros(users.n_features, d, device=device), requires_grad=False)

    def _refit_map(self, rows: FeatureRows | None, w: nn.Parameter | None, factors: Tensor,
                   trained: Tensor) -> Tensor | None:
        """Refit one side's feature map on its trained rows, give the untrained rows their feature
        part, and return every row's prior X·W (None without features on that side)."""
        if rows is None or w is None:
            return None
        x = rows.sparse(trained.to(factors.dtype))
        w.copy_(ridge_map(x, factors, w, FEATURE_CG_STEPS))
        prior = rows.pool_all(w)
        factors[~trained] = prior[~trained]
        return prior

    # --- training -------------------------------------------------------------------------------
    def prepare(self, train: InteractionData) -> None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            raise ConfigError("iALS trains in one process (each sweep needs every user's vector); "
                              "start it without torchrun.")
        self.features_from_training(train)
        self.item_trained.copy_(trained_mask(train.item_counts(), self.n_items))
        self.user_trained.copy_(trained_mask(train.user_counts(), self.n_users))
        self._user_prior = None
        csc = train.to_csr().tocsc()  # item-major, duplicates merged
        device = self.item_factors.device
        self.item_crow = torch.as_tensor(csc.indptr, dtype=torch.long, device=device)
        self.item_col = torch.as_tensor(csc.indices, dtype=torch.long, device=device)
        alpha, nnz = self.config.alpha, float(csc.nnz)
        self.user_weight_mean.fill_(self.n_items + alpha * nnz / max(self.n_users, 1))
        item_weight_mean = self.n_users + alpha * nnz / max(self.n_items, 1)
        self.item_reg = self._scaled_reg(torch.diff(self.item_crow), self.n_users, item_weight_mean)

    def _scaled_reg(self, counts: Tensor, n_other: int, weight_mean: float | Tensor) -> Tensor:
        """λ_r = λ·(Σ_j c_rj / mean)^ν with Σ_j c_rj = n_other + α·counts (Rendle et al.'s scaling)."""
        weight = n_other + self.config.alpha * counts.to(torch.float32)
        return self.config.reg * (weight / weight_mean) ** self.config.reg_exponent

    def _cg_steps(self) -> int | None:
        return None if self.config.solver == "cholesky" else self.config.cg_steps

    def configure_optimizers(self, train: TrainConfig) -> list[torch.optim.Optimizer]:
        return [_ClosedForm(self.parameters())]

    def on_epoch_start(self, epoch: int, n_epochs: int) -> None:
        """The item half of the sweep: every item against the current user vectors (with features:
        the users' map refitted first, the items' after)."""
        with self._solving():
            self._user_prior = self._refit_map(self.user_rows, self.user_map, self.user_factors,
                                               self.user_trained)
            prior = self.item_rows.pool_all(self.item_map) if self.item_rows is not None else None
            pattern = Pattern(self.item_crow, self.item_col, self.n_users)
            y, _ = solve_rows(pattern, self.user_factors, self.config.alpha, self.item_reg,
                              self.item_factors, self._cg_steps(), prior)
            self.item_factors.copy_(y)
            self._refit_map(self.item_rows, self.item_map, self.item_factors, self.item_trained)

    def training_step(self, batch: RowBatch, ctx: StepContext) -> Losses:
        """The user half, for this batch's users. ``loss``: the iALS objective per user (the items'
        penalty shared out over the users); ``l2``: its regularisation part."""
        with self._solving():
            pattern = Pattern.from_batch(batch)
            reg = self._scaled_reg(pattern.counts(), self.n_items, self.user_weight_mean)
            prior = self._user_prior
            x, objective = solve_rows(pattern, self.item_factors, self.config.alpha, reg,
                                      self.user_factors[batch.users], self._cg_steps(),
                                      None if prior is None else prior[batch.users])
            kept = x
            if prior is not None:  # users without training rows keep their feature part
                trained = self.user_trained[batch.users].unsqueeze(1)
                kept = torch.where(trained, x, self.user_factors[batch.users])
            self.user_factors[batch.users] = kept
            item_l2 = (self.item_reg * self.item_factors.pow(2).sum(1)).sum() / max(self.n_users, 1)
            user_l2 = (reg * x.pow(2).sum(1)).mean()
            return {"loss": objective.mean() + item_l2, "l2": user_l2 + item_l2}

    @contextlib.contextmanager
    def _solving(self) -> Iterator[None]:
        """No autograd, and full precision even inside the trainer's bf16 autocast."""
        with torch.no_grad(), torch.autocast(self.item_factors.device.type, enabled=False):
            yield

    # --- inference ------------------------------------------------------------------------------
    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.user_factors[users] @ self.item_factors.T

    def predict_pairs(self, users: Tensor, items: Tensor, history: Tensor | None = None) -> Tensor:
        return (self.user_factors[users] * self.item_factors[items]).sum(-1)

    def fold_in(self, history: Tensor) -> Tensor:
        """New users' vectors: the exact user solve of training against the fixed item vectors."""
        with self._solving():
            pattern = Pattern.from_dense(history)
            reg = self._scaled_reg(pattern.counts(), self.n_items, self.user_weight_mean)
            x, _ = solve_rows(pattern, self.item_factors, self.config.alpha, reg, None, None)
            return x

    def score_new_items(self, rows: sp.csr_matrix, users: Tensor, history: Tensor | None = None) -> Tensor:
        """Scores [B, n] for items given only by their feature rows: their feature part X·W."""
        if self.item_rows is None or self.item_map is None:
            raise ConfigError(f"{self.label} was trained without item features, so a new item cannot be "
                              "scored: train it with --set features=items and --items-meta FILE")
        with inference(self):
            return self.user_factors[users] @ pool_new(self.item_rows.features, rows, self.item_map).T

    def score_new_users(self, history: Tensor, order: Tensor | None = None) -> Tensor:
        with inference(self):
            return self.fold_in(history) @ self.item_factors.T

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        return self.user_factors[users]

    def item_embeddings(self) -> Tensor:
        return self.item_factors
