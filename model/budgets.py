"""Phase 6: budgets settle, offices open and close (ODD 7.6).

Offices cost money every step. An office that runs a project charges its cost to project
money, as projectised agencies do; an idle office draws on core funds. An office that has run
no project for longer than the grace period closes (Bartels: under projectised funding offices must keep 'developing new
projects in order to secure the financial resources necessary to operate each office'); if core
money cannot pay all offices, the idlest close first. A surplus beyond a reserve opens one
office where the IO's mandate meets migration pressure and donor interest, if the host agrees.
Nothing is ever paid beyond what an account holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .projects import consent_probability

if TYPE_CHECKING:
    from .model import MigovModel


def settle_budgets(model: MigovModel) -> None:
    io, p, ledger = model.io, model.p, model.ledger
    active = model.portfolio.active_cells(io.n, model.hs.n)
    io.office_idle[:] = np.where(io.office & ~active, io.office_idle + 1, 0)

    # idle offices close after the grace period
    for i, h in zip(*np.nonzero(io.office & (io.office_idle > p.office_grace)), strict=True):
        model.close_office(int(i), int(h), "no project for too long")

    # offices running projects charge their cost to project money (projectisation); the
    # rest are paid from core, and what core cannot pay closes, idlest first
    projectised = model.scenario.mechanisms.projectised_offices
    charged = np.minimum((io.office & active).sum(axis=1) * p.office_cost, io.earmarked) if projectised else np.zeros(io.n)
    io.earmarked -= charged
    ledger.spend("offices", float(charged.sum()))
    for i in range(io.n):
        n_off = int(io.office[i].sum())
        cost = max(n_off * p.office_cost - charged[i], 0.0)
        while n_off and io.core[i] < cost:
            # idle offices first (longest idle first); offices running projects last
            priority = np.where(active[i], -1, io.office_idle[i])
            h = int(np.argmax(np.where(io.office[i], priority, -2)))
            model.close_office(i, h, "core funds cannot pay for it")
            n_off -= 1
            cost = max(n_off * p.office_cost - charged[i], 0.0)
        io.core[i] -= cost
        ledger.spend("offices", cost)

    # headquarters and staff spend a share of what core funds are left after the offices
    hq = io.core * p.core_spending_rate
    io.core -= hq
    ledger.spend("headquarters", float(hq.sum()))

    # a surplus opens one office where demand and access are high
    demand = (io.mandate[:, None, :] * model.hs.pressure[None, :, :]).max(axis=2)
    demand = demand * model.dn.host_weight.mean(axis=0)[None, :]
    demand = np.where(io.office | model.closed_now, -np.inf, demand)  # no reopening in the step it closed
    for i in range(io.n):
        n_off = int(io.office[i].sum())
        need = p.office_opening_cost + p.office_reserve * p.office_cost * (n_off + 1)
        if io.core[i] < need or not np.isfinite(demand[i]).any():
            continue
        h = int(np.argmax(demand[i]))
        if demand[i, h] <= 0:
            continue
        k = int(np.argmax(io.mandate[i] * model.hs.pressure[h]))
        prob = consent_probability(model, np.array([i]), np.array([h]), np.array([k]), np.array([0.0]))[0]
        if model.rng.random() < prob:
            model.open_office(i, h, reason="with surplus core funds")
