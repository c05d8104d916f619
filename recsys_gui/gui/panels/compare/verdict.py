"""A paired significance test read out as a sentence a non-statistician can act on."""

from __future__ import annotations

from typing import Any

from recsys_gui.core.evaluation.metrics import higher_is_better

ALPHA = 0.05


def verdict(metric: str, name_a: str, name_b: str, t: dict[str, Any], alpha: float = ALPHA) -> str:
    """A plain-language reading of one paired test (``t`` from core paired_tests: a minus b).

    The better run and its mean come first, whichever way the metric points (rmse: lower is better).
    """
    a, b = t["mean_a"], t["mean_b"]
    ps = f"paired t-test p = {t['t_p']:.3g}, Wilcoxon p = {t['wilcoxon_p']:.3g}, {t['users']:,} users"
    both, one = t["t_p"] < alpha and t["wilcoxon_p"] < alpha, t["t_p"] < alpha or t["wilcoxon_p"] < alpha
    if a == b or not one:
        return (
            f"No reliable difference on {metric}: {name_a} {a:.4f} vs {name_b} {b:.4f}. A gap this size "
            f"could easily be chance on these users ({ps})."
        )
    b_wins = (b > a) == higher_is_better(metric)
    better, worse, v_better, v_worse = (name_b, name_a, b, a) if b_wins else (name_a, name_b, a, b)
    rel = f" ({(v_better - v_worse) / v_worse:+.0%})" if v_worse else ""
    values = f"{v_better:.4f} vs {v_worse:.4f}{rel}"
    if both:
        return (
            f"{better} is better than {worse} on {metric}: {values}. Both tests say this "
            f"is unlikely to be chance ({ps})."
        )
    return (
        f"{better} looks better than {worse} on {metric} ({values}), but only one of the "
        f"two tests agrees ({ps}); treat it as a hint, not a result."
    )


def matrix_verdict(matrix: Any, alpha: float = ALPHA) -> str:
    """Which pairwise differences of a Holm-corrected matrix (core ``pairwise_matrix``) survive, in words."""
    names = [a.label for a in matrix.arms]
    metric = matrix.metric
    tested = [c for c in matrix.cells if not c.reason]
    untested = [c for c in matrix.cells if c.reason]
    if not tested:
        reasons = "; ".join(sorted({c.reason for c in untested})) or "select at least two runs"
        return f"No pair of these runs can be tested on {metric}: {reasons}."
    wins, ties = [], []
    for c in tested:
        a_wins = (c.diff > 0) == higher_is_better(metric)
        (better, worse) = (c.a, c.b) if a_wins else (c.b, c.a)
        gap = abs(c.diff)
        if c.survives(alpha):
            wins.append(f"{names[better]} beats {names[worse]} (by {gap:.4f}, Holm p = {c.p_holm:.3g})")
        else:
            ties.append(f"{names[c.a]} vs {names[c.b]} (Holm p = {c.p_holm:.3g})")
    n = len(tested)
    verb = "survives" if len(wins) == 1 else "survive"
    plural = "s" if n != 1 else ""
    head = f"{len(wins)} of {n} difference{plural} on {metric} {verb} Holm correction at α = {alpha}"
    parts = [head + (": " + "; ".join(wins) + "." if wins else ".")]
    if ties:
        parts.append(f"Not reliable once corrected for the {n} tests: " + "; ".join(ties) + ".")
    if untested:
        parts.append(
            "Not tested: " + "; ".join(f"{names[c.a]} vs {names[c.b]} ({c.reason})" for c in untested) + "."
        )
    return " ".join(parts)
