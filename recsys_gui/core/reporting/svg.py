"""Small SVG charts for the HTML reports: axes, ticks, grid, legend and colours, no plotting library.

A report must open anywhere, offline, years later, so its figures are plain inline SVG written
here rather than images from matplotlib (a heavy dependency the app does not otherwise need).
Every text that reaches the SVG (titles, labels, run names) goes through ``html.escape``; the
``<svg>`` element carries no ``xmlns`` because inline SVG in HTML5 needs none and the report then
holds no URL at all.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

# Paul Tol's "bright" scheme: distinct for the common kinds of colour blindness.
PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#222255")
AXIS, GRID, TEXT = "#444444", "#E4E4E4", "#222222"
LEGEND_WIDTH = 150
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Series:
    """One line, or one group of bars: y by x, with an optional interval (lower, upper) per point."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    lower: Sequence[float] | None = None
    upper: Sequence[float] | None = None


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks, t = [], first
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def integer_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Whole-number ticks, at least one apart, covering [lo, hi] (epochs, cut-offs)."""
    lo, hi = math.floor(lo), math.ceil(hi)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    ticks = nice_ticks(lo, hi, target)
    step = float(max(1, math.ceil(ticks[1] - ticks[0])))
    out = [math.floor(lo / step) * step]
    while out[-1] < hi:
        out.append(out[-1] + step)
    return out


def tick_label(value: float, step: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-4:
        return f"{value:.2g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2
    if step * 10**decimals % 1:  # 2.5 × 10^k needs one digit more
        decimals += 1
    return f"{value:.{decimals}f}"


class _Frame:
    """The plot area of one chart: maps data to pixels and draws axes, grid, title and legend."""

    def __init__(
        self,
        width: int,
        height: int,
        xr: tuple[float, float],
        yr: tuple[float, float],
        *,
        legend: bool,
        x_ticks: list[float] | None = None,
    ) -> None:
        self.width, self.height = width, height
        self.left, self.top, self.bottom = 64, 34, 48
        self.right = (LEGEND_WIDTH + 16) if legend else 18
        self.xt = x_ticks if x_ticks is not None else nice_ticks(*xr)
        self.yt = nice_ticks(*yr)
        self.x0, self.x1 = (min(self.xt[0], xr[0]), max(self.xt[-1], xr[1]))
        self.y0, self.y1 = self.yt[0], self.yt[-1]
        if self.x1 == self.x0:
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1

    @property
    def plot_w(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.plot_w

    def sy(self, y: float) -> float:
        return self.top + (1 - (y - self.y0) / (self.y1 - self.y0)) * self.plot_h

    def axes(
        self, title: str, x_label: str, y_label: str, *, x_names: Sequence[str] | None = None
    ) -> list[str]:
        out = [
            f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#ffffff"/>',
            f'<text x="{self.width / 2:.1f}" y="20" text-anchor="middle" font-size="14" font-weight="600" '
            f'fill="{TEXT}">{esc(title)}</text>',
        ]
        ystep = self.yt[1] - self.yt[0] if len(self.yt) > 1 else 1.0
        for t in self.yt:
            y = self.sy(t)
            out.append(
                f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.left + self.plot_w:.1f}" y2="{y:.1f}" '
                f'stroke="{GRID}"/>'
            )
            out.append(
                f'<text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="{TEXT}">{esc(tick_label(t, ystep))}</text>'
            )
        base = self.top + self.plot_h
        if x_names is not None:
            for t, name in zip(self.xt, x_names, strict=True):
                out.append(
                    f'<text x="{self.sx(t):.1f}" y="{base + 16:.1f}" text-anchor="middle" font-size="11" '
                    f'fill="{TEXT}">{esc(shorten(name, 18))}</text>'
                )
        else:
            xstep = self.xt[1] - self.xt[0] if len(self.xt) > 1 else 1.0
            for t in self.xt:
                x = self.sx(t)
                out.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 5}" stroke="{AXIS}"/>')
                out.append(
                    f'<text x="{x:.1f}" y="{base + 17:.1f}" text-anchor="middle" font-size="11" '
                    f'fill="{TEXT}">{esc(tick_label(t, xstep))}</text>'
                )
        out += [
            f'<line x1="{self.left}" y1="{base}" x2="{self.left + self.plot_w:.1f}" y2="{base}" '
            f'stroke="{AXIS}"/>',
            f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{base}" stroke="{AXIS}"/>',
            f'<text x="{self.left + self.plot_w / 2:.1f}" y="{self.height - 8}" text-anchor="middle" '
            f'font-size="12" fill="{TEXT}">{esc(x_label)}</text>',
            f'<text transform="translate(15 {self.top + self.plot_h / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle" font-size="12" fill="{TEXT}">{esc(y_label)}</text>',
        ]
        return out

    def legend(self, labels: Sequence[str], *, swatch: str = "line") -> list[str]:
        x = self.width - LEGEND_WIDTH - 6
        out = []
        for i, label in enumerate(labels):
            y = self.top + 8 + 18 * i
            if y > self.height - 10:
                out.append(
                    f'<text x="{x}" y="{y}" font-size="11" fill="{TEXT}">… {len(labels) - i} more</text>'
                )
                break
            mark = (
                (
                    f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour(i)}" '
                    'stroke-width="2.5"/>'
                )
                if swatch == "line"
                else (f'<rect x="{x + 3}" y="{y - 10}" width="12" height="12" fill="{colour(i)}"/>')
            )
            out.append(
                f'<g>{mark}<text x="{x + 24}" y="{y}" font-size="11" fill="{TEXT}">'
                f"<title>{esc(label)}</title>{esc(shorten(label, 20))}</text></g>"
            )
        return out


def shorten(text: str, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f"{FONT}><title>{esc(title)}</title>{''.join(body)}</svg>"
    )


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _range(values: list[float], *, zero: bool = False) -> tuple[float, float]:
    if not values:
        return (0.0, 1.0)
    lo, hi = min(values), max(values)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return lo, hi


def empty_chart(title: str, message: str, width: int = 560, height: int = 120) -> str:
    body = [
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff" stroke="{GRID}"/>',
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" font-size="13" fill="{TEXT}">'
        f"{esc(title)}: {esc(message)}</text>",
    ]
    return _svg(width, height, title, body)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 320,
    integer_x: bool = False,
) -> str:
    """Lines with markers (a single point still shows), a shaded band where lower/upper are given.

    ``integer_x`` keeps x ticks on whole numbers (epochs, K).
    """
    xs = _finite([x for s in series for x in s.x])
    ys = _finite([y for s in series for y in [*s.y, *(s.lower or []), *(s.upper or [])]])
    if not xs or not ys:
        return empty_chart(title, "no values recorded")
    xr = _range(xs)
    ticks = integer_ticks(*xr) if integer_x else None
    f = _Frame(width, height, xr, _range(ys), legend=len(series) > 1, x_ticks=ticks)
    body = f.axes(title, x_label, y_label)
    for i, s in enumerate(series):
        c = colour(i)
        if s.lower is not None and s.upper is not None:
            band = [
                (x, lo, hi)
                for x, lo, hi in zip(s.x, s.lower, s.upper, strict=True)
                if _finite([x, lo, hi]) == [x, lo, hi]
            ]
            if len(band) > 1:
                top = " ".join(f"{f.sx(x):.1f},{f.sy(hi):.1f}" for x, _, hi in band)
                bottom = " ".join(f"{f.sx(x):.1f},{f.sy(lo):.1f}" for x, lo, _ in reversed(band))
                body.append(
                    f'<polygon points="{top} {bottom}" fill="{c}" fill-opacity="0.18" stroke="none"/>'
                )
        for run in _runs_of_finite(s.x, s.y):
            pts = " ".join(f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in run)
            if len(run) > 1:
                body.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
            if len(s.x) <= 40 or len(run) == 1:
                body += [
                    f'<circle cx="{f.sx(x):.1f}" cy="{f.sy(y):.1f}" r="3" fill="{c}"><title>'
                    f"{esc(s.label)}: {esc(x_label)} {x:g}, {y:.4g}</title></circle>"
                    for x, y in run
                ]
    if len(series) > 1:
        body += f.legend([s.label for s in series])
    return _svg(width, height, title, body)


def _runs_of_finite(x: Sequence[float], y: Sequence[float]) -> list[list[tuple[float, float]]]:
    """Consecutive finite points: a missing value breaks the line instead of bridging it."""
    runs: list[list[tuple[float, float]]] = [[]]
    for a, b in zip(x, y, strict=True):
        if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b)):
            runs[-1].append((float(a), float(b)))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def scatter_chart(
    points: Sequence[Point], *, title: str, x_label: str, y_label: str, width: int = 560, height: int = 340
) -> str:
    """Labelled points (one colour each, named in the legend): a trade-off between two metrics."""
    pts = [p for p in points if _finite([p.x, p.y]) == [p.x, p.y]]
    if not pts:
        return empty_chart(title, "no run has both values")
    xs, ys = [p.x for p in pts], [p.y for p in pts]
    xpad = (max(xs) - min(xs)) * 0.08 or abs(xs[0]) * 0.1 or 0.1
    ypad = (max(ys) - min(ys)) * 0.08 or abs(ys[0]) * 0.1 or 0.1
    f = _Frame(width, height, (min(xs) - xpad, max(xs) + xpad), (min(ys) - ypad, max(ys) + ypad), legend=True)
    body = f.axes(title, x_label, y_label)
    for i, p in enumerate(points):
        if p in pts:
            body.append(
                f'<circle cx="{f.sx(p.x):.1f}" cy="{f.sy(p.y):.1f}" r="6" fill="{colour(i)}" '
                f'stroke="#ffffff" stroke-width="1.5"><title>{esc(p.label)}: {esc(x_label)} {p.x:.4g}, '
                f"{esc(y_label)} {p.y:.4g}</title></circle>"
            )
    body += f.legend([p.label for p in points], swatch="box")
    return _svg(width, height, title, body)


def bar_chart(
    categories: Sequence[str],
    groups: Sequence[Series],
    *,
    title: str,
    y_label: str,
    x_label: str = "",
    width: int = 560,
    height: int = 320,
) -> str:
    """Grouped bars: one group of bars per category, one bar per series, whiskers where intervals exist.

    Each series' ``y`` holds one value per category (``x`` is ignored).
    """
    vals = _finite([v for g in groups for v in [*g.y, *(g.lower or []), *(g.upper or [])]])
    if not categories or not vals:
        return empty_chart(title, "no values recorded")
    n = len(categories)
    f = _Frame(
        width,
        height,
        (-0.5, n - 0.5),
        _range(vals, zero=True),
        legend=len(groups) > 1,
        x_ticks=[float(i) for i in range(n)],
    )
    f.x0, f.x1 = -0.5, n - 0.5
    body = f.axes(title, x_label, y_label, x_names=categories)
    slot = f.plot_w / n
    bar = slot * 0.8 / max(len(groups), 1)
    zero_y = f.sy(max(f.y0, min(0.0, f.y1)))
    for gi, g in enumerate(groups):
        for ci, v in enumerate(g.y):
            if v is None or not math.isfinite(float(v)):
                continue
            x = f.sx(ci) - slot * 0.4 + gi * bar
            y = f.sy(float(v))
            top, h = min(y, zero_y), abs(zero_y - y)
            body.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar * 0.92:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{colour(gi)}"><title>{esc(g.label)} {esc(categories[ci])}: {float(v):.4g}'
                "</title></rect>"
            )
            if g.lower is not None and g.upper is not None:
                lo, hi = g.lower[ci], g.upper[ci]
                if _finite([lo, hi]) == [lo, hi]:
                    cx = x + bar * 0.46
                    body.append(
                        f'<path d="M{cx - 4:.1f} {f.sy(hi):.1f}h8M{cx:.1f} {f.sy(hi):.1f}V{f.sy(lo):.1f}'
                        f'M{cx - 4:.1f} {f.sy(lo):.1f}h8" stroke="{AXIS}" stroke-width="1.3" fill="none"/>'
                    )
    if len(groups) > 1:
        body += f.legend([g.label for g in groups], swatch="box")
    return _svg(width, height, title, body)
