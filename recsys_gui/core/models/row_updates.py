"""Row-wise optimisers for large embedding tables: a step reads and writes only the rows its batch used.

Why: Adam over a whole table reads and writes every row at every step. At ML-20M's 165k × 64 rows
that is about 170 MB of memory traffic per step whatever the batch, so an epoch cost grows with the
catalogue instead of with the data (benchmarks/README.md, "Scale"). These optimisers take the
gradient of the gathered rows, one row per occurrence in the batch, and update those rows in place
with ``index_add_``: the cost of a step is proportional to the batch. On the GPU and for small tables
dense fused Adam is as fast or faster, so models use these only where they pay (``use_row_updates``).

``RowAdagrad`` keeps one accumulator per row (the mean squared gradient of its coordinates), as the
large-scale recommender systems do (DLRM, TorchRec's row-wise Adagrad): one float per row instead of
Adam's two per coordinate, and no state to decay for rows a batch did not touch. Occurrences of the
same row in one batch are steps taken from the same weights and summed, as Hogwild SGD does.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

# From this many table entries (rows × width, all tables) on: a dense Adam step costs 4x a row-wise
# one at 60k rows × 64 and 12x at ML-20M's 165k, while below it the steps cost about the same and
# dense Adam reaches its best validation in fewer epochs (P3: 15 against 32). Figures:
# benchmarks/README.md, "Scale".
ROW_UPDATES_MIN_ENTRIES = 4_000_000


def use_row_updates(mode: str, entries: int, device: torch.device) -> bool:
    """Whether a model with ``entries`` embedding values on ``device`` updates rows (``mode``
    'rows'), the whole tables ('dense'), or picks by size ('auto': large tables on the CPU, one
    process; under torchrun the ranks average dense gradients)."""
    if mode != "auto":
        return mode == "rows"
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    return device.type == "cpu" and not distributed and entries >= ROW_UPDATES_MIN_ENTRIES


def bpr_row_gradients(pu: Tensor, qi: Tensor, qn: Tensor,
                      reg: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """BPR over k negatives with L2 on the rows used, and its gradients per example, without autograd.

    ``pu`` [B, d] the users' rows, ``qi`` [B, d] the positives', ``qn`` [B, k, d] the negatives',
    all gathered copies: ``qi`` and ``qn`` are overwritten by their gradients. Returns (loss, BPR
    term, then the gradients for ``pu``, ``qi``, ``qn``). ``loss`` is ``kernels.bpr_with_l2``'s
    batch mean; the gradients are of each example's own term (B times those of the mean), the
    unit-scale values a row-wise optimiser wants. Written as a few in-place passes over [B, d]: the
    generic [B, 1 + k, d] form with a broadcast product and ``bmm`` took 3x as long per step.
    """
    n, k = qn.shape[0], qn.shape[1]
    l2 = None
    if reg:
        l2 = (torch.dot(pu.reshape(-1), pu.reshape(-1)) + torch.dot(qi.reshape(-1), qi.reshape(-1))
              + torch.dot(qn.reshape(-1), qn.reshape(-1))) * (reg / n)
    if k == 1:  # the common case in fewer passes: one difference serves the score and g_u
        diff = torch.sub(qi, qn[:, 0])
        x = torch.linalg.vecdot(pu, diff).unsqueeze(1)
    else:
        x = torch.linalg.vecdot(pu, qi).unsqueeze(1) - torch.linalg.vecdot(qn, pu.unsqueeze(1))  # [B, k]
    bpr = -F.logsigmoid(x).mean()
    coef = torch.sigmoid(x.neg_()).div_(k).unsqueeze(2)  # -d bpr_b / d x, [B, k, 1]
    total = coef.sum(1)  # [B, 1]
    g_u = diff.mul_(total.neg()) if k == 1 else (qn * coef).sum(1).addcmul_(qi, total, value=-1.0)
    if reg:
        g_u.add_(pu, alpha=2.0 * reg)
        qi.mul_(2.0 * reg)
        qn.mul_(2.0 * reg)
    else:
        qi.zero_()
        qn.zero_()
    g_i = qi.addcmul_(pu, total, value=-1.0)
    g_n = qn.addcmul_(pu.unsqueeze(1), coef)
    loss = bpr + l2 if l2 is not None else bpr
    return loss, bpr, g_u, g_i, g_n


class RowAdagrad(torch.optim.Optimizer):
    """Row-wise Adagrad: ``w[r] -= lr · g / sqrt(G[r] + eps)`` with ``G[r]`` the running sum of the
    row's mean squared gradient. ``update_rows`` is the step; the usual ``step()`` takes dense
    gradients (the reference path and private training) through the same rule."""

    def __init__(self, params, lr: float, eps: float = 1e-10, initial_accumulator: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "eps": eps, "initial_accumulator": initial_accumulator})

    def _accumulator(self, param: Tensor) -> Tensor:
        state = self.state[param]
        if "sum" not in state:
            group = self.param_groups[0]
            state["sum"] = torch.full((param.shape[0],), float(group["initial_accumulator"]),
                                      dtype=param.dtype, device=param.device)
        return state["sum"]

    @torch.no_grad()
    def update_rows(self, param: Tensor, rows: Tensor, grads: Tensor) -> None:
        """One step on the rows ``rows`` [n] (repeats allowed) of ``param`` with their gradients
        ``grads`` [n, d], one row per occurrence."""
        group = self.param_groups[0]
        acc = self._accumulator(param)
        acc.index_add_(0, rows, torch.linalg.vector_norm(grads, dim=1).square_().div_(grads.shape[1]))
        scale = acc.index_select(0, rows).add_(group["eps"]).rsqrt_().mul_(-group["lr"])
        # scatter_add_ over the expanded index, not index_add_: torch's CPU index_add_ adds row by
        # row and took 4x as long for 4096 rows of 64 (benchmarks/README.md "Scale").
        param.scatter_add_(0, rows.unsqueeze(1).expand_as(grads), grads.mul_(scale.unsqueeze(1)))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        """Dense gradients: every row with a nonzero gradient takes the row-wise step."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.to_dense() if p.grad.is_sparse else p.grad
                rows = grad.abs().sum(1).nonzero().view(-1)
                self.update_rows(p, rows, grad.index_select(0, rows))
