"""Memory guard: estimate what a step needs before it allocates, and refuse in plain words.

Why: an out-of-memory kill takes the whole app (and any unsaved state) with it and tells the
analyst nothing. Every step that can grow with the data (reading a file, a users × items score
block, an items × items matrix) asks here first: ``check_fits`` raises ``MemoryLimitError``
naming what needs how much, what is free and the ways out; ``batch_that_fits`` shrinks a batch
instead of failing, and fails only when a single row does not fit.

Pure Python: RAM comes from psutil when installed, else ``/proc/meminfo`` (capped by a cgroup
limit) or ``os.sysconf``; GPU memory from ``torch.cuda.mem_get_info``, imported only for CUDA.
When nothing can be measured the guard stays silent rather than refuse work it cannot judge.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from recsys_gui.core.errors import MemoryLimitError

GiB = 1 << 30
SAFETY = 0.9  # never plan on the last 10 % of free memory: other programs and the allocator need it
BATCH_SHARE = 0.5  # a batch's working set may take half of what is free; the rest is for everything else

# Reading a delimited file, measured with benchmarks/import_bench.py's generator (peak VmHWM minus
# RSS before the read): integer ids 974 MB for 184 MB / 8M rows, text ids 736 MB for 252 MB / 8M
# rows, 277 MB for 1M rows (Arrow's read buffers and pools are a fixed ~200 MB), and 9.17 GB for a
# 2.09 GB file of 64M rows (tests/hardening). ``256 MiB + rows * 128 + bytes`` bounds all four.
LOAD_BYTES_PER_ROW = 128
LOAD_BYTES_PER_FILE_BYTE = 1.0
LOAD_FIXED = 256 << 20

# Full ranking keeps, per scored cell: float32 scores, a float32 history row (history models), the
# float64 target row and top-k/masking temporaries. 24 bytes a cell covers the evaluator and export.
RANK_BYTES_PER_CELL = 24

# The ways out, in the words the CLI and the GUI use.
KCORE = ("filter rare users and items first (k-core: --min-user-count / --min-item-count, or the "
         "minimum counts on the Data page)")
SAMPLE_USERS = "export or evaluate a sample of the users (--users FILE)"
SMALLER_BATCH = "lower the batch size (--batch-size) or the evaluation batch"
USE_CPU = "run on the CPU (--device cpu), which usually has more memory than the GPU"
CLOSE_OTHERS = "close other programs to free memory"


def format_bytes(n: float) -> str:
    """Bytes in the unit an analyst reads at a glance."""
    for unit, size in (("GiB", GiB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def _device_type(device: object) -> str:
    if device is None:
        return "cpu"
    return str(getattr(device, "type", device)).split(":", 1)[0]


def _ram_available() -> int | None:
    """Free RAM in bytes (what the kernel could hand out without swapping), or None if unknown."""
    try:
        import psutil  # type: ignore[import-not-found]

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    free: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        free = None
    if free is None:
        try:
            free = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    cg = _cgroup_free()
    return free if cg is None else min(free, cg)


def _cgroup_free() -> int | None:
    """Room left under a container's memory limit (cgroup v2 or v1), when one is set."""
    for limit_f, used_f in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                            ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                             "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_f).read_text().strip()
            if limit == "max" or int(limit) >= 1 << 60:
                return None
            return max(0, int(limit) - int(Path(used_f).read_text().strip()))
        except (OSError, ValueError):
            continue
    return None


def _cuda_available(device: object) -> int | None:
    import torch

    if not torch.cuda.is_available():
        return None
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    free, _total = torch.cuda.mem_get_info(dev)
    # memory torch's caching allocator holds but does not use is free for our next tensor too
    cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
    return int(free + max(cached, 0))


def available_bytes(device: object = "cpu") -> int | None:
    """Free memory on ``device`` (RAM for the CPU and MPS, GPU memory for CUDA); None if unknown."""
    try:
        if _device_type(device) == "cuda":
            return _cuda_available(device)
        return _ram_available()
    except Exception:  # a probe must never be the thing that breaks a run
        return None


