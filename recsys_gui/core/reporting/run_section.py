"""A run's section of a report: settings, data, curves, test metrics, activity, a sample of users."""

from __future__ import annotations

import json
import time
from typing import Any

from recsys_gui.core.errors import ConfigError
from recsys_gui.core.evaluation import metrics
from recsys_gui.core.reporting import svg
from recsys_gui.core.reporting.collect import RunFacts
from recsys_gui.core.reporting.html import Markup, figures, join, key_values, number, table, tag
from recsys_gui.core.reporting.stats import Interval, mean_interval

SEGMENTS = ("cold", "warm", "heavy")
SEGMENT_TEXT = {"cold": "cold (≤ 5 training rows)", "warm": "warm", "heavy": "heavy (top 10% by activity)"}


def metric_label(key: str) -> str:
    """'ndcg@10' as people read it ('nDCG@10'); a key the registry does not know is shown as it is."""
    try:
        name, _, k = key.partition("@")
        return metrics.metric_family(name).label + (f"@{k}" if k else "")
    except ConfigError:
        return key


def higher_is_better(key: str) -> bool | None:
    """The metric's direction from the registry; None for a key it does not know (no best is marked)."""
    try:
        return metrics.higher_is_better(key)
    except ConfigError:
        return None


def when(ts: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(ts))) if ts else "–"


def run_section(f: RunFacts) -> Markup:
    row = f.row
    title = f"Run {f.label}" + (f" ({f.run_id})" if f.label != f.run_id else "")
    meta = (
        f"{row.get('model')} · {row.get('status')} · created {when(row.get('created_at'))} · "
        f"device {row.get('device') or '–'}"
    )
    parts: list[Any] = [tag("h2", title, id=f"run-{f.run_id}"), tag("p", meta, cls="meta")]
    if row.get("tags"):
        parts.append(tag("p", "Tags: " + ", ".join(map(str, row["tags"])), cls="meta"))
    if row.get("error"):
        parts.append(tag("p", f"Error: {row['error']}", cls="note"))
    if row.get("note"):
        parts.append(tag("p", f"Note: {row['note']}", cls="note"))
    parts += [_settings(f), _data(f), _training(f), _test(f), _at_k(f), _segments(f), _sample(f)]
    return tag("section", join(parts), cls="run")


def _settings(f: RunFacts) -> Markup:
    row, spec = f.row, f.spec
    data = spec.get("data") if isinstance(spec.get("data"), dict) else {}
    files = [(k, data.get(k)) for k in ("path", "train", "valid", "test", "item_metadata") if data.get(k)]
    general = [
        ("model", row.get("model")),
        *[(f"data {k}", v) for k, v in files],
        ("split", row.get("split") or spec.get("split")),
        ("seed", row.get("seed")),
        ("metrics", ", ".join(map(str, spec.get("metrics") or []))),
        ("best epoch", epoch_text(row.get("best_epoch"))),
        ("epochs run", row.get("epochs_run")),
        ("training time", f"{number(row.get('train_seconds'), 2)} s"),
        ("data fingerprint", row.get("data_fingerprint") or "–"),
        ("versions", ", ".join(f"{k} {v}" for k, v in (row.get("versions") or {}).items())),
    ]
    detail = [_flat("model", f.model_settings), _flat("trainer", f.train_settings)]
    return join(
        [
            tag("h3", "Settings"),
            key_values(general),
            tag(
                "details",
                join(
                    [
                        tag("summary", "Model and trainer settings (defaults included)"),
                        *[key_values(d) for d in detail if d],
                    ]
                ),
                open="open",
            ),
        ]
    )


def _flat(prefix: str, d: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f"{prefix}.{k}", json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in d.items()]


def epoch_text(e: Any) -> str:
    return "–" if e is None else str(int(e) + 1)


def _data(f: RunFacts) -> Markup:
    parts: list[Any] = [tag("h3", "Data and split")]
    rep = f.load_report
    if rep:
        pairs = [(k, number(rep.get(k))) for k in ("rows", "users", "items", "interactions") if k in rep]
        if rep.get("density") is not None:
            pairs.append(("density", f"{float(rep['density']):.5f}"))
        dropped = {k: v for k, v in (rep.get("dropped") or {}).items() if v}
        pairs.append(("dropped rows", ", ".join(f"{k}: {v:,}" for k, v in dropped.items()) or "none"))
        pairs.append(("feedback", "implicit" if rep.get("implicit") else "as in the file"))
        parts.append(key_values(pairs))
        for w in rep.get("warnings") or []:
            parts.append(tag("p", f"Warning when loading: {w}", cls="note"))
    s = f.split_summary
    if s:
        rows = []
        for part in ("train", "valid", "test", "fold_in"):
            if f"{part}_rows" in s:
                rows.append(
                    [
                        part,
                        s.get(f"{part}_rows"),
                        s.get(f"{part}_users"),
                        s.get(f"{part}_cold_users", "–"),
                        s.get(f"{part}_cold_items", "–"),
                    ]
                )
        parts.append(tag("p", f"{s.get('users', 0):,} users × {s.get('items', 0):,} items in the id space."))
        parts.append(table(("part", "rows", "users", "cold users", "cold items"), rows))
    if not rep and not s:
        parts.append(tag("p", "This run stored no data summary.", cls="note"))
    return join(parts)


