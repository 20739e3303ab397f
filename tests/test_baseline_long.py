"""The full baseline horizon over several seeds. Marked slow: CI runs it with two seeds; set
MIGOV_SLOW_EXAMPLES=N to run N seeds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from migov.experiments.sweep.runner import run_scenario
from migov.model import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SEEDS = range(int(os.environ.get("MIGOV_SLOW_EXAMPLES", "2")))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_full_baseline_keeps_its_books_and_bounds(seed: int):
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    r = run_scenario(scenario, seed=seed)
    m, a = r.model, r.agents
    assert len(m) == scenario.simulation.steps + 1
    assert m["ledger_error"].max() <= 1e-9
    for col in ("legitimacy_donors", "legitimacy_hosts", "legitimacy_peers", "niche_overlap", "earmarked_share"):
        values = m[col].dropna()
        assert values.between(0.0, 1.0).all(), col
    io = a[a["type"] == "organisation"]
    assert (io[["core_funds", "earmarked_funds", "budget"]] >= 0).all().all()
    probs = io[[c for c in io.columns if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # money disbursed follows the donors' envelopes, which grow in the baseline
    early = m.loc[1:8, "funding_total"].mean()
    late = m["funding_total"].iloc[-8:].mean()
    assert late > early
    # the event log carries what the scenario schedules
    assert {"crisis", "funding_shock"} <= set(r.events["kind"])
