"""The packaged app: PyInstaller builds the one-folder bundle, which starts, finds its sample data and trains.

Slow (a PyInstaller build of torch takes minutes); skipped where PyInstaller is not installed
(``pip install -e '.[package]'``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "pyinstaller" / "recsys-gui.spec"

pytestmark = pytest.mark.slow


@pytest.mark.timeout(3600)
def test_bundle_builds_and_runs_headless(tmp_path):
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[package]'), "
                                              "so the bundle cannot be built here")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath",
           str(tmp_path / "dist"), "--workpath", str(tmp_path / "build"), str(SPEC)]
    build = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, env=env, cwd=ROOT)
    assert build.returncode == 0, build.stderr[-3000:]
    build_s = time.monotonic() - t0
    bundle = tmp_path / "dist" / "recsys-studio"
    app = bundle / ("recsys-studio.exe" if sys.platform == "win32" else "recsys-studio")
    assert app.exists(), sorted(p.name for p in bundle.iterdir())
    size_mb = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20
    print(f"\nbundle built in {build_s:.0f} s, {size_mb:.0f} MB")  # shown with -s; README keeps the figures
    assert not list(bundle.rglob("libtorch_cuda*")), "a CPU bundle must not carry CUDA libraries"

    # Run it from an empty folder: the sample data and the icons must come from inside the bundle.
    out, ws = tmp_path / "shots", tmp_path / "ws"
    run = subprocess.run([str(app), "screenshots", str(out), "--workspace", str(ws), "--epochs", "2"],
                         capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-3000:])
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 7, pngs
    assert all(p.stat().st_size > 5000 for p in pngs)

    # The bundled app trained for real: its run store holds the baseline and the MF run, both finished.
    from recsys_gui.core.store.run_store import RunStore

    store = RunStore(ws)
    try:
        rows = store.list_runs()
    finally:
        store.close()
    assert sorted(r["model"] for r in rows) == ["mf", "pop"]
    assert {r["status"] for r in rows} <= {"completed", "early_stopped"}
