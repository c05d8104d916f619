"""How much noise a private run needs, and how much privacy it spent: Opacus's RDP accountant.

Every step of a run uses the same sampling rate q and noise multiplier σ, so a run's whole history is
one ``(σ, q, steps)`` entry; the ε spent is read back from that, for the steps actually taken.
Opacus is imported on first use: it adds a second to every start of the app otherwise.
"""

from __future__ import annotations

from recsys_gui.core.errors import ConfigError

ACCOUNTANT = "rdp"


def noise_multiplier(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest σ (to Opacus's search tolerance) for which ``steps`` steps spend at most ε."""
    from opacus.accountants.utils import get_noise_multiplier

    try:
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                          steps=steps, accountant=ACCOUNTANT, epsilon_tolerance=0.005))
    except ValueError as exc:  # Opacus: "The privacy budget is too low." and the like
        raise ConfigError(
            f"The 'dp_epsilon' setting ({epsilon:g}) cannot be met with δ={delta:g}, sampling rate "
            f"{sample_rate:g} and {steps} steps ({exc}); raise ε or train fewer epochs.") from None


def epsilon_spent(sigma: float, sample_rate: float, steps: int, delta: float) -> float:
    """The ε that ``steps`` steps with noise multiplier ``sigma`` at rate ``sample_rate`` spent (δ fixed)."""
    if steps <= 0:
        return 0.0
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(sigma, sample_rate, steps)]
    return float(accountant.get_epsilon(delta))
