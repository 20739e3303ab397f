"""Phase 8: organisations adapt their strategies (ODD 7.8).

A softmax (Boltzmann) bandit: each organisation keeps a value estimate per action and chooses
actions with probability proportional to exp(value / temperature). After each step the actions
it took are credited with the step's payoff by an exponential recency-weighted average,

    Q[a] <- Q[a] + alpha (R - Q[a])   for every action a taken this step,

where R is relative income growth against the organisation's own moving average plus the change
in its mean legitimacy (weighted), clipped to [-1, 1]. Because payoffs are shared by the actions
of a step and effects can lag, learning is noisy, as organisational learning is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel


def softmax(values: np.ndarray, temperature: float) -> np.ndarray:
    z = values / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mean_legitimacy(model: MigovModel) -> np.ndarray:
    io = model.io
    return (io.legit_donor.mean(axis=1) + io.legit_host.mean(axis=1) + io.legit_peer) / 3.0


def adapt_strategies(model: MigovModel, legitimacy_before: np.ndarray) -> np.ndarray:
    """Update action values from this step's payoff; return the payoffs."""
    io, p = model.io, model.p
    growth = (io.income - io.income_avg) / (io.income_avg + 1.0)
    dL = mean_legitimacy(model) - legitimacy_before
    payoff = np.clip(growth + p.payoff_legitimacy_weight * dL, -1.0, 1.0)
    io.values += p.learning_rate * io.chosen * (payoff[:, None] - io.values)
    io.income_avg += 0.2 * (io.income - io.income_avg)
    return payoff
