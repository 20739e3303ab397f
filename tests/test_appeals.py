"""Crises, appeals and donors' emergency money; donor envelopes from aid budgets (#12 item 1)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from migov.model.config import ScenarioError, validate_scenario
from migov.model.model import MigovModel
from strategies import make_scenario, minimal

HOSTS = {"H1": {"region": "North", "pressure": {"displacement": 1, "labour": 1}},
         "H2": {"region": "South", "pressure": {"displacement": 1, "labour": 1}}}
ORGS = {"Refugees": {"mandate": {"displacement": 1.0}, "offices": ["H1", "H2"], "core_funds": 50},
        "Labour": {"mandate": {"labour": 1.0}, "offices": ["H1", "H2"], "core_funds": 50},
        "Absent": {"mandate": {"displacement": 1.0}, "offices": [], "core_funds": 0}}
QUIET = {"pressure_noise": 0.0, "consent_base": 10.0, "partnership_lapse": 0.0, "scouting_bids": 0,
         "office_reserve": 400}  # no office opens: who is present stays fixed


def _world(crisis_region: str | None = "North", donors: dict | None = None, **parameters) -> MigovModel:
    events = [] if crisis_region is None else [
        {"type": "crisis", "at": 2, "region": crisis_region, "issue": "displacement", "magnitude": 2.0}]
    sc = make_scenario(
        organisations=ORGS, hosts=HOSTS, ngos={}, events=events,
        donors=donors or {"D": {"envelope": 100, "priorities": {"displacement": 1, "labour": 1}}},
        parameters={**QUIET, **parameters},
    )
    return MigovModel(sc, seed=5, collect_agents=False)


def _run(m: MigovModel, steps: int) -> MigovModel:
    for _ in range(steps):
        m.step()
    return m


def test_no_crisis_no_appeal_and_no_emergency_money():
    m = _run(_world(None), 8)
    assert m.model_frame()["appeals"].sum() == 0
    assert m.model_frame()["emergency_funding"].sum() == 0
    assert not (m.events_frame()["kind"] == "appeal").any()


def test_present_mandated_organisations_appeal_where_the_crisis_hits():
    m = _run(_world("North"), 4)
    text = m.events_frame().query("kind == 'appeal'")["text"].tolist()
    assert text == ["Refugees appeals for displacement in H1"]  # logged once, when it starts
    i = m.io.names.index("Refugees")
    assert m.appealing[i, 0].any() and not m.appealing[i, 1].any()  # not where the crisis is not
    assert not m.appealing[m.io.names.index("Labour")].any()  # not mandated
    assert not m.appealing[m.io.names.index("Absent")].any()  # not present
    assert m.model_frame()["emergency_funding"].iloc[3:].sum() > 0


def test_emergency_money_goes_to_appeals_only(monkeypatch):
    from migov.model import projects

    granted = []
    disburse = projects.disburse

    def spy(model, grants):
        emergency = np.array([model.calls[c].appeals_only for c in grants.call], dtype=bool)
        granted.extend(zip(grants.bidder[emergency].tolist(), grants.host[emergency].tolist(),
                           grants.issue[emergency].tolist(), strict=True))
        disburse(model, grants)

    monkeypatch.setattr(projects, "disburse", spy)
    m = _run(_world("North"), 6)
    k = m.issues.index("displacement")
    assert granted and set(granted) == {(m.io.names.index("Refugees"), 0, k)}
    assert m.ledger_error() < 1e-9


def test_donors_answer_crises_in_regions_they_care_about_more():
    donors = {"Near": {"envelope": 100, "priorities": {"displacement": 1, "labour": 1},
                       "strategic_regions": {"North": 3.0}},
              "Far": {"envelope": 100, "priorities": {"displacement": 1, "labour": 1},
                      "strategic_regions": {"South": 3.0}}}
    m = _run(_world("North", donors=donors), 4)
    near, far = m.emergency
    assert near > far > 0


def test_switching_crisis_response_off_stops_appeals_but_not_the_crisis():
    m = _world("North")
    m.scenario.mechanisms.crisis_response = False
    _run(m, 6)
    assert m.model_frame()["appeals"].sum() == 0 and m.emergency.sum() == 0
    assert m.hs.pressure[0, m.issues.index("displacement")] > 1.5  # the pressure still jumped


def test_a_crisis_given_in_people_spreads_its_jump_over_the_hosts_hit():
    ev = {"type": "crisis", "at": 0, "region": "North", "issue": "displacement", "displaced": 3.0}
    hosts = {"H1": {"region": "North", "pressure": {"displacement": 1}},
             "H2": {"region": "North", "pressure": {"displacement": 1}},
             "H3": {"region": "South", "pressure": {"displacement": 1}}}
    sc = make_scenario(hosts=hosts, ngos={}, events=[ev],
                       organisations={"A": {"mandate": {"displacement": 1}, "offices": ["H1"]}},
                       parameters={"pressure_noise": 0.0, "pressure_reversion": 0.0, "pressure_per_displaced": 0.5})
    m = _run(MigovModel(sc, seed=1, collect_agents=False), 1)
    k = m.issues.index("displacement")
    np.testing.assert_allclose(m.hs.pressure[:, k], [1.0 + 0.5 * 3.0 / 2, 1.0 + 0.5 * 3.0 / 2, 1.0])
    with pytest.raises(ScenarioError, match="either magnitude"):
        make_scenario(events=[{**ev, "region": "R", "magnitude": 1.0}])


def test_envelopes_follow_the_aid_budget_from_data():
    budget = [{"year": 1995, "value": 2.0}, {"year": 2005, "value": 4.0}]
    sc = make_scenario(donors={"D": {"budget": budget, "field_share": 0.1, "priorities": {"labour": 1}}})
    m = MigovModel(sc, seed=1, collect_agents=False)
    per_step = lambda bn: bn * 1000 / 4 * 0.1  # noqa: E731  USD bn a year -> millions a quarter
    assert m.dn.envelope[0] == pytest.approx(per_step(2.0))
    for _ in range(21):  # 1995 + 20 quarters = 2000: halfway
        m.step()
    assert m.dn.envelope[0] == pytest.approx(per_step(3.0))
    for _ in range(60):  # beyond the last year the budget is held
        m.step()
    assert m.dn.envelope[0] == pytest.approx(per_step(4.0))


def test_a_budget_with_an_envelope_or_unordered_years_is_refused():
    data = minimal()
    data["donors"]["D"]["budget"] = [{"year": 2000, "value": 1.0}]
    with pytest.raises(ScenarioError, match=r"donors\.D\.envelope: not used when a budget is given"):
        validate_scenario(data, "test")
    data["donors"]["D"].pop("envelope")
    data["donors"]["D"]["budget"] = [{"year": 2000, "value": 1.0}, {"year": 1999, "value": 1.0}]
    with pytest.raises(ScenarioError, match="increasing order"):
        validate_scenario(data, "test")


def test_noise_in_pressure_is_not_a_crisis():
    """However much the pressure walk wanders above its baseline, only what crises add raises
    appeals."""
    m = _run(_world(None, pressure_noise=0.5), 12)
    assert (m.hs.pressure - m.hs.pressure0).max() > 0.5  # the walk went well above the baseline
    assert m.model_frame()["appeals"].sum() == 0 and m.model_frame()["emergency_funding"].sum() == 0


def test_the_need_a_crisis_leaves_fades_as_pressure_reverts():
    m = _run(_world("North", pressure_reversion=0.1), 3)  # the crisis is at step index 2, the third step
    k = m.issues.index("displacement")
    first = m.hs.crisis[0, k]
    assert first == pytest.approx(2.0)  # the jump: pressure moves before events, so not yet faded
    _run(m, 5)
    assert m.hs.crisis[0, k] == pytest.approx(first * 0.9 ** 5)
    assert m.hs.crisis[1, k] == 0.0  # the host not hit


def test_spending_alignment_gives_ties_their_average_rank():
    from migov.model.measures import _rank_corr
    from scipy.stats import spearmanr

    spent = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 2.0])
    need = np.array([3.0, 1.0, 2.0, 6.0, 4.0, 5.0])
    assert _rank_corr(spent, need) == pytest.approx(spearmanr(spent, need).statistic)
    assert _rank_corr(spent, need[::-1]) == pytest.approx(spearmanr(spent, need[::-1]).statistic)


@given(st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5, -1.0]) | st.floats(-1e6, 1e6), min_size=1, max_size=40))
def test_average_ranks_equal_scipys_rankdata(values):
    from migov.model.measures import average_ranks
    from scipy.stats import rankdata

    x = np.array(values)
    assert np.array_equal(average_ranks(x), rankdata(x))  # exactly: every rank is a whole or half number
    rows = np.vstack([x, x[::-1], np.roll(x, 1)])  # each row ranked on its own, as rankdata(axis=1)
    assert np.array_equal(average_ranks(rows), rankdata(rows, axis=1))
