"""Files from elsewhere cannot run code: crafted checkpoints, specs, run stores and settings.

Each test plants a payload whose unpickling would create a marker file (``os.system("touch …")``
via ``__reduce__``), opens it the way the app does, and asserts two things: a clear
``RecsysError`` (or exit code 2 without a traceback) and no marker. Also here: identifiers that
come from data are quoted in SQLite exports, and export paths are resolved and reported exactly.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import torch

from recsys_gui.cli import main as cli_main
from recsys_gui.core.errors import RecsysError
from recsys_gui.core.export.embeddings import export_embeddings
from recsys_gui.core.export.recommendations import export_recommendations
from recsys_gui.core.session import DataSpec, RunSpec, load_run_model, run_training
from recsys_gui.core.store.run_store import RunStore

ROOT = Path(__file__).resolve().parents[2]
DATA = "user,item\n" + "".join(f"u{u},i{(u * 3 + j) % 9}\n" for u in range(12) for j in range(5))


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real run (MF, 2 epochs) whose files the tests replace with crafted ones."""
    d = tmp_path_factory.mktemp("untrusted")
    data = d / "data.csv"
    data.write_text(DATA)
    spec = RunSpec(data=DataSpec(path=str(data)), model="mf",
                   train={"epochs": 2, "device": "cpu", "threads": 1})
    out = run_training(spec, workspace=d / "ws")
    return d, spec, out.run_id


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained workspace (tests tamper with it)."""
    import shutil

    d, spec, run_id = trained
    ws = tmp_path / "ws"
    shutil.copytree(d / "ws", ws)
    return ws, spec, run_id, ws / "runs" / run_id / "checkpoints"


def _plant(path: Path, marker: Path, how: str) -> None:
    if how == "torch":  # a zip checkpoint whose data.pkl holds the payload
        torch.save({"model": "mf", "state_dict": Payload(marker)}, path)
    else:  # a bare pickle, as older torch.save or pickle.dump writes it
        path.write_bytes(pickle.dumps({"state_dict": Payload(marker)}))


def test_the_payload_really_runs_when_unpickled(tmp_path):
    """Guards the guard: unpickling with the full unpickler does create the marker."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_crafted_checkpoint_is_refused_and_runs_nothing(run_copy, tmp_path, how, capsys):
    ws, _spec, run_id, ckpts = run_copy
    marker = tmp_path / "pwned"
    _plant(ckpts / "best.pt", marker, how)
    with pytest.raises(RecsysError, match="not a checkpoint this app can open safely"):
        load_run_model(ws, run_id)
    with pytest.raises(RecsysError):
        export_recommendations(ws, run_id, tmp_path / "r.csv", device="cpu")
    with pytest.raises(RecsysError):
        export_embeddings(ws, run_id, tmp_path / "e.csv", device="cpu")
    assert cli_main(["recommend", run_id, "--out", str(tmp_path / "r.sqlite"), "--workspace", str(ws),
                     "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "not a checkpoint this app can open safely" in err and "Traceback" not in err
    assert not marker.exists()
    assert not list(tmp_path.glob("r.*")) and not list(tmp_path.glob("e.*"))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_a_refused_checkpoint_prints_only_the_message(run_copy, tmp_path, how):
    """In a real process, stderr holds the one line and nothing torch said on the way (a bare pickle
    once printed the safe unpickler's protocol warning before it)."""
    import subprocess
    import sys

    ws, _spec, run_id, ckpts = run_copy
    marker = tmp_path / "pwned"
    _plant(ckpts / "best.pt", marker, how)
    out = subprocess.run([sys.executable, "-m", "recsys_gui", "recommend", run_id, "--out",
                          str(tmp_path / "r.csv"), "--workspace", str(ws), "--device", "cpu"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a checkpoint this app can open safely" in lines[0], out.stderr
    assert not marker.exists()


def test_crafted_last_checkpoint_on_resume_runs_nothing(run_copy, tmp_path):
    ws, spec, run_id, ckpts = run_copy
    marker = tmp_path / "pwned"
    _plant(ckpts / "last.pt", marker, "torch")
    with pytest.raises(RecsysError, match="not a checkpoint this app can open safely"):
        run_training(spec, workspace=ws, resume_run_id=run_id)
    assert not marker.exists()


def test_crafted_spec_file_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "pwned"
    spec = tmp_path / "spec.json"
    spec.write_bytes(pickle.dumps(Payload(marker)))
    assert cli_main(["train", "--spec", str(spec), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert "not a usable run spec" in err and "Traceback" not in err
    assert not marker.exists()


def test_run_store_that_is_not_a_database_is_refused(tmp_path):
    ws = tmp_path / "ws"
    (ws / "runs").mkdir(parents=True)
    (ws / "recsys.db").write_bytes(pickle.dumps(Payload(tmp_path / "pwned")) * 50)
    with pytest.raises(RecsysError, match="not a readable run store"):
        RunStore(ws)
    assert cli_main(["runs", "list", "--workspace", str(ws)]) == 2
    assert not (tmp_path / "pwned").exists()


def test_run_store_with_a_crafted_spec_runs_nothing(run_copy, tmp_path, capsys):
    ws, _spec, run_id, _ = run_copy
    marker = tmp_path / "pwned"
    con = sqlite3.connect(ws / "recsys.db")
    con.execute("update runs set spec_json = ?", [pickle.dumps(Payload(marker)).decode("latin-1")])
    con.commit()
    con.close()
    code = cli_main(["recommend", run_id, "--out", str(tmp_path / "r.csv"), "--workspace", str(ws),
                     "--device", "cpu"])
    assert not marker.exists()
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err


# ------------------------------------------------------------------------------------ settings

def test_crafted_settings_file_runs_nothing(tmp_path, qapp):
    """Settings are JSON (never pickles, which QSettings would unpickle under PySide6 6.11): a
    planted file with pickled payloads and wrong types opens the window with defaults."""
    pytest.importorskip("PySide6")
    import base64
    import json

    from recsys_gui.gui.main_window import MainWindow
    from recsys_gui.gui.settings_io import SettingsFile

    marker = tmp_path / "pwned"
    blob = pickle.dumps({"x": Payload(marker)})
    planted = {"geometry": "base64:" + base64.b64encode(blob).decode(), "windowState": blob.decode("latin-1"),
               "recentFiles": {"x": 1}, "workspace": 17, "theme": ["dark"]}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(planted), encoding="utf-8")
    win = MainWindow(workspace=str(tmp_path / "ws"), settings=SettingsFile(path))
    assert win.recent_files() == []
    win.close()
    win.deleteLater()
    assert not marker.exists()
    for damaged in (b"\x80\x04not json", b"[1, 2]", b""):
        path.write_bytes(damaged)
        assert SettingsFile(path).value("recentFiles", []) == []


def test_settings_round_trip_bytes_and_lists(tmp_path, qapp):
    from PySide6.QtCore import QByteArray

    from recsys_gui.gui.settings_io import SettingsFile

    s = SettingsFile(tmp_path / "cfg" / "settings.json")
    s.setValue("geometry", QByteArray(b"\x00\x01\xff"))
    s.setValue("recentFiles", ["/a.csv", "/b.csv"])
    again = SettingsFile(tmp_path / "cfg" / "settings.json")
    assert bytes(again.value("geometry")) == b"\x00\x01\xff"
    assert again.value("recentFiles") == ["/a.csv", "/b.csv"]
    assert again.value("absent", "d") == "d"


# ------------------------------------------------------------------------- SQLite identifiers

def test_identifiers_from_data_are_quoted_in_sqlite_exports(tmp_path):
    """Metadata column names become SQLite columns: hostile names are stored as names, not run."""
    data = tmp_path / "data.csv"
    data.write_text(DATA)
    hostile = ['x"); DROP TABLE recommendations; --', "[bracket]", "a]b", "sp ace", "select", "naïve 名"]
    meta = pd.DataFrame({"item_id": [f"i{k}" for k in range(9)], "title": [f"t{k}" for k in range(9)],
                         **{h: [f"{h}-{k}" for k in range(9)] for h in hostile}})
    meta_path = tmp_path / "items.csv"
    meta.to_csv(meta_path, index=False)
    spec = RunSpec(data=DataSpec(path=str(data), item_metadata=str(meta_path)), model="pop",
                   train={"epochs": 1, "device": "cpu"})
    run_id = run_training(spec, workspace=tmp_path / "ws").run_id
    out = tmp_path / "r.sqlite"
    export_recommendations(tmp_path / "ws", run_id, out, top=3, device="cpu")
    con = sqlite3.connect(out)
    try:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
        assert {"recommendations", "items", "run"} <= tables
        cols = [r[1] for r in con.execute("pragma table_info(items)")]
        assert set(hostile) <= set(cols)
        assert con.execute("select count(*) from recommendations").fetchone()[0] == 12 * 3
        row = con.execute("select * from items where item_id = 'i4'").fetchone()
        assert dict(zip(cols, row, strict=True))["a]b"] == "a]b-4"
    finally:
        con.close()


# ---------------------------------------------------------------------------------- export paths

def test_export_path_is_resolved_and_reported_exactly(run_copy, tmp_path, monkeypatch):
    """A relative path through a linked folder: the report names the real, absolute place."""
    ws, _spec, run_id, _ = run_copy
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    report = export_recommendations(ws, run_id, Path("link") / "r.csv", top=2, device="cpu")
    assert report.path == real / "r.csv" and report.path.is_absolute()
    assert [p.name for p in real.iterdir()] == ["r.csv"]
    emb = export_embeddings(ws, run_id, Path("link") / "e.csv", device="cpu")
    assert emb.files["item"] == [real / "e.items.csv"] and (real / "e.items.csv").is_file()
