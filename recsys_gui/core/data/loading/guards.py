"""Turning what a malformed file makes pandas/Arrow raise into one DataError naming the file."""

from __future__ import annotations

import contextlib
import csv
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from recsys_gui.core.errors import DataError


@contextlib.contextmanager
def guard(path: object) -> Iterator[None]:
    """Whatever a malformed file makes pandas/Arrow raise becomes one DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except (OSError, MemoryError) as exc:
        raise DataError(f"cannot read the file ({exc.__class__.__name__}: {short(exc)})", path=path) from exc
    except sqlite3.Error as exc:
        raise DataError(f"cannot read this SQLite database: {short(exc)}", path=path) from exc
    except zipfile.BadZipFile as exc:
        raise DataError(f"cannot read this workbook: {short(exc)}", path=path) from exc
    except (ValueError, IndexError, pa.ArrowException, csv.Error, OverflowError) as exc:
        raise DataError(f"cannot read this file as a table: {short(exc)}", path=path) from exc


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:200]


def check_path(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p)
    if p.is_dir():
        if not any(p.rglob("*.parquet")):
            raise DataError(
                "this is a folder, not a file (a folder of Parquet files can be read; this one has none)",
                path=p,
            )
        return p
    if p.stat().st_size == 0:
        raise DataError("the file is empty", path=p)
    return p
