"""Hypothesis strategies and small builders for model-level tests.

``scenarios()`` draws random *valid* scenario mappings (plain dicts, as a YAML file would give):
1-4 organisations, 1-3 donors, 1-5 hosts in 1-3 regions, 0-5 NGOs, attributes anywhere in the
schema's ranges, optionally a coordination venue and scheduled events. ``make_scenario()`` builds
a small hand-written scenario for mechanism tests, and ``run()`` steps a model.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import strategies as st
from migov.model import MigovModel, Scenario, validate_scenario
from migov.model.config import ACTIONS, DEFAULT_ISSUES


def slow_examples(default: int = 100) -> int:
    """Example count for ``slow`` property tests (``MIGOV_SLOW_EXAMPLES`` overrides)."""
    return int(os.environ.get("MIGOV_SLOW_EXAMPLES", default))


# --------------------------------------------------------------------------- primitives
unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
seeds = st.integers(0, 2**32 - 1)


def num(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def subset(items: list[str], min_size: int = 0) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=len(items), unique=True)


def weights_over(keys: list[str], values: st.SearchStrategy[float] = unit) -> st.SearchStrategy[dict]:
    """A partial mapping key -> value (any subset of the keys, possibly empty)."""
    return subset(keys).flatmap(lambda ks: st.fixed_dictionaries({k: values for k in ks}))


def optional_fields(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """A dict holding a random subset of the given fields (absent ones take schema defaults)."""
    return st.fixed_dictionaries({}, optional=fields)


# Ranges stay inside the schema's bounds; a few are narrowed to keep a short run meaningful
# (e.g. grants_max up to 30 rather than 500) but every edge the schema allows at the low end
# (zero money, zero capacity, zero decay, instant grace) is reachable.
PARAMETERS = dict(
    pressure_noise=num(0.0, 0.3),
    pressure_reversion=unit,
    uncertainty=unit,
    uncertainty_recovery=unit,
    actions_per_step=st.integers(1, 6),
    knowledge_rate=num(0.0, 5.0),
    knowledge_depreciation=unit,
    knowledge_saturation=num(0.01, 100.0),
    knowledge_cost=num(0.0, 10.0),
    demand_creation=num(0.0, 0.5),
    partnership_cost=num(0.0, 10.0),
    partnership_lapse=unit,
    mandate_stretch=unit,
    anchor_pull=unit,
    contest_strength=unit,
    contest_cost=unit,
    scouting_bids=st.integers(0, 6),
    choice_temperature=num(0.01, 10.0),
    grants_max=st.integers(1, 30),
    familiarity_gain=unit,
    familiarity_decay=unit,
    reputation_memory=unit,
    core_concentration=num(0.0, 10.0),
    core_inertia=unit,
    project_duration=st.integers(1, 8),
    subcontract_share=unit,
    consent_base=num(-10.0, 10.0),
    consent_legitimacy=num(0.0, 10.0),
    consent_partnership=num(0.0, 10.0),
    consent_money=num(0.0, 10.0),
    consent_sovereignty=num(0.0, 20.0),
    ngo_spending_rate=unit,
    legitimacy_decay=num(0.0, 0.5),
    gain_knowledge=num(0.0, 0.5),
    gain_partnership=num(0.0, 0.5),
    gain_performance=num(0.0, 0.5),
    gain_normative=num(0.0, 0.5),
    knowledge_partnership_synergy=num(0.0, 0.5),
    uncertainty_knowledge_boost=num(0.0, 10.0),
    challenge_rate=unit,
    challenge_loss=unit,
    challenge_shield=unit,
    authoritarian_partner_cost=num(0.0, 0.5),
    creep_cost=num(0.0, 0.5),
    core_spending_rate=unit,
    office_cost=num(0.0, 5.0),
    office_opening_cost=num(0.0, 5.0),
    office_grace=st.integers(0, 10),
    office_reserve=st.integers(0, 10),
    learning_rate=unit,
    strategy_temperature=num(0.01, 10.0),
    payoff_legitimacy_weight=num(0.0, 100.0),
    payoff_memory=num(0.001, 1.0),
)


# fields without NGOs are allowed (the schema's default) and drawn too
MIN_NGOS = 0


# zero money is an edge worth hitting, but most generated donors should have some
envelopes = st.one_of(num(0.5, 200.0), num(0.5, 200.0), num(0.5, 200.0), st.just(0.0))


def _weights() -> st.SearchStrategy[dict]:
    w = num(0.0, 10.0)
    return optional_fields(legitimacy=w, efficiency=w, fit=w, familiarity=w, knowledge=w, normative=w)


@st.composite
def scenarios(draw, max_orgs: int = 4, max_donors: int = 3, max_hosts: int = 5, min_ngos: int = MIN_NGOS,
              max_ngos: int = 5, events: bool = True, venue: bool = True) -> dict[str, Any]:
    """A random valid scenario as a raw mapping."""
    issues = draw(subset(list(DEFAULT_ISSUES), min_size=1))
    n_regions = draw(st.integers(1, 3))
    host_names = [f"H{h}" for h in range(draw(st.integers(1, max_hosts)))]
    hosts: dict[str, dict] = {}
    for h in host_names:
        spec = {"region": f"R{draw(st.integers(0, n_regions - 1))}"}
        spec.update(draw(optional_fields(authoritarian=unit, capacity=unit, sovereignty=unit,
                                         wants=optional_fields(money=unit, contacts=unit, expertise=unit))))
        spec["pressure"] = draw(weights_over(issues, num(0.0, 10.0)))
        hosts[h] = spec
    regions = sorted({s["region"] for s in hosts.values()})

    org_names = [f"IO{i}" for i in range(draw(st.integers(1, max_orgs)))]
    orgs: dict[str, dict] = {}
    for o in org_names:
        spec = {"mandate": draw(weights_over(issues))}
        spec.update(draw(optional_fields(
            malleability=unit, normative_anchor=unit, overhead_rate=num(0.0, 0.5), efficiency=unit,
            track_record=unit, legitimacy=unit, core_funds=num(0.0, 100.0), core_weight=num(0.0, 10.0),
            capacity=num(0.0, 1000.0), strategy=weights_over(list(ACTIONS), num(-1.0, 1.0)),
        )))
        spec["offices"] = draw(subset(host_names + regions))
        orgs[o] = spec

    ngo_names = [f"N{n}" for n in range(draw(st.integers(min_ngos, max_ngos)))]
    ngos: dict[str, dict] = {}
    for n in ngo_names:
        spec = {"host": draw(st.sampled_from(host_names))}
        spec.update(draw(optional_fields(
            issues=weights_over(issues), capacity=num(0.0, 20.0), efficiency=unit, track_record=unit,
            expertise=unit, normative=unit,
        )))
        ngos[n] = spec

    donor_names = [f"D{d}" for d in range(draw(st.integers(1, max_donors)))]
    donors: dict[str, dict] = {}
    for d in donor_names:
        spec = {"envelope": draw(envelopes), "priorities": draw(weights_over(issues, num(0.0, 5.0)))}
        spec.update(draw(optional_fields(
            trend=num(-0.5, 0.5), earmarking=unit, scale_preference=unit,
            strategic_regions=weights_over(regions, num(0.0, 3.0)),
            familiarity=weights_over(org_names + ngo_names), weights=_weights(),
        )))
        donors[d] = spec

    data: dict[str, Any] = {
        "title": "generated",
        "narrative": "a random small field for property tests",
        "sources": [{"seed": "generated", "passage": "none"}],
        "issues": issues,
        "issue_sensitivity": draw(weights_over(issues)),
        "parameters": draw(optional_fields(**PARAMETERS)),
        "organisations": orgs,
        "donors": donors,
        "hosts": hosts,
        "ngos": ngos,
    }
    if venue and draw(st.booleans()):
        data["venue"] = {
            "members": draw(subset(org_names, min_size=1)),
            "start": draw(st.integers(0, 5)),
            "chair_period": draw(st.integers(1, 4)),
            "secretariat": draw(st.booleans()),
            "budget": draw(st.sampled_from([0.0, 0.5, 5.0])),
            "product_probability": draw(unit),
        }
    if events:
        data["events"] = draw(st.lists(_event(donor_names, host_names, regions, issues), max_size=3))
    return data


def _event(donors: list[str], hosts: list[str], regions: list[str], issues: list[str]) -> st.SearchStrategy[dict]:
    at = st.integers(0, 12)
    shock = st.fixed_dictionaries({
        "type": st.just("funding_shock"), "at": at, "donor": st.sampled_from(["all", *donors]),
        "factor": num(0.0, 3.0), "duration": st.integers(1, 6),
    })
    crisis_where = st.one_of(
        st.fixed_dictionaries({"region": st.sampled_from(regions)}),
        st.fixed_dictionaries({"hosts": subset(hosts, min_size=1)}),
    )
    crisis = st.tuples(
        st.fixed_dictionaries({"type": st.just("crisis"), "at": at, "issue": st.sampled_from(issues),
                               "magnitude": num(0.0, 10.0), "uncertainty": unit}),
        crisis_where,
    ).map(lambda t: {**t[0], **t[1]})
    trust_fund = st.fixed_dictionaries({
        "type": st.just("trust_fund"), "at": at, "donor": st.sampled_from(donors), "amount": num(0.0, 200.0),
        "duration": st.integers(1, 8), "issues": subset(issues, min_size=1), "regions": subset(regions, min_size=1),
        "grants": st.integers(1, 10),
    })
    return st.one_of(shock, crisis, trust_fund)


# --------------------------------------------------------------------------- hand-made scenarios
MINIMAL: dict[str, Any] = {
    "title": "t",
    "narrative": "n",
    "sources": [{"seed": "x", "passage": "y"}],
    "organisations": {"A": {"mandate": {"labour": 1}, "offices": ["H1"]}},
    "donors": {"D": {"envelope": 50, "priorities": {"labour": 1}}},
    "hosts": {"H1": {"region": "R", "pressure": {"labour": 1}}},
    "ngos": {"N1": {"host": "H1"}},
}


def minimal() -> dict[str, Any]:
    """A fresh copy of the smallest valid scenario mapping."""
    return copy.deepcopy(MINIMAL)


def make_scenario(*, parameters: dict | None = None, **sections: Any) -> Scenario:
    """Validate a small scenario: the minimal one with whole sections replaced by ``sections``
    and parameters merged in."""
    data = minimal()
    data.update(copy.deepcopy(sections))
    if parameters:
        data["parameters"] = {**data.get("parameters", {}), **parameters}
    return validate_scenario(data, "test")


def run(scenario: Scenario | dict, seed: int = 0, steps: int = 10, collect_agents: bool = True) -> MigovModel:
    """Build a model and step it ``steps`` times."""
    if isinstance(scenario, dict):
        scenario = validate_scenario(scenario, "test")
    m = MigovModel(scenario, seed=seed, collect_agents=collect_agents)
    for _ in range(steps):
        m.step()
    return m
