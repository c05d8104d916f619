"""Where a private run's privacy figures are kept, and reading them back from a run row.

The session stores ``FitResult.privacy`` under ``"privacy"`` in the run row's ``notes`` JSON (beside
the split and load report), so the run table needs no new column; a run without it was not private.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def run_privacy(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The privacy record of a stored run (``epsilon_spent``, ``delta``, σ, q, C, steps), or None."""
    notes = row.get("notes")
    if isinstance(notes, str):
        try:
            notes = json.loads(notes)
        except ValueError:
            return None
    privacy = notes.get("privacy") if isinstance(notes, Mapping) else None
    return dict(privacy) if isinstance(privacy, Mapping) and "epsilon_spent" in privacy else None
