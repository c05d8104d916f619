"""Bad input never gives a traceback: a DataError naming the file, row and column, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recsys_gui.cli import main as cli_main
from recsys_gui.core.data.loaders import LoadOptions, load_interactions, load_predefined_split, sniff
from recsys_gui.core.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, content: str | bytes, name: str = "bad.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


@pytest.mark.parametrize(
    ("content", "pattern", "row", "column"),
    [
        ("", "empty", None, None),
        ("\n\n  \n", "empty", None, None),
        ("\ufeff", "empty", None, None),
        ("\ufeff\r\n \r\n", "empty", None, None),
        ("user,item,rating\n", "header line but no data", None, None),
        ("user,item,rating\n1,2,five\n2,3,4\n", "expected a number, got 'five'", 2, "rating"),
        ("user,item,rating\n1,2,3\n\n2,3,4,9\n", "expected 3 fields", 4, None),
        ("user,item\n1,2\n2\n", "expected 2 fields", 3, None),
        (
            "u\ti\ttimestamp\n1\t2\t2020-01-01\n2\t3\tlast tuesday\n",
            "expected a date or a number",
            3,
            "timestamp",
        ),
        ("user,item\n1,2\n1,3\n", "only one user", None, None),
        ("user,item\n1,2\n3,2\n", "only one item", None, None),
        ("user,item\n,2\n1,\n", "no row has both", None, None),
        ("alpha\nbeta\ngamma\n", "single", None, None),
        ("1 2 3 5\n4 5 6\n7 8 9\n", "expected 3 fields", 1, None),
    ],
)
def test_bad_files_raise_a_located_data_error(tmp_path, content, pattern, row, column):
    p = write(tmp_path, content)
    with pytest.raises(DataError, match=pattern) as info:
        load_interactions(p)
    err = info.value
    assert str(p) in str(err)
    assert err.row == row and err.column == column
    if row is not None:
        assert f"row {row}" in str(err)


def test_binary_missing_and_folder(tmp_path):
    rand = write(tmp_path, np.random.default_rng(0).bytes(4000), "random.bin")
    with pytest.raises(DataError, match="binary"):
        load_interactions(rand)
    with pytest.raises(DataError, match="not found"):
        load_interactions(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="folder"):
        load_interactions(tmp_path)
    with pytest.raises(DataError, match="no column named 'score'"):
        load_interactions(write(tmp_path, "user,item\n1,2\n2,3\n", "ok.csv"), LoadOptions(rating="score"))
    with pytest.raises(DataError, match="not found"):
        load_predefined_split(tmp_path / "train.csv", None, tmp_path / "test.csv")


def test_cli_bad_inputs_exit_2_without_traceback(tmp_path, capsys):
    files = [
        tmp_path / "missing.csv",
        write(tmp_path, "", "empty.csv"),
        write(tmp_path, "user,item,rating\n", "header.csv"),
        write(tmp_path, np.random.default_rng(1).bytes(4000), "random.bin"),
        write(tmp_path, "user,item,rating\n1,2,five\n2,3,4\n", "five.csv"),
    ]
    for f in files:
        assert cli_main(["import", str(f)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(f) in err and "Traceback" not in err
    assert "row 2, column 'rating': expected a number, got 'five'" in err


def test_cli_errors_quote_control_characters_as_escapes(tmp_path, capsys):
    """A value from the user's file or command line is echoed in messages; raw ESC sequences in it
    would recolour or rewrite the terminal."""
    missing = tmp_path / "data\x1b[31m\x07.csv"
    assert cli_main(["import", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "data\\x1b[31m\\x07.csv" in err and err.endswith("\n")


def test_cli_entry_point_in_a_subprocess(tmp_path):
    bad = write(tmp_path, "user,item,rating\n1,2,five\n2,3,4\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "recsys_gui", "import", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "expected a number, got 'five'" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- property tests

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_loads_or_data_error(path: Path, options: LoadOptions | None = None) -> None:
    """The only acceptable outcomes: a consistent InteractionData, or a DataError naming the file."""
    try:
        data, report = load_interactions(path, options)
    except DataError as exc:
        assert str(path) in str(exc)
        return
    assert data.n_users >= 2 and data.n_items >= 2 and len(data) == report.interactions > 0
    assert data.users.min() >= 0 and data.users.max() < data.n_users
    assert data.items.min() >= 0 and data.items.max() < data.n_items
    assert report.rows == report.interactions + sum(report.dropped.values())
    assert data.values.dtype == np.float32 and np.isfinite(data.values).all()


@PROPERTY
@given(st.binary(min_size=0, max_size=3000))
def test_random_bytes_load_or_raise_data_error(blob):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "blob.dat"
        p.write_bytes(blob)
        check_loads_or_data_error(p)


_FIELD = st.one_of(
    st.integers(-5, 60).map(str),
    st.sampled_from(
        [
            "",
            " ",
            "NA",
            "007",
            "0",
            "1.5",
            "five",
            "2020-01-01",
            "1600000000",
            "x y",
            '"q,t"',
            "caf\xe9",
            "-0",
            "1e3",
            "nan",
            "inf",
            "::",
            "|",
            ";",
            "\t",
        ]
    ),
    st.text(alphabet=st.characters(codec="latin-1", exclude_categories=("Cc", "Cs")), max_size=6),
    st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\n\r"), max_size=3),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[bytes, LoadOptions | None]:
    sep = draw(st.sampled_from([",", "\t", ";", "|", "::", " ", "  "]))
    width = draw(st.integers(1, 5))
    n_rows = draw(st.integers(0, 25))
    ragged = draw(st.booleans())
    rows = []
    for _ in range(n_rows):
        w = draw(st.integers(1, 6)) if ragged else width
        rows.append(sep.join(draw(st.lists(_FIELD, min_size=w, max_size=w))))
    if draw(st.booleans()):
        names = draw(
            st.lists(
                st.sampled_from(
                    ["user", "item", "rating", "timestamp", "userId", "movieId", "weight", "date", "x", ""]
                ),
                min_size=width,
                max_size=width,
            )
        )
        rows.insert(0, sep.join(names))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(rows) + draw(st.sampled_from(["", eol]))
    raw = text.encode(draw(st.sampled_from(["utf-8", "latin-1", "utf-8-sig"])), errors="replace")
    options = draw(
        st.one_of(
            st.none(),
            st.builds(
                LoadOptions,
                sep=st.sampled_from([None, sep.strip() or "whitespace"]),
                header=st.sampled_from([None, True, False]),
                min_rating=st.sampled_from([None, 2.0]),
                min_user_count=st.integers(0, 2),
                min_item_count=st.integers(0, 2),
                dedupe=st.sampled_from(["last", "max", "sum", "mean"]),
            ),
        )
    )
    return raw, options


@PROPERTY
@given(tables())
def test_random_csvs_load_or_raise_data_error(table):
    raw, options = table
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "table.csv"
        p.write_bytes(raw)
        check_loads_or_data_error(p, options)
        try:
            sn = sniff(p, options)
        except DataError:
            return
        assert sn.roles["user"] is not None and sn.roles["item"] is not None


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(
                min_size=1,
                max_size=5,
                alphabet=st.characters(
                    codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters=',"'
                ),
            ),
            st.integers(0, 9999).map(lambda k: f"{k:04d}"),
        ),
        min_size=2,
        max_size=30,
    )
)
def test_raw_ids_round_trip_for_any_text(pairs):
    """Whatever the ids look like ("007", "1e3", "ü"), what comes back is exactly what was written."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "ids.csv"
        p.write_text("user,item\n" + "".join(f"{u},{i}\n" for u, i in pairs), encoding="utf-8")
        expected = {
            (u.strip(), i)
            for u, i in pairs
            if u.strip()
            and u.strip() not in ("NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A")
        }
        try:
            data, _ = load_interactions(p)
        except DataError:
            assert len({u for u, _ in expected}) < 2 or len({i for _, i in expected}) < 2 or not expected
            return
        got = {
            (str(u), str(i))
            for u, i in zip(data.user_ids.take(data.users), data.item_ids.take(data.items), strict=True)
        }
        assert got == expected


