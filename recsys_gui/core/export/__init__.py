"""Exports of a trained run: top-K recommendations (SQLite/CSV/Parquet) and embeddings.

Raw ids are restored here and nowhere else. Every file is written beside its target and renamed
into place when complete (``atomic``), and CSV text is made spreadsheet-safe (``csv_safety``).
Heavy modules (torch, pyarrow) load only when an export runs.
"""

from __future__ import annotations

from recsys_gui.core.export.embeddings import EmbeddingsReport, export_embeddings, project_embeddings
from recsys_gui.core.export.recommendations import (
    ExportReport,
    Labels,
    export_recommendations,
    recommend_frames,
    write_recommendations,
)

__all__ = [
    "EmbeddingsReport",
    "ExportReport",
    "Labels",
    "export_embeddings",
    "export_recommendations",
    "project_embeddings",
    "recommend_frames",
    "write_recommendations",
]
