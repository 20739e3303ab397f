"""Invariants that must hold after every step of any valid scenario.

Scenarios are drawn by ``strategies.scenarios()``; each is run for a short horizon and the state is
checked after every step: money is conserved (by the model's ledger and by an independent tally of
what left the donors), no account goes negative, legitimacy and other bounded quantities stay in
range, offices and partnerships are consistent, and the measures (funding shares, HHI) are sane.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from migov.model import MigovModel, validate_scenario
from strategies import scenarios, seeds, slow_examples

TOL = 1e-9
STEPS = 12


class MoneyTally:
    """Tracks money independently of ``m.ledger.donor_outflow``: the sum of what donors report
    as disbursed each step, what member hosts owe (the members at the start of a step pay their
    assessed contributions in it), and the spending categories' history."""

    def __init__(self, m: MigovModel):
        self.initial = float(sum(o.core_funds for o in m.scenario.organisations.values()))
        self.outflow = 0.0
        self.spent = dict(m.ledger.spent)
        self.holdings = m.holdings()
        self.contributions = 0.0
        self.members = m.io.member.copy()
        assert self.holdings == pytest.approx(self.initial)
        assert m.ledger.initial_holdings == pytest.approx(self.initial)

    def after_step(self, m: MigovModel) -> None:
        step_out = float(m.dn.disbursed.sum())
        assert step_out >= 0.0
        self.outflow += step_out
        dues = float((self.members.astype(float) @ (m.p.membership_contribution * m.hs.capacity)).sum())
        self.contributions += dues
        self.members = m.io.member.copy()
        step_out += dues  # money entering the field this step
        spent_now = dict(m.ledger.spent)
        for kind, value in spent_now.items():
            assert value >= self.spent[kind] - TOL * max(1.0, abs(value)), f"spending on {kind} went down"
        step_spent = sum(spent_now.values()) - sum(self.spent.values())
        holdings = m.holdings()
        scale = max(1.0, self.initial + self.outflow + self.contributions)
        # this step: holdings change == money in from donors - money spent
        assert abs((holdings - self.holdings) - (step_out - step_spent)) <= TOL * scale
        # cumulatively: holdings == initial core + donor outflow - spending
        received = self.initial + self.outflow + self.contributions
        assert abs(holdings - (received - sum(spent_now.values()))) <= TOL * scale
        # the ledger's own record of donor outflow and contributions agrees with the tally
        assert abs(m.ledger.donor_outflow - self.outflow) <= TOL * scale
        assert abs(m.ledger.contributions - self.contributions) <= TOL * scale
        assert m.ledger_error() <= TOL
        self.spent, self.holdings = spent_now, holdings


def check_state(m: MigovModel) -> None:
    io, dn, hs, ng = m.io, m.dn, m.hs, m.ng
    # legitimacy with every audience in [0, 1]
    for name in ("legit_donor", "legit_host", "legit_peer"):
        arr = getattr(io, name)
        assert np.all(np.isfinite(arr)), name
        assert np.all((arr >= 0.0) & (arr <= 1.0)), f"{name} out of [0, 1]: {arr.min()}..{arr.max()}"
    # no account is ever negative
    assert np.all(io.core >= 0.0), f"negative core funds {io.core}"
    assert np.all(io.earmarked >= 0.0), f"negative earmarked funds {io.earmarked}"
    assert np.all(ng.funds >= 0.0), f"negative NGO funds {ng.funds}"
    if m.venue is not None:
        assert m.venue.account >= 0.0
    # offices and partnerships
    assert io.office.dtype == np.bool_
    assert io.partner_io.dtype == np.bool_ and io.partner_host.dtype == np.bool_ and io.partner_ngo.dtype == np.bool_
    assert np.all(io.office_idle >= 0)
    assert np.all(io.office_idle[~io.office] == 0)
    # field locations: at least the country office where there is one, none where there is not
    assert np.all(io.locations[io.office] >= 1) and np.all(io.locations[~io.office] == 0)
    assert np.all(io.surplus_idle >= 0)
    assert np.array_equal(io.partner_io, io.partner_io.T)
    assert not io.partner_io.diagonal().any()
    # partnerships with a government or a local NGO need an office in that host
    assert not (io.partner_host & ~io.office).any(), "partnership with a host government without an office"
    ngo_office = io.office[:, ng.host]  # (I, N): office in each NGO's host
    assert not (io.partner_ngo & ~ngo_office).any(), "implementing partnership without an office in the host"
    # mandates: stretching moves them up toward donor demand by at most malleability of the gap,
    # the anchor pulls them back; they never fall below their origin
    assert np.all((io.mandate >= 0.0) & (io.mandate <= 1.0))
    assert np.all(io.mandate >= io.origin - 1e-12)
    assert np.all(io.mandate <= io.origin + io.malleability[:, None] * (1.0 - io.origin) + 1e-12)
    rigid = io.malleability == 0
    np.testing.assert_array_equal(io.mandate[rigid], io.origin[rigid])
    # bounded quantities
    assert np.all(io.knowledge >= 0.0)
    assert np.all((io.reputation >= 0.0) & (io.reputation <= 1.0))
    assert np.all((ng.reputation >= 0.0) & (ng.reputation <= 1.0))
    assert np.all((dn.familiarity >= 0.0) & (dn.familiarity <= 1.0 + TOL))
    assert np.all(dn.priorities >= 0.0)
    np.testing.assert_allclose(dn.priorities.sum(axis=1), 1.0, rtol=1e-9)
    assert np.all(hs.pressure >= 0.0)
    assert 0.0 <= m.uncertainty <= 1.0
    probs = m.strategy_probabilities()
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-9)
    # a donor never pays out more than its envelope plus the trust funds it runs this step and its
    # emergency money
    trust = np.zeros(dn.n)
    for _, ev in m.trust_funds:
        trust[dn.names.index(ev.donor)] += ev.amount
    trust = trust + m.emergency  # and what it added in answer to appeals
    assert np.all(dn.disbursed <= dn.envelope + trust + TOL * (1.0 + dn.envelope + trust))


