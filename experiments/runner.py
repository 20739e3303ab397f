"""Run one scenario with one seed and return tidy frames: the seam every batch tool calls."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd

from model import MigovModel, Scenario


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("migov", "mesa", "numpy", "pandas", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@dataclass
class RunResult:
    """Everything one run produced. Frames are tidy: one row per step (and agent)."""

    model: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    network: pd.DataFrame
    provenance: dict = field(default_factory=dict)


def network_frame(m: MigovModel) -> pd.DataFrame:
    """The partnership network at the end of the run as an edge list."""
    io, hs, ng = m.io, m.hs, m.ng
    rows = []
    for i, j in zip(*np.nonzero(np.triu(io.partner_io, 1)), strict=True):
        rows.append((io.names[i], io.names[j], "global-global"))
    for i, h in zip(*np.nonzero(io.partner_host), strict=True):
        rows.append((io.names[i], hs.names[h], "global-local (government)"))
    for i, n in zip(*np.nonzero(io.partner_ngo), strict=True):
        rows.append((io.names[i], ng.names[n], "global-local (NGO)"))
    offices = [(io.names[i], hs.names[h], "office") for i, h in zip(*np.nonzero(io.office), strict=True)]
    return pd.DataFrame(rows + offices, columns=["source", "target", "kind"])


def run_scenario(
    scenario: Scenario,
    seed: int,
    steps: int | None = None,
    collect_agents: bool = True,
    on_step: Callable[[int], None] | None = None,
    scenario_name: str = "",
) -> RunResult:
    """Run ``scenario`` for ``steps`` (default: the scenario's own) with ``seed``.

    ``on_step`` is called after every step with the step number (for progress bars).
    """
    n = scenario.simulation.steps if steps is None else steps
    start = time.perf_counter()
    m = MigovModel(scenario, seed=seed, collect_agents=collect_agents)
    for _ in range(n):
        m.step()
        if on_step is not None:
            on_step(m.steps)
    wall = time.perf_counter() - start
    model_df = m.model_frame()
    agents_df = m.agent_frame() if collect_agents else pd.DataFrame()
    events_df, net_df = m.events_frame(), network_frame(m)
    m.release()
    provenance = {
        "scenario": scenario_name or scenario.title,
        "scenario_title": scenario.title,
        "scenario_hash": scenario.content_hash(),
        "seed": int(seed),
        "steps": int(n),
        "start_year": scenario.simulation.start_year,
        "steps_per_year": scenario.simulation.steps_per_year,
        "versions": package_versions(),
        "wall_time_s": round(wall, 4),
        "max_ledger_error": float(model_df["ledger_error"].max()),
    }
    return RunResult(model=model_df, agents=agents_df, events=events_df, network=net_df, provenance=provenance)
