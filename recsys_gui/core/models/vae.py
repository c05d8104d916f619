"""VAE: Mult-VAE and Mult-DAE (Liang et al., "Variational Autoencoders for Collaborative Filtering",
WWW 2018).

The user's L2-normalised history row, with input dropout, is encoded to a Gaussian latent (VAE) or a
point (DAE) and decoded to a softmax over all items; the loss is the multinomial log-likelihood of
the history plus β·KL (VAE), with β annealed linearly per step up to ``anneal_cap`` — the paper's
"partially regularised" objective, which ranks better than the full ELBO (β = 1).

The first layer is kept as an item table [n_items, hidden]: in training the encoder sums the rows of
a user's items (EmbeddingBag) instead of multiplying a 95 %-zero dense row, which is the same layer
at a twentieth of the work; scoring from dense history rows multiplies by the same table.

Exact rewrites make the CPU step about a quarter shorter (ML-100K, all 943 users in one batch, one
thread: 0.15 → 0.11 s). The decoder's output product writes rows padded to a multiple of 8
(MKL's SGEMM took 31 ms for rows of 1,682 floats and 22 ms for 1,688); the output layer with the
loss (``_SoftmaxNLL``) and the first layer's gradient (``_BagProduct``) are written out by hand;
training never builds the dense history rows, and on CPU leaves the entries input dropout zeroed
out of the item lists (the last two changes: 0.12 → 0.11 s, medians of steps alternating with the
previous code in one process).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from recsys_gui.core.config import setting
from recsys_gui.core.data.batching import RowBatch
from recsys_gui.core.models.base import Capabilities, Losses, ModelConfig, Recommender, register_model
from recsys_gui.core.models.layers import Dropout, dropout_keep, init_linear, tanh

_ALIGN = 8  # output columns padded to a multiple of this in the decoder's last product


class _BagProduct(torch.autograd.Function):
    """``X @ table`` for sparse weighted rows given as EmbeddingBag lists (items, row offsets, weights;
    ``row_of`` names each entry's row).

    The gradient of the table is ``Xᵀ @ grad``: computed here as a second EmbeddingBag over the
    transposed lists (each item's rows), not by EmbeddingBag's own backward, which first writes one
    scaled gradient row per entry (80,000 × 600 floats for ML-100K): 8 ms instead of 16 per step.
    """

    @staticmethod
    def forward(ctx, table: Tensor, items: Tensor, offsets: Tensor, weights: Tensor,
                row_of: Tensor) -> Tensor:
        ctx.save_for_backward(items, weights, row_of)
        ctx.n_items = table.shape[0]
        return F.embedding_bag(items, table, offsets, mode="sum", per_sample_weights=weights)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        items, weights, row_of = ctx.saved_tensors
        # The narrowest integer type that holds the ids: a stable sort of 16-bit keys takes a third
        # of the time of 64-bit ones (ML-100K: 0.6 ms instead of 1.7), and sorts the same way.
        key_type = torch.int16 if ctx.n_items <= 2**15 else torch.int32
        order = torch.argsort(items.to(key_type), stable=True)
        per_item = torch.bincount(items, minlength=ctx.n_items)
        starts = torch.cumsum(per_item, 0) - per_item
        grad_table = F.embedding_bag(row_of.index_select(0, order), grad.contiguous(), starts, mode="sum",
                                     per_sample_weights=weights.index_select(0, order))
        return grad_table, None, None, None, None


def _padded_logits(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``h @ weight.T + bias`` in a buffer whose rows are padded to a multiple of ``_ALIGN`` columns
    holding -inf, which take no share of a softmax and sort last. MKL's SGEMM writes rows of 1,688
    floats in 22 ms and rows of 1,682 in 31 (ML-100K's decoder), so the product writes into the
    padded rows directly; no padded copy of the weight is made."""
    n, m = h.shape[0], weight.shape[0]
    width = m + (-m % _ALIGN)
    buf = weight.new_empty(n, width)
    buf.copy_(F.pad(bias, (0, width - m), value=-math.inf).expand(n, width))
    buf[:, :m].addmm_(h, weight.T)
    return buf


class _SoftmaxNLL(torch.autograd.Function):
    """The decoder's output layer and the mean over rows of ``-Σᵢ xᵤᵢ log softmax(h Wᵀ + b)ᵤᵢ``, for
    binary rows given by their items, in one function.

    The softmax is taken in place over the padded logits and kept for the backward, which writes
    ``softmax·count − x`` over it and forms the three gradients itself: the [users, items] matrix
    is allocated once and walked five times (bias, product, softmax, scale, and the products that
    read it), where autograd's layers kept logits and log-softmax side by side, exponentiated again
    and copied the weight's gradient out of the padded one (ML-100K, one thread: 5 % of the step).
    """

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor, rows: Tensor, items: Tensor,
                counts: Tensor) -> Tensor:
        h = h.to(weight.dtype)  # under autocast the hidden layer may be half precision: softmax in full
        p = _padded_logits(h, weight, bias)
        torch.ops.aten._softmax.out(p, 1, False, out=p)  # row by row: max, exp, scale; safe in place
        flat = rows * p.shape[1] + items  # positions of the positives in p, for one-dimensional gathers
        ctx.save_for_backward(h, weight, p, flat, counts)
        # A positive whose probability underflows counts as the smallest normal float, not -inf.
        picked = p.view(-1).index_select(0, flat).clamp_(min=torch.finfo(p.dtype).tiny)
        return -picked.log_().sum() / h.shape[0]

    @staticmethod
    def backward(ctx, g: Tensor) -> tuple[Tensor | None, ...]:
        h, weight, p, flat, counts = ctx.saved_tensors
        scale = g / h.shape[0]
        grad = p.mul_((counts * scale)[:, None])
        grad.view(-1).index_add_(0, flat, -scale.expand(flat.numel()))
        grad = grad[:, : weight.shape[0]]  # the padding columns' gradient is zero: softmax there is 0
        need = ctx.needs_input_grad
        return (grad @ weight if need[0] else None, grad.T @ h if need[1] else None,
                grad.sum(0) if need[2] else None, None, None, None)


@dataclass(frozen=True, kw_only=True)
class VAEConfig(ModelConfig):
    variant: str = setting(
        "vae",
        "Variant",
        "vae: Mult-VAE (Gaussian latent + KL); dae: Mult-DAE (no KL).",
        choices=("vae", "dae"),
    )
    hidden: int = setting(
        600, "Hidden size", "Width of the encoder and decoder hidden layer.", min=2, max=100000
    )
    latent: int = setting(200, "Latent size", "Dimension of the user's latent vector.", min=2, max=100000)
    dropout: float = setting(
        0.5, "Input dropout", "Dropout on the normalised history (the denoising part).", min=0.0, max=0.99
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


@register_model
class MultVAE(Recommender):
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
    train_defaults = {"epochs": 600, "batch_size": 128, "lr": 1e-3, "patience": 10, "eval_every_n_epochs": 5}
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

    def beta(self) -> Tensor:
        if not self.vae:
            return torch.zeros((), device=self.step.device)
        frac = self.step.float() / self.config.total_anneal_steps
        return frac.clamp(max=self.config.anneal_cap)

    def _first_layer(self, rows: Tensor) -> Tensor:
        """Dense history rows: L2-normalise, drop out, multiply by the item table."""
        return torch.addmm(self.enc_bias, self.drop(F.normalize(rows, dim=1)), self.enc_items)

    def _first_layer_sparse(self, batch: RowBatch) -> Tensor:
        """The same from the batch's item lists: binary rows normalise to 1/√count per item.

        On CPU the entries input dropout zeroed are left out of the lists: they add nothing to
        either product, which are gathers of 600-float rows and half as long without them.
        """
        rows, items, offsets, p = batch.row_of_items, batch.items, batch.offsets, self.drop.p
        norm = batch.counts.clamp(min=1).float().rsqrt()
        if self.training and 0 < p < 1 and items.device.type == "cpu":  # on a GPU: no sync for this
            kept = dropout_keep(items.shape, p).bool().nonzero().squeeze(1)  # the draws self.drop makes
            rows, items = rows.index_select(0, kept), items.index_select(0, kept)
            weights = norm.index_select(0, rows).mul_(1.0 / (1.0 - p))
            per_row = torch.bincount(rows, minlength=offsets.numel())
            offsets = torch.cumsum(per_row, 0) - per_row
        else:
            weights = self.drop(norm.index_select(0, rows))
        return _BagProduct.apply(self.enc_items, items, offsets, weights, rows) + self.enc_bias

    def _encode(self, history: Tensor | RowBatch) -> tuple[Tensor, Tensor | None]:
        """Dense history rows (scoring) or a training batch's item lists → (mean, log-variance)."""
        sparse = isinstance(history, RowBatch)
        first = self._first_layer_sparse(history) if sparse else self._first_layer(history)
        out = self.enc_out(tanh(first))
        if not self.vae:
            return tanh(out), None
        k = self.config.latent
        return out[:, :k], out[:, k:]

    def _hidden(self, z: Tensor) -> Tensor:
        return tanh(self.dec(z))

    def forward(self, batch: RowBatch) -> Losses:
        mu, logvar = self._encode(batch)
        if logvar is not None and self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        nll = _SoftmaxNLL.apply(self._hidden(z), self.dec_out.weight, self.dec_out.bias, batch.row_of_items,
                                batch.items, batch.counts.float())
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
        hidden = self._hidden(mu).to(self.dec_out.weight.dtype)
        return _padded_logits(hidden, self.dec_out.weight, self.dec_out.bias)[:, : self.n_items]

    def user_embeddings(self, users: Tensor, history: Tensor | None) -> Tensor:
        if history is None:
            raise ValueError("Mult-VAE's user vectors are the latent means of the history rows.")
        return self._encode(history)[0]

    def item_embeddings(self) -> Tensor:
        return self.dec_out.weight
