"""The one-line reason shown beside a recommended item ("because: A 41%, B 22%")."""

from __future__ import annotations

from typing import Any

TITLE_CHARS = 32  # a long title is cut so that three reasons fit in one column


def item_label(item: Any, title: str | None) -> str:
    """A title when the data has one (cut to ``TITLE_CHARS``), else the raw id."""
    if not title:
        return str(item)
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def reason_text(because: list[Any]) -> str:
    """Exact contributions (EASE, ItemKNN) read "because: A 41%, B 22%"; embedding neighbours read
    "similar to: A 55%, B 30%", so a similarity share is never taken for a part of the score."""
    if not because:
        return ""
    parts = ", ".join(f"{item_label(r.item, r.title)} {r.share:.0%}" for r in because)
    return ("because: " if because[0].kind == "contribution" else "similar to: ") + parts