def check_measures(m: MigovModel) -> None:
    ms = m.measures
    assert ms["ledger_error"] <= TOL
    assert ms["offices"] == float(m.io.locations.sum())
    assert ms["countries_present"] == float(m.io.office.sum())
    shares = [ms[f"funding_share_{n}"] for n in m.io.names] + [ms["funding_share_NGOs"]]
    if ms["funding_total"] > 0:
        assert all(0.0 <= s <= 1.0 + TOL for s in shares)
        assert math.fsum(shares) == pytest.approx(1.0, abs=1e-9)
        assert 0.0 < ms["hhi"] <= 1.0 + TOL
        # HHI is at least 1 / (number of recipients)
        assert ms["hhi"] >= 1.0 / (m.io.n + m.ng.n) - TOL
    else:
        assert all(math.isnan(s) for s in shares)
        assert math.isnan(ms["hhi"])
    for key in ("legitimacy_donors", "legitimacy_hosts", "legitimacy_peers"):
        assert 0.0 <= ms[key] <= 1.0
    assert 0.0 <= ms["budget_gini"] <= 1.0


def run_checked(data: dict, seed: int, steps: int = STEPS) -> MigovModel:
    sc = validate_scenario(data, "generated")
    m = MigovModel(sc, seed=seed)
    tally = MoneyTally(m)
    check_state(m)
    for _ in range(steps):
        m.step()
        tally.after_step(m)
        check_state(m)
        check_measures(m)
    frame = m.model_frame()
    assert len(frame) == steps + 1
    assert (frame["ledger_error"] <= TOL).all()
    return m


@given(data=scenarios(), seed=seeds)
def test_invariants_hold_every_step(data, seed):
    run_checked(data, seed)


@given(data=scenarios(max_orgs=2, max_donors=1, max_hosts=2, max_ngos=2, events=False, venue=False), seed=seeds)
def test_invariants_tiny_fields(data, seed):
    """Tiny fields hit the degenerate corners (one IO, one donor, no NGOs) more often."""
    run_checked(data, seed, steps=8)


def test_field_without_ngos():
    """The schema's default is no NGOs; such a field must run and keep its books."""
    from strategies import minimal

    data = minimal()
    data["ngos"] = {}
    m = run_checked(data, seed=1, steps=5)
    assert m.ng.n == 0
    assert m.measures["funding_share_NGOs"] == 0.0


@settings(max_examples=10)
@given(data=scenarios(min_ngos=0, max_ngos=0), seed=seeds)
def test_invariants_hold_without_ngos(data, seed):
    run_checked(data, seed)


def test_agent_frame_consistent_with_state():
    """The per-agent series report the state arrays (checked on the last step)."""
    from strategies import make_scenario

    sc = make_scenario(
        organisations={"A": {"mandate": {"labour": 1}, "offices": ["H1"]},
                       "B": {"mandate": {"labour": 0.5, "protection": 1}, "offices": ["H1"]}},
        ngos={"N1": {"host": "H1"}, "N2": {"host": "H1"}},
    )
    m = MigovModel(sc, seed=3)
    for _ in range(5):
        m.step()
    af = m.agent_frame()
    last = af[af["step"] == af["step"].max()]
    orgs = last[last["type"] == "organisation"].set_index("agent")
    for i, name in enumerate(m.io.names):
        assert orgs.loc[name, "core_funds"] == pytest.approx(m.io.core[i])
        assert orgs.loc[name, "earmarked_funds"] == pytest.approx(m.io.earmarked[i])
        assert orgs.loc[name, "offices"] == m.io.locations[i].sum()
        assert orgs.loc[name, "countries"] == m.io.office[i].sum()
        assert orgs.loc[name, "legitimacy_peers"] == pytest.approx(m.io.legit_peer[i])
        p = orgs.loc[name, [c for c in orgs.columns if c.startswith("p_")]].to_numpy(dtype=float)
        assert p.sum() == pytest.approx(1.0)
    ngos = last[last["type"] == "ngo"].set_index("agent")
    for n, name in enumerate(m.ng.names):
        assert ngos.loc[name, "funds"] == pytest.approx(m.ng.funds[n])
    assert (af.loc[af["type"] == "organisation", "core_funds"] >= 0).all()
    assert (af.loc[af["type"] == "ngo", "funds"] >= 0).all()


@pytest.mark.slow
@settings(max_examples=slow_examples(100))
@given(data=scenarios(), seed=seeds)
def test_invariants_hold_longer_runs(data, seed):
    run_checked(data, seed, steps=40)


def test_mandate_overlap_stays_in_0_1_when_a_mandate_is_vanishingly_small():
    """Found by test_invariants_hold_longer_runs: a mandate of 1.5e-159 (its square is subnormal)
    gave an overlap of 1 + 1e-7 with a normal one, and a negative weight for choosing a partner."""
    from migov.model.measures import pianka_overlap

    overlap = pianka_overlap(np.array([[2.851875e-2], [7.4952177e-2], [1.5244497196947543e-159]]))
    assert overlap.min() >= 0.0 and overlap.max() <= 1.0
