"""Holm correction and the pairwise matrix of runs (single runs and groups of seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recsys_gui.core.reporting.multiple_comparisons import arms_of, holm, pairwise_matrix


def test_holm_matches_a_hand_computed_example() -> None:
    # sorted p: 0.01, 0.02, 0.03, 0.04 (m = 4) -> 4*0.01=0.04, 3*0.02=0.06, 2*0.03=0.06, 1*0.04=0.04 -> 0.06
    # (step-down adjusted values are made monotone), given back in the input order
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_holm_leaves_untested_pairs_out_of_the_count() -> None:
    out = holm([0.01, float("nan"), 0.04])
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)


def _row(rid: str, model: str, seed: int, lr: float = 0.01) -> dict:
    return {
        "id": rid,
        "name": rid,
        "seed": seed,
        "split": "ratio",
        "data_fingerprint": f"fp{seed}",  # each seed draws its own split
        "spec": {"model": model, "model_config": {"lr": lr}, "train": {"seed": seed, "epochs": 3}},
    }


def _frame(values: np.ndarray, users: np.ndarray | None = None) -> pd.DataFrame:
    users = np.arange(values.size) if users is None else users
    return pd.DataFrame({"user": users, "ndcg@10": values})


def test_three_runs_give_three_pairs_holm_adjusted_and_checked_against_scipy() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(300)
    frames = {
        "a": _frame(base),
        "b": _frame(base + 0.05 + rng.normal(0, 0.02, 300)),  # clearly better
        "c": _frame(base + rng.normal(0, 0.02, 300)),  # noise
    }
    rows = [_row(k, m, 1) for k, m in zip("abc", ("mf", "ease", "vae"), strict=True)]
    m = pairwise_matrix(frames, arms_of(rows), "ndcg@10")
    assert len(m.cells) == 3
    pairs = [(frames[x]["ndcg@10"], frames[y]["ndcg@10"]) for x, y in ("ab", "ac", "bc")]
    raw_t = [stats.ttest_rel(x, y).pvalue for x, y in pairs]
    raw_w = [stats.wilcoxon(x, y).pvalue for x, y in pairs]
    assert [c.t_p for c in m.cells] == pytest.approx(raw_t)
    assert [c.t_p_holm for c in m.cells] == pytest.approx(holm(raw_t))
    assert [c.wilcoxon_p_holm for c in m.cells] == pytest.approx(holm(raw_w))
    assert m.cell(1, 0).diff == pytest.approx(-m.cell(0, 1).diff)  # oriented row − column
    assert m.cell(0, 1).survives() and m.cell(1, 2).survives()
    # a is within noise of c: whether or not it is below 5% raw, it must not survive once corrected
    assert m.cell(0, 2).p_holm >= max(m.cell(0, 2).t_p, m.cell(0, 2).wilcoxon_p)


def test_holm_can_turn_a_raw_significant_pair_into_a_non_significant_one() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(400)
    # pick a shift whose raw t-test p sits between 0.05/3 and 0.05: significant alone, not after Holm
    for shift in np.linspace(0.002, 0.03, 60):
        noise = rng.normal(0, 0.1, 400)
        p = stats.ttest_rel(base, base + shift + noise).pvalue
        if 0.026 < p < 0.045:  # times 2 or 3 (its Holm rank among three pairs) is above 0.05
            break
    frames = {"a": _frame(base), "b": _frame(base + shift + noise), "c": _frame(rng.random(400))}
    rows = [_row(k, m, 1) for k, m in zip("abc", ("mf", "ease", "vae"), strict=True)]
    cell = pairwise_matrix(frames, arms_of(rows), "ndcg@10").cell(0, 1)
    assert cell.t_p < 0.05 <= cell.t_p_holm and not cell.survives()


def test_seeds_form_one_arm_paired_seed_by_seed_with_users_averaged_over_seeds() -> None:
    rng = np.random.default_rng(1)
    rows = [_row(f"mf{s}", "mf", s) for s in (1, 2)] + [_row(f"ease{s}", "ease", s) for s in (1, 2)]
    frames = {}
    for s in (1, 2):
        users = np.arange(50) + (0 if s == 1 else 10)  # seed 2 tests users 10..59
        v = rng.random(50)
        frames[f"mf{s}"] = _frame(v, users)
        frames[f"ease{s}"] = _frame(v + 0.1 + rng.normal(0, 0.01, 50), users)
    arms = arms_of(rows)
    assert [a.runs for a in arms] == [("mf1", "mf2"), ("ease1", "ease2")]
    cell = pairwise_matrix(frames, arms, "ndcg@10").cell(0, 1)
    assert cell.seeds == 2 and cell.users == 60  # users of either seed, each averaged over its seeds
    long = pd.concat(
        [frames[f"mf{s}"].merge(frames[f"ease{s}"], on="user", suffixes=("_a", "_b")) for s in (1, 2)]
    ).groupby("user").mean()
    assert cell.t_p == pytest.approx(stats.ttest_rel(long["ndcg@10_a"], long["ndcg@10_b"]).pvalue)
    assert cell.diff == pytest.approx((long["ndcg@10_a"] - long["ndcg@10_b"]).mean())


def test_runs_on_different_splits_are_not_paired() -> None:
    rows = [_row("a", "mf", 1), _row("b", "ease", 2)]  # different seeds: different splits
    rng = np.random.default_rng(0)
    frames = {"a": _frame(rng.random(20)), "b": _frame(rng.random(20))}
    cell = pairwise_matrix(frames, arms_of(rows), "ndcg@10").cell(0, 1)
    assert cell.reason == "different data or split" and not cell.survives()


def test_the_verdict_names_only_the_differences_that_survive_correction() -> None:
    from recsys_gui.gui.panels.compare.verdict import matrix_verdict

    rng = np.random.default_rng(5)
    base = rng.random(300)
    frames = {"a": _frame(base), "b": _frame(base + 0.1 + rng.normal(0, 0.02, 300)),
              "c": _frame(base + rng.normal(0, 0.05, 300))}
    rows = [_row(k, m, 1) for k, m in zip("abc", ("mf", "ease", "vae"), strict=True)]
    m = pairwise_matrix(frames, arms_of(rows), "ndcg@10")
    text = matrix_verdict(m)
    assert text.startswith("2 of 3 differences on ndcg@10 survive Holm correction")
    assert "b beats a" in text and "b beats c" in text and "a vs c" in text.split("Not reliable")[1]
