"""The load itself: read -> convert -> clean -> report, for one file or a ready-made split."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys_gui.core.data.interactions import InteractionData, Split
from recsys_gui.core.data.loading import arrays
from recsys_gui.core.data.loading.cleaning import ParsedFile, check_enough, clean, compact, k_core
from recsys_gui.core.data.loading.columns import value_kind
from recsys_gui.core.data.loading.guards import guard
from recsys_gui.core.data.loading.ids import blank_edged, encode_ids
from recsys_gui.core.data.loading.metadata import align_metadata, load_item_metadata, metadata_frame
from recsys_gui.core.data.loading.options import (
    DROP_REASONS,
    ROLES,
    LoadOptions,
    ProgressFn,
    SniffResult,
    tick,
)
from recsys_gui.core.data.loading.reading import (
    TypedReadFailed,
    arrow_read,
    check_memory,
    ids_need_text,
)
from recsys_gui.core.data.loading.report import LoadReport, build_report
from recsys_gui.core.data.loading.sampling import UserSample
from recsys_gui.core.data.loading.sniffing import sniff
from recsys_gui.core.data.loading.values import to_ratings, to_seconds
from recsys_gui.core.errors import ConfigError, DataError


def read_parsed(path: str | Path, options: LoadOptions, progress: ProgressFn | None) -> ParsedFile:
    """Sniff, read the needed columns and convert them: ids to codes, ratings, times to seconds."""
    sn = sniff(path, options)
    check_memory(sn, options.sample_users)
    tick(progress, 0.05, "reading")
    roles = sn.roles
    needed = [c for c in (roles[r] for r in ROLES) if c is not None]
    sample = None if options.sample_users is None else UserSample(options.sample_users, options.sample_seed)
    if sn.format == "text":
        table, sn = _read_text(sn, needed, options, sample)
    else:
        table, sn = arrow_read(sn, needed, {}, sample=sample)
    tick(progress, 0.6, "mapping ids")
    rows = table.num_rows
    if rows == 0:
        whose = " of the sampled users" if sample else ""
        raise DataError(f"the file has no data rows{whose}", path=sn.path)
    warnings = list(sn.warnings)
    # Each column is converted, then let go: its memory (in the reader's pool) holds the next arrays.
    columns = {c: table.column(c) for c in needed}
    del table
    users, user_ids = encode_ids(columns.pop(roles["user"]))
    items, item_ids = encode_ids(columns.pop(roles["item"]))
    for role, ids in (("user", user_ids), ("item", item_ids)):
        count, example = blank_edged(ids)
        if count:
            warnings.append(
                f"{count:,} {role} ids start or end with whitespace (a space, tab or line break), such as "
                f"{example!r}; ids are kept as written, so {example!r} and {str(example).strip()!r} are "
                f"two different {role}s"
            )
    values = None
    if roles["rating"]:
        values, note = to_ratings(columns.pop(roles["rating"]), sn, roles["rating"])
        warnings += [note] if note else []
    timestamps = ts_missing = None
    if roles["timestamp"]:
        timestamps, ts_missing, note = to_seconds(
            columns.pop(roles["timestamp"]), sn, roles["timestamp"], options.date_format
        )
        warnings += [note] if note else []
    sampled = None if sample is None else (sample.kept(), sample.total)
    return ParsedFile(
        users, user_ids, items, item_ids, values, timestamps, ts_missing, rows, sn, warnings, sampled
    )


def _read_text(
    sn: SniffResult, needed: list[str], options: LoadOptions, sample: UserSample | None = None
) -> tuple[pa.Table, SniffResult]:
    """Integer ids typed when the sample and a byte scan allow it; ratings as float64 (so 1e308 is
    seen as the finite number it is); times as text when a date format is given."""
    roles = sn.roles
    ints = all(
        value_kind(
            [
                r[sn.columns.index(roles[x])]  # type: ignore[arg-type]
                for r in sn.sample_rows
                if len(r) == len(sn.columns)
            ]
        )
        in ("int", "epoch")
        for x in ("user", "item")
    )
    id_type = pa.int64() if ints and not ids_need_text(sn) else pa.string()
    types: dict[str, pa.DataType] = {roles["user"]: id_type, roles["item"]: id_type}  # type: ignore[dict-item]
    if roles["rating"]:
        types[roles["rating"]] = pa.float64()
    if roles["timestamp"] and options.date_format is not None:
        types[roles["timestamp"]] = pa.string()
    try:
        return arrow_read(sn, needed, types, sample=sample)
    except TypedReadFailed:  # some value does not convert: read it all as text to say where
        return arrow_read(sn, needed, {c: pa.string() for c in needed}, sample=sample)


def load_interactions(
    path: str | Path,
    options: LoadOptions | None = None,
    *,
    item_metadata: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[InteractionData, LoadReport]:
    """Read, map ids, clean (missing, duplicates, threshold, k-core) and report what was dropped."""
    options = options or LoadOptions()
    start = time.perf_counter()
    with guard(path):
        parsed = read_parsed(path, options, progress)
        tick(progress, 0.75, "cleaning")
        dropped = dict.fromkeys(DROP_REASONS, 0)
        rows, warnings = clean(parsed, options, dropped)
        rows, dropped["k-core"] = k_core(
            rows, len(parsed.user_ids), len(parsed.item_ids), options.min_user_count, options.min_item_count
        )
        users, user_ids = compact(rows.users, parsed.user_ids)
        items, item_ids = compact(rows.items, parsed.item_ids)
        check_enough(parsed.sniff.path, len(user_ids), len(item_ids), len(users))
        meta = None
        if item_metadata is not None:
            tick(progress, 0.9, "reading item metadata")
            meta = load_item_metadata(item_metadata, item_ids)
        data = InteractionData(
            users=users,
            items=items,
            values=rows.values,
            timestamps=rows.timestamps,
            user_ids=user_ids,
            item_ids=item_ids,
            item_meta=meta,
        )
        report = build_report(
            parsed.sniff,
            data,
            parsed.rows,
            dropped,
            parsed.warnings + warnings,
            options,
            has_rating=parsed.values is not None,
            start=start,
            ratings=rows.ratings,
            sampled=parsed.sampled,
        )
    arrays.release()
    tick(progress, 1.0, "done")
    return data, report


def load_predefined_split(
    train: str | Path,
    valid: str | Path | None,
    test: str | Path,
    options: LoadOptions | None = None,
    *,
    item_metadata: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[Split, LoadReport]:
    """Ready-made train/valid/test files in one id space.

    Users and items are the union over all files (and the metadata file, for items), so an item
    seen only in test is still in the catalogue. Duplicates are merged within a file, never across;
    no k-core (it would change the published split).
    """
    options = options or LoadOptions()
    if options.min_user_count > 1 or options.min_item_count > 1:
        raise ConfigError("k-core filtering cannot be applied to a predefined split")
    start = time.perf_counter()
    named = [("train", train), ("valid", valid), ("test", test)]
    named = [(n, p) for n, p in named if p is not None]
    with guard(train):
        parsed, cleaned, dropped, warnings = [], [], dict.fromkeys(DROP_REASONS, 0), []
        for k, (name, p) in enumerate(named):
            tick(progress, 0.8 * k / len(named), f"reading {name}")
            one = read_parsed(p, options, None)
            rows, w = clean(one, options, dropped)
            parsed.append(one)
            cleaned.append(rows)
            warnings += [f"{name}: {x}" for x in one.warnings + w]
        meta_frame = metadata_frame(item_metadata) if item_metadata is not None else None
        used_users = [_used(p.user_ids, r.users) for p, r in zip(parsed, cleaned, strict=True)]
        used_items = [_used(p.item_ids, r.items) for p, r in zip(parsed, cleaned, strict=True)]
        user_ids = _union_ids(used_users)
        item_ids = _union_ids(used_items + ([meta_frame.index] if meta_frame is not None else []))
        parts: dict[str, InteractionData] = {}
        for (name, _p), one, rows in zip(named, parsed, cleaned, strict=True):
            umap = _positions(user_ids, one.user_ids)
            imap = _positions(item_ids, one.item_ids)
            parts[name] = InteractionData(
                users=umap[rows.users],
                items=imap[rows.items],
                values=rows.values,
                timestamps=rows.timestamps,
                user_ids=user_ids,
                item_ids=item_ids,
            )
        total = sum(len(x) for x in parts.values())
        check_enough(parsed[0].sniff.path, len(user_ids), len(item_ids), total)
        meta = align_metadata(meta_frame, item_ids) if meta_frame is not None else None
        if meta is not None:
            parts = {k: replace(v, item_meta=meta) for k, v in parts.items()}
        split = Split(
            train=parts["train"], valid=parts.get("valid"), test=parts["test"], protocol="predefined"
        )
        everything = split.train.concat(*[p for p in (split.valid, split.test) if p is not None])
        report = build_report(
            parsed[0].sniff,
            everything,
            sum(p.rows for p in parsed),
            dropped,
            warnings,
            options,
            has_rating=all(p.values is not None for p in parsed),
            start=start,
            parts={k: len(v) for k, v in parts.items()},
            ratings=None
            if any(r.ratings is None for r in cleaned)
            else np.concatenate([r.ratings for r in cleaned]),
        )  # type: ignore[misc]
        report.path = ", ".join(str(p) for _n, p in named)
    arrays.release()
    tick(progress, 1.0, "done")
    return split, report


def _used(ids: pd.Index, codes: np.ndarray) -> pd.Index:
    """The ids that still have rows (a row dropped for a missing item may leave its user with none)."""
    return ids[np.bincount(codes, minlength=len(ids)) > 0]


def _union_ids(indexes: list[pd.Index]) -> pd.Index:
    """Sorted union; if any file has text ids, all ids are compared as text (exact raw strings)."""
    if any(ix.dtype != np.int64 for ix in indexes if len(ix)):
        indexes = [ix.astype(str).astype(object) if ix.dtype == np.int64 else ix for ix in indexes]
        values = np.unique(np.concatenate([np.asarray(ix, dtype=object) for ix in indexes]).astype(str))
        return pd.Index(values.astype(object), dtype=object)
    return pd.Index(
        np.unique(np.concatenate([np.asarray(ix, dtype=np.int64) for ix in indexes])), dtype=np.int64
    )


def _positions(union: pd.Index, part: pd.Index) -> np.ndarray:
    if union.dtype == object and part.dtype == np.int64:
        part = pd.Index(part.astype(str), dtype=object)
    pos = union.get_indexer(part)
    return pos.astype(np.int64)
