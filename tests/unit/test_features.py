"""Features from metadata files: column kinds, the report, new rows from text, user files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_gui.core.data.features import FeatureMatrix, FeatureOptions, fit_features, load_user_metadata
from recsys_gui.core.errors import ConfigError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "title": ["Toy Story (1995)", "Heat (1995)", "Toy Soldiers (1991)", None],
        "genres": ["Animation|Comedy", "Action|Crime", "Action|Comedy", None],
        "country": ["US", "US", "FR", None],
        "budget": [30.5, 60.25, 10.1, 20.7],
    })


def test_columns_become_features_by_kind_and_the_report_counts_their_values():
    f = fit_features(_frame(), FeatureOptions(numeric_bins=2))
    report = f.report()
    assert report["columns"]["genres"] == {"kind": "multi", "values": 4}
    assert report["columns"]["country"] == {"kind": "category", "values": 2}
    assert report["columns"]["budget"]["kind"] == "numeric"
    assert "title" in report["skipped"]
    x = f.matrix.toarray()
    names = f.names
    assert x[0, names.index("genres=Animation")] == 1 and x[0, names.index("genres=Comedy")] == 1
    assert x[2, names.index("country=FR")] == 1
    assert x[3, [i for i, n in enumerate(names) if not n.startswith("budget")]].sum() == 0


def test_text_column_through_tfidf_and_unticked_columns():
    f = fit_features(_frame(), FeatureOptions(text=("title",), exclude=("budget",)))
    assert f.report()["columns"]["title"]["kind"] == "text"
    assert "title~toy" in f.names
    assert f.report()["skipped"]["budget"] == "unticked"


def test_a_new_row_from_text_matches_the_training_encoding_and_survives_the_state():
    f = fit_features(_frame())
    restored = FeatureMatrix.from_state(f.to_state())
    row = restored.encode_text("genres=Comedy|Action; country=FR")
    assert np.array_equal(row.toarray()[0], f.matrix.toarray()[2, :row.shape[1]] * (row.toarray()[0] > 0))
    assert row.toarray()[0].sum() == 3
    with pytest.raises(ConfigError, match="matches none"):
        f.encode_text("genres=Western")
    with pytest.raises(ConfigError, match="not one of this run's"):
        f.encode_text("genre=Comedy")
    with pytest.raises(ConfigError, match="column=value"):
        f.encode_text("Comedy")


def test_movielens_user_files(tmp_path):
    dat = tmp_path / "users.dat"
    dat.write_text("1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n")
    u = load_user_metadata(str(dat), pd.Index([3, 1, 9]))
    assert list(u["gender"][:2]) == ["M", "F"] and pd.isna(u["gender"].iloc[2])
    f = fit_features(u)
    assert set(f.report()["columns"]) == {"gender", "age", "occupation"}
    uu = tmp_path / "u.user"
    uu.write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    f2 = fit_features(load_user_metadata(str(uu), pd.Index([1, 2])))
    assert f2.report()["columns"]["gender"]["values"] == 2
    csv = tmp_path / "people.csv"
    csv.write_text("user_id,segment\na,gold\nb,silver\n")
    f3 = fit_features(load_user_metadata(str(csv), pd.Index(["b", "a"])))
    assert f3.names == ["segment=gold", "segment=silver"]
    assert f3.matrix.toarray().tolist() == [[0, 1], [1, 0]]
