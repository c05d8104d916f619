"""Exports of a trained run: top-K recommendations (SQLite/CSV/Parquet) and embeddings.

Modules, from the run-level entries down: ``recommendations`` and ``embeddings`` load a stored run
and export it; ``top_k`` ranks users in blocks; ``sinks`` writes ranked rows to a file;
``ids`` maps dense indices to raw ids and back (raw ids are restored there and nowhere else);
``projection`` draws embeddings in 2-D; ``csv_safety`` keeps CSV text from running as formulas.
Every file is written beside its target and renamed into place when complete
(``utils.atomic``), which also decides what an export may replace.
"""

from __future__ import annotations

from recsys_gui.core.export.embeddings import EmbeddingsReport, export_embeddings
from recsys_gui.core.export.ids import Labels
from recsys_gui.core.export.projection import project_embeddings
from recsys_gui.core.export.recommendations import ExportReport, export_recommendations
from recsys_gui.core.export.sinks import write_recommendations
from recsys_gui.core.export.top_k import recommend_frames

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
