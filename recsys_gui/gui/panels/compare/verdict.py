"""A paired significance test read out as a sentence a non-statistician can act on."""

from __future__ import annotations

from typing import Any

ALPHA = 0.05


def verdict(metric: str, name_a: str, name_b: str, t: dict[str, Any], alpha: float = ALPHA) -> str:
    """A plain-language reading of one paired test (``t`` from core paired_tests: a minus b)."""
    a, b = t["mean_a"], t["mean_b"]
    diff = b - a
    rel = f" ({diff / a:+.0%})" if a else ""
    ps = f"paired t-test p = {t['t_p']:.3g}, Wilcoxon p = {t['wilcoxon_p']:.3g}, {t['users']:,} users"
    both, one = t["t_p"] < alpha and t["wilcoxon_p"] < alpha, t["t_p"] < alpha or t["wilcoxon_p"] < alpha
    if diff == 0 or not one:
        return (
            f"No reliable difference on {metric}: {name_a} {a:.4f} vs {name_b} {b:.4f}. A gap this size "
            f"could easily be chance on these users ({ps})."
        )
    better, worse = (name_b, name_a) if diff > 0 else (name_a, name_b)
    if both:
        return (
            f"{better} is better than {worse} on {metric}: {b:.4f} vs {a:.4f}{rel}. Both tests say this "
            f"is unlikely to be chance ({ps})."
        )
    return (
        f"{better} looks better than {worse} on {metric} ({b:.4f} vs {a:.4f}{rel}), but only one of the "
        f"two tests agrees ({ps}); treat it as a hint, not a result."
    )
