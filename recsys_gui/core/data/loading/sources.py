"""Tables that are not delimited text: Parquet (a file or a folder of files), SQLite, Excel.

Why one module: each is read into an Arrow table with its column names, and from there the load
is the CSV one (column guessing, cleaning, id mapping, the report). Sniffing looks at the first
rows only; reading takes the needed columns. SQLite is opened read-only: a query can never change
the analyst's database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.dataset as pads

from recsys_gui.core.data.loading.columns import guess_roles
from recsys_gui.core.data.loading.options import LoadOptions, SniffResult
from recsys_gui.core.errors import ConfigError, DataError

_PREVIEW_ROWS = 200
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def detect_format(p: Path, head: bytes) -> str:
    """'parquet', 'sqlite', 'excel' or 'text', from the first bytes (a folder holds Parquet)."""
    if p.is_dir() or head[:4] == b"PAR1":
        return "parquet"
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_ZIP_MAGIC) and p.suffix.lower() in EXCEL_SUFFIXES:
        return "excel"
    if head.startswith(_ZIP_MAGIC):
        raise DataError(
            "this is a zip archive; unpack it, or save a spreadsheet as .xlsx or .csv", path=p
        )
    return "text"


def sniff_source(p: Path, fmt: str, options: LoadOptions) -> SniffResult:
    """Column names, a preview and guessed roles for a Parquet, SQLite or Excel source."""
    table, query, sheet = None, None, None
    if fmt == "parquet":
        preview = _parquet_dataset(p).head(_PREVIEW_ROWS)
    elif fmt == "sqlite":
        table, query = _sqlite_selection(p, options)
        preview = _sqlite_read(p, table, query, limit=_PREVIEW_ROWS)
    else:
        sheet = _excel_sheet(p, options.sheet)
        preview = _excel_read(p, sheet, options.header, nrows=_PREVIEW_ROWS)
    columns = tuple(str(c) for c in preview.column_names)
    if len(columns) < 2:
        where = ""
        if sheet is not None:
            where = f" in sheet '{sheet}' (sheets: {', '.join(tables_in(p))}; choose one with --sheet)"
        raise DataError(
            f"found a single column{where}; a user column and an item column are needed", path=p
        )
    data = [["" if v is None else str(v) for v in row.values()] for row in preview.to_pylist()]
    roles, warnings = guess_roles(p, columns, True, data, options)
    return SniffResult(
        path=str(p),
        format=fmt,  # type: ignore[arg-type]
        sep=None,
        header=options.header is not False,
        encoding=None,
        columns=columns,
        roles=roles,
        quoting=False,
        sample_rows=tuple(tuple(r) for r in data[:10]),
        warnings=tuple(warnings),
        table=table,
        query=query,
        sheet=sheet,
    )


def read_source(sn: SniffResult, columns: list[str] | None, *, limit: int | None = None) -> pa.Table:
    """The source (only ``columns`` when given; only its first ``limit`` rows) as an Arrow table."""
    p = Path(sn.path)
    if sn.format == "parquet":
        dataset = _parquet_dataset(p)
        return dataset.to_table(columns=columns) if limit is None else dataset.head(limit, columns=columns)
    if sn.format == "sqlite":
        table = _sqlite_read(p, sn.table, sn.query, limit=limit)
    else:
        table = _excel_read(p, sn.sheet, sn.header, nrows=limit)
    return table if columns is None else table.select(columns)


def parquet_fragments(sn: SniffResult) -> list[pads.ParquetFileFragment]:
    """The Parquet files of a source (one, or each file of a folder), whose footers give row counts."""
    return list(_parquet_dataset(Path(sn.path)).get_fragments())


def tables_in(path: str | Path) -> list[str]:
    """What a file offers to read: a SQLite database's tables and views, a workbook's sheets;
    [] for the other formats (the Data page lists them to pick from)."""
    p = Path(path)
    if p.is_dir():
        return []
    with p.open("rb") as f:
        head = f.read(16)
    fmt = detect_format(p, head)
    if fmt == "sqlite":
        return sqlite_tables(p)
    if fmt == "excel":
        import pandas as pd

        with pd.ExcelFile(p, engine="openpyxl") as book:
            return [str(s) for s in book.sheet_names]
    return []


def source_bytes(p: Path) -> int:
    """Bytes on disk (all files of a folder)."""
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


def _parquet_dataset(p: Path) -> pads.Dataset:
    dataset = pads.dataset(
        str(p), format="parquet", partitioning="hive", exclude_invalid_files=p.is_dir()
    )
    if p.is_dir() and not dataset.files:
        raise DataError("this folder holds no Parquet files", path=p)
    return dataset


# SQLite -------------------------------------------------------------------------------------


def _connect(p: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{quote(str(p.resolve()))}?mode=ro", uri=True)
    db.execute("PRAGMA query_only = ON")
    return db


def sqlite_tables(p: Path) -> list[str]:
    """The tables and views of a database, by name."""
    with _closing(_connect(p)) as db:
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
    return [r[0] for r in rows]


def _sqlite_selection(p: Path, options: LoadOptions) -> tuple[str | None, str | None]:
    if options.query is not None:
        return None, options.query.strip().rstrip(";").strip()
    tables = sqlite_tables(p)
    listed = ", ".join(tables) if tables else "none"
    if options.table is None:
        if len(tables) == 1:
            return tables[0], None
        raise ConfigError(
            f"{p}: a SQLite database; say what to read with --table NAME or --query 'SELECT ...' "
            f"(tables: {listed})"
        )
    if options.table not in tables:
        raise DataError(f"no table named '{options.table}' in this database (tables: {listed})", path=p)
    return options.table, None


def _sqlite_read(p: Path, table: str | None, query: str | None, limit: int | None = None) -> pa.Table:
    sql = f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}"' if table is not None else str(query)
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)}"
    with _closing(_connect(p)) as db:
        try:
            cursor = db.execute(sql)
        except sqlite3.Error as exc:
            tables = ", ".join(sqlite_tables(p)) or "none"
            raise DataError(
                f"the query failed ({exc}); expected a SELECT over this database's tables ({tables})", path=p
            ) from None
        if cursor.description is None:
            raise DataError("the query returns no columns; expected a SELECT", path=p)
        names = _unique_names([d[0] for d in cursor.description])
        chunks: list[list[pa.Array]] = []
        while rows := cursor.fetchmany(200_000):
            chunks.append([_column_array(list(col)) for col in zip(*rows, strict=True)])
    if not chunks:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    columns = [_one_type([c[j] for c in chunks]) for j in range(len(names))]
    return pa.table(dict(zip(names, columns, strict=True)))


def _column_array(values: list[object]) -> pa.Array:
    """SQLite values are typed per value: a column that mixes types is read as its text."""
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError):
        return pa.array([_text(v) for v in values], pa.string())


def _text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


def _one_type(chunks: list[pa.Array]) -> pa.ChunkedArray:
    types = {c.type for c in chunks if not pa.types.is_null(c.type)}
    if len(types) <= 1:
        target = types.pop() if types else pa.string()
    elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
        target = pa.float64()
    else:
        target = pa.string()
    return pa.chunked_array([c.cast(target) for c in chunks], target)


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for k, n in enumerate(names):
        n = str(n) or f"column{k + 1}"
        out.append(n if n not in out else f"{n}_{k + 1}")
    return out


class _closing:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


# Excel --------------------------------------------------------------------------------------


def _excel_sheet(p: Path, wanted: str | None) -> str:
    import pandas as pd

    try:
        with pd.ExcelFile(p, engine="openpyxl") as book:
            sheets = [str(s) for s in book.sheet_names]
    except ImportError as exc:
        raise DataError(f"reading Excel files needs openpyxl ({exc})", path=p) from None
    except Exception as exc:  # a broken or encrypted workbook: openpyxl raises many kinds
        why = f"{exc.__class__.__name__}: {exc}"[:160]
        raise DataError(f"cannot open this workbook ({why})", path=p) from None
    if not sheets:
        raise DataError("the workbook has no sheets", path=p)
    if wanted is None:
        return sheets[0]
    if wanted not in sheets:
        raise DataError(f"no sheet named '{wanted}' in this workbook (sheets: {', '.join(sheets)})", path=p)
    return wanted


def _excel_read(p: Path, sheet: str | None, header: bool | None, nrows: int | None = None) -> pa.Table:
    import pandas as pd

    frame = pd.read_excel(p, sheet_name=sheet or 0, header=None if header is False else 0, nrows=nrows,
                          engine="openpyxl")
    frame.columns = _unique_names(
        [f"column{k + 1}" if str(c).startswith("Unnamed:") else str(c) for k, c in enumerate(frame.columns)]
    )
    columns = {}
    for name in frame.columns:
        col = frame[name]
        try:
            columns[name] = pa.array(col, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            columns[name] = pa.array([_text(v) if pd.notna(v) else None for v in col], pa.string())
    return pa.table(columns)
