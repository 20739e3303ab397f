"""Phase 6: budgets settle, field presence follows projects (ODD 7.6).

An organisation present in a country holds one or more field locations there: the country
office, and as many more as its running projects need (one per ``projects_per_location``).
Every field location costs money every step. Locations in a country where projects run charge
their cost to project money, as projectised agencies do; the others draw on core funds. An
office that has run no project for longer than the grace period closes (Bartels: under
projectised funding offices must keep 'developing new projects in order to secure the financial
resources necessary to operate each office'); locations projects no longer need close after the
same grace; if core money cannot pay, surplus locations close first, then the idlest offices. A
surplus beyond a reserve opens one office where the IO's mandate meets migration pressure and
donor interest, if the host agrees. Nothing is ever paid beyond what an account holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .projects import consent_probability

if TYPE_CHECKING:
    from .model import MigovModel


def settle_budgets(model: MigovModel) -> None:
    io, p, ledger = model.io, model.p, model.ledger
    running = model.portfolio.counts(io.n, model.hs.n)
    active = running > 0
    io.office_idle[:] = np.where(io.office & ~active, io.office_idle + 1, 0)

    # idle offices close after the grace period
    for i, h in zip(*np.nonzero(io.office & (io.office_idle > p.office_grace)), strict=True):
        model.close_office(int(i), int(h), "no project for too long")

    follow_projects(model, running)

    # field locations running projects charge their cost to project money (projectisation);
    # the rest are paid from core, and what core cannot pay closes: surplus field locations
    # first, then whole country offices, idlest first
    projectised = model.scenario.mechanisms.projectised_offices
    on_projects = (running_costs(model) * active).sum(axis=1)
    charged = np.minimum(on_projects, io.earmarked) if projectised else np.zeros(io.n)
    io.earmarked -= charged
    ledger.spend("offices", float(charged.sum()))
    costs = running_costs(model).sum(axis=1)  # row i changes only while organisation i sheds
    for i in range(io.n):
        cost = max(float(costs[i]) - charged[i], 0.0)
        while io.locations[i].any() and io.core[i] < cost:
            shed_location(model, i, active[i], running[i])
            cost = max(float(running_costs(model, i).sum()) - charged[i], 0.0)
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
    costs = running_costs(model).sum(axis=1)  # an opening changes only the row of the one that opens
    for i in range(io.n):
        need = p.office_opening_cost + p.office_reserve * (float(costs[i]) + p.office_cost)
        if io.core[i] < need or not np.isfinite(demand[i]).any():
            continue
        h = int(np.argmax(demand[i]))
        if demand[i, h] <= 0:
            continue
        k = int(np.argmax(io.mandate[i] * model.hs.pressure[h]))
        prob = consent_probability(model, np.array([i]), np.array([h]), np.array([k]), np.array([0.0]))[0]
        if model.rng.random() < prob:
            model.open_office(i, h, reason="with surplus core funds")


def running_costs(model: MigovModel, i: int | None = None) -> np.ndarray:
    """Cost per step of the field presence in each country, (I, H) or (H,) for organisation
    ``i``: the country office's ``office_cost`` and ``location_cost`` for each further location."""
    loc = model.io.locations if i is None else model.io.locations[i]
    return model.p.office_cost * (loc > 0) + model.p.location_cost * np.maximum(loc - 1, 0)


def locations_needed(model: MigovModel, running: np.ndarray, i: int | None = None) -> np.ndarray:
    """Field locations each country's running projects need, (I, H) or (H,) for organisation
    ``i``: one per ``projects_per_location`` projects, and at least the country office where
    there is one."""
    office = model.io.office if i is None else model.io.office[i]
    need = np.ceil(running / model.p.projects_per_location).astype(np.int64)
    return np.where(office, np.maximum(need, 1), 0)


def follow_projects(model: MigovModel, running: np.ndarray) -> None:
    """Field presence follows projects (Bartels: offices 'constantly busy expanding their
    activities and developing new projects'): where running projects need more field locations
    than an organisation has in a country, it opens them, paying the opening cost from project
    money if its offices are projectised, else from core, as far as the money goes (a location
    costs ``location_cost`` to open, as much as one step of running it); locations
    its projects no longer need close once they have been surplus for the grace period."""
    io, p = model.io, model.p
    need = locations_needed(model, running)
    projectised = model.scenario.mechanisms.projectised_offices
    for i, h in zip(*np.nonzero(need > io.locations), strict=True):
        for _ in range(int(need[i, h] - io.locations[i, h])):
            account = io.earmarked if projectised and io.earmarked[i] >= p.location_cost else io.core
            if account[i] < p.location_cost:
                break
            account[i] -= p.location_cost
            model.ledger.spend("offices", p.location_cost)
            io.locations[i, h] += 1
    surplus = io.locations > need
    io.surplus_idle[:] = np.where(surplus, io.surplus_idle + 1, 0)
    shed = surplus & (io.surplus_idle > p.office_grace)
    io.locations[shed] -= 1
    io.surplus_idle[shed] = 0


def shed_location(model: MigovModel, i: int, active: np.ndarray, running: np.ndarray) -> None:
    """Close one of organisation ``i``'s field locations because core funds cannot pay for it:
    a location beyond what a country's projects need if there is one (the longest surplus
    first), else the whole office in the idlest country (offices running projects last)."""
    io = model.io
    need = locations_needed(model, running, i)
    surplus = np.flatnonzero(io.locations[i] > need)
    if surplus.size:
        h = int(surplus[np.argmax(io.surplus_idle[i, surplus])])
        io.locations[i, h] -= 1
        io.surplus_idle[i, h] = 0
        return
    in_country = io.locations[i] > 1
    if in_country.any() and not (io.office[i] & ~active).any():
        h = int(np.argmax(np.where(in_country, io.locations[i], -1)))  # thin out the largest presence
        io.locations[i, h] -= 1
        return
    priority = np.where(active, -1, io.office_idle[i])
    h = int(np.argmax(np.where(io.office[i], priority, -2)))
    model.close_office(i, h, "core funds cannot pay for it")