# ------------------------------------------------------------------ settings, workspaces, --sampled

TINY = REPO / "sample_data" / "tiny.csv"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("flags, key", [
    (["--lr", "nan"], "lr"), (["--set", "grad_clip=inf"], "grad_clip"),
    (["--set", "weight_decay=nan"], "weight_decay"), (["--set", "weight_decay=-nan"], "weight_decay"),
    (["--set", "reg=nan"], "reg"), (["--set", "grad_clip=nan"], "grad_clip"),
    (["--set", "epochs=inf"], "epochs"), (["--set", "embedding_dim=1e400"], "embedding_dim"),
])
def test_non_finite_settings_exit_2_before_any_run_exists(tmp_path, capsys, flags, key):
    """NaN passed every range check: Adam raised a traceback, or training failed on a NaN loss later
    ("lower the learning rate") with a failed run left in the store."""
    ws = tmp_path / "ws"
    assert cli_main(["train", "--data", str(TINY), "--model", "mf", "--set", "epochs=1", "--quiet",
                     "--workspace", str(ws), *flags]) == 2
    assert f"'{key}'" in one_error_line(capsys)
    assert not list(ws.glob("runs/*")), "a refused setting left a run behind"


@pytest.mark.parametrize("metric_flags", [["--metrics", "ndcg@10", "--early-stop", "nope@10"],
                                          ["--early-stop", "ndcg@0"]])
