"""The field's state as numpy arrays, one row per agent.

Agents are Mesa objects whose attributes are views onto these rows, so the pairwise work
(donor x bid, IO x IO, IO x host) is array arithmetic rather than loops over pairs. Index
conventions: ``i`` organisations, ``d`` donors, ``h`` hosts, ``n`` NGOs, ``k`` issue areas,
``a`` actions. A *bidder* index runs over organisations first, then NGOs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .config import ACTIONS, Scenario

DEFAULT_SENSITIVITY = 0.3
Array = np.ndarray


@dataclass
class OrganisationArrays:
    names: list[str]
    mandate: Array  # (I, K) current mandate in [0, 1]
    origin: Array  # (I, K) founding mandate the normative anchor pulls back to
    malleability: Array  # (I,)
    anchor: Array  # (I,)
    authority: Array  # (I,) normative standing conferred by designation (e.g. a compact)
    overhead: Array  # (I,)
    efficiency: Array  # (I,)
    reputation: Array  # (I,)
    capacity: Array  # (I,)
    knowledge: Array  # (I, K)
    office: Array  # (I, H) bool
    office_idle: Array  # (I, H) steps since the office last ran a project
    locations: Array  # (I, H) field locations in each host: 1 per country office, more where projects need them
    surplus_idle: Array  # (I, H) steps a host has had more field locations than its projects need
    legit_donor: Array  # (I, D)
    legit_host: Array  # (I, H)
    legit_peer: Array  # (I,)
    partner_io: Array  # (I, I) bool, symmetric: global-global partnerships
    partner_host: Array  # (I, H) bool: global-local partnerships with governments
    partner_ngo: Array  # (I, N) bool: implementing partnerships with NGOs
    values: Array  # (I, A) action value estimates
    core: Array  # (I,) unrestricted funds
    earmarked: Array  # (I,) committed, unspent project money
    income: Array  # (I,) money received this step
    income_avg: Array  # (I,) moving average of income, the reference point of income growth
    payoff_ref: Array  # (I, 2) running mean of each payoff part (income growth, legitimacy change)
    payoff_scale: Array  # (I, 2) running mean absolute deviation of each payoff part
    learning_steps: Array  # (I,) steps learnt from so far
    chosen: Array  # (I, A) bool: actions taken this step
    member: Array  # (I, H) bool: the host is a member state of the organisation
    project_money_avg: Array  # (I, H) moving average of the organisation's project spending in the host
    un_system: Array  # (I,) bool: part of the UN system

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def standing(self) -> Array:
        """Normative standing: the normative anchor plus any designated authority."""
        return np.clip(self.anchor + self.authority, 0.0, 1.0)


@dataclass
class DonorArrays:
    names: list[str]
    envelope0: Array  # (D,)
    trend: Array  # (D,)
    budget_years: list[Array]  # per donor: years of its aid budget series (empty: trend envelope)
    budget_per_step: list[Array]  # per donor: field_share of the budget in those years, millions per step
    earmarking: Array  # (D,)
    scale: Array  # (D,)
    priorities: Array  # (D, K), rows sum to 1
    host_weight: Array  # (D, H) strategic weight of each host, in (0, 1]
    familiarity: Array  # (D, B) memory of cooperation per bidder
    weights: Array  # (D, 6) legitimacy, efficiency, fit, familiarity, knowledge, normative
    envelope: Array  # (D,) this step's envelope
    disbursed: Array  # (D,) money that left the donor this step

    @property
    def n(self) -> int:
        return len(self.names)


@dataclass
class HostArrays:
    names: list[str]
    region: list[str]
    authoritarian: Array  # (H,)
    capacity: Array  # (H,)
    sovereignty: Array  # (H,)
    pressure0: Array  # (H, K) baseline pressure
    crisis: Array  # (H, K) pressure crises have added and not yet faded (unmet need)
    pressure: Array  # (H, K)
    wants: Array  # (H, 3) money, contacts, expertise
    refusals: Array  # (H,) refusals this step

    @property
    def n(self) -> int:
        return len(self.names)

    def in_region(self, region: str) -> Array:
        return np.array([r == region for r in self.region], dtype=bool)

    @cached_property
    def region_index(self) -> Array:
        """(H,) each host's region as a number (regions are fixed)."""
        return np.unique(np.asarray(self.region, dtype=object), return_inverse=True)[1].astype(np.int64)


