"""Interactions where analysts keep them: compressed CSV, SQLite, Excel, Parquet folders; and
--sample-users (seeded whole users) with the memory guard's suggestion of the share that fits."""

from __future__ import annotations

import bz2
import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core import memory
from recsys_gui.core.data.loaders import LoadOptions, load_interactions
from recsys_gui.core.errors import ConfigError, DataError, MemoryLimitError

HEADER = "user_id,item_id,rating,timestamp\n"


def _rows(n_users: int = 40, per_user: int = 6) -> list[tuple[str, str, int, int]]:
    """Users u0.. with per_user + (k % 3) rows each, in an interleaved file order."""
    rows = []
    for k in range(n_users):
        for j in range(per_user + k % 3):
            rows.append((f"{k}", f"{(k * 7 + j * 3) % 50}", 1 + (k + j) % 5, 1_600_000_000 + 60 * (k + j)))
    order = np.random.default_rng(0).permutation(len(rows))
    return [rows[i] for i in order]


def _csv_text(rows) -> str:
    return HEADER + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)


def _pairs(data) -> set[tuple[object, object, float]]:
    return {
        (data.user_ids[u], data.item_ids[i], float(v))
        for u, i, v in zip(data.users, data.items, data.values, strict=True)
    }


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    p = tmp_path / "plain.csv"
    p.write_text(_csv_text(_rows()))
    return p


def _zstd(data: bytes) -> bytes:
    buf = pa.BufferOutputStream()
    with pa.CompressedOutputStream(buf, "zstd") as f:
        f.write(data)
    return buf.getvalue().to_pybytes()