def test_bad_early_stop_metric_leaves_no_run_behind(tmp_path, capsys, metric_flags):
    ws = tmp_path / "ws"
    assert cli_main(["train", "--data", str(TINY), "--model", "pop", "--quiet", "--workspace", str(ws),
                     *metric_flags]) == 2
    one_error_line(capsys)
    assert not list(ws.glob("runs/*")), "a refused metric left a run behind"


@pytest.fixture(scope="module")
def pop_run(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    assert cli_main(["train", "--data", str(TINY), "--model", "pop", "--quiet", "--workspace", str(ws),
                     "--run-id", "pop-tiny"]) == 0
    return ws


@pytest.mark.parametrize("n", ["-1", "0", "40", "1000000000"])
def test_sampled_negatives_out_of_range_exit_2(pop_run, capsys, n):
    """-1 and 10^9 were torch tracebacks; 0 ranked against 99 negatives and reported full ranking."""
    capsys.readouterr()
    assert cli_main(["evaluate", "pop-tiny", f"--sampled={n}", "--workspace", str(pop_run)]) == 2
    err = one_error_line(capsys)
    assert "sampled negatives must be at least 1 and below the run's 40 items" in err and f"got {n}" in err


def test_sampled_negatives_in_range_still_evaluate(pop_run, capsys):
    """The control: the range check keeps the protocol usable up to items - 1."""
    assert cli_main(["evaluate", "pop-tiny", "--sampled", "39", "--workspace", str(pop_run), "--json"]) == 0
    assert "1 + 39 sampled negatives" in capsys.readouterr().out


def hostile_workspaces(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    return {
        "regular file": (a_file, "is a file, not a folder"),
        "under a file": (a_file / "ws", "cannot create its folders"),
        "/proc/x": (Path("/proc/x"), "/proc is a view of the running system"),
        "/proc": (Path("/proc"), "/proc is a view of the running system"),
        "/sys/x": (Path("/sys/x"), "/sys is a view of the running system"),
        "300-char name": (tmp_path / ("w" * 300), "cannot create its folders"),
    }


@pytest.mark.parametrize("case", ["regular file", "under a file", "/proc/x", "/proc", "/sys/x",
                                  "300-char name"])
@pytest.mark.parametrize("command", [["runs", "list"], ["evaluate", "r1"],
                                     ["train", "--data", str(TINY), "--model", "pop", "--quiet"]])
def test_unusable_workspace_is_one_line_naming_it(tmp_path, capsys, case, command):
    path, needle = hostile_workspaces(tmp_path)[case]
    assert cli_main([*command, "--workspace", str(path)]) == 2
    err = one_error_line(capsys)
    assert f"Workspace {path}" in err and needle in err


@pytest.mark.parametrize("threads", ["-1", "0", str(2**63), "abc"])
def test_thread_count_torch_refuses_is_a_usage_error(tmp_path, capsys, threads):
    """main applies --threads before the command runs: torch's RuntimeError was a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["train", f"--threads={threads}", "--data", str(TINY), "--model", "pop",
                  "--workspace", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --threads: expected" in err and "Traceback" not in err


def test_input_name_too_long_for_the_system_is_one_line(tmp_path, capsys):
    """Path.exists() raised OSError (ENAMETOOLONG) before the loader could say anything."""
    long_name = tmp_path / ("n" * 300)
    assert cli_main(["train", "--data", str(long_name), "--model", "pop", "--workspace", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert str(long_name) in err and "cannot be read (File name too long)" in err
