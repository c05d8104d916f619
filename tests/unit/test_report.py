"""HTML reports (issue 26): structure, escaping of user strings, no network, size, atomic writing."""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_gui.core.errors import ExportError, RunNotFound, TrainingCancelled
from recsys_gui.core.reporting import build_report, svg, write_report
from recsys_gui.core.reporting.stats import holm, mean_interval, paired_matrix, seed_groups
from recsys_gui.core.session import DataSpec, RunSpec, run_training
from recsys_gui.core.store.run_store import RunStore

TINY = Path(__file__).resolve().parents[2] / "sample_data" / "tiny.csv"
HOSTILE_NAME = '<b>mf "best"</b> & co'
HOSTILE_NOTE = "<script>alert('x')</script>"
HOSTILE_TAG = "<img src=x onerror=alert(1)>"
NETWORK = re.compile(
    r"""(src|href)\s*=\s*["']?\s*(https?:)?//|url\(|@import|<script|<link|<iframe|https?://""", re.I
)


def trained_workspace(root: Path, data: Path = TINY) -> tuple[Path, list[str]]:
    """pop, mf (2 epochs) and ease on ``data``; the mf run gets a name, a note and a tag full of markup."""
    ws = root / "ws"
    ids = []
    for model, epochs in (("pop", 1), ("mf", 2), ("ease", 1)):
        spec = RunSpec(
            data=DataSpec(path=str(data)), model=model, train={"epochs": epochs, "device": "cpu", "seed": 3}
        )
        ids.append(run_training(spec, workspace=ws).run_id)
    store = RunStore(ws)
    store.rename_run(ids[1], HOSTILE_NAME)
    store.set_note(ids[1], HOSTILE_NOTE)
    store.tag_run(ids[1], add=[HOSTILE_TAG])
    store.close()
    return ws, ids


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> tuple[Path, list[str]]:
    return trained_workspace(tmp_path_factory.mktemp("report"))


class Tags(HTMLParser):
    """Counts start tags and keeps the ids and the text of the page, as a browser would parse it."""

    def __init__(self) -> None:
        super().__init__()
        self.count: dict[str, int] = {}
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Tags:
    p = Tags()
    p.feed(text)
    return p


def test_comparison_report_has_its_parts_in_order_with_tables_and_plots(three_runs, tmp_path):
    ws, ids = three_runs
    info = write_report(ws, ids, tmp_path / "report.html")
    text = info.path.read_text(encoding="utf-8")
    page = parse(text)
    assert info.runs == ids and info.bytes == len(text.encode())
    assert page.ids == ["comparison", *[f"run-{i}" for i in ids]]  # the comparison first, then each run
    # per run: settings (2-3), data, split, test metrics, activity, sample; plus the comparison's tables
    assert page.count["table"] >= 3 * 6 + 3
    # per run: losses (not for pop/ease), validation, test bars, activity; comparison: curves + trade-off
    assert page.count["svg"] >= 3 * 3 + 2
    body = " ".join(page.text)
    for part in (
        "Paired significance",
        "Trade-off",
        "Validation nDCG@10 per epoch",
        "A sample of test users",
        "95% CI over test users",
        "By user activity",
        "Holm",
    ):
        assert part in body
    assert page.count.get("script", 0) == 0 and page.count.get("img", 0) == 0


