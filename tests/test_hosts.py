"""Hosts with agency: consent by what a host wants, its regime and sovereignty; agencies taken
one by one; unwelcome organisations expelled (#12 item 4)."""

from __future__ import annotations

import numpy as np
from migov.model.model import MigovModel
from migov.model.projects import consent_logit
from strategies import make_scenario

ORGS = {"Expert": {"mandate": {"labour": 1}, "offices": ["H1"], "knowledge": {"labour": 5.0}, "normative_anchor": 0.1},
        "Novice": {"mandate": {"labour": 1}, "offices": ["H1"], "knowledge": {"labour": 0.0}, "normative_anchor": 0.1},
        "Rights": {"mandate": {"labour": 1}, "offices": ["H1"], "knowledge": {"labour": 0.0}, "normative_anchor": 0.9}}


def _logits(host: dict, **parameters) -> dict[str, float]:
    sc = make_scenario(organisations=ORGS, hosts={"H1": {"region": "R", "pressure": {"labour": 1}, **host}},
                       parameters=parameters)
    m = MigovModel(sc, seed=0)
    k = m.issues.index("labour")
    x = consent_logit(m, np.arange(3), np.zeros(3, dtype=int), np.full(3, k), np.full(3, 5.0))
    return dict(zip(m.io.names, x.tolist(), strict=True))


def test_a_host_that_wants_expertise_prefers_the_knowledgeable_agency():
    keen = _logits({"wants": {"expertise": 1.0}})
    indifferent = _logits({"wants": {"expertise": 0.0}})
    assert keen["Expert"] - keen["Novice"] > 0.5
    assert abs(indifferent["Expert"] - indifferent["Novice"]) < 1e-12


def test_an_authoritarian_host_is_cooler_to_rights_bound_agencies():
    autocracy = _logits({"authoritarian": 1.0})
    democracy = _logits({"authoritarian": 0.0})
    assert autocracy["Rights"] < autocracy["Novice"]
    assert abs(democracy["Rights"] - democracy["Novice"]) < 1e-12


def test_hosts_take_agencies_one_by_one():
    """With rivalry on, a second agency for the same issue in the same host and step is refused
    more often than without."""
    def refusals(rivalry: float) -> float:
        out = []
        for seed in range(6):
            sc = make_scenario(
                organisations={n: {"mandate": {"labour": 1}, "offices": ["H1"]} for n in ("A", "B", "C")},
                donors={"D": {"envelope": 300, "earmarking": 1.0, "scale_preference": 0.0,
                              "priorities": {"labour": 1}}},
                parameters={"consent_rivalry": rivalry, "consent_base": 2.0, "scouting_bids": 0},
            )
            m = MigovModel(sc, seed=seed, collect_agents=False)
            for _ in range(10):
                m.step()
            out.append(m.model_frame()["host_refusals"].sum())
        return float(np.mean(out))
    assert refusals(3.0) > refusals(0.0) + 2


def test_unwelcome_organisations_are_expelled_by_authoritarian_hosts_only():
    def expelled(authoritarian: float) -> int:
        sc = make_scenario(
            organisations={"A": {"mandate": {"labour": 1}, "offices": ["H1"], "legitimacy": 0.0,
                                 "core_funds": 1e4}},
            hosts={"H1": {"region": "R", "pressure": {"labour": 1}, "authoritarian": authoritarian,
                          "sovereignty": 1.0}},
            parameters={"expulsion_rate": 0.5, "office_grace": 400},
        )
        m = MigovModel(sc, seed=3, collect_agents=False)
        for _ in range(12):
            m.step()
        return int((m.events_frame()["kind"] == "expulsion").sum())
    assert expelled(1.0) >= 1
    assert expelled(0.0) == 0
