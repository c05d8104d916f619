"""Fold-in: user vectors for users a model did not train on, from their interactions alone.

Shared by the families that keep one trained vector per user. Everything is batched over the B
users at once (no per-user loops): closed-form least squares for MF (``implicit_user_vectors``,
``explicit_user_vectors``), and a few Adam steps on fresh user vectors with the model frozen for
the neural families (``optimise_user_vectors``). The sequential families turn a history into the
left-padded sequences they encode (``sequences_from``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from recsys_gui.core.data.sequences import shuffled_by_history

GRAM_CELLS = 2**24  # users × items × d cells of weighted item factors built at once (128 MiB in double)


def observed_gram(mask: Tensor, q: Tensor) -> Tensor:
    """Σ_i mask[b, i] · q_i q_iᵀ for every row b: [B, n] × [n, d] → [B, d, d].

    Only the items some row has take part (a what-if basket touches a handful), in chunks of users.
    """
    used = mask.any(0).nonzero().squeeze(1)
    mask, q = mask[:, used].to(q.dtype), q[used]
    b, (n, d) = mask.shape[0], q.shape
    step = max(1, GRAM_CELLS // max(n * d, 1))
    return torch.cat([(mask[lo:lo + step].unsqueeze(2) * q).transpose(1, 2) @ q
                      for lo in range(0, b, step)]) if b else q.new_zeros(0, d, d)


def implicit_user_vectors(history: Tensor, q: Tensor, alpha: float, reg: float) -> Tensor:
    """iALS fold-in (Hu, Koren & Volinsky, ICDM 2008) against fixed item factors ``q`` [n, d].

    Minimises Σ_i c_i (y_i − p·q_i)² + λ‖p‖² with y = 1, c = 1 + α on the history's items and y = 0,
    c = 1 elsewhere: (QᵀQ + α·Q_HᵀQ_H + λI) p = (1 + α)·Q_Hᵀ1. ``reg`` is λ relative to the mean
    eigenvalue of QᵀQ, so the same setting fits item factors of any scale. Solved in double precision.
    """
    q64 = q.double()
    mask = (history != 0).double()
    qtq = q64.T @ q64
    lam = reg * float(qtq.diagonal().mean())
    a = qtq + alpha * observed_gram(mask, q64)
    a.diagonal(dim1=1, dim2=2).add_(lam)
    rhs = (1.0 + alpha) * (mask @ q64)
    return torch.linalg.solve(a, rhs.unsqueeze(-1)).squeeze(-1).to(q.dtype)


def explicit_user_vectors(history: Tensor, q: Tensor, item_bias: Tensor, global_mean: Tensor,
                          reg: float) -> tuple[Tensor, Tensor]:
    """Explicit-rating fold-in: the user vector and bias that minimise the model's own squared error.

    Σ_{i rated} (r_i − μ − b_i − b_u − p·q_i)² + reg·n_u·‖p‖², the MSE objective MF trained with
    (its L2 term is paid once per rating, hence n_u), solved exactly for (p, b_u) with the item
    side fixed. Returns (p [B, d], b_u [B]).
    """
    q64 = torch.cat([q.double(), torch.ones(q.shape[0], 1, dtype=torch.float64, device=q.device)], 1)
    mask = (history != 0).double()
    resid = (history.double() - float(global_mean) - item_bias.double().view(1, -1)) * mask
    a = observed_gram(mask, q64)
    d = q.shape[1]
    ridge = torch.full((mask.shape[0], d + 1), 1e-6, dtype=torch.float64, device=q.device)
    ridge[:, :d] += reg * mask.sum(1, keepdim=True)
    a = a + torch.diag_embed(ridge)
    theta = torch.linalg.solve(a, (resid @ q64).unsqueeze(-1)).squeeze(-1)
    return theta[:, :d].to(q.dtype), theta[:, d].to(q.dtype)


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Evaluation mode with gradients on (for fresh user vectors only); the mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)


PairLoss = Callable[[Sequence[Tensor], Tensor, Tensor, Tensor], Tensor]


def optimise_user_vectors(model: nn.Module, starts: Sequence[Tensor], history: Tensor, pair_loss: PairLoss,
                          *, steps: int, lr: float, negatives: int, seed: int = 0) -> list[Tensor]:
    """A few Adam steps on fresh user vectors, the model frozen: its own loss on the history's items
    and uniformly drawn negatives (fresh each step, from a fixed seed: the same history gives the
    same vectors).

    ``starts``: one [d_k] or [B, d_k] start per user-side table; ``pair_loss(vectors, rows, pos, neg)``
    is the model's loss for rows ``rows`` [P] of the vectors, their items ``pos`` [P] and negatives
    ``neg`` [P, negatives]. Gradients are taken for the fresh vectors only (``torch.autograd.grad``),
    so no parameter's ``.grad`` is touched. Returns the vectors, detached.
    """
    b = history.shape[0]
    vecs = [s.detach().expand(b, -1).clone().requires_grad_(True) if s.dim() == 1
            else s.detach().clone().requires_grad_(True) for s in starts]
    rows, pos = (history != 0).nonzero(as_tuple=True)
    if rows.numel() == 0:
        return [v.detach() for v in vecs]
    gen = torch.Generator(device=history.device)
    gen.manual_seed(seed)
    opt = torch.optim.Adam(vecs, lr=lr)
    with frozen(model):
        for _ in range(steps):
            neg = torch.randint(history.shape[1], (rows.numel(), negatives), generator=gen,
                                device=history.device)
            loss = pair_loss(vecs, rows, pos, neg)
            for v, g in zip(vecs, torch.autograd.grad(loss, vecs), strict=True):
                v.grad = g
            opt.step()
    return [v.detach() for v in vecs]


def sequences_from(history: Tensor, order: Tensor | None, max_len: int, pad: int, draw: int = 0) -> Tensor:
    """[B, max_len] left-padded item sequences (most recent last) from ``order`` [B, L] (oldest
    first, right-padded with -1) or, without an order, from the nonzero columns of ``history``.

    A history has no order, so its items are read in a random order keyed by the history itself and
    ``draw`` (:func:`shuffled_by_history`), as training reads unordered data: a history longer than
    ``max_len`` is represented by a random sample of its items, not by its highest item ids.
    """
    if order is None:
        order = _unordered(history, max_len, draw)
    order = order.to(device=history.device, dtype=torch.long)
    if order.shape[1] == 0:
        return torch.full((history.shape[0], max_len), pad, dtype=torch.long, device=history.device)
    length = (order >= 0).sum(1, keepdim=True)
    at = length - max_len + torch.arange(max_len, device=order.device)  # the last max_len positions
    picked = order.gather(1, at.clamp(min=0, max=order.shape[1] - 1))
    return torch.where((at >= 0) & (picked >= 0), picked, torch.full_like(picked, pad))


def _unordered(history: Tensor, max_len: int, draw: int) -> Tensor:
    """[B, max_len]: the last ``max_len`` of each row's items in its keyed random order, right-padded
    with -1 (the sequence ``last_items`` gives a trained user with the same items)."""
    rows, items = (history != 0).nonzero(as_tuple=True)
    b = history.shape[0]
    perm = shuffled_by_history(rows, items, b, draw)
    rows, items = rows[perm], items[perm]
    counts = torch.bincount(rows, minlength=b)
    skip = (counts - max_len).clamp(min=0)[rows]  # entries before a row's last max_len
    col = torch.arange(rows.numel(), device=rows.device) - (torch.cumsum(counts, 0) - counts)[rows] - skip
    keep = col >= 0
    out = torch.full((b, max_len), -1, dtype=torch.long, device=history.device)
    out[rows[keep], col[keep]] = items[keep]
    return out
