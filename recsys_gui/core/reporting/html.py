"""HTML building blocks for reports: every text is escaped unless it is ``Markup`` we built ourselves.

Run names, notes, tags, ids and file names are the user's words and may hold ``<`` or quotes;
they only ever reach the page through ``esc``. Pieces this package writes (tables, SVG) are
wrapped in ``Markup`` so that they are not escaped twice. The page has no script and loads
nothing: its style sheet is inline and its figures are inline SVG.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;max-width:1180px;
 padding:0 16px;line-height:1.45;background:#fff}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.3em;border-bottom:2px solid #4477AA;padding-bottom:4px;
 margin-top:2em}h3{font-size:1.05em;margin:1.4em 0 .4em}
.meta{color:#555;font-size:.9em}.note{color:#555;font-style:italic}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.88em}
th,td{border:1px solid #d6d6d6;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f1f4f8}td:first-child{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700}td.sig{background:#d8ead3}td.ns{background:#f7f7f7}td.na{color:#999}
.charts{display:flex;flex-wrap:wrap;gap:16px;margin:.6em 0}
.chart{border:1px solid #e4e4e4;background:#fff}
mark{background:#d8ead3;padding:0 2px}
ol.recs{margin:0;padding-left:1.8em;columns:2;column-gap:2em;min-width:30em}
details{margin:.4em 0}summary{cursor:pointer;color:#4477AA}
.scroll{overflow-x:auto;max-width:100%}.kv td:first-child{color:#555;white-space:nowrap}
@media print{.chart{break-inside:avoid}h2{break-before:page}}
"""


class Markup(str):
    """HTML this package wrote; ``esc`` passes it through unchanged."""


def esc(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(name: str, content: Any = "", **attrs: Any) -> Markup:
    """``<name attrs>content</name>``; attribute names use ``_`` for ``-`` and ``cls`` for ``class``."""
    text = "".join(
        f' {"class" if k == "cls" else k.replace("_", "-")}="{esc(v)}"'
        for k, v in attrs.items()
        if v is not None
    )
    return Markup(f"<{name}{text}>{esc(content)}</{name}>")


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    return str(value)


def table(
    headers: Sequence[Any], rows: Iterable[Sequence[Any]], *, cls: str | None = None, numeric_from: int = 1
) -> Markup:
    """A table; cells from column ``numeric_from`` on that hold numbers are right-aligned.

    A cell may be a ``(content, css class)`` pair to mark the best value or a significant test.
    """
    head = tag("tr", join(tag("th", h) for h in headers))
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            extra = None
            if isinstance(c, tuple):
                c, extra = c
            numeric = i >= numeric_from and isinstance(c, (int, float)) and not isinstance(c, bool)
            classes = " ".join(x for x in ("num" if numeric else "", extra or "") if x) or None
            cells.append(tag("td", number(c) if numeric else c, cls=classes))
        body.append(tag("tr", join(cells)))
    return tag(
        "div", tag("table", join([tag("thead", head), tag("tbody", join(body))]), cls=cls), cls="scroll"
    )


def key_values(pairs: Iterable[tuple[Any, Any]]) -> Markup:
    return table(("setting", "value"), ([k, v] for k, v in pairs), cls="kv", numeric_from=99)


def figures(svgs: Iterable[str]) -> Markup:
    """A wrapping row of charts (SVG text from ``svg``, already escaped inside)."""
    return tag("div", join(Markup(s) for s in svgs), cls="charts")


def page(title: str, body: Iterable[Any]) -> str:
    return (
        "<!DOCTYPE html>\n"
        + tag(
            "html",
            join(
                [
                    tag(
                        "head",
                        join(
                            [
                                Markup('<meta charset="utf-8">'),
                                Markup(
                                    '<meta name="viewport" content="width=device-width, initial-scale=1">'
                                ),
                                tag("title", title),
                                tag("style", Markup(CSS)),
                            ]
                        ),
                    ),
                    tag("body", join(body)),
                ]
            ),
            lang="en",
        )
        + "\n"
    )
