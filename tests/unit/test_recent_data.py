"""The last loaded file is reused for the same file and options, and read again when either changes."""

from __future__ import annotations

import os

from recsys_gui.core.data import loaders, recent


def _write(path, rows):
    path.write_text("user,item\n" + "".join(f"{u},{i}\n" for u, i in rows))


def test_same_file_and_options_reuse_the_loaded_data(tmp_path, monkeypatch):
    f = tmp_path / "x.csv"
    _write(f, [(1, 1), (1, 2), (2, 1)])
    calls = []
    real = loaders.load_interactions
    monkeypatch.setattr(loaders, "load_interactions", lambda *a, **k: calls.append(a) or real(*a, **k))

    first, _ = recent.load(str(f), {})
    again, _ = recent.load(str(f), {})
    assert again is first and len(calls) == 1

    other, _ = recent.load(str(f), {"dedupe": "max"})  # other options: read again
    assert other is not first and len(calls) == 2

    _write(f, [(1, 1), (1, 2), (2, 1), (3, 3)])  # edited file: read again, new content
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    edited, _ = recent.load(str(f), {"dedupe": "max"})
    assert len(calls) == 3 and len(edited) == 4


def test_data_the_gui_loaded_is_what_a_run_reads(tmp_path, monkeypatch):
    f = tmp_path / "y.csv"
    _write(f, [(1, 1), (2, 2)])
    data, report = loaders.load_interactions(f, loaders.LoadOptions())
    recent.remember(str(f), None, {}, data, report)
    def reread(*_a, **_k):
        raise AssertionError("re-read")

    monkeypatch.setattr(loaders, "load_interactions", reread)
    assert recent.load(str(f), {})[0] is data
    f.unlink()  # a file that is gone is never served from memory
    try:
        recent.load(str(f), {})
    except AssertionError:
        pass  # it went to the loader (which would then report the missing file)
    else:
        raise AssertionError("a deleted file was served from memory")


def test_the_same_split_is_made_once_per_data_spec_and_seed(tmp_path):
    f = tmp_path / "z.csv"
    _write(f, [(u, i) for u in range(20) for i in range(u % 5, u % 5 + 6)])
    data, _ = recent.load(str(f), {})
    a = recent.split(data, "ratio:8,1,1", 3)
    assert recent.split(data, "ratio:8,1,1", 3) is a
    b = recent.split(data, "ratio:8,1,1", 4)
    assert b is not a
    from recsys_gui.core.data.splits import make_split

    fresh = make_split(data, "ratio:8,1,1", seed=4)
    assert (b.train.items == fresh.train.items).all() and (b.test.users == fresh.test.users).all()


def test_the_date_format_option_reaches_the_loader_and_keys_the_entry(tmp_path):
    """A run spec's ``date_format`` reads the file its way; other options are another entry."""
    f = tmp_path / "d.csv"
    f.write_text("user,item,time\n1,1,03.04.2020\n2,2,05.06.2020\n1,2,07.08.2020\n")
    month_first, _ = recent.load(f, {"date_format": "%m.%d.%Y"})
    day_first, _ = recent.load(f, {"date_format": "%d.%m.%Y"})
    assert month_first is not day_first
    assert int(month_first.timestamps.min()) == 1583280000  # 2020-03-04
    assert int(day_first.timestamps.min()) == 1585872000  # 2020-04-03
