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
        self.seen = np.zeros(0, dtype=np.uint64)  # distinct user hashes so far, sorted

    def reset(self) -> None:
        """Forget the users seen (a read that starts over, e.g. in another encoding)."""
        self.seen = np.zeros(0, dtype=np.uint64)

    def _hashes(self, col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct user's hash, and each row's index into them (-1: no user id)."""
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_floating(col.type):  # 7.0 from a spreadsheet is user 7
            whole = pc.fill_null(pc.equal(pc.floor(col), col), True)
            if pc.all(whole).as_py():
                col = col.cast(pa.int64())
        uniq = pc.unique(col).drop_null()
        text = uniq.cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
        hashes = pd.util.hash_array(text, hash_key=self.key, categorize=False).astype(np.uint64)
        rows = pc.fill_null(pc.index_in(col, value_set=uniq), -1).to_numpy(zero_copy_only=False)
        self.seen = np.union1d(self.seen, hashes)
        return hashes, rows

    def _threshold(self) -> np.uint64:
        if self.cut is not None:
            return self.cut
        if len(self.seen) <= (self.count or 0):
            return np.uint64(2**64 - 1)
        return self.seen[int(self.count or 0) - 1]

    def keep(self, col: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Mask of the rows whose user is (still) in the sample; rows without a user are not."""
        hashes, rows = self._hashes(col)
        threshold = self._threshold()
        ok = hashes < threshold if self.cut is not None else hashes <= threshold
        mask = np.append(ok, False)[rows]  # row index -1 (missing id) -> False
        return pa.array(mask, pa.bool_())

    def finish(self, table: pa.Table, user: str) -> pa.Table:
        """The final cut: users a count let in early may have been pushed out by later ones."""
        if self.count is None or len(table) == 0:
            return table
        seen = self.seen
        mask = self.keep(table.column(user))
        self.seen = seen
        return table.filter(mask)

    @property
    def total(self) -> int:
        return len(self.seen)

    def kept(self) -> int:
        threshold = self._threshold()
        return int((self.seen < threshold).sum() if self.cut is not None else (self.seen <= threshold).sum())
