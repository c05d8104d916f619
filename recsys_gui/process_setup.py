"""Process-wide settings, made by the entry points only (the CLI's ``main``, the GUI's start).

The library never changes them itself: a notebook or another application that imports
``recsys_gui.core`` keeps its own allocator, thread count and warning filters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
_TRIM_THRESHOLD = 1024 * 1024 * 1024
_allocator_configured = False


def configure_allocator() -> bool:
    """Keep freed host memory for the next training step instead of handing it back to the OS.

    glibc serves blocks over its mmap threshold (128 KB to start) with fresh pages and returns them
    when freed, and trims the heap top above 128 KB; a training step frees and asks again for the
    same megabyte-sized buffers, so each step would page-fault them in anew. Raising the two
    thresholds keeps them in the process (PyTorch's CPU tuning guide swaps the allocator for the same
    reason). Linux with glibc only; elsewhere a no-op. Once per process; whether it took effect.
    """
    global _allocator_configured
    if _allocator_configured or not sys.platform.startswith("linux"):
        return _allocator_configured
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_ok = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    _allocator_configured = mmap_ok and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _allocator_configured


def configure_openmp() -> None:
    """Let torch's idle OpenMP threads sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``), unless the
    user chose a policy. With more busy threads than cores (a second program, the window's own work)
    a spinning thread waits for a descheduled one at every parallel operation, and epochs took 10 to
    50 times as long, erratically; sleeping costs a wake-up per operator instead, which the hot loops
    amortise with large steps (row-wise MF's ``ROW_MIN_BATCH``). Figures: benchmarks/README.md,
    "Scale". Read when torch loads: call before importing it.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def apply_thread_count(threads: int | None) -> int:
    """Use ``threads`` CPU threads for torch's operators (None or 0: leave torch's default).

    Returns the count in use before, so that a caller training inside a longer-lived process can
    put it back (see ``thread_count``).
    """
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    return before


@contextmanager
def thread_count(threads: int | None) -> Iterator[None]:
    """``apply_thread_count`` for the length of a block, then the count from before."""
    import torch

    before = apply_thread_count(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def quiet_known_warnings() -> None:
    """Silence library warnings that tell the user nothing they can act on.

    torch multiplies two sparse COO matrices (the ILD basis) through CSR and warns that CSR support
    is in beta.
    """
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
