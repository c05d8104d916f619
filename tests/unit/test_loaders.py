"""Loader: formats, role guessing, exact raw ids, values/timestamps, cleaning and the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core.data.loaders import (
    DROP_REASONS,
    LoadOptions,
    load_interactions,
    load_item_metadata,
    load_predefined_split,
    read_table,
    sniff,
)
from recsys_gui.core.errors import ConfigError, DataError

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


def raw_pairs(data) -> set[tuple[object, object]]:
    return set(zip(data.user_ids.take(data.users), data.item_ids.take(data.items), strict=True))


ROWS = [("1", "10", "4", "100"), ("1", "11", "3", "200"), ("2", "10", "5", "300"), ("3", "12", "1", "400")]


@pytest.mark.parametrize(
    ("sep", "written"),
    [(",", ","), ("\t", "\t"), (";", ";"), ("|", "|"), ("::", "::"), ("whitespace", "   ")],
)
@pytest.mark.parametrize("header", [True, False])
def test_separators_and_header_are_sniffed(tmp_path, sep, written, header):
    lines = [written.join(["user_id", "item_id", "rating", "timestamp"])] if header else []
    lines += [written.join(r) for r in ROWS]
    p = write(tmp_path, "\n".join(lines) + "\n")
    sn = sniff(p)
    assert (sn.sep, sn.header) == (sep, header)
    data, report = load_interactions(p)
    assert (report.users, report.items, report.interactions) == (3, 3, 4)
    assert raw_pairs(data) == {(1, 10), (1, 11), (2, 10), (3, 12)}
    assert data.values.dtype == np.float32 and sorted(data.values.tolist()) == [1, 3, 4, 5]
    assert data.timestamps is not None and data.timestamps.dtype == np.int64
    assert report.columns["timestamp"] is not None


def test_crlf_bom_and_latin1(tmp_path):
    crlf = write(tmp_path, "\ufeffuserId,movieId,rating\r\n1,2,3\r\n2,3,4\r\n\r\n3,2,5\r\n", "bom.csv")
    data, report = load_interactions(crlf)
    assert report.encoding == "utf-8-sig" and report.columns["user"] == "userId"
    assert (report.users, report.items, report.interactions) == (3, 2, 3)
    latin = write(tmp_path, "user|item\ncaf\xe9|b\xe9b\xe9\nna\xefve|x\n".encode("latin-1"), "latin.txt")
    data, report = load_interactions(latin)
    assert report.encoding == "latin-1"
    assert set(data.user_ids) == {"café", "naïve"} and "bébé" in set(data.item_ids)


@pytest.mark.parametrize(
    ("names", "roles"),
    [
        ("userId,movieId,rating,timestamp", ("userId", "movieId", "rating", "timestamp")),
        ("User_ID\tGame_ID\tPurchase", ("User_ID", "Game_ID", "Purchase", None)),
        ("userID\tartistID\tweight", ("userID", "artistID", "weight", None)),
        ("visitorid,itemid,event_time", ("visitorid", "itemid", None, "event_time")),
        ("uid,product,plays", ("uid", "product", "plays", None)),
        ("customer,track,count,date", ("customer", "track", "count", "date")),
        ("reviewerID,asin,overall,unixReviewTime", ("reviewerID", "asin", "overall", "unixReviewTime")),
        ("ts,score,item,user", ("user", "item", "score", "ts")),
        (
            "user_id:token\titem_id:token\trating:float",
            ("user_id:token", "item_id:token", "rating:float", None),
        ),
    ],
)
def test_roles_guessed_from_names(tmp_path, names, roles):
    sep = "\t" if "\t" in names else ","
    n = len(names.split(sep))
    values = {"event_time": "2020-01-0{k}", "date": "2020-02-0{k}"}
    rows = []
    for k in range(1, 5):
        rows.append(
            sep.join(
                values.get(
                    c,
                    str(1_600_000_000 + k) if c in ("timestamp", "unixReviewTime", "ts") else str(k % 3 + 1),
                ).format(k=k)
                for c in names.split(sep)
            )
        )
    assert n == len(rows[0].split(sep))
    p = write(tmp_path, names + "\n" + "\n".join(rows) + "\n")
    sn = sniff(p)
    assert sn.header
    assert tuple(sn.roles[r] for r in ("user", "item", "rating", "timestamp")) == roles


def test_positional_roles_without_header(tmp_path):
    p = write(tmp_path, "1 5 881250949\n2 6 881250950\n3 5 881250951\n")  # user item time: no rating
    sn = sniff(p)
    assert sn.roles == {"user": "0", "item": "1", "rating": None, "timestamp": "2"}


def test_every_guess_can_be_overridden(tmp_path):
    p = write(tmp_path, "a,b,c,d\n1,x,2,9\n2,y,3,8\n3,x,4,7\n")
    data, report = load_interactions(p, LoadOptions(user="b", item="a", rating="d", timestamp="none"))
    assert report.columns == {"user": "b", "item": "a", "rating": "d", "timestamp": None}
    assert set(data.user_ids) == {"x", "y"} and data.timestamps is None
    nohdr = write(tmp_path, "1,x,2\n2,y,3\n3,x,4\n", "nohdr.csv")
    data, report = load_interactions(nohdr, LoadOptions(user="1", item="0", rating="none", header=False))
    assert set(data.user_ids) == {"x", "y"} and report.rating_min is None
    assert np.all(data.values == 1.0)
    with pytest.raises(DataError, match="no column named 'nope'"):
        load_interactions(p, LoadOptions(user="nope"))


def test_raw_ids_round_trip_exactly(tmp_path):
    p = write(tmp_path, "user,item\n007,A1\n7,A1\n0,b 2\n-3,A1\n 007 ,c\n")
    data, report = load_interactions(p)
    assert list(data.user_ids) == sorted(["007", "7", "0", "-3", " 007 "])  # text: "007" is not 7
    assert data.user_ids.dtype == object
    assert raw_pairs(data) == {("007", "A1"), ("7", "A1"), ("0", "b 2"), ("-3", "A1"), (" 007 ", "c")}
    assert any("1 user ids start or end with whitespace" in w for w in report.warnings)
    ints = write(tmp_path, "user,item\n10,3\n2,3\n-5,4\n", "ints.csv")
    data, _ = load_interactions(ints)
    assert data.user_ids.dtype == np.int64 and list(data.user_ids) == [-5, 2, 10]  # sorted, deterministic
    assert raw_pairs(data) == {(10, 3), (2, 3), (-5, 4)}


@pytest.mark.parametrize("sep", ["::", "\t", "  ", ";"])
def test_leading_zeros_with_every_separator(tmp_path, sep):
    rows = [("1", "5"), ("007", "05"), ("7", "6"), ("-0", "-06")]  # zeros after the separator too
    p = write(tmp_path, "".join(sep.join(r) + "\n" for r in rows))
    data, _ = load_interactions(p)
    assert set(data.user_ids) == {"1", "007", "7", "-0"}
    assert set(data.item_ids) == {"5", "05", "6", "-06"}
    only_items = write(tmp_path, "".join(sep.join(r) + "\n" for r in [("1", "5"), ("2", "05"), ("3", "6")]),
                       "items_only.txt")
    assert set(load_interactions(only_items)[0].item_ids) == {"5", "05", "6"}


def test_leading_zero_far_beyond_the_sample_is_kept(tmp_path):
    n = 60_000
    users = np.arange(n) % 977 + 1
    items = np.arange(n) % 331 + 1
    lines = [f"{u},{i},1" for u, i in zip(users, items, strict=True)]
    lines[-1] = "0042,5,1"  # > 64 KiB in: only the byte scan can see it
    p = write(tmp_path, "user,item,rating\n" + "\n".join(lines) + "\n")
    data, _ = load_interactions(p)
    assert data.user_ids.dtype == object and "0042" in set(data.user_ids) and "42" in set(data.user_ids)


def test_timestamps_numeric_dates_and_milliseconds(tmp_path):
    dates = write(tmp_path, "user,item,date\n1,2,2020-01-01\n2,1,2020-01-02 12:00:00\n", "d.csv")
    data, report = load_interactions(dates)
    assert sorted(data.timestamps.tolist()) == [1577836800, 1577966400]
    ms = write(tmp_path, "user,item,timestamp\n1,2,1577836800000\n2,1,1577836801500\n", "ms.csv")
    data, report = load_interactions(ms)
    assert sorted(data.timestamps.tolist()) == [1577836800, 1577836801]
    assert any("milliseconds" in w for w in report.warnings)
    floats = write(tmp_path, "user,item,timestamp\n1,2,1577836800.7\n2,1,1577836801.2\n", "f.csv")
    assert sorted(load_interactions(floats)[0].timestamps.tolist()) == [1577836800, 1577836801]


@pytest.mark.parametrize(
    ("policy", "expected"), [("last", 2.0), ("max", 5.0), ("sum", 10.0), ("mean", 10 / 3)]
)
def test_duplicates_merged_by_policy(tmp_path, policy, expected):
    p = write(tmp_path, "user,item,rating,timestamp\n1,1,3,10\n1,1,5,30\n2,1,1,5\n1,1,2,20\n2,2,4,6\n")
    data, report = load_interactions(p, LoadOptions(dedupe=policy))
    assert report.dropped["duplicate merged"] == 2 and report.interactions == 3
    mask = (data.user_ids.take(data.users) == 1) & (data.item_ids.take(data.items) == 1)
    assert data.values[mask][0] == pytest.approx(expected)
    assert data.timestamps[mask][0] == (20 if policy == "last" else 30)


def test_rating_threshold_makes_implicit(tmp_path):
    p = write(tmp_path, "user,item,rating\n1,1,5\n1,2,2\n2,1,4\n2,2,3.5\n3,2,4\n")
    data, report = load_interactions(p, LoadOptions(min_rating=4))
    assert report.dropped["below rating threshold"] == 2 and report.implicit
    assert np.all(data.values == 1.0) and report.interactions == 3


def test_iterative_k_core(tmp_path):
    # item 9 has 1 row; dropping it takes user 3 under 2, which then takes item 4 under 2.
    rows = ["1,1", "1,2", "2,1", "2,2", "3,4", "3,9", "4,4", "4,1", "4,2"]
    p = write(tmp_path, "user,item\n" + "\n".join(rows) + "\n")
    data, report = load_interactions(p, LoadOptions(min_user_count=2, min_item_count=2))
    uc = np.bincount(data.users)
    ic = np.bincount(data.items)
    assert uc.min() >= 2 and ic.min() >= 2
    assert set(data.user_ids) == {1, 2, 4} and set(data.item_ids) == {1, 2}
    assert report.dropped["k-core"] == 3


def test_missing_ids_are_dropped_and_reported(tmp_path):
    p = write(tmp_path, "user,item,rating\n1,2,3\n,3,4\n2,,5\nNA,1,1\n3,1,2\n2,2,1\n")
    _data, report = load_interactions(p)
    assert report.dropped["missing id"] == 3
    assert report.rows == 6 and report.interactions == 3
    assert report.rows == report.interactions + sum(report.dropped.values())


def test_report_is_json_and_readable(tmp_path):
    p = write(tmp_path, "user,item,rating,timestamp\n1,1,3,1600000000\n1,2,2,1600000100\n2,1,5,1600000200\n")
    _data, report = load_interactions(p)
    d = json.loads(json.dumps(report.to_dict()))
    assert {"users", "items", "rows", "interactions", "density", "dropped", "columns"} <= set(d)
    assert set(d["dropped"]) == set(DROP_REASONS)
    text = "\n".join(report.summary_lines())
    assert "users: 2" in text and "ratings: 2 to 5" in text and "2020-09-13" in text


def test_progress_is_reported(tmp_path):
    p = write(tmp_path, "user,item\n1,1\n2,2\n")
    seen: list[float] = []
    load_interactions(p, progress=lambda f, _msg: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_parquet(tmp_path):
    p = tmp_path / "data.parquet"
    pd.DataFrame(
        {
            "user_id": ["007", "7", "x"],
            "item_id": [1, 2, 1],
            "rating": [1.0, 2.5, 3.0],
            "timestamp": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
        }
    ).to_parquet(p)
    data, report = load_interactions(p)
    assert report.format == "parquet" and report.interactions == 3
    assert raw_pairs(data) == {("007", 1), ("7", 2), ("x", 1)}
    assert data.timestamps.min() == 1577836800


def test_read_table_preview(tmp_path):
    p = write(tmp_path, "user,item,rating\n" + "".join(f"{k:03d},{k % 7},{k % 5}\n" for k in range(100)))
    df, _sn = read_table(p, nrows=5)
    assert len(df) == 5 and list(df.columns) == ["user", "item", "rating"]
    assert df["user"].iloc[0] == "000"  # id columns stay text
    full, _ = read_table(p)
    assert len(full) == 100


def test_item_metadata_formats(tmp_path):
    uitem = write(
        tmp_path,
        "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1" + "|0" * 13 + "\n"
        "2|GoldenEye (1995)|01-Jan-1995||http://y|0|1|1|0|0|0" + "|0" * 10 + "|1|0|0\n",
        "u.item",
    )
    meta = load_item_metadata(uitem, pd.Index([2, 1, 3]))
    assert meta["title"].tolist()[:2] == ["GoldenEye (1995)", "Toy Story (1995)"]
    assert meta["genres"].iloc[1] == "Animation|Children's|Comedy" and pd.isna(meta["title"].iloc[2])
    csv_meta = write(
        tmp_path, 'movieId,title,genres\n1,"Usual Suspects, The (1995)",Crime|Thriller\n', "movies.csv"
    )
    assert load_item_metadata(csv_meta, pd.Index([1]))["title"].iloc[0] == "Usual Suspects, The (1995)"
    dat = write(tmp_path, "5::Heat (1995)::Action|Crime\n".encode("latin-1"), "movies.dat")
    got = load_item_metadata(dat, pd.Index(["5"], dtype=object))
    assert got["genres"].iloc[0] == "Action|Crime"


def test_predefined_split_shares_one_id_space(tmp_path):
    train = write(tmp_path, "user\titem\n1\t1\n1\t2\n2\t1\n", "train.tsv")
    valid = write(tmp_path, "user\titem\n2\t3\n", "valid.tsv")
    test = write(tmp_path, "user\titem\n3\t2\n1\t1\n", "test.tsv")
    meta = write(tmp_path, "item_id,title\n1,a\n2,b\n3,c\n4,d\n", "items.csv")
    split, report = load_predefined_split(train, valid, test, item_metadata=meta)
    assert split.n_users == 3 and split.n_items == 4  # item 4 only in metadata, user 3 only in test
    assert report.parts == {"train": 3, "valid": 1, "test": 2}
    assert len(split.test) == 2  # no dedupe across files
    assert split.train.item_ids is split.test.item_ids or split.train.item_ids.equals(split.test.item_ids)
    assert split.test.item_meta is not None and split.test.item_meta["title"].tolist() == ["a", "b", "c", "d"]


def test_options_are_validated():
    with pytest.raises(ConfigError):
        LoadOptions(dedupe="first")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        LoadOptions(min_user_count=-1)


def test_sample_data_and_cli_json(capsys):
    tiny = SAMPLE / "tiny.csv"
    _data, report = load_interactions(tiny)
    assert (report.users, report.items) == (50, 40)
    assert cli_main(["import", str(tiny), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    d = json.loads(out[-1])
    assert (d["users"], d["items"], d["rows"], d["interactions"]) == (
        50,
        40,
        report.rows,
        report.interactions,
    )
    assert any("users: 50" in line for line in out[:-1])


def test_a_huge_finite_rating_is_kept_not_dropped_as_missing(tmp_path):
    """1e308 is a number: the row stays (at float32's largest value) and the report says so."""
    p = write(tmp_path, "user,item,rating\n1,1,1e308\n1,2,3\n2,1,-1e39\n2,2,\n3,2,5\n")
    data, report = load_interactions(p)
    assert report.dropped["missing rating"] == 1 and report.interactions == 4  # only the empty field
    top = float(np.finfo(np.float32).max)
    assert sorted(data.values.tolist()) == [-top, 3.0, 5.0, top] and np.isfinite(data.values).all()
    (note,) = [w for w in report.warnings if "rating" in w]
    assert "2 rating(s)" in note and "line 2" in note
    _implicit, report = load_interactions(p, LoadOptions(min_rating=3))
    assert report.interactions == 3 and report.dropped["below rating threshold"] == 1


@pytest.mark.parametrize("value", ["inf", "-Infinity"])
def test_an_infinite_rating_is_refused_with_its_row_and_column(tmp_path, value):
    p = write(tmp_path, f"user,item,score\n1,1,4\n1,2,{value}\n2,1,5\n")
    with pytest.raises(DataError, match="expected a finite number") as info:
        load_interactions(p)
    assert (info.value.row, info.value.column) == (3, "score")
