"""Process-wide settings are made by the entry points (recsys_gui/process_setup.py), not the library."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch

from recsys_gui.process_setup import apply_thread_count, quiet_known_warnings, thread_count

_MALLOC_PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def mapped_for_a_block():
    before = libc.mallinfo2().hblkhd
    p = libc.malloc(16 << 20)
    grew = libc.mallinfo2().hblkhd > before
    libc.free(p)
    return grew
"""


def _probe(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE + code], capture_output=True, text=True,
                         timeout=300)
    if "mallinfo2" in out.stderr:
        pytest.skip("this C library has no mallinfo2")
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator only")


@linux_only
def test_configure_allocator_keeps_freed_blocks_in_the_process():
    """After it a 16 MB block comes from the heap, not from pages mapped for it (and unmapped again
    on free, to be faulted in anew by the next training step)."""
    assert _probe("from recsys_gui.process_setup import configure_allocator\n"
                  "print(mapped_for_a_block(), configure_allocator(), mapped_for_a_block())") == \
        ["True", "True", "False"]


@linux_only
def test_the_cli_entry_point_sets_the_allocator_up_and_the_library_does_not():
    code = """
import torch
from recsys_gui.core.training.model_checks import synthetic_split
from recsys_gui.core.models import build_model
from recsys_gui.core.config import TrainConfig
from recsys_gui.core.training.trainer import Trainer
split = synthetic_split()
model = build_model("mf", {"embedding_dim": 4}, split.n_users, split.n_items)
Trainer(TrainConfig(epochs=1, device="cpu")).fit(model, split, torch.device("cpu"))
print(mapped_for_a_block())
from recsys_gui.cli import main
main(["models", "--json"])
print(mapped_for_a_block())
"""
    out = _probe(code)
    assert out[0] == "True" and out[-1] == "False"


def test_apply_thread_count_returns_the_count_before_and_thread_count_restores_it():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with thread_count(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    assert apply_thread_count(None) == before and torch.get_num_threads() == before


def test_the_cli_applies_threads_given_on_the_command_line(monkeypatch):
    from recsys_gui import cli
    from recsys_gui.cli import train_cmd

    seen = []
    monkeypatch.setattr(cli, "apply_thread_count", seen.append)
    monkeypatch.setattr(train_cmd, "run", lambda args: 0)
    assert cli.main(["train", "--model", "mf", "--threads", "3"]) == 0
    cli.main(["models", "--json"])
    assert seen == [3]  # without --threads torch's own count stays, and is not even asked for


def test_importing_a_file_from_the_cli_does_not_load_torch():
    """Loading torch costs the 20M-row import about a second and 150 MB it never uses."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys; from recsys_gui.cli import main; "
            "main(['import', 'sample_data/interactions.csv']); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_quiet_known_warnings_silences_only_the_sparse_csr_notice():
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        quiet_known_warnings()
        warnings.warn("Sparse CSR tensor support is in beta state", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in said] == ["something else"]


def test_the_cli_lets_openmp_threads_sleep_unless_the_user_chose_a_policy():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import os, sys; from recsys_gui.cli import main; main(['models', '--json']); "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.strip().splitlines()[-1] == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    assert out.stdout.strip().splitlines()[-1] == "ACTIVE"
