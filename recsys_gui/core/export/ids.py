"""Raw ids of exported rows: dense index ↔ the ids the user's files hold.

Models work on dense indices 0..n-1; every exported file and every allow-list speaks the user's
raw ids. The mapping both ways lives here and nowhere else: ``Labels`` turns a chunk's dense
indices into raw ids (and titles), ``resolve_ids`` turns allow-lists of raw ids into dense
indices. Raw ids are compared by their text form, so an id read from a file matches the loaded
one whatever type the loader gave it. An export asked to be private (``ExportPrivacy``) gets keyed
pseudonyms in place of raw user ids and no titles or item metadata, here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_gui.core.data.interactions import InteractionData
from recsys_gui.core.errors import DataError, ExportError
from recsys_gui.core.privacy.options import ExportPrivacy
from recsys_gui.core.privacy.pseudonyms import WorkspaceLike, pseudonymise, workspace_key


@dataclass(frozen=True)
class Labels:
    """Dense index → raw id arrays (and titles) used to label exported rows.

    Integer id spaces stay int64 (written as SQLite INTEGER / Parquet int64); anything else is
    written as text exactly as the loader kept it, so "007" stays "007".
    """

    users: np.ndarray
    items: np.ndarray
    titles: np.ndarray | None = None

    @property
    def user_ids_are_int(self) -> bool:
        return self.users.dtype.kind in "iu"

    @property
    def item_ids_are_int(self) -> bool:
        return self.items.dtype.kind in "iu"

    @classmethod
    def from_data(
        cls,
        data: InteractionData,
        *,
        titles: bool = True,
        privacy: ExportPrivacy | None = None,
        workspace: WorkspaceLike = None,
    ) -> Labels:
        """Labels of ``data``; with ``privacy``, user ids are pseudonymised under ``workspace``'s key
        and/or titles are left out."""
        privacy = privacy or ExportPrivacy()
        t = data.item_titles() if titles and not privacy.drop_titles else None
        tarr = None
        if t is not None:
            tarr = t.reindex(range(data.n_items)).astype(object).where(t.notna(), None).to_numpy()
        users = raw_id_array(data.user_ids)
        if privacy.pseudonymise:
            users = pseudonymise(users, workspace_key(workspace))
        return cls(users, raw_id_array(data.item_ids), tarr)


def raw_id_array(ids: pd.Index) -> np.ndarray:
    """Raw ids as an array: int64 for integer id spaces, else Python str objects ("007" stays "007")."""
    if ids.dtype.kind in "iu":
        return ids.to_numpy(dtype=np.int64)
    return np.array([v if isinstance(v, str) else str(v) for v in ids], dtype=object)


def match_ids(raw: Iterable[object], ids: pd.Index) -> tuple[np.ndarray, list[str]]:
    """Dense indices of the raw ids that are known (order kept, duplicates dropped) and the unknown ones.

    Ids are compared by their text form, so ``"7"`` from a file matches integer id 7 but ``"007"``
    does not (and matches only a text id "007").
    """
    tokens = list(dict.fromkeys(str(v) for v in raw))
    if not tokens:
        return np.zeros(0, dtype=np.int64), []
    lookup = pd.Index(raw_id_array(ids).astype(str) if ids.dtype.kind in "iu" else raw_id_array(ids))
    if lookup.is_unique:
        pos = lookup.get_indexer(pd.Index(tokens, dtype=object))
    else:
        first = {v: i for i, v in reversed(list(enumerate(lookup)))}
        pos = np.array([first.get(t, -1) for t in tokens], dtype=np.int64)
    known = pos >= 0
    return pos[known].astype(np.int64), [t for t, k in zip(tokens, known, strict=True) if not k]


def read_id_file(path: Path | str, what: str) -> list[str]:
    """Raw ids, one per line (blank lines skipped, surrounding whitespace and a UTF-8 BOM removed)."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{what} file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the {what} file ({exc})", path=p) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def resolve_ids(
    spec: Path | str | Sequence[object] | None, ids: pd.Index, what: str
) -> tuple[np.ndarray | None, list[str]]:
    """A file path or a list of raw ids → (dense indices or None for "all", unknown raw ids)."""
    if spec is None:
        return None, []
    raw = read_id_file(spec, what) if isinstance(spec, (str, Path)) else list(spec)
    where = f" in {spec}" if isinstance(spec, (str, Path)) else ""
    if not raw:
        raise ExportError(f"No {what} ids{where}: give one raw id per line.")
    dense, unknown = match_ids(raw, ids)
    if dense.size == 0:
        sample = ", ".join(repr(u) for u in unknown[:5])
        raise ExportError(
            f"None of the {len(unknown)} {what} ids{where} is known to this run (e.g. {sample})."
        )
    return dense, unknown


def items_table(data: InteractionData, privacy: ExportPrivacy | None = None) -> pd.DataFrame | None:
    """Item metadata with raw ``item_id`` first (for the SQLite ``items`` table), or None when unknown
    or left out (``privacy.drop_titles``)."""
    if data.item_meta is None or data.item_meta.empty or (privacy is not None and privacy.drop_titles):
        return None
    meta = data.item_meta.reindex(range(data.n_items))
    out = meta.reset_index(drop=True)
    out = out.drop(columns=[c for c in out.columns if str(c) == "item_id"])
    out.insert(0, "item_id", raw_id_array(data.item_ids))
    return out
