"""Sniffing: separator, header, encoding, column names and roles, from the first 64 KiB of a file.

Nothing is converted here; the sample only decides how ``reading`` hands the file to Arrow and
what the GUI preview shows. Whitespace-separated lines are split on runs of blanks (there the
blanks are the separator); every other separator keeps a field's spaces and tabs as written.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from recsys_gui.core.data.loading.columns import EXACT_NAMES, guess_roles, is_number, norm_name
from recsys_gui.core.data.loading.guards import check_path, guard
from recsys_gui.core.data.loading.options import SAMPLE_BYTES, SEPARATORS, LoadOptions, SniffResult
from recsys_gui.core.data.loading.sources import detect_format, sniff_source
from recsys_gui.core.data.loading.streams import codec_of, read_head
from recsys_gui.core.errors import ConfigError, DataError

_SAMPLE_LINES = 200
_MAX_RECORD_LINES = 50  # a quoted field spanning more lines than this is taken for a stray quote


def sniff(path: str | Path, options: LoadOptions | None = None) -> SniffResult:
    """Separator, header, encoding, column names and guessed roles, from the first 64 KiB."""
    options = options or LoadOptions()
    p = check_path(path)
    with guard(p):
        raw = b""
        if not p.is_dir():
            with p.open("rb") as f:
                raw = f.read(_FORMAT_HEAD)
        fmt = detect_format(p, raw)
        if fmt != "text":
            return sniff_source(p, fmt, options)
        codec = codec_of(p)
        head, truncated = read_head(p, SAMPLE_BYTES)
        if codec is not None and not head:
            raise DataError(f"the file is empty once decompressed ({codec})", path=p)
        sn = _sniff_text(p, head, truncated, options)
        return replace(sn, compression=codec)


_FORMAT_HEAD = 16  # bytes that tell the formats apart


def _sniff_text(p: Path, head: bytes, truncated: bool, options: LoadOptions) -> SniffResult:
    if not head.strip():
        raise DataError("the file is empty (only blank lines)", path=p)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is UTF-16 text; save it as UTF-8 (or latin-1) and try again", path=p)
    control = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 32), 127))
    if b"\x00" in head or control > 0.01 * len(head):
        raise DataError("this is not a text table (it looks like binary data)", path=p)
    if truncated and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # drop the partial last line
    if head.startswith(b"\xef\xbb\xbf"):
        encoding, text = "utf-8-sig", head[3:].decode("utf-8", errors="replace")
    else:
        try:
            encoding, text = "utf-8", head.decode("utf-8")
        except UnicodeDecodeError:
            encoding, text = "latin-1", head.decode("latin-1")
    raw_lines = _records(text)
    lead = next((k for k, line in enumerate(raw_lines) if line.strip()), 0)
    lines = [line for line in raw_lines if line.strip()][:_SAMPLE_LINES]
    if not lines:
        raise DataError("the file is empty (no text lines)", path=p)
    sep = normalise_sep(options.sep) if options.sep is not None else _pick_sep(lines)
    if sep is None:
        raise DataError(
            "cannot find a column separator: each line has a single field, but a user "
            "column and an item column are needed",
            path=p,
        )
    quoting = sep in (",", ";") or (
        sep in ("\t", "|") and any(line.startswith('"') or f'{sep}"' in line for line in lines)
    )
    rows = [split_line(line, sep, quoting) for line in lines]
    header = _has_header(rows) if options.header is None else options.header
    width = Counter(len(r) for r in rows[1:] or rows).most_common(1)[0][0]
    if header:
        columns = _column_names(rows[0])
        data = rows[1:]
    else:
        columns = tuple(str(k) for k in range(width))
        data = rows
    if header and not data and not truncated:
        raise DataError("the file has a header line but no data rows", path=p)
    if len(columns) < 2:
        raise DataError("found a single column; a user column and an item column are needed", path=p)
    roles, warnings = guess_roles(p, columns, header, data, options)
    return SniffResult(
        path=str(p),
        format="text",
        sep=sep,
        header=header,
        encoding=encoding,
        columns=columns,
        roles=roles,
        quoting=quoting,
        skip_rows=lead + int(header),
        sample_rows=tuple(tuple(r) for r in data[:10]),
        warnings=tuple(warnings),
    )


_EOL = re.compile(r"\r\n|\n|\r")


def _records(text: str) -> list[str]:
    """The sample's records: split at line ends as Arrow does, but not inside a quoted field.

    A double quote toggles "inside a field" ("" inside one toggles twice). When a quote never
    closes within a few dozen lines it was a stray character (12" in a TSV title), not quoting:
    the plain lines are used then.
    """
    lines = _EOL.split(text)
    if '"' not in text:
        return lines
    ends = [*_EOL.findall(text), ""]
    out: list[str] = []
    parts: list[str] = []
    inside = False
    for line, end in zip(lines, ends, strict=True):
        parts.append(line)
        if line.count('"') % 2:
            inside = not inside
        if inside:
            parts.append(end)
            if len(parts) > 2 * _MAX_RECORD_LINES:
                return lines
        else:
            out.append("".join(parts))
            parts = []
    return out  # an unfinished last record (the sample was cut inside it) is left out


def normalise_sep(sep: str) -> str:
    named = {
        "tab": "\t",
        "\\t": "\t",
        "comma": ",",
        "semicolon": ";",
        "pipe": "|",
        " ": "whitespace",
        "space": "whitespace",
        "whitespace": "whitespace",
        "ws": "whitespace",
        "\\s+": "whitespace",
    }
    sep = named.get(sep.lower() if len(sep) > 1 else sep, sep)
    if not sep or sep in ("\n", "\r", '"'):
        raise ConfigError(f"cannot use {sep!r} as a column separator")
    return sep


def _pick_sep(lines: list[str]) -> str | None:
    best: tuple[float, str] | None = None
    for sep in SEPARATORS:
        counts = [len(split_line(line, sep, sep in (",", ";"))) for line in lines]
        width, n = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        share = n / len(counts)
        if share == 1.0:
            return sep
        if best is None or share > best[0]:
            best = (share, sep)
    return best[1] if best is not None and best[0] >= 0.5 else None


def split_line(line: str, sep: str, quoting: bool) -> list[str]:
    if sep == "whitespace":
        return line.split()
    if quoting and len(sep) == 1:
        with contextlib.suppress(csv.Error, StopIteration):
            return next(csv.reader([line], delimiter=sep))
    return line.split(sep)


def _has_header(rows: list[list[str]]) -> bool:
    first = rows[0]
    if any(norm_name(f) in EXACT_NAMES and not is_number(f) for f in first):
        return True
    for j, name in enumerate(first):
        rest = [r[j].strip() for r in rows[1:] if len(r) > j and r[j].strip()]
        if rest and not is_number(name) and sum(map(is_number, rest)) >= 0.9 * len(rest):
            return True
    return False


def _column_names(fields: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    for k, f in enumerate(fields):
        name = f.strip().strip('"').strip() or f"column{k + 1}"
        names.append(name if name not in names else f"{name}_{k + 1}")
    return tuple(names)
