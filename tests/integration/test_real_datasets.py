"""Real public datasets (outside the repo, never copied in): counts through `recsys-gui import --json`.

The expected numbers come from the datasets' own READMEs/SOURCE.md files (and RecBole's split).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recsys_gui.cli import main as cli_main
from recsys_gui.core.data.loaders import load_interactions, load_predefined_split
from recsys_gui.core.data.splits import make_split

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"

pytestmark = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"real datasets not present at {DATASETS} (they are not redistributable)"
)


def import_json(*args: str, capsys: pytest.CaptureFixture[str]) -> dict:
    assert cli_main(["import", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("path", "users", "items", "interactions", "rows"),
    [
        ("ml-100k/u.data", 943, 1682, 100_000, 100_000),
        ("ml-latest-small/ratings.csv", 671, 9066, 100_004, 100_004),
        ("ml-1m/test_1m1.dat", 6036, 3465, 200_042, 200_042),  # comma-separated, no header
        ("lastfm-hetrec2011/user_artists.dat", 1892, 17632, 92_834, 92_834),  # tab, header, CRLF
        ("cfgan-ml100k/ML100K.train", 943, 1653, 80_000, 80_000),  # space-separated, CRLF, no header
        ("steam/game_purchase.dat", 12393, 5155, 128_804, 129_511),  # 707 duplicate rows merged
    ],
)
def test_import_counts(path, users, items, interactions, rows, capsys):
    report = import_json(str(DATASETS / path), capsys=capsys)
    assert (report["users"], report["items"], report["interactions"], report["rows"]) == (
        users,
        items,
        interactions,
        rows,
    )
    assert report["dropped"]["duplicate merged"] == rows - interactions


def test_roles_and_values_of_known_files(capsys):
    lastfm = import_json(str(DATASETS / "lastfm-hetrec2011/user_artists.dat"), capsys=capsys)
    assert lastfm["columns"] == {"user": "userID", "item": "artistID", "rating": "weight", "timestamp": None}
    assert lastfm["rating_max"] == 352698
    ml = import_json(str(DATASETS / "ml-latest-small/ratings.csv"), capsys=capsys)
    assert (ml["rating_min"], ml["rating_max"]) == (0.5, 5.0) and ml["time_min"] > 7e8


def test_ml100k_with_metadata_and_recbole_ratio_sizes():
    data, report = load_interactions(DATASETS / "ml-100k/u.data", item_metadata=DATASETS / "ml-100k/u.item")
    assert report.items_with_metadata == 1682
    toy = data.item_meta["title"][data.item_ids.get_loc(1)]
    assert toy == "Toy Story (1995)"
    assert data.item_meta["genres"][data.item_ids.get_loc(1)] == "Animation|Children's|Comedy"
    split = make_split(data, "ratio:8,1,1", seed=2020)  # same part sizes as RecBole's default split
    assert (len(split.train), len(split.valid), len(split.test)) == (80_808, 9_596, 9_596)


def test_recbole_predefined_split():
    base = DATASETS / "ml-100k/recbole-811"
    split, _report = load_predefined_split(base / "train.tsv", base / "valid.tsv", base / "test.tsv")
    assert (split.n_users, split.n_items) == (943, 1682)
    assert (len(split.train), len(split.valid), len(split.test)) == (80_808, 9_596, 9_596)
    desc = split.describe()
    assert desc["train_items"] == 1655  # 27 items never occur in train (RecBole's README)


def test_movielens_dat_metadata_latin1():
    data, report = load_interactions(
        DATASETS / "ml-1m/test_1m1.dat", item_metadata=DATASETS / "ml-1m/movies.dat"
    )
    assert report.items_with_metadata == report.items == 3465
    assert data.item_meta["title"].str.contains("é").any()  # latin-1 decoded
