"""Phase 8: organisations adapt their strategies (ODD 7.8).

A softmax (Boltzmann) bandit over normalised payoffs. Each organisation keeps an attraction per
action and chooses actions with probability proportional to exp(attraction / temperature). The
step's payoff has two parts, relative income growth against the organisation's own moving average
and the change in its mean legitimacy. Each part is turned into a normalised payoff: its deviation
from the organisation's running mean of that part (the reference point) divided by the running
mean absolute deviation of that part (its payoff variability), as in the normalised
reinforcement learning of Erev, Bereby-Meyer & Roth (1999) and Erev & Barron (2005). The two
are then weighted,

    R = z(growth) + lambda z(dL),

and every action taken in the step is credited with R by an exponential recency-weighted average
(Sutton & Barto 2018, constant step size),

    Q[a] <- Q[a] + alpha (R - Q[a])   for every action a taken this step.

Normalising makes the rule respond to which actions pay better than usual for this organisation,
whatever the scale of its income or of its legitimacy changes: without it, an organisation's
legitimacy changes (a hundredth per step) were drowned in the noise of its lumpy income growth,
and the first step (income against an average of zero) was a clipped payoff of 1 for every action.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel

INCOME_MEMORY = 0.2  # weight of the latest income in the moving average the growth is measured against


def softmax(values: np.ndarray, temperature: float) -> np.ndarray:
    z = values / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def mean_legitimacy(model: MigovModel) -> np.ndarray:
    io = model.io
    return (io.legit_donor.mean(axis=1) + io.legit_host.mean(axis=1) + io.legit_peer) / 3.0


def raw_payoffs(model: MigovModel, legitimacy_before: np.ndarray) -> np.ndarray:
    """(I, 2): relative income growth against the moving average, and the change in mean
    legitimacy over the step. In an organisation's first step there is no income to compare
    with yet, so its growth is 0 (the average starts at that step's income)."""
    io = model.io
    first = io.learning_steps == 0
    io.income_avg[first] = io.income[first]
    growth = (io.income - io.income_avg) / (io.income_avg + 1.0)
    return np.column_stack([growth, mean_legitimacy(model) - legitimacy_before])


def normalise(model: MigovModel, raw: np.ndarray) -> np.ndarray:
    """(I, 2) normalised payoffs: each part's deviation from its running mean divided by its
    running mean absolute deviation; then both running statistics take in this step.

    The statistics are plain averages over the steps seen so far until 1/n falls below
    ``payoff_memory``, exponential after. The first step sets the reference point and pays 0;
    a part that has never varied pays 0."""
    io, p = model.io, model.p
    n = io.learning_steps[:, None].astype(float)
    dev = raw - io.payoff_ref
    w = np.where(n > 0, np.maximum(p.payoff_memory, 1.0 / np.maximum(n, 1.0)), 0.0)
    io.payoff_scale += w * (np.abs(dev) - io.payoff_scale)
    scale = io.payoff_scale
    z = np.divide(dev, scale, out=np.zeros_like(dev), where=scale > 1e-12)
    io.payoff_ref += np.where(n > 0, np.maximum(p.payoff_memory, 1.0 / (n + 1.0)), 1.0) * dev
    return z


def adapt_strategies(model: MigovModel, legitimacy_before: np.ndarray) -> np.ndarray:
    """Update action values from this step's normalised payoff; return the payoffs."""
    io, p = model.io, model.p
    if not model.scenario.mechanisms.learning:
        return np.zeros(io.n)
    raw = raw_payoffs(model, legitimacy_before)
    z = normalise(model, raw)
    payoff = z[:, 0] + p.payoff_legitimacy_weight * z[:, 1]
    io.values += p.learning_rate * io.chosen * (payoff[:, None] - io.values)
    io.income_avg += INCOME_MEMORY * (io.income - io.income_avg)
    io.learning_steps += 1
    return payoff
