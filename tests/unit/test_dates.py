"""Date text in the time column: day-first or month-first as the values show, a guess reported,
a mix refused, and ``--date-format`` for everything else (issue 19, defect 4)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.cli.common import LOAD_OPTION_NAMES
from recsys_gui.core.data.loaders import LoadOptions, load_interactions, load_predefined_split
from recsys_gui.core.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2020, 3, 1, tzinfo=timezone.utc)


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


def write(tmp_path: Path, rows: list[str], name: str = "dates.csv", header: str = "user,item,time") -> Path:
    p = tmp_path / name
    p.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return p


def european_file(tmp_path: Path, fmt: str = "%d.%m.%Y %H:%M") -> Path:
    """The acceptance check's file: 3,000 rows over 600 days from 2020-03-01, written day-first."""
    r = random.Random(3)
    rows = []
    for k in range(3000):
        t = START + timedelta(days=r.randrange(600), minutes=r.randrange(1440))
        rows.append(f"u{k % 300},i{r.randrange(200)},{t:{fmt}}")
    return write(tmp_path, rows, "eu.csv")


def test_day_first_dates_are_read_day_first(tmp_path):
    """1,087 of these 3,000 rows were read month-first (the day was <= 12), without a word."""
    data, report = load_interactions(european_file(tmp_path))
    assert abs(report.time_min - START.timestamp()) < 3 * 86400
    assert report.time_max < utc(2021, 10, 25)
    assert not any("date" in w for w in report.warnings)  # the values said so: nothing to warn about
    assert data.timestamps.min() == report.time_min


def test_import_json_shows_the_day_first_times(tmp_path, capsys):
    assert cli_main(["import", str(european_file(tmp_path)), "--json"]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(d["time_min"] - START.timestamp()) < 3 * 86400 and d["time_max"] < utc(2021, 10, 25)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["13.04.2020 10:00", "03.04.2020 10:00"], [utc(2020, 4, 13, 10), utc(2020, 4, 3, 10)]),  # day-first
        (["04/13/2020", "04/03/2020"], [utc(2020, 4, 13), utc(2020, 4, 3)]),  # month-first, as before
        (["13-4-2020", "3-4-2020 7:05:09"], [utc(2020, 4, 13), utc(2020, 4, 3, 7, 5, 9)]),  # 1-digit fields
        (["13.04.20", "03.04.20"], [utc(2020, 4, 13), utc(2020, 4, 3)]),  # 2-digit years: dateutil, day-first
        (["13.04.2020 10:00+02:00", "03.04.2020 10:00Z"], [utc(2020, 4, 13, 8), utc(2020, 4, 3, 10)]),
    ],
)
def test_the_order_is_read_from_the_values(tmp_path, values, expected):
    rows = [f"u{k},i{k},{v}" for k, v in enumerate(values)]
    data, report = load_interactions(write(tmp_path, rows))
    by_user = dict(zip(data.user_ids.take(data.users), data.timestamps.tolist(), strict=True))
    assert [by_user[f"u{k}"] for k in range(len(values))] == expected
    assert report.warnings == []


@pytest.mark.parametrize(
    ("values", "read_as", "suggested"),
    [
        (["03.04.2020 10:00", "05.06.2020 11:00"], utc(2020, 4, 3, 10), "'%m.%d.%Y %H:%M'"),
        (["03/04/2020", "05/06/2020"], utc(2020, 3, 4), "'%d/%m/%Y'"),
    ],
)
def test_dates_that_fit_both_orders_are_reported(tmp_path, values, read_as, suggested):
    """No field above 12: either order fits, so the report says which was used and how to change it."""
    rows = [f"u{k},i{k},{v}" for k, v in enumerate(values)]
    data, report = load_interactions(write(tmp_path, rows))
    assert data.timestamps[data.user_ids.get_loc("u0") == data.users][0] == read_as
    (warning,) = [w for w in report.warnings if "date" in w]
    assert "column 'time'" in warning and values[0] in warning and f"--date-format {suggested}" in warning


def test_a_column_mixing_day_first_and_month_first_is_refused(tmp_path):
    p = write(tmp_path, ["u1,i1,25.03.2020", "u2,i2,03/25/2020", "u3,i1,02.03.2020"])
    with pytest.raises(DataError, match=r"day-first .*month-first.*--date-format") as info:
        load_interactions(p)
    assert info.value.column == "time" and str(p) in str(info.value)
    assert "line 2" in str(info.value) and "line 3" in str(info.value)


