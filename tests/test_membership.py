"""Membership of organisations and venues that grow (issue 12, item 2; ODD 7.6b, 7.7).

Each test would fail if the mechanism broke: hosts join organisations that bring them projects
and not others, a dearer contribution means fewer members, an organisation without projects
loses its members, the switch freezes membership, the ledger counts contributions, and a venue
grows only under a rule that lets it (and only with eligible applicants).
"""

from __future__ import annotations

import numpy as np
import pytest
from migov.model import MigovModel, membership, projects
from migov.model.config import ScenarioError
from strategies import make_scenario, run

ISSUES = ["labour", "protection", "trafficking", "border_return", "development", "displacement"]
SEEDS = range(8)
# one action per step, never bid_for_projects (so no scouting bids outside the office hosts)
QUIET = {"strategy_temperature": 0.01, "learning_rate": 0.0, "actions_per_step": 1}


def _two_hosts(**parameters) -> object:
    """One organisation with an office in host A only; host B, in another region, gets no
    projects. The donor pays only earmarked grants."""
    hosts = {"A": {"region": "North", "pressure": {"labour": 1.0}, "sovereignty": 0.2},
             "B": {"region": "South", "pressure": {"labour": 1.0}, "sovereignty": 0.2}}
    orgs = {"IO": {"mandate": {"labour": 1.0}, "offices": ["A"], "strategy": {"produce_knowledge": 1.0}}}
    return make_scenario(
        organisations=orgs, hosts=hosts, ngos={},
        donors={"D": {"envelope": 40, "earmarking": 1.0, "priorities": {"labour": 1}}},
        parameters={"consent_base": 10.0, "membership_review": 0.5, **QUIET, **parameters},
    )


def _member_steps(scenario, steps: int = 16) -> np.ndarray:
    """(H,) steps each host spent as a member of the first organisation, summed over SEEDS."""
    total = np.zeros(len(scenario.hosts))
    for seed in SEEDS:
        m = MigovModel(scenario, seed=seed, collect_agents=False)
        for _ in range(steps):
            m.step()
            total += m.io.member[0]
    return total


def test_a_host_that_receives_projects_joins_and_one_that_receives_none_does_not():
    a, b = _member_steps(_two_hosts())
    assert a > 0.5 * 16 * len(SEEDS)  # A is a member most of the time
    assert b == 0  # B gets no projects, no office and has no member peers: it never joins


def test_a_dearer_contribution_means_fewer_members():
    cheap = _member_steps(_two_hosts(membership_contribution=0.1)).sum()
    dear = _member_steps(_two_hosts(membership_contribution=20.0)).sum()
    assert dear < 0.25 * cheap


def test_sovereignty_sensitive_hosts_do_not_value_membership():
    sc = _two_hosts()
    data = sc.model_dump()
    data["hosts"]["A"]["sovereignty"] = 1.0
    assert _member_steps(type(sc).model_validate(data))[0] == 0


def test_an_organisation_without_projects_loses_its_members():
    """Every host a member at the start, but no donor pays for projects: the benefit is only the
    contacts of regional peers, below the cost, so members leave; with the switch off they stay
    and keep paying."""
    hosts = {f"H{h}": {"region": "R", "pressure": {"labour": 1.0}} for h in range(6)}
    orgs = {"IO": {"mandate": {"labour": 1.0}, "members": ["all"]}}
    common = dict(organisations=orgs, hosts=hosts, ngos={},
                  donors={"D": {"envelope": 10, "earmarking": 0.0, "priorities": {"labour": 1}}})
    m = run(make_scenario(**common), seed=1, steps=24, collect_agents=False)
    assert m.io.member.sum() <= 2
    left = m.events_frame().query("kind == 'membership'")["text"]
    assert left.str.endswith("leaves IO").sum() >= 4
    frozen = run(make_scenario(**common, mechanisms={"membership": False}), seed=1, steps=24, collect_agents=False)
    assert frozen.io.member.all()
    per_step = frozen.p.membership_contribution * frozen.hs.capacity.sum()
    assert frozen.ledger.contributions == pytest.approx(24 * per_step)


def test_switching_membership_off_keeps_members_as_initialised():
    sc = make_scenario(
        organisations={"IO": {"mandate": {"labour": 1.0}, "offices": ["A", "B"], "members": ["B"]}},
        hosts={"A": {"region": "R", "pressure": {"labour": 1.0}}, "B": {"region": "R", "pressure": {"labour": 1.0}}},
        ngos={}, donors={"D": {"envelope": 40, "earmarking": 1.0, "priorities": {"labour": 1}}},
        parameters={"consent_base": 10.0, "membership_review": 1.0}, mechanisms={"membership": False})
    m = MigovModel(sc, seed=2, collect_agents=False)
    for _ in range(12):
        m.step()
        assert m.io.member.tolist() == [[False, True]]
    assert (m.events_frame()["kind"] != "membership").all()
    on = run(make_scenario(**{**sc.model_dump(exclude={"mechanisms"})}), seed=2, steps=12, collect_agents=False)
    assert on.io.member[0, 0]  # with the switch on, A (which gets projects) joins


def test_the_ledger_counts_contributions(baseline):
    m = MigovModel(baseline, seed=4, steps=8, collect_agents=False,
                   overrides={"organisations.*.members": ["all"], "simulation.spin_up": 0})
    assert m.io.member.all()
    for _ in range(8):
        core = m.io.core.copy()
        m.step()
        assert m.ledger_error() < 1e-9
    assert m.ledger.contributions > 0
    paid = m.io.member.astype(float) @ membership.assessed_contribution(m)
    assert paid.sum() > 0 and np.isfinite(core).all()


