"""2-D projections of embeddings for the scatter: PCA and t-SNE (scikit-learn), UMAP when installed.

One implementation serves the embeddings export and the Embeddings page. Large matrices are
fitted on a seeded sample (``projection_sample``); row order always matches the input, so the
ids still label the points. scikit-learn and umap-learn load only when a projection runs: they
are slow to import and the export of the vectors themselves does not need them.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from recsys_gui.core.errors import ConfigError

METHODS = ("pca", "tsne", "umap")


def projection_methods() -> list[str]:
    """PCA and t-SNE always (scikit-learn); UMAP when the umap-learn package is installed."""
    methods = ["pca", "tsne"]
    if importlib.util.find_spec("umap") is not None:
        methods.append("umap")
    return methods


def projection_sample(n: int, sample: int | None, seed: int = 0) -> np.ndarray | None:
    """Sorted row indices a projection is fitted on, or None when every row is used."""
    if sample is None or n <= sample:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=int(sample), replace=False))


def project_embeddings(
    emb: np.ndarray, method: str = "pca", sample: int | None = 20_000, seed: int = 0
) -> np.ndarray:
    """2-D float32 coordinates [n, 2] of the rows of ``emb``.

    PCA is fitted on at most ``sample`` rows and applied to all rows. t-SNE and UMAP are fitted on
    the sample only (``projection_sample(n, sample, seed)`` names those rows) and the other rows
    are NaN, which the scatter skips; ``sample=None`` places every row. Fewer than four rows are
    too few for a neighbourhood embedding, so those fall back to PCA.
    """
    x = np.asarray(emb, dtype=np.float32)
    if x.ndim != 2:
        raise ConfigError(f"Embeddings must be a 2-D matrix; got shape {x.shape}.")
    if method not in METHODS:
        raise ConfigError(f"Unknown projection '{method}'. Choose one of: {', '.join(projection_methods())}.")
    if method not in projection_methods():
        raise ConfigError("UMAP is not installed (pip install umap-learn); use PCA or t-SNE.")
    n, d = x.shape
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2 or d == 0:
        return out
    rows = projection_sample(n, sample, seed)
    fit = x if rows is None else x[rows]
    if method == "pca":
        from sklearn.decomposition import PCA

        comps = min(2, d, fit.shape[0])
        pca = PCA(n_components=comps, random_state=seed).fit(fit)
        out[:, :comps] = pca.transform(x)
        return out
    if fit.shape[0] < 4:
        return project_embeddings(emb, "pca", sample=sample, seed=seed)
    coords = _tsne(fit, seed) if method == "tsne" else _umap(fit, seed)
    if rows is None:
        return coords.astype(np.float32)
    out[:] = np.nan
    out[rows] = coords
    return out


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(1.0, (x.shape[0] - 1) / 3)))  # t-SNE needs perplexity < rows
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, x.shape[0] - 1), random_state=seed)
    return np.asarray(reducer.fit_transform(x))