@pytest.mark.parametrize(
    ("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress), (".zst", _zstd)]
)
def test_compressed_csv_reads_like_the_plain_file(tmp_path, plain, suffix, compress):
    p = tmp_path / f"data.csv{suffix}"
    p.write_bytes(compress(plain.read_bytes()))
    want, _ = load_interactions(plain)
    got, report = load_interactions(p)
    assert _pairs(got) == _pairs(want) and report.rows == len(want)
    assert report.sep == "," and report.header is True
    assert np.array_equal(np.sort(got.timestamps), np.sort(want.timestamps))


def test_compressed_csv_keeps_leading_zero_ids_and_names_the_bad_line(tmp_path):
    lines = [f"{k},{k % 7},3\n" for k in range(1, 3000)]
    lines[2500] = "007,1,3\n"  # far beyond the sniffer's 64 KiB: the id scan reads decompressed bytes
    p = tmp_path / "ids.csv.gz"
    p.write_bytes(gzip.compress(("user,item,rating\n" + "".join(lines)).encode()))
    data, _ = load_interactions(p)
    assert "007" in set(data.user_ids) and "7" in set(data.user_ids)

    lines[2500] = "9,1,high\n"  # physical line 2502 (after the header)
    p.write_bytes(gzip.compress(("user,item,rating\n" + "".join(lines)).encode()))
    with pytest.raises(DataError) as info:
        load_interactions(p)
    assert info.value.row == 2502 and info.value.column == "rating" and "ids.csv.gz" in str(info.value)


def _sqlite_from_csv(csv_path: Path, db_path: Path, table: str = "events") -> None:
    """Like the acceptance check: a table created without types, so every value is text."""
    import csv

    db = sqlite3.connect(db_path)
    with csv_path.open() as f:
        r = csv.reader(f)
        h = next(r)
        db.execute(f"create table {table} ({', '.join(h)})")
        db.executemany(f"insert into {table} values ({','.join('?' * len(h))})", r)
    db.execute("create table other (x)")
    db.commit()
    db.close()


def test_sqlite_table_and_query(tmp_path, plain):
    db = tmp_path / "events.sqlite"
    _sqlite_from_csv(plain, db)
    want, _ = load_interactions(plain)
    got, report = load_interactions(db, LoadOptions(table="events"))
    assert _pairs(got) == _pairs(want) and report.format == "sqlite"
    roles = {"user": "user_id", "item": "item_id", "rating": "rating", "timestamp": "timestamp"}
    assert report.columns == roles
    assert np.array_equal(np.sort(got.timestamps), np.sort(want.timestamps))
    some, _ = load_interactions(db, LoadOptions(query="SELECT * FROM events WHERE CAST(rating AS INT) >= 3;"))
    assert _pairs(some) == {x for x in _pairs(want) if x[2] >= 3}


def test_sqlite_mistakes_are_one_line_messages_naming_the_tables(tmp_path, plain):
    db = tmp_path / "events.db"
    _sqlite_from_csv(plain, db)
    with pytest.raises(DataError) as info:
        load_interactions(db, LoadOptions(table="ratings"))
    msg = str(info.value)
    assert "events.db" in msg and "'ratings'" in msg and "events, other" in msg and "\n" not in msg
    with pytest.raises(DataError) as info:
        load_interactions(db, LoadOptions(query="SELECT * FROM nope"))
    assert "events.db" in str(info.value) and "events, other" in str(info.value)
    with pytest.raises(ConfigError) as cinfo:
        load_interactions(db)  # two tables: which one?
    assert "--table" in str(cinfo.value) and "events, other" in str(cinfo.value)
    with pytest.raises(ConfigError):
        LoadOptions(table="events", query="SELECT 1")


def test_a_query_cannot_change_the_database(tmp_path, plain):
    db = tmp_path / "events.sqlite"
    _sqlite_from_csv(plain, db)
    before = db.read_bytes()
    with pytest.raises(DataError):
        load_interactions(db, LoadOptions(query="DELETE FROM events"))
    assert db.read_bytes() == before


def test_cli_imports_a_sqlite_table_and_query(tmp_path, plain, capsys):
    db = tmp_path / "db.sqlite"
    _sqlite_from_csv(plain, db)
    assert cli_main(["import", str(db), "--table", "events", "--json"]) == 0
    full = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli_main(["import", str(db), "--query", "select * from events where rating >= 3", "--json"]) == 0
    queried = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert full["interactions"] == queried["interactions"] > 0  # text ratings compare above any number
    assert full["source"] == "table events"


def test_excel_first_sheet_or_named_sheet(tmp_path, plain):
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(plain)
    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p) as w:
        frame.to_excel(w, sheet_name="Ratings", index=False)
        pd.DataFrame({"note": ["not data"]}).to_excel(w, sheet_name="About", index=False)
    want, _ = load_interactions(plain)
    got, report = load_interactions(p)
    assert _pairs(got) == _pairs(want) and report.format == "excel"
    named, _ = load_interactions(p, LoadOptions(sheet="Ratings"))
    assert _pairs(named) == _pairs(want)
    with pytest.raises(DataError) as info:
        load_interactions(p, LoadOptions(sheet="Sheet9"))
    assert "'Sheet9'" in str(info.value) and "Ratings, About" in str(info.value)