def test_cli_refuses_a_mixed_column_with_exit_2_and_no_traceback(tmp_path):
    p = write(tmp_path, ["u1,i1,25.03.2020 10:00", "u2,i2,03/25/2020 10:00", "u3,i1,01.02.2020 10:00"])
    proc = subprocess.run([sys.executable, "-m", "recsys_gui", "import", str(p), "--json"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "--date-format" in proc.stderr and "'time'" in proc.stderr


def test_date_format_reads_what_the_values_cannot_tell(tmp_path):
    p = write(tmp_path, ["u1,i1,03.04.2020 10:00", "u2,i2,05.06.2020 11:00"])
    data, report = load_interactions(p, LoadOptions(date_format="%m.%d.%Y %H:%M"))
    assert sorted(data.timestamps.tolist()) == [utc(2020, 3, 4, 10), utc(2020, 5, 6, 11)]
    assert report.warnings == []


def test_date_format_applies_to_number_like_dates(tmp_path):
    """20200403 would be epoch seconds without a format; with '%Y%m%d' it is a date."""
    p = write(tmp_path, ["u1,i1,20200403", "u2,i2,20200405"])
    data, _ = load_interactions(p, LoadOptions(date_format="%Y%m%d"))
    assert sorted(data.timestamps.tolist()) == [utc(2020, 4, 3), utc(2020, 4, 5)]


def test_a_value_not_in_the_given_format_names_its_row_and_column(tmp_path):
    p = write(tmp_path, ["u1,i1,03.04.2020 10:00", "u2,i2,2020-05-06 11:00"])
    expected = r"expected a date written as '%d\.%m\.%Y %H:%M'.*'2020-05-06 11:00'"
    with pytest.raises(DataError, match=expected) as info:
        load_interactions(p, LoadOptions(date_format="%d.%m.%Y %H:%M"))
    assert (info.value.row, info.value.column) == (3, "time")


@pytest.mark.parametrize("fmt", ["dd.mm.yyyy", "%Q"])
def test_a_bad_date_format_is_refused(tmp_path, fmt):
    p = write(tmp_path, ["u1,i1,03.04.2020", "u2,i2,05.06.2020"])
    with pytest.raises(ConfigError, match="date format"):
        load_interactions(p, LoadOptions(date_format=fmt))


def test_every_command_that_reads_a_file_takes_date_format(tmp_path, capsys):
    assert "date_format" in LOAD_OPTION_NAMES
    p = write(tmp_path, [f"u{k % 5},i{k},0{k % 9 + 1}.0{k % 7 + 1}.2020" for k in range(40)])
    assert cli_main(["import", str(p), "--date-format", "%m.%d.%Y", "--json"]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["warnings"] == [] and d["time_min"] == utc(2020, 1, 1)
    assert cli_main(["split", str(p), "--split", "random:8,1,1", "--date-format", "%m.%d.%Y"]) == 0
    train = ROOT / "recsys_gui" / "cli" / "train_cmd.py"
    assert "add_load_options(p)" in train.read_text()  # train shares the same flags


def test_predefined_split_files_take_the_format_too(tmp_path):
    train = write(tmp_path, ["u1,i1,03.04.2020", "u2,i2,05.06.2020", "u1,i2,07.08.2020"], "train.csv")
    test = write(tmp_path, ["u2,i1,09.10.2020"], "test.csv")
    split, _ = load_predefined_split(train, None, test, LoadOptions(date_format="%m.%d.%Y"))
    assert split.test.timestamps.tolist() == [utc(2020, 9, 10)]


def test_parquet_text_dates_follow_the_same_rule(tmp_path):
    p = tmp_path / "d.parquet"
    pd.DataFrame({"user": ["a", "b", "c"], "item": ["x", "y", "x"],
                  "time": ["13.04.2020", "03.04.2020", "01.12.2020"]}).to_parquet(p)
    data, _ = load_interactions(p)
    assert sorted(data.timestamps.tolist()) == [utc(2020, 4, 3), utc(2020, 4, 13), utc(2020, 12, 1)]


def test_epoch_numbers_and_iso_dates_among_day_first_dates(tmp_path):
    rows = ["u1,i1,13.04.2020", "u2,i2,03.04.2020", "u3,i1,1586736000", "u4,i2,2020-04-03T00:00:00Z",
            "u5,i1,"]
    data, report = load_interactions(write(tmp_path, rows))
    assert set(data.timestamps.tolist()) == {utc(2020, 4, 13), utc(2020, 4, 3)}
    assert report.dropped["missing timestamp"] == 1