def _training(f: RunFacts) -> Markup:
    charts = []
    losses = f.curves.get("train") or {}
    if losses:
        charts.append(
            svg.line_chart(
                [svg.Series(k, [e for e, _ in v], [y for _, y in v]) for k, v in losses.items()],
                title="Training loss per epoch",
                x_label="epoch",
                y_label="loss",
                integer_x=True,
            )
        )
    valid = f.curves.get("valid") or {}
    if valid:
        charts.append(
            svg.line_chart(
                [svg.Series(metric_label(k), [e for e, _ in v], [y for _, y in v]) for k, v in valid.items()],
                title="Validation metrics per epoch",
                x_label="epoch",
                y_label="value",
                integer_x=True,
            )
        )
    if not charts:
        return join([tag("h3", "Training"), tag("p", "No per-epoch values were recorded.", cls="note")])
    return join(
        [
            tag("h3", "Training"),
            tag("p", f"Best epoch: {epoch_text(f.row.get('best_epoch'))}."),
            figures(charts),
        ]
    )


def intervals(f: RunFacts) -> dict[str, Interval]:
    """95% intervals of the per-user test metrics (accuracy metrics only: the others are list-wide)."""
    if f.per_user is None:
        return {}
    return {k: mean_interval(f.per_user[k].to_numpy(float)) for k in f.test if k in f.per_user.columns}


def _test(f: RunFacts) -> Markup:
    if not f.test:
        return join([tag("h3", "Test metrics"), tag("p", "This run has no test figures.", cls="note")])
    ci = intervals(f)
    rows = [
        [metric_label(k), float(v), ci[k].text() if k in ci else "– (list-wide)", ci[k].n if k in ci else "–"]
        for k, v in f.test.items()
    ]
    keys = [k for k in f.test if k in ci]
    chart = (
        svg.bar_chart(
            [metric_label(k) for k in keys],
            [
                svg.Series(
                    f.label,
                    [],
                    [ci[k].mean for k in keys],
                    [ci[k].lower for k in keys],
                    [ci[k].upper for k in keys],
                )
            ],
            title="Test accuracy with 95% intervals over users",
            y_label="mean per user",
            width=620,
        )
        if keys
        else ""
    )
    return join(
        [
            tag("h3", "Test metrics"),
            table(("metric", "value", "mean [95% CI over test users]", "users"), rows),
            figures([chart]) if chart else "",
        ]
    )


def _at_k(f: RunFacts) -> Markup:
    by_name: dict[str, list[tuple[int, float]]] = {}
    for key, v in f.test.items():
        name, _, k = key.partition("@")
        if k.isdigit():
            by_name.setdefault(name, []).append((int(k), float(v)))
    series = [
        svg.Series(metric_label(n), [k for k, _ in sorted(p)], [v for _, v in sorted(p)])
        for n, p in by_name.items()
        if len(p) > 1
    ]
    if not series:
        return Markup("")
    return join(
        [
            tag("h3", "Metrics at K"),
            figures(
                [
                    svg.line_chart(
                        series,
                        title="Test metric against the cut-off K",
                        x_label="K",
                        y_label="value",
                        integer_x=True,
                    )
                ]
            ),
        ]
    )


def _segments(f: RunFacts) -> Markup:
    if not f.segments:
        return Markup("")
    keys = [k for k in f.segments if k in f.test] or list(f.segments)
    groups = [svg.Series(metric_label(k), [], [f.segments[k][g]["mean"] for g in SEGMENTS]) for k in keys[:4]]
    first = f.segments[keys[0]]
    rows = [
        [SEGMENT_TEXT[g], first[g]["users"], *[float(f.segments[k][g]["mean"]) for k in keys]]
        for g in SEGMENTS
    ]
    return join(
        [
            tag("h3", "By user activity"),
            figures(
                [
                    svg.bar_chart(
                        list(SEGMENTS),
                        groups,
                        title="Test metrics by user activity",
                        y_label="mean per user",
                        x_label="users by training rows",
                    )
                ]
            ),
            table(("users", "count", *[metric_label(k) for k in keys]), rows),
        ]
    )


def _sample(f: RunFacts) -> Markup:
    head = tag("h3", "A sample of test users and their top-10")
    if not f.sample:
        return join([head, tag("p", f.sample_note or "No test users to show.", cls="note")])
    rows = []
    for u in f.sample:
        items = join(tag("li", tag("mark", _item(i, t)) if hit else _item(i, t)) for i, t, hit in u.items)
        hits = sum(h for _, _, h in u.items)
        rows.append([u.user, u.n_known, u.n_test, hits, tag("ol", items, cls="recs")])
    return join(
        [
            head,
            tag(
                "p",
                "Highlighted items are held-out test items of that user (hits). Known items are "
                "left out, as in evaluation.",
                cls="meta",
            ),
            table(("user", "known items", "test items", "hits", "top-10"), rows),
        ]
    )


def _item(item: str, title: str) -> str:
    return f"{item} · {title}" if title else item