@dataclass
class NGOArrays:
    names: list[str]
    host: Array  # (N,) host index
    issues: Array  # (N, K) focus, rows sum to 1
    capacity: Array
    efficiency: Array
    reputation: Array
    expertise: Array
    normative: Array
    funds: Array
    income_direct: Array  # this step
    income_subcontract: Array  # this step

    @property
    def n(self) -> int:
        return len(self.names)


@dataclass
class Ledger:
    """Money in the field. Every unit that left a donor is in an account or was spent."""

    donor_outflow: float = 0.0
    spent: dict[str, float] = field(
        default_factory=lambda: {
            "programme": 0.0,
            "offices": 0.0,
            "headquarters": 0.0,
            "knowledge": 0.0,
            "partnerships": 0.0,
            "ngo": 0.0,
            "venue": 0.0,
        }
    )
    overhead: float = 0.0  # cumulative overhead moved from project money to core
    contributions: float = 0.0  # cumulative assessed contributions of member hosts (money entering the field)
    initial_holdings: float = 0.0

    def spend(self, kind: str, amount: float) -> None:
        self.spent[kind] += float(amount)


def _vector(mapping: dict[str, float], keys: list[str], default: float = 0.0) -> Array:
    return np.array([float(mapping.get(k, default)) for k in keys])


def _normalise_rows(m: Array) -> Array:
    s = m.sum(axis=1, keepdims=True)
    even = np.full_like(m, 1.0 / m.shape[1])
    return np.where(s > 0, m / np.where(s > 0, s, 1.0), even)


