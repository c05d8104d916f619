"""One self-contained HTML file about one run, or comparing several: the entry points for CLI and GUI.

``write_report`` is what the window's File → Save report calls from a worker thread: it takes
plain arguments, reports progress through a callback, polls ``should_stop`` between runs, and
writes the file atomically (a stopped or failed report leaves no half-written file behind).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from recsys_gui import __version__
from recsys_gui.core.errors import ConfigError, TrainingCancelled
from recsys_gui.core.reporting.collect import RunFacts, collect_run
from recsys_gui.core.reporting.comparison import comparison_section
from recsys_gui.core.reporting.html import Markup, esc, join, page, tag
from recsys_gui.core.reporting.run_section import run_section
from recsys_gui.core.store.run_store import RunStore
from recsys_gui.core.store.workspace import Workspace

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    bytes: int
    runs: list[str]  # the run ids, in the order shown


def build_report(
    workspace: Workspace | Path | str | None,
    runs: Sequence[str],
    *,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    with_sample: bool = True,
) -> tuple[str, list[str]]:
    """The report's HTML and the ids of its runs; one run gives a run report, several a comparison.

    ``runs`` may hold ids, unique names or unique starts of ids. ``with_sample=False`` skips the
    parts that need the data and the checkpoint (the sample of users, the activity breakdown).
    """
    if not runs:
        raise ConfigError("Name at least one run to report on.")
    store = RunStore(workspace)
    try:
        facts: list[RunFacts] = []
        for i, run in enumerate(runs):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("The report was stopped.")
            if progress is not None:
                progress(i / len(runs), f"Reading run {run}")
            f = collect_run(store, run, with_sample=with_sample)
            if any(f.run_id == g.run_id for g in facts):
                raise ConfigError(f"Run {f.run_id} is named twice; give each run once.")
            facts.append(f)
        html_text = render(facts, store.workspace)
    finally:
        store.close()
    if progress is not None:
        progress(1.0, "Report ready")
    return html_text, [f.run_id for f in facts]


def render(facts: Sequence[RunFacts], workspace: Workspace) -> str:
    single = len(facts) == 1
    title = f"Run report: {facts[0].label}" if single else f"Report: {len(facts)} runs compared"
    header = [
        tag("h1", title),
        tag(
            "p",
            f"RecSys Studio {__version__} · written {time.strftime('%Y-%m-%d %H:%M')} · "
            f"workspace {workspace.root}",
            cls="meta",
        ),
    ]
    if not single:
        header.append(tag("p", join(["Runs: ", join(_link_list(facts))]), cls="meta"))
    body: list[Markup] = [tag("header", join(header))]
    if not single:
        body.append(comparison_section(facts))
    body += [run_section(f) for f in facts]
    return page(title, body)


def _link_list(facts: Sequence[RunFacts]) -> list[Markup]:
    out: list[Markup] = []
    for i, f in enumerate(facts):
        if i:
            out.append(esc(", "))
        out.append(tag("a", f.label, href=f"#run-{f.run_id}"))
    return out


def write_report(
    workspace: Workspace | Path | str | None,
    runs: Sequence[str],
    out: Path | str,
    *,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ReportInfo:
    """Build the report and write it to ``out`` atomically; an existing file needs ``overwrite``."""
    from recsys_gui.core.utils.atomic import atomic_target, check_target

    target = check_target(Path(out), overwrite=overwrite)  # refused in milliseconds, before any work
    text, ids = build_report(workspace, runs, progress=progress, should_stop=should_stop)
    data = text.encode("utf-8")
    with atomic_target(target, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return ReportInfo(target, len(data), ids)