def test_members_consent_more_readily(baseline):
    m = MigovModel(baseline, seed=0, steps=1, collect_agents=False)
    args = (np.array([0]), np.array([3]), np.array([1]), np.array([5.0]))
    before = projects.consent_probability(m, *args)[0]
    m.io.member[0, 3] = True
    after = projects.consent_probability(m, *args)[0]
    assert after > before
    logit = np.log(after / (1 - after)) - np.log(before / (1 - before))
    assert logit == pytest.approx(m.p.consent_membership)


def test_members_are_counted_in_both_tables():
    m = run(_two_hosts(), seed=3, steps=10)
    table = m.model_frame()
    agents = m.agent_frame()
    last = agents[(agents["step"] == 10) & (agents["type"] == "organisation")]
    assert table["members_IO"].iloc[-1] == last["members"].iloc[0] == m.io.member[0].sum()
    assert "venue_members" not in table  # no venue in this scenario
    assert "members" in m.organisation_frame()


def test_members_refer_to_known_hosts_or_regions():
    with pytest.raises(ScenarioError, match="members"):
        make_scenario(organisations={"A": {"mandate": {"labour": 1}, "members": ["Atlantis"]}})
    sc = make_scenario(organisations={"A": {"mandate": {"labour": 1}, "members": ["R"]}})
    assert MigovModel(sc, seed=0, collect_agents=False).io.member.all()


# --------------------------------------------------------------------------- venues that grow
def _venue_world(admission: str, un_only: bool = False, rivalry: float = 0.5, events: list | None = None,
                 un: tuple[str, ...] = (), founders: tuple[str, ...] = ("IO0", "IO1"), n: int = 5) -> object:
    """``n`` organisations, the founders of a venue that produces often; the others have low peer
    standing (so the venue is worth it to them) and mandates that fit its agenda."""
    orgs = {f"IO{i}": {"mandate": {ISSUES[0]: 1.0, ISSUES[i]: 0.5}, "legitimacy": 0.2, "offices": ["H1"],
                       "un_system": f"IO{i}" in un} for i in range(n)}
    return make_scenario(
        organisations=orgs, ngos={},
        venue={"members": list(founders), "admission": admission, "un_only": un_only, "rivalry": rivalry,
               "product_probability": 0.9, "chair_period": 1, "secretariat": True},
        events=events or [],
    )


def _venue_members(scenario, seed: int, steps: int = 12) -> list[str]:
    m = run(scenario, seed=seed, steps=steps, collect_agents=False)
    assert m.model_frame()["venue_members"].iloc[-1] == len(m.venue.members)
    return [m.io.names[i] for i in m.venue.members]


def test_a_closed_venue_never_admits_and_an_open_one_grows():
    for seed in range(3):
        assert _venue_members(_venue_world("closed"), seed) == ["IO0", "IO1"]
        grown = _venue_members(_venue_world("open"), seed)
        assert grown[:2] == ["IO0", "IO1"] and len(grown) == 5


def test_consensus_is_harder_than_majority_when_a_member_sees_rivals():
    """With rivalry 1, a member refuses an applicant in proportion to their mandate overlap:
    consensus (every member) admits fewer than majority (more than half of them)."""
    def grown(rule: str) -> int:
        world = _venue_world(rule, rivalry=1.0, founders=("IO0", "IO1", "IO2"), n=6)
        return sum(len(_venue_members(world, s, steps=4)) - 3 for s in range(8))
    consensus, majority = grown("consensus"), grown("majority")
    assert consensus < 0.75 * majority


def test_un_system_entry_makes_an_organisation_eligible_for_a_un_only_venue():
    entry = [{"type": "un_system_entry", "at": 4, "organisation": "IO2", "authority": 0.2}]
    for seed in range(3):
        assert _venue_members(_venue_world("open", un_only=True), seed) == ["IO0", "IO1"]
        members = _venue_members(_venue_world("open", un_only=True, events=entry, un=("IO3",)), seed)
        assert set(members) == {"IO0", "IO1", "IO2", "IO3"}  # IO4 stays outside the UN system
    m = run(_venue_world("open", un_only=True, events=entry), seed=0, steps=6, collect_agents=False)
    assert m.io.un_system.tolist() == [False, False, True, False, False]
    assert m.io.authority[2] == pytest.approx(0.2) and m.io.authority.sum() == pytest.approx(0.2)
    log = m.events_frame()
    assert (log["text"] == "IO2 joins the UN system").sum() == 1
    admitted = log[log["text"].str.contains("admits IO2")]
    assert len(admitted) == 1 and admitted["step"].iloc[0] >= 5  # not before its entry (step index 4)


def test_un_system_entry_names_a_known_organisation():
    with pytest.raises(ScenarioError, match="organisation"):
        _venue_world("open", events=[{"type": "un_system_entry", "at": 1, "organisation": "Nobody"}])


def test_regional_standing_is_the_share_of_a_hosts_regional_peers_that_are_members():
    """Counted per region (linear in hosts) it equals the pairwise definition: for each host, the
    members among the other hosts of its region over their number; 0 for a host alone."""
    rng = np.random.default_rng(3)
    labels = ["N", "S", "N", "E", "S", "N", "W"]  # W is alone in its region
    region = np.unique(np.array(labels, dtype=object), return_inverse=True)[1]
    member = rng.random((4, len(labels))) < 0.5
    got = membership.regional_standing(member, region)
    for i in range(member.shape[0]):
        for h, r in enumerate(labels):
            peers = [g for g, s in enumerate(labels) if s == r and g != h]
            want = sum(member[i, g] for g in peers) / max(len(peers), 1)
            assert got[i, h] == want
    assert (got[:, labels.index("W")] == 0).all()
