"""MigovModel follows Mesa's conventions (issue 11): built by name with keyword overrides, stops at
its horizon so ``run_model`` and ``batch_run`` end, hands agent variables to Mesa's DataCollector,
and labels every step by the quarter it simulates, as the event log does."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest
from migov.experiments.sweep.runner import run_scenario
from migov.model import MigovModel, ScenarioError, load_scenario, validate_scenario
from migov.model.config import Parameters
from migov.model.model import AGENT_CLASSES, AGENT_REPORTERS, ARGUMENTS
from pandas.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]


def frames(m: MigovModel) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return m.model_frame(), m.agent_frame(), m.events_frame()


def assert_same_run(a: MigovModel, b: MigovModel) -> None:
    for fa, fb in zip(frames(a), frames(b), strict=True):
        assert_frame_equal(fa, fb, check_exact=True)


def run_to_horizon(m: MigovModel, limit: int = 200) -> MigovModel:
    """``m.run_model()``, failing instead of hanging if ``running`` never turns False."""
    step = m.step

    def guarded() -> None:
        if m.steps >= limit:
            raise AssertionError(f"run_model() still running after {limit} steps")
        step()

    m.step = guarded
    m.run_model()
    return m


def stepped(scenario, seed: int, n: int, **kwargs) -> MigovModel:
    m = MigovModel(scenario, seed=seed, **kwargs)
    for _ in range(n):
        m.step()
    return m


# ------------------------------------------------------------------ building a model by name
def test_no_arguments_build_the_baseline(baseline):
    m = MigovModel()
    assert m.scenario.content_hash() == baseline.content_hash()
    assert m.horizon == baseline.simulation.steps == 120
    assert m.running


def test_scenario_by_name_path_or_object_is_the_same_model():
    by_object = load_scenario(ROOT / "scenarios" / "central_asia.yaml")
    for given in ("central_asia", ROOT / "scenarios" / "central_asia.yaml", by_object):
        m = MigovModel(scenario=given, seed=3, steps=2)
        assert m.scenario.content_hash() == by_object.content_hash()
        assert m.scenario.title == by_object.title != load_scenario("baseline").title


def test_object_stepped_equals_name_run_to_its_horizon(baseline):
    """The old way (a loaded Scenario, stepped by hand) and Mesa's (by name, run_model) agree
    bit for bit, and so does the runner that the CLI uses."""
    for seed, n in ((0, 6), (17, 9)):
        by_hand = stepped(baseline, seed, n)
        by_name = MigovModel(scenario="baseline", seed=seed, steps=n)
        run_to_horizon(by_name)
        assert by_name.steps == n
        assert_same_run(by_hand, by_name)
        runner = run_scenario(baseline, seed, steps=n)
        assert_frame_equal(runner.model, by_hand.model_frame(), check_exact=True)
        assert_frame_equal(runner.agents, by_hand.agent_frame(), check_exact=True)


def test_keyword_sets_a_field_of_parameters_and_leaves_the_given_scenario_alone(baseline):
    before = baseline.content_hash()
    m = MigovModel(baseline, seed=1, uncertainty=0.8, grants_max=np.int64(5))
    assert (m.p.uncertainty, m.p.grants_max) == (0.8, 5)
    assert baseline.content_hash() == before and baseline.parameters.uncertainty == 0.3
    assert MigovModel(uncertainty=0.8, grants_max=5).scenario.content_hash() == m.scenario.content_hash() != before
    # the same scenario as --set gives
    same = load_scenario("baseline", overrides=["parameters.uncertainty=0.8", "parameters.grants_max=5"])
    assert m.scenario.content_hash() == same.content_hash()


def test_overrides_take_dotted_paths_like_set(baseline):
    m = MigovModel(overrides={"donors.EU.scale_preference": 0.9, "donors.*.trend": 0.0})
    assert m.scenario.donors["EU"].scale_preference == 0.9
    assert {d.trend for d in m.scenario.donors.values()} == {0.0}
    same = load_scenario("baseline", overrides=["donors.EU.scale_preference=0.9", "donors.*.trend=0.0"])
    assert m.scenario.content_hash() == same.content_hash()
    on_object = MigovModel(baseline, overrides={"donors.EU.scale_preference": 0.9, "donors.*.trend": 0.0})
    assert on_object.scenario.content_hash() == same.content_hash()


def one_line_error(call) -> str:
    with pytest.raises(ScenarioError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text
    return text


def test_unknown_keyword_is_refused_naming_it_and_what_is_accepted():
    text = one_line_error(lambda: MigovModel(uncertanty=0.8))
    assert "uncertanty" in text and "unknown keyword" in text and "did you mean 'uncertainty'" in text
    for accepted in (*ARGUMENTS, "funding_scale", "overrides={"):
        assert accepted in text
    text = one_line_error(lambda: MigovModel(start_year=2000))
    assert "start_year" in text and "simulation.start_year" in text


@pytest.mark.parametrize("kwargs, words", [
    ({"overrides": {"donors.EU.scale_pref": 0.9}}, ["overrides", "donors.EU.scale_pref", "unknown key"]),
    ({"overrides": {"donors.Nobody.trend": 0.1}}, ["donors.Nobody", "unknown name"]),
    ({"uncertainty": 1.5}, ["with override parameters.uncertainty", "less than or equal to 1", "1.5"]),
    ({"overrides": {"donors.EU.scale_preference": "much"}}, ["with override donors.EU.scale_preference", "much"]),
    ({"uncertainty": 0.2, "overrides": {"parameters.uncertainty": 0.3}}, ["uncertainty", "given twice"]),
    ({"overrides": ["parameters.uncertainty=0.8"]}, ["overrides", "expected a mapping"]),
    ({"steps": -1}, ["steps", ">= 0", "-1"]),
    ({"steps": 2.5}, ["steps", "2.5"]),
    ({"scenario": "no_such_scenario"}, ["no_such_scenario", "known scenarios", "baseline"]),
    ({"scenario": 42}, ["scenario", "int"]),
])
def test_bad_names_and_values_are_one_line_errors(kwargs, words):
    text = one_line_error(lambda: MigovModel(**kwargs))
    for word in words:
        assert word in text, (word, text)


def test_bad_value_on_a_scenario_object_is_blamed_on_the_override(baseline):
    text = one_line_error(lambda: MigovModel(baseline, funding_scale=-1.0))
    assert f"scenario '{baseline.title}' with override parameters.funding_scale" in text


def test_no_parameter_is_named_like_an_argument():
    """A parameter named like one of the constructor's arguments could not be set by keyword."""
    signature = set(inspect.signature(MigovModel.__init__).parameters) - {"self", "parameters"}
    assert signature == set(ARGUMENTS)
    assert not set(ARGUMENTS) & set(Parameters.model_fields)


