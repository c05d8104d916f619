"""Nothing the user has is replaced without asking, and some things never are (``utils.atomic``).

The rule every writer of user-visible files follows (sample data, recommendations, embeddings):
anything at the target, a dangling symbolic link included, is refused without --overwrite; with
it, a regular file or the link itself is replaced, never a device, pipe or socket, and nothing
is written through a link. Paths that cannot be written are one message naming the path.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys_gui.cli import main as cli
from recsys_gui.core.errors import ExportError
from recsys_gui.core.export.embeddings import write_embeddings
from recsys_gui.core.export.recommendations import Labels, recommend_frames, write_recommendations
from recsys_gui.core.models.base import build_model
from tests.conftest import tiny_split

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="named pipes and symlinks are POSIX here")


def _export(out: Path, *, overwrite: bool = False, frames=None) -> tuple[Path, int]:
    split = tiny_split()
    model = build_model("mf", {"embedding_dim": 8}, split.n_users, split.n_items)
    labels = Labels.from_data(split.train)
    frames = recommend_frames(model, split, k=2) if frames is None else frames(model, split)
    return write_recommendations(frames, out, labels=labels, overwrite=overwrite)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


# --- sample-data ---------------------------------------------------------------------------------
def test_sample_data_refuses_to_replace_the_users_file(tmp_path, capsys):
    """The acceptance check: `mkdir d; echo MYDATA > d/interactions.csv; sample-data --out d`."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "interactions.csv").write_text("MYDATA\n")
    assert cli(["sample-data", "--out", str(d)]) == 2
    err = _one_line_error(capsys)
    assert "interactions.csv" in err and "--overwrite" in err
    assert (d / "interactions.csv").read_text() == "MYDATA\n"
    assert sorted(p.name for p in d.iterdir()) == ["interactions.csv"]  # all checked before any write


def test_sample_data_overwrite_replaces_regular_files(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "interactions.csv").write_text("MYDATA\n")
    assert cli(["sample-data", "--out", str(d), "--overwrite"]) == 0
    assert (d / "interactions.csv").read_text().startswith("user_id,item_id,rating,timestamp\n")
    assert sorted(p.name for p in d.iterdir()) == ["interactions.csv", "items.csv", "tiny.csv"]


@posix_only
def test_sample_data_dangling_link_at_a_file_counts_as_existing(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    elsewhere = tmp_path / "elsewhere.csv"
    (d / "items.csv").symlink_to(elsewhere)
    assert cli(["sample-data", "--out", str(d)]) == 2
    err = _one_line_error(capsys)
    assert "items.csv" in err and "symbolic link" in err and "--overwrite" in err
    assert (d / "items.csv").is_symlink() and not elsewhere.exists()  # nothing written through it
    assert cli(["sample-data", "--out", str(d), "--overwrite"]) == 0
    assert not (d / "items.csv").is_symlink() and (d / "items.csv").is_file()  # the link itself replaced
    assert not elsewhere.exists()


@posix_only
@pytest.mark.parametrize("overwrite", [False, True])
def test_sample_data_dangling_link_as_the_folder_is_refused(tmp_path, capsys, overwrite):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "nowhere")
    assert cli(["sample-data", "--out", str(link), *(["--overwrite"] if overwrite else [])]) == 2
    err = _one_line_error(capsys)
    assert str(link) in err and "symbolic link" in err
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


@posix_only
def test_sample_data_never_replaces_a_pipe_even_with_overwrite(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    os.mkfifo(d / "tiny.csv")
    assert cli(["sample-data", "--out", str(d), "--overwrite"]) == 2
    err = _one_line_error(capsys)
    assert "tiny.csv" in err and "not a regular file" in err
    assert [p.name for p in d.iterdir()] == ["tiny.csv"] and (d / "tiny.csv").is_fifo()


# --- recommendations and embeddings -------------------------------------------------------------
@posix_only
@pytest.mark.parametrize("overwrite", [False, True])
def test_exports_never_replace_a_pipe(tmp_path, overwrite):
    pipe = tmp_path / "recs.csv"
    os.mkfifo(pipe)
    with pytest.raises(ExportError, match="named pipe, not a regular file"):
        _export(pipe, overwrite=overwrite)
    emb_pipe = tmp_path / "emb.items.csv"
    os.mkfifo(emb_pipe)
    with pytest.raises(ExportError, match="named pipe, not a regular file"):
        write_embeddings(np.ones((2, 3)), np.array([1, 2]), [emb_pipe], "csv", "item", overwrite=overwrite)
    assert pipe.is_fifo() and emb_pipe.is_fifo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb.items.csv", "recs.csv"]


@posix_only
def test_export_refuses_a_dangling_link_without_overwrite(tmp_path):
    out = tmp_path / "recs.sqlite"
    out.symlink_to(tmp_path / "gone.sqlite")
    with pytest.raises(ExportError, match=r"symbolic link.*--overwrite"):
        _export(out)
    assert out.is_symlink() and not (tmp_path / "gone.sqlite").exists()


@posix_only
def test_export_with_overwrite_replaces_the_link_itself_never_what_it_points_to(tmp_path):
    """The chosen semantics for --overwrite on a link (pins them; the old code replaced links too)."""
    kept = tmp_path / "kept.csv"
    kept.write_text("theirs\n")
    out = tmp_path / "recs.csv"
    out.symlink_to(kept)
    _export(out, overwrite=True)
    assert not out.is_symlink() and out.read_text().startswith("user_id,rank,item_id,score\n")
    assert kept.read_text() == "theirs\n"


@posix_only
def test_a_pipe_that_appears_while_exporting_is_not_replaced(tmp_path):
    out = tmp_path / "recs.csv"

    def frames(model, split):
        yield from recommend_frames(model, split, k=2, chunk_users=10)
        os.mkfifo(out)  # appears after the checks, before the rename

    with pytest.raises(ExportError, match="not a regular file"):
        _export(out, overwrite=True, frames=frames)
    assert out.is_fifo() and [p.name for p in tmp_path.iterdir()] == ["recs.csv"]


# --- paths that cannot be written ----------------------------------------------------------------
def test_too_long_a_name_is_one_message_naming_it(tmp_path):
    out = tmp_path / ("r" * 300 + ".csv")
    with pytest.raises(ExportError, match="too long") as err:
        _export(out)
    assert str(out) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_long_name_that_fits_is_written(tmp_path):
    """The partial file's name must fit too: the target's name plus the pid tag used to overflow it."""
    out = tmp_path / ("r" * 240 + ".csv")
    path, rows = _export(out)
    assert path == out and rows > 0
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_a_virtual_folder_is_one_message_naming_the_path():
    with pytest.raises(ExportError, match=r"Cannot write /proc/recs\.csv"):
        _export(Path("/proc/recs.csv"))
