"""The engine end to end through the CLI: exit codes, JSON output, SIGKILL leaves a readable store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "interactions.csv"


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "recsys_gui", *map(str, args)], capture_output=True,
                          text=True, timeout=kw.pop("timeout", 600), **kw)


def last_json(stdout: str) -> dict:
    return json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])


def test_train_json_then_evaluate_and_runs(tmp_path):
    r = cli("train", "--data", SAMPLE, "--model", "mf", "--epochs", "3", "--workspace", tmp_path, "--json",
            "--device", "cpu")
    assert r.returncode == 0, r.stderr
    out = last_json(r.stdout)
    for key in ("run_id", "model", "best_epoch", "epochs_run", "train_seconds", "seconds_per_epoch"):
        assert key in out
    assert "ndcg@10" in out["test"] and "ndcg@10" in out["valid"]
    ev = cli("evaluate", out["run_id"], "--workspace", tmp_path, "--json")
    assert ev.returncode == 0, ev.stderr
    assert abs(last_json(ev.stdout)["metrics"]["ndcg@10"] - out["test"]["ndcg@10"]) < 1e-9
    lst = cli("runs", "list", "--workspace", tmp_path, "--json")
    assert out["run_id"] in lst.stdout


@pytest.mark.parametrize("args, needle", [
    (["train", "--data", "missing.csv", "--model", "mf"], "not found"),
    (["train", "--data", str(SAMPLE), "--model", "nosuchmodel"], "Unknown model"),
    (["train", "--data", str(SAMPLE), "--model", "mf", "--set", "embedding_dim=0"], "at least"),
    (["train", "--data", str(SAMPLE), "--model", "mf", "--set", "nosuch=1"], "Unknown setting"),
    (["train", "--data", str(SAMPLE), "--model", "mf", "--lr", "nan"], "'lr' setting of the trainer must be"),
    (["train", "--data", str(SAMPLE), "--model", "mf", "--set", "reg=nan"], "'reg' setting of MF"),
    (["evaluate", "no-such-run"], "No run"),
])
def test_bad_requests_exit_2_without_traceback(args, needle, tmp_path):
    r = cli(*args, "--workspace", tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_cuda_without_cuda_exits_2(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = cli("train", "--data", SAMPLE, "--model", "mf", "--device", "cuda", "--workspace", tmp_path)
    assert r.returncode == 2 and "CUDA" in r.stderr and "Traceback" not in r.stderr


def test_sigkill_mid_run_leaves_a_readable_store(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "recsys_gui", "train", "--data", str(SAMPLE), "--model",
                             "mf", "--epochs", "500", "--early-stop", "none", "--workspace", str(tmp_path),
                             "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    events = None
    while time.time() < deadline:
        found = list(tmp_path.glob("runs/*/events.jsonl"))
        if found and "epoch_ended" in found[0].read_text():
            events = found[0]
            break
        time.sleep(0.2)
    assert events is not None, "the run never finished an epoch"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    r = cli("runs", "list", "--workspace", tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout.strip().splitlines()[-1])
    assert runs[0]["status"] == "interrupted"


def test_models_json_lists_every_family():
    r = cli("models", "--json")
    assert r.returncode == 0
    models = json.loads(r.stdout.strip().splitlines()[-1])
    names = {m["name"] for m in models}
    assert {"mf", "pop", "itemknn", "ease"} <= names
    mf = next(m for m in models if m["name"] == "mf")
    dim = next(h for h in mf["hyperparameters"] if h["name"] == "embedding_dim")
    assert dim["default"] == 64 and dim["min"] is not None and dim["help"]
