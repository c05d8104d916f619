"""A seeded sample of whole users, taken while reading (before ids are mapped).

Why hashing: a user is in the sample when a keyed hash of their raw id (as text, so 7 and "7" are
the same user) falls low enough. The choice depends on nothing but the id and the seed: no file
order, no second pass, the same users from a CSV and from its Parquet copy, and a 10 % sample
lies inside the 20 % one. A share keeps each user with that probability; a count keeps the users
with the smallest hashes, which the reader can follow batch by batch, keeping only the rows of
users that can still make it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TOP = 2.0**64


class UserSample:
    """Filters tables or record batches to the sampled users; counts the users it saw."""

    def __init__(self, spec: float, seed: int) -> None:
        self.count = int(spec) if spec >= 1 else None
        self.cut = None if self.count is not None else np.uint64(min(int(spec * _TOP), 2**64 - 1))
        self.key = f"{seed % 10**16:016d}"
        self.reset()

    def reset(self) -> None:
        """Forget the users seen (a read that starts over, e.g. in another encoding)."""
        self.ids: pa.Array | None = None  # every distinct user seen so far ...
        self.hashes = np.zeros(0, dtype=np.uint64)  # ... and their hashes: each id is hashed once

    def _row_hashes(self, col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """The hash of every row's user, and which rows have no user id."""
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_floating(col.type):  # 7.0 from a spreadsheet is user 7
            whole = pc.fill_null(pc.equal(pc.floor(col), col), True)
            if pc.all(whole).as_py():
                col = col.cast(pa.int64())
        uniq = pc.unique(col).drop_null()
        if self.ids is not None and self.ids.type == uniq.type:
            uniq = uniq.filter(pc.is_null(pc.index_in(uniq, value_set=self.ids)))
            known = self.ids
        else:
            known = None
        if len(uniq):
            text = uniq.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
            fresh = pd.util.hash_array(text, hash_key=self.key, categorize=False).astype(np.uint64)
            self.ids = uniq if known is None else pa.concat_arrays([known, uniq])
            self.hashes = fresh if known is None else np.concatenate([self.hashes, fresh])
        at = pc.index_in(col, value_set=self.ids) if self.ids is not None else pa.nulls(len(col), pa.int32())
        missing = pc.is_null(at).to_numpy(zero_copy_only=False)
        rows = pc.fill_null(at, 0).to_numpy(zero_copy_only=False)
        return (self.hashes[rows] if len(self.hashes) else np.zeros(len(col), np.uint64)), missing

    def _threshold(self) -> np.uint64:
        """Users whose hash is at most this are (still) in: the share's cut, or the count-th
        smallest hash seen so far (it only falls as more users are seen)."""
        if self.cut is not None:
            return self.cut - np.uint64(1) if self.cut else np.uint64(0)
        n = int(self.count or 0)
        if len(self.hashes) <= n:
            return np.uint64(2**64 - 1)
        return np.partition(self.hashes, n - 1)[n - 1]

    def keep(self, col: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Mask of the rows whose user is (still) in the sample; rows without a user are not."""
        hashes, missing = self._row_hashes(col)
        return pa.array((hashes <= self._threshold()) & ~missing, pa.bool_())

    def take(self, table: pa.Table | pa.RecordBatch, user: str, offset: int = 0) -> tuple[object, np.ndarray]:
        """The rows of ``table`` whose user is (still) in, and their positions (plus ``offset``)."""
        mask = self.keep(table.column(user))
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        return table.filter(mask), rows + offset

    def finish(self, table: pa.Table, user: str, rows: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        """The final cut (users a count let in early may have been pushed out by later ones), and
        the kept rows' positions in the whole file, so errors still name the file's own lines."""
        if self.count is None or len(table) == 0:
            return table, rows
        kept, at = self.take(table, user)
        return kept, rows[at]

    @property
    def total(self) -> int:
        return len(self.hashes)

    def kept(self) -> int:
        return int((self.hashes <= self._threshold()).sum())