def test_parquet_folder_is_one_table(tmp_path, plain):
    table = pacsv.read_csv(plain)
    folder = tmp_path / "parts"
    folder.mkdir()
    half = len(table) // 2
    pq.write_table(table.slice(0, half), folder / "part-0.parquet")
    pq.write_table(table.slice(half), folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    want, _ = load_interactions(plain)
    got, report = load_interactions(folder)
    assert _pairs(got) == _pairs(want) and report.rows == len(table) and report.format == "parquet"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as info:
        load_interactions(empty)
    assert "folder" in str(info.value)


def _user_rows(data) -> dict[object, int]:
    counts = np.bincount(data.users, minlength=data.n_users)
    return {data.user_ids[k]: int(c) for k, c in enumerate(counts)}


@pytest.mark.parametrize("spec", [0.3, 12])
def test_sample_users_keeps_whole_users_seeded(plain, spec):
    full = _user_rows(load_interactions(plain)[0])
    data, report = load_interactions(plain, LoadOptions(sample_users=spec, sample_seed=1))
    got = _user_rows(data)
    assert got and all(full[u] == n for u, n in got.items()), "every sampled user keeps all their rows"
    assert np.array_equal(np.unique(data.users), np.arange(data.n_users)), "ids mapped after sampling"
    if spec >= 1:
        assert len(got) == spec
    else:
        assert 0 < len(got) < len(full)
    again, _ = load_interactions(plain, LoadOptions(sample_users=spec, sample_seed=1))
    other, _ = load_interactions(plain, LoadOptions(sample_users=spec, sample_seed=2))
    assert _user_rows(again) == got and set(_user_rows(other)) != set(got)
    assert (report.sampled_users, report.users_in_file) == (len(got), len(full))
    assert f"sampled {len(got):,} of {len(full):,} users" in "\n".join(report.summary_lines())


def test_sample_is_the_same_users_whatever_the_format(tmp_path, plain):
    db = tmp_path / "e.sqlite"
    _sqlite_from_csv(plain, db)
    p = tmp_path / "e.csv.gz"
    p.write_bytes(gzip.compress(plain.read_bytes()))
    opts = {"sample_users": 0.5, "sample_seed": 3}
    a = set(_user_rows(load_interactions(plain, LoadOptions(**opts))[0]))
    b = set(_user_rows(load_interactions(db, LoadOptions(table="events", **opts))[0]))
    c = set(_user_rows(load_interactions(p, LoadOptions(**opts))[0]))
    assert a == b == c
    smaller = set(_user_rows(load_interactions(plain, LoadOptions(sample_users=0.25, sample_seed=3))[0]))
    assert smaller <= a


def test_sample_option_is_validated(capsys):
    with pytest.raises(ConfigError):
        LoadOptions(sample_users=2.5)
    with pytest.raises(ConfigError):
        LoadOptions(sample_users=0)
    with pytest.raises(SystemExit):
        cli_main(["import", "x.csv", "--sample-users", "lots"])
    assert "--sample-users" in capsys.readouterr().err


def test_memory_guard_suggests_the_largest_share_that_fits(plain, monkeypatch):
    size = plain.stat().st_size
    head = plain.read_bytes()[: 1 << 16]
    need = memory.csv_load_bytes(size, len(head) / head.count(b"\n"))
    per_share = need - memory.LOAD_FIXED
    free = (memory.LOAD_FIXED + 0.357 * per_share) / memory.SAFETY
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": int(free))
    with pytest.raises(MemoryLimitError) as info:
        load_interactions(plain)
    assert "try --sample-users 0.35 " in str(info.value)
    data, report = load_interactions(plain, LoadOptions(sample_users=0.35))  # and that sample is let in
    assert report.sampled_users and len(data)


@pytest.mark.parametrize("policy", ["last", "max", "sum", "mean"])
def test_dedupe_matches_pandas_on_many_repeats(tmp_path, policy):
    rng = np.random.default_rng(5)
    n = 5000
    frame = pd.DataFrame({"user": rng.integers(0, 60, n), "item": rng.integers(0, 40, n),
                          "rating": rng.integers(1, 6, n), "timestamp": rng.integers(1e9, 2e9, n)})
    p = tmp_path / "dups.csv"
    frame.to_csv(p, index=False)
    data, report = load_interactions(p, LoadOptions(dedupe=policy))
    grouped = frame.groupby(["user", "item"], sort=False)
    want = {"last": grouped["rating"].last(), "max": grouped["rating"].max(),
            "sum": grouped["rating"].sum(), "mean": grouped["rating"].mean()}[policy]
    got = {
        (data.user_ids[u], data.item_ids[i]): float(v)
        for u, i, v in zip(data.users, data.items, data.values, strict=True)
    }
    assert got == pytest.approx({k: float(v) for k, v in want.items()})
    assert report.dropped["duplicate merged"] == n - len(want)
    if policy == "last":  # kept rows stay in file order
        last_rows = frame.drop_duplicates(["user", "item"], keep="last")
        order = [(data.user_ids[u], data.item_ids[i]) for u, i in zip(data.users, data.items, strict=True)]
        assert order == list(zip(last_rows.user, last_rows.item, strict=True))


def test_tables_in_lists_what_a_database_or_workbook_offers(tmp_path, plain):
    from recsys_gui.core.data.loaders import tables_in

    db = tmp_path / "e.sqlite"
    _sqlite_from_csv(plain, db)
    assert tables_in(db) == ["events", "other"] and tables_in(plain) == []
    pytest.importorskip("openpyxl")
    p = tmp_path / "book.xlsx"
    with pd.ExcelWriter(p) as w:
        pd.DataFrame({"note": ["read me"]}).to_excel(w, sheet_name="About", index=False)
        pd.read_csv(plain).to_excel(w, sheet_name="Ratings", index=False)
    assert tables_in(p) == ["About", "Ratings"]
    with pytest.raises(DataError) as info:
        load_interactions(p)  # the first sheet is a note: say which sheets there are
    assert "sheet 'About'" in str(info.value) and "About, Ratings" in str(info.value)


@pytest.mark.parametrize("suffix", [".csv", ".sqlite"])
def test_a_bad_value_in_a_sample_names_the_files_own_line(tmp_path, suffix):
    rows = _rows()
    plain = tmp_path / "all.csv"
    plain.write_text(_csv_text(rows))
    opts = LoadOptions(sample_users=0.5, sample_seed=4, table="events" if suffix == ".sqlite" else None)
    sampled = set(_user_rows(load_interactions(plain, LoadOptions(sample_users=0.5, sample_seed=4))[0]))
    k = max(j for j, r in enumerate(rows) if int(r[0]) in sampled or r[0] in sampled)  # a late sampled row
    text = _csv_text(rows).splitlines(keepends=True)
    text[k + 1] = text[k + 1].replace(f",{rows[k][2]},", ",lots,")
    plain.write_text("".join(text))
    path = plain
    if suffix == ".sqlite":
        path = tmp_path / "all.sqlite"
        _sqlite_from_csv(plain, path)
    with pytest.raises(DataError) as info:
        load_interactions(path, opts)
    assert info.value.row == k + (2 if suffix == ".csv" else 1) and info.value.column == "rating"


@pytest.mark.parametrize(
    ("name", "head"),
    [("a.sqlite", b"SQLite format 3\x00"), ("b.xlsx", b"PK\x03\x04"), ("c.csv.gz", b"\x1f\x8b"),
     ("d.bz2", b"BZh9"), ("e.zst", b"\x28\xb5\x2f\xfd")],
)
def test_broken_databases_workbooks_and_archives_are_one_line_data_errors(tmp_path, name, head):
    p = tmp_path / name
    p.write_bytes(head + bytes(range(256)) * 4)
    with pytest.raises(DataError) as info:
        load_interactions(p)
    assert name in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("shift", [-3, -2, -1, 0, 1, 2])
def test_a_leading_zero_id_across_a_scan_chunk_boundary_is_kept(tmp_path, shift):
    from recsys_gui.core.data.loading.streams import CHUNK

    target = CHUNK + shift  # where the "007" line starts, around the id scan's first chunk end
    text = "user,item\n"
    text += "12,3\n" * ((target - len(text) - 20) // 5)
    gap = target - len(text)
    text += "1" * (gap - 3) + ",5\n"  # one longer line lands the next one exactly on target
    text += "007,4\n" + "12,3\n" * 10
    p = tmp_path / "edge.csv"
    p.write_text(text)
    assert p.read_bytes()[target : target + 3] == b"007"
    data, _ = load_interactions(p)
    assert "007" in set(data.user_ids.astype(str))
