"""The short name a run goes by in the Compare page's legends, columns and sentences."""

from __future__ import annotations

from typing import Any


def run_label(row: dict[str, Any]) -> str:
    """Model and the run's name; a generated name (it starts with the date) keeps only its tail."""
    name = str(row.get("name") or row["id"])
    return (
        f"{row['model']} · {name[-6:]}"
        if name.startswith(tuple("0123456789"))
        else f"{row['model']} · {name}"
    )