def _where(device: object) -> str:
    kind = _device_type(device)
    return "on the GPU" if kind == "cuda" else "in this computer's memory (RAM)"


def check_fits(need_bytes: float, what: str, device: object = "cpu",
               remedies: Sequence[str] = (CLOSE_OTHERS,)) -> None:
    """Raise ``MemoryLimitError`` when ``need_bytes`` exceed what ``device`` has free.

    ``what`` says what needs it ("Reading data.csv (2.0 GiB)"); ``remedies`` are the ways out.
    """
    free = available_bytes(device)
    if free is None or need_bytes <= free * SAFETY:
        return
    ways = "; ".join(remedies) if remedies else CLOSE_OTHERS
    raise MemoryLimitError(
        f"{what} needs about {format_bytes(need_bytes)}, but only {format_bytes(free)} is free "
        f"{_where(device)}. Ways out: {ways}.",
        need=int(need_bytes), available=int(free), device=_device_type(device),
    )


def batch_that_fits(wanted: int, per_row_bytes: float, what: str, device: object = "cpu", *,
                    remedies: Sequence[str] = (SMALLER_BATCH,), fixed_bytes: float = 0) -> int:
    """The largest batch ≤ ``wanted`` whose rows (plus ``fixed_bytes``) fit in memory.

    Shrinking is silent: results do not depend on the batch size. Only when one row does not fit
    is ``MemoryLimitError`` raised.
    """
    wanted = max(1, int(wanted))
    free = available_bytes(device)
    if free is None:
        return wanted
    budget = free * SAFETY * BATCH_SHARE - fixed_bytes
    fits = int(budget // max(per_row_bytes, 1))
    if fits >= 1:
        return min(wanted, fits)
    check_fits(fixed_bytes + per_row_bytes, what, device, remedies)
    return 1  # one row fits in all that is free, though not in a batch's share of it


def sample_users_remedy(share: float | None, fixed_bytes: float) -> str:
    """The way out for a file too large to import whole: the largest share of its users that fits
    (``share``), or, when not even a small one does, what a sample needs at the least."""
    if share is None:
        return (f"a sample of whole users (--sample-users) needs about {format_bytes(fixed_bytes)} "
                "free at the least")
    return f"import a sample of whole users: try --sample-users {share:g} (or a smaller share)"


def share_that_fits(fixed_bytes: float, per_share_bytes: float, device: object = "cpu") -> float | None:
    """The largest share s (two significant digits, rounded down) with fixed + s * per_share fitting
    in free memory; None when memory cannot be measured or not even 0.1 % fits."""
    free = available_bytes(device)
    if free is None or per_share_bytes <= 0:
        return None
    share = (free * SAFETY - fixed_bytes) / per_share_bytes
    if share >= 1:
        return 1.0
    if share < 0.001:
        return None
    digits = 1 - math.floor(math.log10(share))  # two significant digits: 0.35, 0.048
    return math.floor(share * 10**digits) / 10**digits


def csv_load_bytes(file_bytes: int, bytes_per_row: float) -> int:
    """Peak memory of reading a delimited file of ``file_bytes`` with lines of ``bytes_per_row``."""
    rows = file_bytes / max(bytes_per_row, 1.0)
    return int(LOAD_FIXED + rows * LOAD_BYTES_PER_ROW + file_bytes * LOAD_BYTES_PER_FILE_BYTE)


def rank_bytes(n_users: int, n_items: int, bytes_per_cell: int = RANK_BYTES_PER_CELL) -> int:
    """Working set of scoring ``n_users`` against ``n_items`` (score block plus its temporaries)."""
    return int(n_users) * int(n_items) * int(bytes_per_cell)


__all__ = [
    "CLOSE_OTHERS",
    "KCORE",
    "SAMPLE_USERS",
    "SMALLER_BATCH",
    "USE_CPU",
    "available_bytes",
    "batch_that_fits",
    "check_fits",
    "csv_load_bytes",
    "format_bytes",
    "rank_bytes",
    "sample_users_remedy",
    "share_that_fits",
]