def test_seed_or_rng_as_mesa_takes_them(baseline):
    assert_same_run(stepped(baseline, 5, 3), stepped(baseline, None, 3, rng=5))
    with pytest.raises(AssertionError):
        assert_same_run(stepped(baseline, 5, 3), stepped(baseline, 6, 3))
    with pytest.raises(ValueError, match="either rng or seed"):
        MigovModel(seed=1, rng=1)


# ------------------------------------------------------------------ the horizon
def test_run_model_ends_at_the_horizon():
    m = MigovModel(seed=2, steps=5)
    run_to_horizon(m)
    assert (m.steps, m.running) == (5, False)
    assert list(m.model_frame()["step"]) == [0, 1, 2, 3, 4, 5]


def test_the_default_horizon_is_the_scenarios():
    m = MigovModel(seed=2, overrides={"simulation.steps": 3})
    assert m.horizon == 3
    run_to_horizon(m)
    assert m.steps == 3 and not m.running


def test_step_still_runs_past_the_horizon_and_steps_zero_never_runs():
    m = MigovModel(seed=2, steps=1)
    run_to_horizon(m)
    m.step()
    assert (m.steps, m.running) == (2, False)
    still = MigovModel(seed=2, steps=0)
    assert not still.running
    run_to_horizon(still)
    assert still.steps == 0


def test_batch_run_with_migov_parameter_names():
    rows = mesa.batch_run(MigovModel, parameters={"uncertainty": [0.2, 0.8], "seed": 4, "collect_agents": False},
                          iterations=2, max_steps=8, number_processes=1, display_progress=False)
    assert len(rows) == 4
    assert Counter((r["uncertainty"], r["iteration"]) for r in rows) == {
        (0.2, 0): 1, (0.8, 0): 1, (0.2, 1): 1, (0.8, 1): 1}
    assert {r["Step"] for r in rows} == {8} and {r["quarter"] for r in rows} == {"1996Q4"}
    # each row holds the state after 8 steps of the run with its parameters
    for u in (0.2, 0.8):
        direct = MigovModel(seed=4, steps=8, uncertainty=u, collect_agents=False)
        run_to_horizon(direct)
        final = direct.model_frame().iloc[-1]
        for r in (r for r in rows if r["uncertainty"] == u):
            assert r["hhi"] == final["hhi"] and r["funding_total"] == final["funding_total"]
    assert rows[0]["hhi"] != next(r for r in rows if r["uncertainty"] == 0.8)["hhi"]


