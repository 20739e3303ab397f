"""What a claim can measure: statistics over windows, per-agent selectors, windows placed by
dates and by named events, events set by path, and the errors for windows that cannot be right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from claim_entries import BASIS, SOURCE
from migov.experiments.claims.measure import (
    Measure,
    measure_runs,
    parse_selector,
    resolve_window,
    select_agents,
    statistic,
)
from migov.experiments.claims.registry import Claim, claim_context, run_claim
from migov.model import ScenarioError, load_scenario
from migov.model.agents import static_attributes

YEARS = 2000 + np.arange(8) / 4


def stat(summary: str, x, before: float = np.nan, **kw) -> float:
    window = {"after": "e"} if summary in ("time_to_recover", "persistence") else None
    m = Measure.model_validate({"name": "hhi", "summary": summary, "window": window, **kw})
    return statistic(np.asarray(x, dtype=float), YEARS[: len(x)], m, before)


def test_each_statistic_on_a_known_series():
    x = [1.0, 3.0, 2.0, 2.0, 5.0, 4.0, 4.0, 6.0]
    assert stat("final", x) == pytest.approx(np.mean(x))
    assert stat("mean", x) == pytest.approx(np.mean(x))
    assert stat("last", x) == 6.0
    assert stat("change", x) == 5.0
    assert stat("growth", x) == 6.0
    d = np.diff(x)
    assert stat("volatility", x) == pytest.approx(np.std(d, ddof=1) / np.mean(x))
    assert stat("volatility", [2.0] * 8) == 0.0
    assert stat("count_opened", x) == pytest.approx(2 + 3 + 2)  # +2, +3, +2
    assert stat("count_closed", x) == pytest.approx(1 + 1)  # -1, -1
    assert stat("time_to", x, crosses=4.5) == YEARS[4]
    assert stat("time_to", x, crosses=99.0) == YEARS[7] + 0.25  # never: one quarter past the window
    # a shock: the level before was 10, the series drops to 4 and climbs back
    shock = [4.0, 6.0, 8.0, 9.8, 10.0, 10.0]
    assert stat("time_to_recover", shock, before=10.0) == pytest.approx(YEARS[3] - (YEARS[0] - 0.25))
    assert stat("time_to_recover", [4.0, 5.0, 6.0], before=10.0) == pytest.approx(1.0)  # censored: 3 quarters + 1
    assert stat("time_to_recover", [10.1, 9.9], before=10.0) == 0.0  # never left the band
    assert stat("persistence", shock, before=10.0) == pytest.approx(0.0)
    assert stat("persistence", [4.0, 6.0, 7.0], before=10.0) == pytest.approx(0.5)  # half the drop remains
    assert np.isnan(stat("persistence", [10.0, 10.0], before=10.0))  # no departure: no share of it


def test_recovery_and_persistence_need_a_window_that_starts_at_a_shock():
    with pytest.raises(ValueError, match="starts at a shock"):
        Measure.model_validate({"name": "hhi", "summary": "persistence"})
    with pytest.raises(ValueError, match="crosses"):
        Measure.model_validate({"name": "hhi", "summary": "mean", "crosses": 1.0})
    with pytest.raises(ValueError, match="a window is one of"):
        Measure.model_validate({"name": "hhi", "window": {"after": "x", "from": 2000}})


def test_selectors_parse_and_select():
    sc = load_scenario("baseline")
    static = static_attributes(sc)
    one = parse_selector("organisations.IOM.income")
    assert (one.kind, one.names, one.variable) == ("organisation", ("IOM",), "income")
    every = parse_selector("hosts.*.refusals")
    hosts = select_agents(every, static, "t")
    assert hosts == list(sc.hosts)
    sahel = select_agents(parse_selector("hosts[region=Sahel].grants"), static, "t")
    assert sahel and set(sahel) == {n for n, h in sc.hosts.items() if h.region == "Sahel"}
    strict = select_agents(parse_selector("hosts[authoritarian>0.5].offices_hosted"), static, "t")
    assert set(strict) == {n for n, h in sc.hosts.items() if h.authoritarian > 0.5} and len(strict) < len(hosts)
    for bad, needle in [("organisations.IOM.nonsense", "report no 'nonsense'"), ("planets.*.income", "kinds"),
                        ("hosts[region~Sahel].grants", "filter")]:
        with pytest.raises(ValueError, match=needle):
            parse_selector(bad)
    with pytest.raises(ScenarioError, match="no organisation 'XYZ'"):
        select_agents(parse_selector("organisations.XYZ.income"), static, "t")


def test_measure_runs_takes_the_statistic_per_agent_then_aggregates():
    sc = load_scenario("baseline")
    static = static_attributes(sc)
    rows = []
    for run in (0, 1):
        for agent, scale in (("IOM", 1.0), ("UNHCR", 3.0)):
            for step in range(5):
                rows.append({"run_id": run, "step": step, "agent": agent, "type": "organisation",
                             "offices": scale * step + run})
    agents = pd.DataFrame(rows)
    m = Measure.model_validate({"name": "organisations[agent!=ILO].offices", "summary": "change",
                                "aggregate": "sum"})
    out = measure_runs(None, agents, m, (1, 4), static, (1995, 4), "t")
    # change from step 1 to 4: IOM 3, UNHCR 9, summed
    assert out.set_index("run_id")["value"].to_dict() == {0: 12.0, 1: 12.0}
    m = m.model_copy(update={"aggregate": "max"})
    assert measure_runs(None, agents, m, (1, 4), static, (1995, 4), "t")["value"].tolist() == [9.0, 9.0]


def test_windows_by_date_and_by_event_and_their_errors():
    sc = load_scenario("eutf_2015")
    events = {"eutf_2015": (sc.step_of("2015Q4"), 32)}
    at = events["eutf_2015"][0]

    def window(**w):
        return resolve_window(Measure.model_validate({"name": "hhi", "summary": "mean", "window": w}), sc, 120,
                              events, "t")

    assert window(**{"from": 2000, "to": 2005}) == (sc.step_of("2000") + 1, sc.step_of("2005"))
    assert window(after="eutf_2015", years=3) == (at + 1, at + 12)
    assert window(before="eutf_2015", years=2) == (at - 7, at)
    assert window(last=8) == (113, 120)
    with pytest.raises(ScenarioError, match=r"no event named 'nope'.*eutf_2015"):
        window(after="nope")
    with pytest.raises(ScenarioError, match="outside the run"):
        window(**{"from": 2030})


def test_a_window_that_misses_the_event_the_claim_is_about_is_an_error():
    entry = {"id": "miss", "claim": "c", "source": SOURCE, **BASIS, "about": "eutf_2015",
             "measure": {"name": "fund_share_incumbents", "summary": "mean", "window": {"from": 1996, "to": 2000}},
             "comparison": {"type": "threshold", "base": {"scenario": "eutf_2015"}, "threshold": 0.5},
             "expected": "positive", "fails_if": "f"}
    with pytest.raises(ScenarioError, match="miss the span of 'eutf_2015'"):
        claim_context(Claim.model_validate(entry))
    entry["measure"]["window"] = {"after": "eutf_2015", "years": 2}
    assert claim_context(Claim.model_validate(entry)).windows[0][0] == load_scenario("eutf_2015").step_of("2015Q4") + 1


def test_events_are_set_by_name_index_or_unique_type():
    sc = load_scenario("eutf_2015", overrides={"events.eutf_2015.amount": 5.0, "events.0.factor": 0.5})
    assert sc.events[3].amount == 5.0 and sc.events[0].factor == 0.5
    assert load_scenario("eutf_2015", overrides={"events.trust_fund.grants": 7}).events[3].grants == 7
    with pytest.raises(ScenarioError, match=r"events\.crisis: 2 events are of type 'crisis'"):
        load_scenario("eutf_2015", overrides={"events.crisis.magnitude": 1.0})
    with pytest.raises(ScenarioError, match="no such event"):
        load_scenario("eutf_2015", overrides={"events.nope.amount": 1.0})
    with pytest.raises(ScenarioError, match="unknown key"):
        load_scenario("eutf_2015", overrides={"events.eutf_2015.amunt": 1.0})


def test_event_names_must_be_unique(tmp_path: Path):
    from migov.model.config import validate_scenario

    data = load_scenario("eutf_2015").model_dump(by_alias=True)
    data["events"][1]["name"] = "eutf_2015"
    with pytest.raises(ScenarioError, match="names another event"):
        validate_scenario(data, "t")


def test_host_tallies_add_up():
    from migov.model import MigovModel

    m = MigovModel("baseline", seed=3, steps=8, collect_agents=True)
    for _ in range(8):
        m.step()
    a = m.agent_frame()
    hosts = a[a["type"] == "host"]
    per_step = hosts.groupby("step")[["refusals", "foreign_money", "offices_hosted"]].sum()
    frame = m.model_frame().set_index("step")
    assert np.allclose(per_step["refusals"], frame["host_refusals"])
    assert np.allclose(per_step["offices_hosted"], frame["countries_present"])
    assert (hosts["grants"] >= 0).all() and hosts["grants"].sum() > 0
    assert hosts["foreign_money"].sum() > 0
    share = frame["refusal_share"].dropna()
    assert ((share >= 0) & (share <= 1)).all()


def test_a_per_agent_claim_end_to_end(tmp_path: Path):
    entry = {"id": "iom_offices", "claim": "c", "source": SOURCE, **BASIS, "min_replicates": 3, "steps": 8,
             "measure": {"name": "organisations.IOM.offices", "summary": "change", "window": {"last": 6}},
             "comparison": {"type": "contrast", "a": {"set": {"parameters.office_cost": 0.5}},
                            "b": {"set": {"parameters.office_cost": 5.0}}},
             "expected": "negative", "fails_if": "f"}
    v = run_claim(Claim.model_validate(entry), tmp_path, replicates=3, workers=1, executor="serial", quiet=True)
    assert v.replicates == 3 and len(v.values) == 6 and np.isfinite(v.values["value"]).all()
    assert v.missing == {"A": 0, "B": 0}
