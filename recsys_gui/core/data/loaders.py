"""Interaction files -> InteractionData: sniffing, fast reading, raw-id mapping, cleaning, a report.

The public face of ``recsys_gui.core.data.loading``, whose modules hold the parts (sniffing,
reading, converting ids/ratings/times, cleaning, metadata, the report). Raw ids round-trip
exactly ("007" and " 7" stay as written); day-first dates are read day-first when their values
show it, and a guess or a mix is reported; problems become a DataError naming the file, the
1-based line and the column, never a traceback.
"""

from __future__ import annotations

from recsys_gui.core.data.loading.metadata import load_item_metadata
from recsys_gui.core.data.loading.options import (
    DROP_REASONS,
    ROLES,
    SEPARATORS,
    DedupePolicy,
    LoadOptions,
    ProgressFn,
    SniffResult,
)
from recsys_gui.core.data.loading.pipeline import load_interactions, load_predefined_split
from recsys_gui.core.data.loading.reading import read_table
from recsys_gui.core.data.loading.report import LoadReport
from recsys_gui.core.data.loading.sniffing import sniff
from recsys_gui.core.data.loading.sources import tables_in

__all__ = [
    "DROP_REASONS",
    "ROLES",
    "SEPARATORS",
    "DedupePolicy",
    "LoadOptions",
    "LoadReport",
    "ProgressFn",
    "SniffResult",
    "load_interactions",
    "load_item_metadata",
    "load_predefined_split",
    "read_table",
    "sniff",
    "tables_in",
]