def test_batch_run_stops_at_the_horizon_and_gives_agent_rows():
    rows = mesa.batch_run(MigovModel, parameters={"steps": 3, "uncertainty": [0.2, 0.8]}, iterations=1,
                          max_steps=50, number_processes=1, display_progress=False)
    n_agents = len(MigovModel(steps=0).agents)
    assert len(rows) == 2 * n_agents
    # Mesa 3.3's batch_run reports step model.steps - 1 (mesa#2514, fixed after 3.3): the runs
    # stopped after 3 steps, not at max_steps
    assert {r["Step"] for r in rows} == {2}
    per_run = Counter(r["RunId"] for r in rows)
    assert sorted(per_run.values()) == [n_agents, n_agents]
    assert {r["type"] for r in rows} == {"organisation", "donor", "host", "ngo"}


# ------------------------------------------------------------------ agents in Mesa's DataCollector
def test_agent_vars_dataframe_has_every_agent_at_every_step(baseline):
    n = 4
    m = stepped(baseline, 3, n)
    df = m.datacollector.get_agent_vars_dataframe()
    assert df.index.names == ["Step", "AgentID"] and df.index.is_unique
    assert len(df) == (n + 1) * len(m.agents)
    assert set(df.index.get_level_values("Step")) == set(range(n + 1))
    # each agent fills exactly its own kind's variables
    for cls in AGENT_CLASSES:
        rows = df[df["type"] == cls.kind]
        assert len(rows) == (n + 1) * len(m.agents_by_type[cls])
        filled = {c for c in df.columns if rows[c].notna().all()}
        empty = {c for c in df.columns if rows[c].isna().all()}
        assert filled == {"agent", "type", *cls.reported}
        assert filled | empty == set(df.columns)


def test_agent_vars_are_the_state_and_the_same_as_agent_frame(baseline):
    m = stepped(baseline, 8, 3)
    last = m.datacollector.get_agent_vars_dataframe().xs(3, level="Step").set_index("agent")
    io = m.io
    for i, name in enumerate(io.names):
        assert last.loc[name, "budget"] == io.core[i] + io.earmarked[i]
        assert last.loc[name, "offices"] == io.locations[i].sum()
        assert last.loc[name, "countries"] == io.office[i].sum()
        assert last.loc[name, "p_contest_rival"] == m.probs[i, -1]
    for h, name in enumerate(m.hs.names):
        assert last.loc[name, "pressure"] == m.hs.pressure[h].sum()
    long = m.agent_frame()
    assert list(long.columns[:3]) == ["step", "agent", "type"]
    mesa_long = m.datacollector.get_agent_vars_dataframe().reset_index()
    keyed = long.set_index(["step", "agent"]).sort_index()
    mesa_keyed = mesa_long.rename(columns={"Step": "step"}).set_index(["step", "agent"]).sort_index()
    assert_frame_equal(keyed, mesa_keyed[keyed.columns], check_exact=True)
    # rows by type, then step, as agents.parquet has always had them
    assert list(dict.fromkeys(long["type"])) == ["organisation", "donor", "host", "ngo"]


def _without_ngos():
    data = load_scenario("baseline").model_dump(mode="json")
    data["ngos"] = {}
    return validate_scenario(data, "baseline without NGOs")


def _plain_collector(m: MigovModel) -> mesa.DataCollector:
    return mesa.DataCollector(model_reporters={"quarter": lambda x: x.step_label(x.steps),
                                               **{k: (lambda x, k=k: x.measures[k]) for k in m.measures}},
                              agent_reporters=AGENT_REPORTERS)


