"""The item vectors intra-list diversity measures distance in: one basis for every model of a split.

Items are the rows of V·S from a rank-64 SVD of the binary training matrix, made unit length, so
ILD compares every model's lists in the same space. Where the smaller side of the matrix has at
most ``EXACT_LIMIT`` rows, the SVD comes from an eigendecomposition of that side's Gram matrix in
torch: exact, and torch releases the GIL, which ARPACK (scipy's ``svds``) does not: its
eigenvector step held it long enough to freeze the window of the GUI that asked for the metric.
Larger matrices still use ``svds``. The last basis is kept: the Results page, the inspector and
the Compare page ask for it again and again on the same data.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch import Tensor

from recsys_gui.core.data.interactions import InteractionData

RANK = 64
EXACT_LIMIT = 4096  # a 4096² float64 Gram matrix is 128 MB and a few seconds of eigh

_lock = threading.Lock()
_last: tuple[tuple[str, str], Tensor] | None = None


def item_basis(history: InteractionData, device: torch.device | str = "cpu") -> Tensor:
    """[n_items, d] unit rows (d = min(64, smaller side - 1)) on ``device``."""
    global _last
    key = (history.fingerprint(), str(torch.device(device)))
    with _lock:
        if _last is not None and _last[0] == key:
            return _last[1]
    v = _compute(history).to(device)
    with _lock:
        _last = (key, v)
    return v


def _compute(history: InteractionData) -> Tensor:
    n_users, n_items = history.n_users, history.n_items
    d = max(1, min(RANK, min(n_users, n_items) - 1))
    if min(n_users, n_items) <= EXACT_LIMIT:
        v = _by_gram(history, d)
    else:
        from scipy.sparse.linalg import svds

        _, s, vt = svds(history.to_csr().astype(np.float64), k=d, random_state=0)
        v = torch.as_tensor(vt.T * s)
    return torch.nn.functional.normalize(v.float(), dim=1)


def _by_gram(history: InteractionData, d: int) -> Tensor:
    """V·S of the top ``d`` singular triplets, from the Gram matrix of the smaller side."""
    idx = torch.stack([torch.as_tensor(history.users, dtype=torch.long),
                       torch.as_tensor(history.items, dtype=torch.long)])
    ones = torch.ones(idx.shape[1], dtype=torch.float64)
    shape = (history.n_users, history.n_items)
    x = torch.sparse_coo_tensor(idx, ones, shape, check_invariants=True).coalesce()
    x = torch.sparse_coo_tensor(x.indices(), x.values().clamp(max=1.0), x.shape,  # binary
                                is_coalesced=True, check_invariants=False)
    xt = x.t().coalesce()
    # torch multiplies two sparse COO matrices through CSR and warns once that CSR is in beta; the
    # entry points silence that one warning (recsys_gui.process_setup.quiet_known_warnings).
    if history.n_users <= history.n_items:
        _, u = torch.linalg.eigh(torch.sparse.mm(x, xt).to_dense())  # X Xᵀ = U S² Uᵀ
        return torch.sparse.mm(xt, u[:, -d:].contiguous())  # Xᵀ U = V S
    w, v = torch.linalg.eigh(torch.sparse.mm(xt, x).to_dense())  # Xᵀ X = V S² Vᵀ
    return v[:, -d:] * w[-d:].clamp(min=0).sqrt()
