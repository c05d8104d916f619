"""``benchmarks/gpu_check.py --dry``: the device check's code paths on the CPU at toy sizes.

The real check needs a GPU that CI never has; running its dry run here is what keeps the script
from rotting between the rare device runs (issue 25).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def run_dry(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--dry", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, **(env or {})})


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The printed table's rows by point: the cells between the header and the summary line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("point ")) + 2
    rows = [line for line in lines[start:] if " | " in line]
    return {cells[0]: cells for cells in ([c.strip() for c in line.split(" | ")] for line in rows)}


@pytest.mark.slow
def test_dry_run_passes_and_prints_every_point(tmp_path):
    from recsys_gui.core.models.catalogue import MODELS

    out = tmp_path / "table.json"
    proc = run_dry("--out", str(out))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = table_rows(proc.stdout)
    expected = ["environment", "memory pre-check", "P3 mf validation", "P3 vae validation", "P1 mf", "P1 nmf",
                "P1 vae", "amp mf", "amp nmf", "amp vae", "ML-20M load", "ML-20M mf epoch b65536",
                "ML-20M mf epoch b4096", "ML-20M vae epoch b500", "ML-20M vae epoch b4096",
                "ML-20M top-100 all users", "ML-20M evaluate all users"]
    assert [p for p in expected if p not in rows] == []
    status = {point: cells[5] for point, cells in rows.items()}
    for cls in MODELS:  # every model the app offers trained and evaluated
        assert status.get(f"smoke {cls.name}") == "PASS", rows.get(f"smoke {cls.name}")
    assert {status[p] for p in expected if p.startswith(("P1", "P3", "ML-20M "))} <= {"dry", "INFO"}
    assert "0 FAIL" in proc.stdout.splitlines()[-1]
    doc = json.loads(out.read_text())
    assert [r["point"] for r in doc["rows"]] == list(rows)
    assert doc["summary"]["counts"]["FAIL"] == 0


def test_dry_run_exits_non_zero_when_a_point_raises(tmp_path):
    """A point that raises is a FAIL row and exit 1; without the shared folder the script says so."""
    empty = tmp_path / "no-shared"
    empty.mkdir()
    proc = run_dry("--points", "smoke", "--families", "mf,no-such-model", env={"RECSYS_SHARED": str(empty)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"looked in {empty}" in proc.stdout
    rows = table_rows(proc.stdout)
    assert rows["smoke mf"][5] == "PASS"
    assert rows["smoke no-such-model"][5] == "FAIL"
    assert "Unknown model 'no-such-model'" in rows["smoke no-such-model"][6]
    assert "Traceback" not in proc.stdout  # tracebacks go to stderr, the table stays readable