def _assert_same_collection(m: MigovModel, plain: mesa.DataCollector) -> None:
    assert_frame_equal(m.datacollector.get_model_vars_dataframe(), plain.get_model_vars_dataframe(), check_exact=True)
    assert_frame_equal(m.datacollector.get_agent_vars_dataframe(), plain.get_agent_vars_dataframe(), check_exact=True)
    bulk, own = m.datacollector._agent_records, plain._agent_records
    assert list(bulk) == list(own)
    for step in own:  # the same tuples, value and type, at every step
        assert bulk[step] == own[step]
        assert [tuple(map(type, r)) for r in bulk[step]] == [tuple(map(type, r)) for r in own[step]]


@pytest.mark.parametrize("scenario", ["baseline", "history", "no NGOs"])
def test_bulk_collection_equals_mesas_own_datacollector(scenario):
    """The model fills Mesa's DataCollector in bulk (model/collect.py); a plain mesa.DataCollector
    with the same reporters, reading each agent's properties one by one, gives the same tables,
    values and types, step by step, so the bulk reports cannot drift from the properties."""
    m = MigovModel(_without_ngos() if scenario == "no NGOs" else scenario, seed=4, steps=6)
    plain = _plain_collector(m)
    plain.collect(m)
    while m.running:
        m.step()
        plain.collect(m)
    _assert_same_collection(m, plain)


def test_bulk_collection_follows_agents_that_leave_or_join_as_mesa_does():
    """An agent removed mid-run keeps its earlier rows; one that joins (here of a kind with no bulk
    reports of its own, read one by one) appears from then on; a step collected twice keeps the
    last collection, as Mesa's DataCollector does."""
    from migov.model.agents import NGO

    class VisitingNGO(NGO):
        pass

    m = MigovModel("baseline", seed=4, steps=6)
    plain = _plain_collector(m)
    plain.collect(m)
    m.step()
    plain.collect(m)
    m.ngos[0].remove()
    VisitingNGO(m, 1, "Visiting NGO")
    m.step()
    plain.collect(m)
    m.datacollector.collect(m)
    plain.collect(m)
    m.step()
    plain.collect(m)
    _assert_same_collection(m, plain)
    rows = m.datacollector.get_agent_vars_dataframe().reset_index()
    assert (rows["agent"] == "Visiting NGO").sum() == 2 and rows["Step"].max() == 3


def test_without_agent_collection_there_are_no_agent_reporters(baseline):
    m = stepped(baseline, 3, 2, collect_agents=False)
    assert m.datacollector.agent_reporters == {}
    assert m.agent_frame().empty


def test_a_kind_without_agents_leaves_its_columns_out(baseline):
    data = baseline.model_dump()
    data["ngos"] = {}
    for donor in data["donors"].values():
        donor["familiarity"] = {k: v for k, v in donor["familiarity"].items() if k in data["organisations"]}
    m = stepped(validate_scenario(data, "no NGOs"), 1, 2)
    af = m.agent_frame()
    assert set(af["type"]) == {"organisation", "donor", "host"}
    assert not {"funds", "income_direct", "income_subcontract"} & set(af.columns)
    assert af.drop(columns=["step", "agent", "type"]).dtypes.eq("float64").all()


# ------------------------------------------------------------------ labels
@pytest.mark.parametrize("steps_per_year, first", [(4, "1995Q1"), (1, "1995"), (12, "1995.01")])
def test_every_event_carries_the_label_of_its_step_in_the_model_table(steps_per_year, first):
    m = MigovModel(seed=4, steps=10, overrides={"simulation.steps_per_year": steps_per_year})
    run_to_horizon(m)
    table = m.model_frame()
    assert list(table.columns[:3]) == ["step", "year", "quarter"]
    assert table["quarter"].is_unique
    assert table.loc[table["step"] == 1, "quarter"].item() == first
    events = m.events_frame()
    assert len(events) > 50 and set(events["step"]) == set(range(1, 11))
    joined = events.merge(table[["step", "quarter"]], on="step", how="left", validate="many_to_one")
    assert (joined["date"] == joined["quarter"]).all()


def test_quarters_run_in_order_from_the_one_before_the_start():
    m = MigovModel(seed=1, steps=5)
    run_to_horizon(m)
    table = m.model_frame()
    assert list(table["quarter"]) == ["1994Q4", "1995Q1", "1995Q2", "1995Q3", "1995Q4", "1996Q1"]
    assert list(table["year"]) == [1995.0, 1995.25, 1995.5, 1995.75, 1996.0, 1996.25]
    assert list(m.datacollector.get_model_vars_dataframe()["quarter"]) == list(table["quarter"])
