"""Raw ids are kept exactly: a leading or trailing space or tab is part of the id, so ids that
differ only by one are never merged (issue 19, defect 5). A line ending is not part of an id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_gui.core.data.loaders import LoadOptions, load_interactions


def ids_of(data) -> set[object]:
    return set(data.user_ids)


def test_thousand_users_differing_only_by_surrounding_blanks_stay_a_thousand(tmp_path):
    """The issue's file: 16 of 1,000 user ids are another id plus a space, tab or CR; the import
    read 999 users and reported "16 duplicate merged"."""
    variants = [" u{k}", "u{k} ", "u{k}\t", "\tu{k}", "\"u{k}\r\""]
    users = [f"u{k}" for k in range(984)] + [variants[k % 5].format(k=k) for k in range(16)]
    p = tmp_path / "ws.csv"
    p.write_bytes(("user,item,rating\r\n" + "".join(f"{u},i{k % 50},4\r\n" for k, u in enumerate(users)))
                  .encode())
    data, report = load_interactions(p)
    assert report.users == 1000 and report.dropped["duplicate merged"] == 0
    assert {" u0", "u1 ", "u2\t", "\tu3", "u4\r", "u4"} <= ids_of(data)
    (warning,) = [w for w in report.warnings if "user ids" in w]
    assert warning.startswith("16 user ids start or end with whitespace") and "two different users" in warning


def test_integer_ids_with_blanks_are_not_read_as_the_same_number(tmp_path):
    """Arrow's integer parser trims blanks: " 5" and "5" became one user before the byte scan saw them."""
    rows = [f"{k},{k % 7}" for k in range(200)] + [" 5,3", "5 ,4"]
    p = tmp_path / "ints.csv"
    p.write_text("user,item\n" + "\n".join(rows) + "\n")
    data, report = load_interactions(p)
    assert report.users == 202 and {"5", " 5", "5 "} <= ids_of(data)
    assert report.dropped["duplicate merged"] == 0


def test_a_blank_beyond_the_sniffed_sample_is_seen(tmp_path):
    n = 60_000  # > 64 KiB of text before the one id with a blank
    lines = [f"{k % 977},{k % 331},1" for k in range(n)] + ["42\t,5,1"]
    p = tmp_path / "late.csv"
    p.write_text("user,item,rating\n" + "\n".join(lines) + "\n")
    data, _ = load_interactions(p)
    assert "42\t" in ids_of(data) and "42" in ids_of(data)


def test_tab_separated_values_keep_their_spaces(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("user\titem\nu1 \ti1\nu1\t i1\nu2\ti1\n")
    data, report = load_interactions(p)
    assert ids_of(data) == {"u1 ", "u1", "u2"} and set(data.item_ids) == {"i1", " i1"}
    assert report.interactions == 3


def test_a_quoted_tab_in_a_tab_separated_file_is_kept(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_text('user\titem\n"\t7"\t1\n7\t1\n8\t2\n')
    data, _ = load_interactions(p)
    assert ids_of(data) == {"\t7", "7", "8"}


def test_parquet_text_ids_keep_their_blanks(tmp_path):
    p = tmp_path / "ids.parquet"
    pd.DataFrame({"user": ["a", "a ", " a", "b"], "item": ["x", "x", "x", "y"]}).to_parquet(p)
    data, report = load_interactions(p)
    assert ids_of(data) == {"a", "a ", " a", "b"} and report.interactions == 4


@pytest.mark.parametrize("eol", ["\r\n", "\n", "\r"])
def test_a_line_ending_is_not_part_of_the_last_column(tmp_path, eol):
    p = tmp_path / "eol.csv"
    p.write_bytes(eol.join(["user,item", "u1,i1", "u2,i1", "u2,i2", ""]).encode())
    data, _ = load_interactions(p)
    assert set(data.item_ids) == {"i1", "i2"} and ids_of(data) == {"u1", "u2"}


def test_whitespace_separated_files_split_on_the_blanks(tmp_path):
    """There the blanks are the separator: runs of them between fields, at line starts and ends."""
    p = tmp_path / "ws.txt"
    p.write_text("  1   10  4\r\n2\t10 5 \r\n\t3 11 1\r\n")
    data, report = load_interactions(p, LoadOptions(sep="whitespace"))
    assert data.user_ids.dtype == np.int64 and list(data.user_ids) == [1, 2, 3]
    assert list(data.item_ids) == [10, 11] and report.warnings == []


def test_an_id_of_blanks_only_is_missing(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text("user,item\nu1,i1\n ,i1\nu2,\t\nu2,i2\n")
    data, report = load_interactions(p)
    assert report.dropped["missing id"] == 2 and ids_of(data) == {"u1", "u2"}


def test_metadata_ids_with_blanks_still_find_integer_items(tmp_path):
    """Metadata is a lookup, not an id space: "1, Toy Story" in a hand-made file names item 1."""
    (tmp_path / "u.csv").write_text("user,item\n1,1\n2,2\n1,2\n")
    (tmp_path / "m.csv").write_text("item_id,title\n1,A\n 2,B\n")
    data, report = load_interactions(tmp_path / "u.csv", item_metadata=tmp_path / "m.csv")
    assert report.items_with_metadata == 2 and data.item_meta["title"].tolist() == ["A", "B"]
