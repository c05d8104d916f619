"""The comparison part of a report: metrics table, overlaid curves, trade-off, seeds and paired tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recsys_gui.core.reporting import svg
from recsys_gui.core.reporting.collect import RunFacts
from recsys_gui.core.reporting.html import Markup, figures, join, table, tag
from recsys_gui.core.reporting.run_section import epoch_text, higher_is_better, metric_label
from recsys_gui.core.reporting.stats import mean_interval, paired_matrix, seed_groups

PAIRED_METRIC = "ndcg@10"  # the per-user metric the significance matrix tests


def comparison_section(runs: Sequence[RunFacts]) -> Markup:
    parts: list[Any] = [
        tag("h2", "Comparison", id="comparison"),
        _metrics_table(runs),
        _comparison_charts(runs),
        _seeds(runs),
        _significance(runs),
    ]
    return tag("section", join(parts), cls="comparison")


def _metric_keys(runs: Sequence[RunFacts]) -> list[str]:
    keys: list[str] = []
    for f in runs:
        keys += [k for k in f.test if k not in keys]
    return keys


def _metrics_table(runs: Sequence[RunFacts]) -> Markup:
    keys = _metric_keys(runs)
    best: dict[str, float] = {}
    for k in keys:
        vals = [float(f.test[k]) for f in runs if k in f.test]
        direction = higher_is_better(k)
        if len(vals) > 1 and direction is not None:
            best[k] = max(vals) if direction else min(vals)
    rows = []
    for f in runs:
        status = "" if f.row.get("status") == "completed" else f" ({f.row.get('status')})"
        cells: list[Any] = [
            join([tag("a", f.label, href=f"#run-{f.run_id}"), status]),
            f.row.get("model"),
            epoch_text(f.row.get("best_epoch")),
        ]
        for k in keys:
            v = f.test.get(k)
            cells.append("–" if v is None else (float(v), "best") if best.get(k) == float(v) else float(v))
        rows.append(cells)
    return join(
        [
            tag("h3", "Test metrics"),
            tag(
                "p",
                "Bold: the best run for that metric (lower is better for Gini, ARP and rating errors).",
                cls="meta",
            ),
            table(
                ("run", "model", "best epoch", *[tag("abbr", k, title=metric_label(k)) for k in keys]),
                rows,
                numeric_from=3,
            ),
        ]
    )


def _common_valid_metric(runs: Sequence[RunFacts]) -> str | None:
    stop = [f.train_settings.get("early_stop_metric") for f in runs]
    candidates = [m for m in [*stop, PAIRED_METRIC] if m]
    for f in runs:
        candidates += list((f.curves.get("valid") or {}).keys())
    return next((m for m in candidates if sum(m in (f.curves.get("valid") or {}) for f in runs) >= 1), None)


def _comparison_charts(runs: Sequence[RunFacts]) -> Markup:
    charts = []
    metric = _common_valid_metric(runs)
    if metric:
        series = [
            svg.Series(f.label, [e for e, _ in pts], [v for _, v in pts])
            for f in runs
            for pts in [(f.curves.get("valid") or {}).get(metric, [])]
        ]
        charts.append(
            svg.line_chart(
                series,
                title=f"Validation {metric_label(metric)} per epoch",
                x_label="epoch",
                y_label=metric_label(metric),
                integer_x=True,
            )
        )
    acc = next((k for k in (PAIRED_METRIC, *_metric_keys(runs)) if any(k in f.test for f in runs)), None)
    cov = next((k for k in _metric_keys(runs) if k.startswith("coverage")), None)
    if acc and cov:
        charts.append(
            svg.scatter_chart(
                [
                    svg.Point(
                        f.label, float(f.test.get(cov, float("nan"))), float(f.test.get(acc, float("nan")))
                    )
                    for f in runs
                ],
                title=f"Trade-off: {metric_label(acc)} against {metric_label(cov)}",
                x_label=metric_label(cov),
                y_label=metric_label(acc),
            )
        )
    if not charts:
        return Markup("")
    return join([tag("h3", "Curves and trade-offs"), figures(charts)])


def _seeds(runs: Sequence[RunFacts]) -> Markup:
    by_id = {f.run_id: f for f in runs}
    groups = seed_groups({f.run_id: f.spec for f in runs if f.spec})
    if not groups:
        return Markup("")
    rows = []
    for g in groups:
        members = [by_id[r] for r in g]
        for k in _metric_keys(members):
            iv = mean_interval([float(f.test[k]) for f in members if k in f.test])
            rows.append(
                [
                    ", ".join(f.label for f in members),
                    ", ".join(str(f.row.get("seed")) for f in members),
                    metric_label(k),
                    iv.text(),
                ]
            )
    return join(
        [
            tag("h3", "Runs repeated with other seeds"),
            tag(
                "p",
                "Runs whose settings differ only in the seed: mean and 95% interval over the seeds "
                "(each seed also draws its own split).",
                cls="meta",
            ),
            table(("runs", "seeds", "metric", "mean [95% CI over seeds]"), rows, numeric_from=99),
        ]
    )


def _significance(runs: Sequence[RunFacts]) -> Markup:
    head = tag("h3", f"Paired significance of per-user {metric_label(PAIRED_METRIC)}")
    per_user = {f.run_id: f.per_user for f in runs}
    tests = paired_matrix(per_user, {f.run_id: f.comparable_group for f in runs}, PAIRED_METRIC)
    if not tests:
        return Markup("")
    if all(t.reason for t in tests):
        reasons = sorted({t.reason for t in tests})
        return join(
            [
                head,
                tag(
                    "p",
                    f"No pair of these runs can be tested: {'; '.join(reasons)}. A paired test "
                    "needs two runs that ranked the same test users.",
                    cls="note",
                ),
            ]
        )
    label = {f.run_id: f.label for f in runs}
    cell = {(t.a, t.b): t for t in tests}
    rows = []
    for a in runs:
        cells: list[Any] = [a.label]
        for b in runs:
            t = cell.get((a.run_id, b.run_id)) or cell.get((b.run_id, a.run_id))
            if a.run_id == b.run_id or t is None:
                cells.append(("", "na"))
            elif t.reason:
                cells.append(("n/a", "na"))
            else:
                diff = t.mean_diff if t.a == a.run_id else -t.mean_diff
                cells.append((f"{diff:+.4f} (p={t.t_p_holm:.3g})", "sig" if t.t_p_holm < 0.05 else "ns"))
        rows.append(cells)
    detail = [
        [
            label[t.a],
            label[t.b],
            t.users or "–",
            _p(t.mean_diff, "+.4f"),
            _p(t.t_p),
            _p(t.t_p_holm),
            _p(t.wilcoxon_p),
            _p(t.wilcoxon_p_holm),
            t.reason or "tested",
        ]
        for t in tests
    ]
    return join(
        [
            head,
            tag(
                "p",
                "Each cell: the row run's mean minus the column run's, over the users both ranked, with "
                "the paired t-test's p-value Holm-adjusted across all pairs shown. Green: significant at "
                "5% after the correction. Runs on different data or splits are not paired.",
                cls="meta",
            ),
            table(("run", *[f.label for f in runs]), rows, numeric_from=99),
            table(
                (
                    "run A",
                    "run B",
                    "users",
                    "mean A − B",
                    "t-test p",
                    "t-test p (Holm)",
                    "Wilcoxon p",
                    "Wilcoxon p (Holm)",
                    "",
                ),
                detail,
                numeric_from=2,
            ),
        ]
    )


def _p(v: float, fmt: str = ".3g") -> str:
    return "–" if v != v else format(v, fmt)
