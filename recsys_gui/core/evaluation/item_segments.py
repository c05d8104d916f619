"""Per-segment metrics on the item side: how well the test interactions with cold, long-tail and head
items are found in the users' top-k lists.

The user segments (``breakdown_by_activity``) ask "whom does the model serve?"; these ask "which
items does it surface?". Segments come from the training counts: cold items have none, the head is
the most interacted-with fifth of the trained items, the long tail the rest. The value per segment
is its recall: the share of its test interactions that reach the user's top-k, counted over
interactions. The evaluator counts the hits in its own ranking pass (``Evaluator(item_segments=...)``).
"""

from __future__ import annotations

import numpy as np

from recsys_gui.core.data.interactions import InteractionData

ITEM_SEGMENTS = ("cold", "long_tail", "head")
HEAD_SHARE = 0.2


def item_segments(train: InteractionData) -> np.ndarray:
    """int8 [n_items]: 0 cold (no training rows), 1 long tail, 2 head (top fifth of the trained items)."""
    counts = train.item_counts()
    seg = np.where(counts > 0, 1, 0).astype(np.int8)
    trained = np.flatnonzero(counts > 0)
    n_head = int(np.ceil(HEAD_SHARE * len(trained)))
    if n_head:
        order = trained[np.argsort(-counts[trained], kind="stable")]
        seg[order[:n_head]] = 2
    return seg


def segment_recall(segments: np.ndarray, target: InteractionData, found: np.ndarray,
                   k: int) -> dict[str, dict[str, float]]:
    """{segment: {"items", "targets", "recall@k"}} for the segments with test rows, from the hits per
    segment the evaluator counted."""
    totals = np.bincount(segments[target.items], minlength=len(ITEM_SEGMENTS))
    n_items = np.bincount(segments, minlength=len(ITEM_SEGMENTS))
    return {name: {"items": int(n_items[j]), "targets": int(totals[j]),
                   f"recall@{k}": float(found[j] / totals[j])}
            for j, name in enumerate(ITEM_SEGMENTS) if totals[j] > 0}


__all__ = ["HEAD_SHARE", "ITEM_SEGMENTS", "item_segments", "segment_recall"]
