"""The history scenario: a world built from data (#12 item 7)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml
from migov.model.config import load_scenario
from migov.model.model import MigovModel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "scenarios" / "data"


def _builder():
    spec = importlib.util.spec_from_file_location("build_history", DATA / "build_history.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_history_yaml_is_what_the_data_give():
    """The committed scenario is the build script's output from the data files: nobody edited
    the numbers by hand, and a change to the data shows up here until the file is rebuilt."""
    assert (ROOT / "scenarios" / "history.yaml").read_text(encoding="utf-8") == _builder().build()


def test_history_world_is_large_and_from_data():
    sc = load_scenario("history")
    assert len(sc.hosts) >= 50 and len(sc.donors) >= 10
    assert all(d.budget for d in sc.donors.values()), "every donor follows its aid budget"
    assert len({h.region for h in sc.hosts.values()}) >= 10
    assert sum(1 for n in sc.ngos if not n.startswith("Local NGOs")) >= 20  # transnational NGOs
    crises = [e for e in sc.events if e.type == "crisis"]
    assert len(crises) >= 25 and all(e.displaced is not None for e in crises)
    assert {e.type for e in sc.events} >= {"crisis", "trust_fund", "compact"}
    assert sc.simulation.start_year == 1995 and sc.simulation.steps == 124 and sc.simulation.spin_up > 0


def test_every_data_value_has_a_source():
    for name in ("hosts.yaml", "donors.yaml", "crises.yaml"):
        data = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        points = []

        def walk(node, points=points):
            if isinstance(node, dict):
                if "value" in node and "year" in node:
                    points.append(node)
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(data)
        if name == "crises.yaml":
            points = data["crises"] + data["institutional_events"]
        assert points, name
        assert all(p.get("source") for p in points), f"{name}: a value without a source"


def test_regime_and_capacity_come_from_the_indices():
    mod = _builder()
    hosts = yaml.safe_load((DATA / "hosts.yaml").read_text(encoding="utf-8"))["hosts"]
    sc = load_scenario("history")
    for name in ("Albania", "Syria", "Kosovo"):
        assert sc.hosts[name].authoritarian == pytest.approx(mod.authoritarian(hosts[name]))
        assert sc.hosts[name].capacity == pytest.approx(mod.capacity(hosts[name]))
    assert sc.hosts["Syria"].authoritarian > sc.hosts["Ghana"].authoritarian  # EIU: Syria far less democratic


def test_history_runs_and_envelopes_follow_oda():
    m = MigovModel("history", seed=2, steps=4, collect_agents=False)
    us = m.dn.names.index("United States")
    budget = {p.year: p.value for p in m.scenario.donors["United States"].budget}
    assert m.dn.envelope[us] == pytest.approx(budget[1995] * 1000 / 4 * 0.03)
    m.run_model()
    assert np.isfinite(m.model_frame()["funding_total"]).all()
    assert m.ledger_error() < 1e-9
