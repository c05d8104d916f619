"""VAE: Mult-VAE and Mult-DAE (Liang et al., "Variational Autoencoders for Collaborative Filtering",
WWW 2018).

The user's L2-normalised history row, with input dropout, is encoded to a Gaussian latent (VAE) or a
point (DAE) and decoded to a softmax over all items; the loss is the multinomial log-likelihood of
the history plus β·KL (VAE), with β annealed linearly per step up to ``anneal_cap`` — the paper's
"partially regularised" objective, which ranks better than the full ELBO (β = 1).

The first layer is kept as an item table [n_items, hidden]: in training the encoder sums the rows of
a user's items (EmbeddingBag) instead of multiplying a mostly-zero dense row, the same layer for a
fraction of the work; scoring from dense history rows multiplies by the same table. Training never
builds the dense history rows. The bag product and the output layer with its loss run through
``kernels`` (hand-written gradients beside their plain references).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import scipy.sparse as sp
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.batching import RowBatch
from recsys_gui.core.data.features import FeatureMatrix
from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import ConfigError
from recsys_gui.core.models import kernels
from recsys_gui.core.models.base import Capabilities, Losses, ModelConfig, Recommender, inference
from recsys_gui.core.models.feature_embeddings import FeatureAware, FeatureRows, pool_new, trained_mask
from recsys_gui.core.models.layers import Dropout, init_linear


@dataclass(frozen=True, kw_only=True)
class VAEConfig(ModelConfig):
    # Defaults chosen on validation NDCG@10 (seed 2020): a 64-dimensional latent, input dropout 0.7 and
    # nearly noiseless sampling. The paper's 200 / 0.5 / full noise scored 0.1930 on ml-1m (P3) and
    # 0.2365 on ml-100k (P1); these score 0.2091 and 0.2561 (benchmarks/README.md, "Mult-VAE defaults").
    variant: str = setting(
        "vae",
        "Variant",
        "vae: Mult-VAE (Gaussian latent + KL); dae: Mult-DAE (no KL).",
        choices=("vae", "dae"),
    )
    hidden: int = setting(
        600, "Hidden size", "Width of the encoder and decoder hidden layer.", min=2, max=100000
    )
    latent: int = setting(64, "Latent size", "Dimension of the user's latent vector.", min=2, max=100000)
    dropout: float = setting(
        0.7, "Input dropout", "Dropout on the normalised history (the denoising part).", min=0.0, max=0.99
    )
    anneal_cap: float = setting(
        0.2, "KL weight cap (β max)", "Largest β the annealing reaches.", min=0.0, max=10.0
    )
    total_anneal_steps: int = setting(
        2000,
        "KL annealing steps",
        "Steps for β to rise linearly from 0 to 1 (it stops at the cap).",
        min=1,
        max=10_000_000,
    )
    latent_noise: float = setting(
        0.01,
        "Latent noise",
        "Scale of the sampling noise in training, z = μ + s·σ·ε: 1 samples the full posterior (the "
        "paper); a small s (RecBole's 0.01) keeps the KL term as a penalty on the mean and ranks "
        "better. Mult-DAE has no noise.",
        min=0.0,
        max=1.0,
    )
    # Optional: the settings reader turns "none" into None (ids only). Item features enter on the decoder.
    features: str | None = setting("auto", "Features",
                                   "none: item ids only; items: each item's output vector adds the sum of "
                                   "its feature vectors, so items never trained on are scored from their "
                                   "features; auto: items when an item metadata file is loaded.",
                                   choices=("auto", "none", "items"))


class MultVAE(FeatureAware, Recommender):
    """Mult-VAE / Mult-DAE over dense user history rows."""

    name = "vae"
    label = "Mult-VAE"
    family = "VAE"
    description = (
        "Variational autoencoder over each user's history with a multinomial likelihood and an "
        "annealed KL term (Liang et al. 2018); variant 'dae' is the denoising Mult-DAE."
    )
    aliases = ("multvae", "multdae", "mult-vae")
    config_cls = VAEConfig
    capabilities = Capabilities(
        batch_kind="user_rows", scoring_needs_history=True, user_embeddings=True, item_embeddings=True
    )
    train_defaults: ClassVar = {"epochs": 600, "batch_size": 128, "lr": 1e-3, "patience": 10,
                                "eval_every_n_epochs": 5}
    test_config: ClassVar = {"hidden": 16, "latent": 8}
    config: VAEConfig

    def __init__(self, config: VAEConfig, n_users: int, n_items: int) -> None:
        super().__init__(config, n_users, n_items)
        h, k = config.hidden, config.latent
        self.vae = config.variant == "vae"
        self.enc_items = nn.Parameter(torch.empty(n_items, h))  # the first layer, transposed
        self.enc_bias = nn.Parameter(torch.empty(h))
        self.enc_out = nn.Linear(h, 2 * k if self.vae else k)
        self.dec = nn.Linear(k, h)
        self.dec_out = nn.Linear(h, n_items)
        self.drop = Dropout(config.dropout)
        nn.init.xavier_uniform_(self.enc_items)
        nn.init.normal_(self.enc_bias, 0.0, 0.001)
        for m in (self.enc_out, self.dec, self.dec_out):
            init_linear(m, "xavier")
            nn.init.normal_(m.bias, 0.0, 0.001)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))  # drives β; saved for resume
        self.item_rows: FeatureRows | None = None
        self.user_rows = None
        self.item_table: nn.Parameter | None = None  # [features, hidden + 1]: output weights and bias
        self.register_buffer("item_trained", torch.ones(n_items, dtype=torch.bool))

    def wanted_sides(self) -> tuple[bool, bool]:
        return self.config.features in ("auto", "items"), False

    def _use_features(self, items: FeatureMatrix | None, users: FeatureMatrix | None) -> None:
        if items is None:
            return
        device = self.dec_out.weight.device
        self.item_rows = FeatureRows(items).to(device)
        table = torch.zeros(items.n_features, self.config.hidden + 1, device=device)
        nn.init.xavier_uniform_(table[:, :-1])
        self.item_table = nn.Parameter(table)

    def prepare(self, train: InteractionData) -> None:
        self.features_from_training(train)
        self.item_trained.copy_(trained_mask(train.item_counts(), self.n_items))

    def _output(self) -> tuple[Tensor, Tensor]:
        """Output weights [n_items, hidden] and bias: an item's own, plus its features' (only the
        features' for an item with no training rows)."""
        w, b = self.dec_out.weight, self.dec_out.bias
        if self.item_rows is None or self.item_table is None:
            return w, b
        pooled = self.item_rows.pool_all(self.item_table)
        keep = self.item_trained.to(w.dtype)
        return w * keep.unsqueeze(1) + pooled[:, :-1], b * keep + pooled[:, -1]

    def beta(self) -> Tensor:
        if not self.vae:
            return torch.zeros((), device=self.step.device)
        frac = self.step.float() / self.config.total_anneal_steps
        return frac.clamp(max=self.config.anneal_cap)

    def _first_layer(self, rows: Tensor) -> Tensor:
        """Dense history rows: L2-normalise, drop out, multiply by the item table."""
        return torch.addmm(self.enc_bias, self.drop(F.normalize(rows, dim=1)), self.enc_items)

    def _first_layer_sparse(self, batch: RowBatch) -> Tensor:
        """The same from the batch's item lists: binary rows normalise to 1/√count per item."""
        norm = batch.counts.clamp(min=1).float().rsqrt()
        first = kernels.dropout_bag_product(self.enc_items, batch.items, batch.offsets, norm,
                                            batch.row_of_items, self.drop.p, self.training)
        return first + self.enc_bias

    def _encode(self, history: Tensor | RowBatch) -> tuple[Tensor, Tensor | None]:
        """Dense history rows (scoring) or a training batch's item lists → (mean, log-variance)."""
        sparse = isinstance(history, RowBatch)
        first = self._first_layer_sparse(history) if sparse else self._first_layer(history)
        out = self.enc_out(kernels.tanh(first))
        if not self.vae:
            return kernels.tanh(out), None
        k = self.config.latent
        return out[:, :k], out[:, k:]

    def _hidden(self, z: Tensor) -> Tensor:
        return kernels.tanh(self.dec(z))

    def sample(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """The latent a training step decodes, μ + s·σ·ε (s = ``latent_noise``); the mean otherwise.
        The private-training objective draws through this too."""
        if not self.training:
            return mu
        return mu + torch.randn_like(mu) * (self.config.latent_noise * torch.exp(0.5 * logvar))

    def forward(self, batch: RowBatch) -> Losses:
        mu, logvar = self._encode(batch)
        z = mu if logvar is None else self.sample(mu, logvar)
        w, b = self._output()
        nll = kernels.softmax_nll(self._hidden(z), w, b, batch.row_of_items, batch.items,
                                  batch.counts.float())
        beta = self.beta()
        if logvar is None:
            kl = torch.zeros((), device=nll.device)
        else:
            kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
        if self.training:
            self.step += 1
        return {"loss": nll + beta * kl, "nll": nll.detach(), "kl": kl.detach(), "beta": beta.detach()}

    def score(self, users: Tensor, history: Tensor | None) -> Tensor:
        if history is None:
            raise ValueError("Mult-VAE scores from the user's history row.")
        mu, _ = self._encode(history)
        w, b = self._output()
        return kernels.output_logits(self._hidden(mu).to(w.dtype), w, b)

    def score_new_items(self, rows: sp.csr_matrix, users: Tensor, history: Tensor | None) -> Tensor:
        """Log-probability [B, n] of items given only by their features in each user's softmax (the
        catalogue plus the new item), comparable across users."""
        if history is None or self.item_rows is None or self.item_table is None:
            raise ConfigError(f"{self.label} scores a new item from the users' histories and its item "
                              "features; train it with --items-meta FILE.")
        with inference(self):
            w, b = self._output()
            new = pool_new(self.item_rows.features, rows, self.item_table)
            hidden = self._hidden(self._encode(history)[0]).to(w.dtype)
            logits = torch.cat([F.linear(hidden, w, b), F.linear(hidden, new[:, :-1], new[:, -1])], 1)
            return F.log_softmax(logits, 1)[:, self.n_items:]

    # Held-out users are scored from the encoder's mean, as a trained user is (``score``). A few Adam steps
    # on the latent (semi-amortised inference) helped the paper's setting (full sampling noise, latent
    # 200: ml-1m validation users 0.366 -> 0.401) but hurt the current defaults (0.4059 -> 0.3895).

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        if history is None:
            raise ValueError("Mult-VAE's user vectors are the latent means of the history rows.")
        return self._encode(history)[0]

    def item_embeddings(self) -> Tensor:
        return self._output()[0]
