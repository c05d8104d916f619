"""The HTML report as a browser shows it: headless Chromium renders tables and plots, none of them blank.

Skipped where no Chromium is installed (Debian/Ubuntu: ``apt-get install chromium``).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from recsys_gui.core.reporting import write_report
from tests.unit.test_report import trained_workspace

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH, HEIGHT = 1200, 3000
# The report's own palette: a pixel in one of these is a drawn line, point or bar, not text or grid.
DATA_COLOURS = np.array(
    [
        [int(c[i : i + 2], 16) for i in (1, 3, 5)]
        for c in ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")
    ]
)
# Finds every chart's box after layout and writes it into the DOM that --dump-dom prints.
BOXES_SCRIPT = (
    "<script>addEventListener('load',()=>{for(const s of document.querySelectorAll('svg.chart')){"
    "const r=s.getBoundingClientRect();s.setAttribute('data-box',[r.left,r.top,r.width,r.height]"
    ".map(Math.round).join(','))}})</script>"
)


def browser() -> str:
    found = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if found is None:
        pytest.skip(
            "no Chromium binary found (looked for chromium, chromium-browser, google-chrome); "
            "install it to run this test, e.g. `apt-get install chromium`"
        )
    return found


def chromium(url: Path, *args: str, height: int = HEIGHT) -> str:
    cmd = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--mute-audio",
        f"--window-size={WIDTH},{height}",
        *args,
        url.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(page: Path, out: Path) -> np.ndarray:
    chromium(page, f"--screenshot={out}")
    return read_png(out)


def read_png(path: Path) -> np.ndarray:
    """RGB pixels of an 8-bit, non-interlaced RGB(A) PNG (what Chromium writes), without an image library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    assert depth == 8 and interlace == 0 and colour_type in (2, 6)
    bpp = 3 if colour_type == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, w * bpp + 1)
    out = np.zeros((h, w * bpp), np.int32)
    prev = np.zeros(w * bpp, np.int32)
    for y in range(h):
        kind_, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind_ == 0:
            cur = line
        elif kind_ == 1:  # Sub: a running sum along the row, per channel
            cur = line.reshape(w, bpp).cumsum(0).reshape(-1) % 256
        elif kind_ == 2:  # Up
            cur = (line + prev) % 256
        else:  # Average, Paeth: sequential along the row (rare rows in a screenshot)
            cur = _unfilter_sequential(int(kind_), line.tolist(), prev.tolist(), bpp)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3].astype(np.uint8)


def _unfilter_sequential(kind: int, line: list[int], prev: list[int], bpp: int) -> np.ndarray:
    cur = [0] * len(line)
    for i, x in enumerate(line):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        cur[i] = (x + pred) % 256
    return np.array(cur, np.int32)


def non_white(px: np.ndarray) -> float:
    return float((px.min(axis=2) < 235).mean())


def data_pixels(px: np.ndarray) -> int:
    """Pixels close to one of the palette's colours (the plotted data itself)."""
    d = np.abs(px[:, :, None, :].astype(int) - DATA_COLOURS[None, None, :, :]).max(axis=3)
    return int((d.min(axis=2) < 40).sum())


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.count: dict[str, int] = {}
        self.boxes: list[tuple[int, int, int, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        box = dict(attrs).get("data-box")
        if box:
            x, y, w, h = (int(v) for v in box.split(","))
            self.boxes.append((x, y, w, h))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    browser()  # skip before training anything
    root = tmp_path_factory.mktemp("chromium")
    ws, ids = trained_workspace(root)
    return write_report(ws, ids, root / "report.html").path


def test_chromium_shows_tables_and_plots_and_no_plot_region_is_blank(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(
        report.read_text(encoding="utf-8").replace("</body>", BOXES_SCRIPT + "</body>"), encoding="utf-8"
    )
    assert report.stat().st_size < 3 * 2**20, "a three-run comparison fits in an e-mail (under 3 MB)"
    dom = Dom()
    dom.feed(chromium(probe, "--dump-dom", "--virtual-time-budget=2000"))
    assert dom.count.get("table", 0) >= 20 and dom.count.get("svg", 0) >= 11
    assert dom.count.get("polyline", 0) >= 1 and dom.count.get("circle", 0) >= 10  # curves and points
    assert len(dom.boxes) == dom.count["svg"] and all(w > 300 and h > 100 for _, _, w, h in dom.boxes)

    px = screenshot(report, tmp_path / "page.png")
    assert px.shape[:2] == (HEIGHT, WIDTH)
    assert non_white(px) > 0.03  # the page as a whole has content
    visible = [(x, y, w, h) for x, y, w, h in dom.boxes if y + h <= HEIGHT]
    assert len(visible) >= 2  # the comparison's curves and trade-off at least
    for x, y, w, h in visible:
        region = px[y : y + h, x : x + w]
        assert non_white(region) > 0.01, f"blank plot at {(x, y, w, h)}"
        assert data_pixels(region) > 20, f"a plot without data drawn at {(x, y, w, h)}"


def test_every_plot_renders_alone_with_its_data(report, tmp_path):
    text = report.read_text(encoding="utf-8")
    charts = re.findall(r'<svg class="chart".*?</svg>', text, flags=re.S)
    assert len(charts) >= 11
    # All the charts, one under another, in a page of their own: each one's region is known exactly.
    tops, y = [], 0
    for c in charts:
        tops.append(y)
        y += int(re.search(r'height="(\d+)"', c).group(1))
    assert y <= 12000
    page = tmp_path / "charts.html"
    page.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        + "".join(
            f'<div style="height:{b - a}px">{c}</div>'
            for a, b, c in zip(tops, [*tops[1:], y], charts, strict=True)
        )
        + "</body></html>",
        encoding="utf-8",
    )
    shot = tmp_path / "charts.png"
    chromium(page, f"--screenshot={shot}", height=y)
    px = read_png(shot)
    for i, (a, b) in enumerate(zip(tops, [*tops[1:], y], strict=True)):
        width = int(re.search(r'width="(\d+)"', charts[i]).group(1))
        region = px[a:b, :width]
        title = re.search(r"<title>(.*?)</title>", charts[i]).group(1)
        assert non_white(region) > 0.01, f"chart {i} ({title}) is blank"
        assert data_pixels(region) > 20, f"chart {i} ({title}) shows no data"