def test_report_loads_nothing_from_the_network_and_stays_small(three_runs, tmp_path):
    ws, ids = three_runs
    text = write_report(ws, ids, tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert not NETWORK.search(text), NETWORK.search(text)
    assert 10_000 < len(text.encode()) < 3_000_000


def test_every_user_string_is_escaped(three_runs):
    ws, ids = three_runs
    text, _ = build_report(ws, ids, with_sample=False)
    for raw in (HOSTILE_NAME, HOSTILE_NOTE, HOSTILE_TAG):
        assert raw not in text
    assert "&lt;b&gt;mf &quot;best&quot;&lt;/b&gt; &amp; co" in text  # in tables, legends and titles alike
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    page = parse(text)
    assert page.count.get("b", 0) == 0 and page.count.get("script", 0) == 0 and page.count.get("img", 0) == 0
    assert HOSTILE_NAME in " ".join(page.text)  # the reader still sees the name as it was typed


def test_a_run_report_by_name_shows_settings_curves_intervals_and_sampled_users(three_runs):
    ws, ids = three_runs
    text, shown = build_report(ws, [HOSTILE_NAME])
    assert shown == [ids[1]]
    page = parse(text)
    assert "comparison" not in page.ids
    body = " ".join(page.text)
    assert "Training loss per epoch" in body and "model.embedding_dim" in body and "trainer.epochs" in body
    row = RunStore(ws).get_run(ids[1])
    users = pd.read_parquet(ws / "runs" / ids[1] / "per_user_test.parquet")
    iv = mean_interval(users["ndcg@10"])
    assert f"{row['test']['ndcg@10']:.4f}" in body and f"[{iv.lower:.4f}, {iv.upper:.4f}]" in body
    assert page.count["ol"] == 5  # five sampled users, each with a top-10 list
    assert page.count["li"] == 5 * 10


def test_without_its_data_a_report_is_still_written_and_says_what_is_missing(tmp_path):
    data = tmp_path / "events.csv"
    data.write_text(TINY.read_text())
    spec = RunSpec(data=DataSpec(path=str(data)), model="pop", train={"device": "cpu"})
    run_id = run_training(spec, workspace=tmp_path / "ws").run_id
    data.unlink()
    text, _ = build_report(tmp_path / "ws", [run_id])
    assert "Not shown:" in text and "events.csv" in text
    assert "Test metrics" in text and "<svg" in text


def test_an_existing_file_is_kept_unless_overwrite_and_a_stopped_report_writes_nothing(three_runs, tmp_path):
    ws, ids = three_runs
    out = tmp_path / "r.html"
    out.write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        write_report(ws, ids[:1], out)
    assert out.read_text() == "mine"
    write_report(ws, ids[:1], out, overwrite=True)
    assert out.read_text().startswith("<!DOCTYPE html>")
    fresh = tmp_path / "stopped.html"
    with pytest.raises(TrainingCancelled):
        write_report(ws, ids, fresh, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == [out]  # neither the target nor a partial file
    with pytest.raises(RunNotFound):
        write_report(ws, ["no-such-run"], fresh)


def test_runs_repeated_with_other_seeds_get_an_interval_and_are_not_paired(tmp_path):
    ids = []
    for seed in (1, 2, 3):
        spec = RunSpec(data=DataSpec(path=str(TINY)), model="pop", train={"device": "cpu", "seed": seed})
        ids.append(run_training(spec, workspace=tmp_path).run_id)
    text, _ = build_report(tmp_path, ids, with_sample=False)
    body = " ".join(parse(text).text)
    assert "Runs repeated with other seeds" in body and "1, 2, 3" in body
    assert "No pair of these runs can be tested: different data or split" in body  # each seed, its own split


def test_a_failed_run_without_settings_or_figures_still_gets_its_section(three_runs):
    ws, ids = three_runs
    store = RunStore(ws)
    store.create_run(
        run_id="broken",
        model="mf",
        family="MF",
        spec={},
        data_path="/gone.csv",
        data_fingerprint="",
        split="ratio:8,1,1",
        seed=1,
        device="cpu",
        world_size=1,
        versions={},
    )
    store.finish_run("broken", "failed", error="<out of memory>")
    text, _ = build_report(ws, ["broken", ids[0]])
    body = " ".join(parse(text).text)
    assert "Error: <out of memory>" in body and "This run has no test figures." in body
    assert "no per-user ndcg@10" in body


def test_report_command_writes_the_file(three_runs, tmp_path, capsys):
    from recsys_gui.cli import report_cmd

    parser = argparse.ArgumentParser()
    report_cmd.register(parser.add_subparsers())
    ws, ids = three_runs
    args = parser.parse_args(["report", *ids[:2], "--out", str(tmp_path / "c.html"), "--workspace", str(ws)])
    assert args.func(args) == 0
    assert "comparison of 2 runs" in capsys.readouterr().out
    assert (tmp_path / "c.html").stat().st_size > 10_000


# --- statistics ---------------------------------------------------------------------------------
def test_holm_adjusts_step_down_and_keeps_the_order():
    # sorted 0.01, 0.03, 0.04 -> 3 × 0.01, max(0.03, 2 × 0.03), max(0.06, 1 × 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([0.02, float("nan")])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1])  # NaN is not counted as a test


def test_paired_matrix_tests_every_pair_of_the_same_split_with_holm():
    rng = np.random.default_rng(0)
    base = rng.random(200)
    frame = {
        name: pd.DataFrame({"user": np.arange(200), "ndcg@10": base + shift})
        for name, shift in (("a", 0.0), ("b", 0.05), ("c", 0.0))
    }
    for name in ("b", "c"):
        frame[name]["ndcg@10"] += rng.normal(0, 0.01, 200)
    frame["d"] = pd.DataFrame({"user": np.arange(200), "ndcg@10": base})
    groups = {"a": "x", "b": "x", "c": "x", "d": "other data"}
    tests = {(t.a, t.b): t for t in paired_matrix(frame, groups, "ndcg@10")}
    assert len(tests) == 6
    assert tests[("a", "b")].mean_diff == pytest.approx(-0.05, abs=0.003)
    assert tests[("a", "b")].t_p_holm < 0.05
    assert tests[("a", "d")].reason == "different data or split" and np.isnan(tests[("a", "d")].t_p_holm)
    tested = [t for t in tests.values() if not t.reason]
    assert [t.t_p_holm for t in tested] == pytest.approx(holm([t.t_p for t in tested]))


def test_seed_groups_are_runs_that_differ_only_in_seed_and_name():
    spec = {"model": "mf", "train": {"epochs": 2, "seed": 1}, "name": "a"}
    groups = seed_groups(
        {
            "r1": spec,
            "r2": {**spec, "train": {"epochs": 2, "seed": 2}, "name": "b"},
            "r3": {**spec, "train": {"epochs": 3, "seed": 1}},
        }
    )
    assert groups == [["r1", "r2"]]


# --- charts -------------------------------------------------------------------------------------
def test_ticks_are_round_and_cover_the_range():
    for lo, hi in ((0.0, 1.0), (0.137, 0.412), (3.0, 347.2), (-2.0, 5.0), (0.5, 0.5)):
        ticks = svg.nice_ticks(lo, hi)
        assert ticks[0] <= min(lo, hi) and ticks[-1] >= max(lo, hi) and 3 <= len(ticks) <= 12
        steps = np.diff(ticks)
        assert np.allclose(steps, steps[0])
    assert svg.integer_ticks(1, 5) == [1, 2, 3, 4, 5]


def test_charts_escape_labels_break_lines_at_missing_values_and_draw_whiskers():
    line = svg.line_chart(
        [
            svg.Series("<a&b>", [1, 2, 3, 4], [0.1, float("nan"), 0.3, 0.4]),
            svg.Series("two", [1, 2], [0.2, 0.25]),
        ],
        title='T "q"',
        x_label="x",
        y_label="y",
    )
    assert "<a&b>" not in line and "&lt;a&amp;b&gt;" in line and "&quot;q&quot;" in line
    assert line.count("<polyline") == 2  # the NaN splits the first series: one single point, one line
    bars = svg.bar_chart(
        ["a", "b"], [svg.Series("s", [], [0.2, 0.4], [0.1, 0.3], [0.3, 0.5])], title="bars", y_label="v"
    )
    assert bars.count("<rect") == 3 and bars.count("<path") == 2  # background + 2 bars, 2 whiskers
    assert "no values recorded" in svg.line_chart([], title="empty", x_label="x", y_label="y")
    assert "http" not in line + bars  # inline SVG needs no xmlns