def build_state(sc: Scenario) -> tuple[OrganisationArrays, DonorArrays, HostArrays, NGOArrays]:
    """Initial arrays from a validated scenario (ODD section 5, initialisation)."""
    issues = sc.issues
    K = len(issues)
    host_names = list(sc.hosts)
    H = len(host_names)
    regions = [sc.hosts[h].region for h in host_names]
    org_names = list(sc.organisations)
    I = len(org_names)
    donor_names = list(sc.donors)
    D = len(donor_names)
    ngo_names = list(sc.ngos)
    N = len(ngo_names)
    A = len(ACTIONS)

    orgs = [sc.organisations[o] for o in org_names]
    mandate = np.array([_vector(o.mandate, issues) for o in orgs]).reshape(I, K)
    office = np.zeros((I, H), dtype=bool)
    for i, o in enumerate(orgs):
        for place in o.offices:
            office[i] |= np.array([h == place or r == place for h, r in zip(host_names, regions, strict=True)])
    member = np.zeros((I, H), dtype=bool)
    for i, o in enumerate(orgs):
        for place in o.members:
            member[i] |= np.array([place in (h, r, "all") for h, r in zip(host_names, regions, strict=True)])
    legit0 = np.array([o.legitimacy for o in orgs])
    record = np.array([o.track_record for o in orgs])
    io = OrganisationArrays(
        names=org_names,
        mandate=mandate,
        origin=mandate.copy(),
        malleability=np.array([o.malleability for o in orgs]),
        anchor=np.array([o.normative_anchor for o in orgs]),
        authority=np.zeros(I),
        overhead=np.array([o.overhead_rate for o in orgs]),
        efficiency=np.array([o.efficiency for o in orgs]),
        reputation=record.copy(),
        capacity=np.array([o.capacity for o in orgs]),
        knowledge=np.array([[o.knowledge.get(k, 0.5 * mandate[i, j]) for j, k in enumerate(issues)]
                            for i, o in enumerate(orgs)], dtype=float).reshape(I, K),
        office=office,
        office_idle=np.zeros((I, H), dtype=np.int64),
        locations=office.astype(np.int64),
        surplus_idle=np.zeros((I, H), dtype=np.int64),
        legit_donor=np.repeat(legit0[:, None], D, axis=1),
        legit_host=np.repeat(legit0[:, None], H, axis=1),
        legit_peer=legit0.copy(),
        partner_io=_initial_partners(orgs, org_names),
        partner_host=np.array([[h in o.working_groups for h in host_names] for o in orgs], dtype=bool).reshape(I, H),
        partner_ngo=np.zeros((I, N), dtype=bool),
        values=np.array([_vector(o.strategy, list(ACTIONS)) for o in orgs]).reshape(I, A),
        core=np.array([o.core_funds for o in orgs]),
        earmarked=np.zeros(I),
        income=np.zeros(I),
        income_avg=np.zeros(I),
        payoff_ref=np.zeros((I, 2)),
        payoff_scale=np.zeros((I, 2)),
        learning_steps=np.zeros(I, dtype=np.int64),
        chosen=np.zeros((I, A), dtype=bool),
        member=member,
        project_money_avg=np.zeros((I, H)),
        un_system=np.array([o.un_system for o in orgs], dtype=bool),
    )

    donors = [sc.donors[d] for d in donor_names]
    bidders = org_names + ngo_names
    familiarity = np.zeros((D, I + N))
    for d, spec in enumerate(donors):
        familiarity[d, :I] = record
        for name, v in spec.familiarity.items():
            familiarity[d, bidders.index(name)] = v
    host_weight = np.ones((D, H))
    for d, spec in enumerate(donors):
        extra = np.array([spec.strategic_regions.get(r, 0.0) for r in regions])
        host_weight[d] = (1.0 + extra) / (1.0 + max(spec.strategic_regions.values(), default=0.0))
    spy = sc.simulation.steps_per_year
    budget_years = [np.array([b.year for b in s.budget], dtype=float) for s in donors]
    budget_per_step = [np.array([b.value for b in s.budget], dtype=float) * 1000.0 / spy * s.field_share
                       for s in donors]
    envelope0 = np.array([np.interp(sc.simulation.start_year, y, v) if y.size else s.envelope
                          for s, y, v in zip(donors, budget_years, budget_per_step, strict=True)])
    dn = DonorArrays(
        names=donor_names,
        envelope0=envelope0,
        trend=np.array([s.trend for s in donors]),
        budget_years=budget_years,
        budget_per_step=budget_per_step,
        earmarking=np.array([s.earmarking for s in donors]),
        scale=np.array([s.scale_preference for s in donors]),
        priorities=_normalise_rows(np.array([_vector(s.priorities, issues) for s in donors]).reshape(D, K)),
        host_weight=host_weight,
        familiarity=familiarity,
        weights=np.array(
            [
                [w.legitimacy, w.efficiency, w.fit, w.familiarity, w.knowledge, w.normative]
                for w in (s.weights for s in donors)
            ]
        ),
        envelope=envelope0.copy(),
        disbursed=np.zeros(D),
    )

    hosts = [sc.hosts[h] for h in host_names]
    pressure0 = np.array([_vector(h.pressure, issues) for h in hosts]).reshape(H, K)
    hs = HostArrays(
        names=host_names,
        region=regions,
        authoritarian=np.array([h.authoritarian for h in hosts]),
        capacity=np.array([h.capacity for h in hosts]),
        sovereignty=np.array([h.sovereignty for h in hosts]),
        pressure0=pressure0,
        pressure=pressure0.copy(),
        crisis=np.zeros_like(pressure0),
        wants=np.array([[h.wants.money, h.wants.contacts, h.wants.expertise] for h in hosts]).reshape(H, 3),
        refusals=np.zeros(H),
    )

    ngos = [sc.ngos[n] for n in ngo_names]
    ng = NGOArrays(
        names=ngo_names,
        host=np.array([host_names.index(n.host) for n in ngos], dtype=np.int64),
        issues=_normalise_rows(np.array([_vector(n.issues, issues) for n in ngos]).reshape(N, K)),
        capacity=np.array([n.capacity for n in ngos]),
        efficiency=np.array([n.efficiency for n in ngos]),
        reputation=np.array([n.track_record for n in ngos]),
        expertise=np.array([n.expertise for n in ngos]),
        normative=np.array([n.normative for n in ngos]),
        funds=np.zeros(N),
        income_direct=np.zeros(N),
        income_subcontract=np.zeros(N),
    )
    return io, dn, hs, ng


def _initial_partners(orgs: list, names: list[str]) -> Array:
    """Symmetric global-global partnerships named in either partner's ``partners`` list."""
    n = len(names)
    adj = np.zeros((n, n), dtype=bool)
    for i, o in enumerate(orgs):
        for other in o.partners:
            j = names.index(other)
            adj[i, j] = adj[j, i] = True
    return adj


def issue_sensitivity(sc: Scenario) -> Array:
    return np.array([sc.issue_sensitivity.get(k, DEFAULT_SENSITIVITY) for k in sc.issues])
