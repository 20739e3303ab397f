"""Run one scenario with one seed and return tidy frames: the seam every batch tool calls."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd
from migov.experiments.sweep.provenance import provenance as provenance_fields
from migov.model import MigovModel, Scenario


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
    """Everything one run produced (``migov.Results``). Frames are tidy: one row per step
    (``model``, wide), per step and organisation (``organisations``), per step and agent
    (``agents``), per agent (``agents_static``, what the scenario fixes), per event and per edge;
    ``scenario`` is the validated scenario the run used, overrides applied."""

    model: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    network: pd.DataFrame
    provenance: dict = field(default_factory=dict)
    scenario: Scenario | None = None
    organisations: pd.DataFrame = field(default_factory=pd.DataFrame)
    agents_static: pd.DataFrame = field(default_factory=pd.DataFrame)


def network_frame(m: MigovModel) -> pd.DataFrame:
    """The partnership network and offices now, as an edge list (with the host's region); an
    office edge's ``weight`` is its field locations in that country, other edges weigh 1."""
    io, hs, ng = m.io, m.hs, m.ng
    rows = []
    for i, j in zip(*np.nonzero(np.triu(io.partner_io, 1)), strict=True):
        rows.append((io.names[i], io.names[j], "global-global", "", 1))
    for i, h in zip(*np.nonzero(io.partner_host), strict=True):
        rows.append((io.names[i], hs.names[h], "global-local (government)", hs.region[h], 1))
    for i, n in zip(*np.nonzero(io.partner_ngo), strict=True):
        rows.append((io.names[i], ng.names[n], "global-local (NGO)", hs.region[ng.host[n]], 1))
    for i, h in zip(*np.nonzero(io.office), strict=True):
        rows.append((io.names[i], hs.names[h], "office", hs.region[h], int(io.locations[i, h])))
    return pd.DataFrame(rows, columns=["source", "target", "kind", "region", "weight"])


def result_of(m: MigovModel, scenario_name: str = "", wall_time: float = 0.0) -> RunResult:
    """A model's frames and provenance as they stand (for a finished run or a live dashboard)."""
    sc = m.scenario
    model_df = m.model_frame()
    agents_df = m.agent_frame() if m.datacollector.agent_reporters else pd.DataFrame()
    provenance = {
        **provenance_fields(sc.content_hash(), int(m._seed) if m._seed is not None else None),
        "scenario": scenario_name or sc.title,
        "scenario_title": sc.title,
        "steps": int(m.steps),
        "start_year": sc.simulation.start_year,
        "steps_per_year": sc.simulation.steps_per_year,
        "versions": package_versions(),
        "wall_time_s": round(wall_time, 4),
        "max_ledger_error": float(model_df["ledger_error"].max()),
    }
    return RunResult(model=model_df, agents=agents_df, events=m.events_frame(), network=network_frame(m),
                     provenance=provenance, scenario=sc, organisations=m.organisation_frame(),
                     agents_static=m.static_frame())


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
    start = time.perf_counter()
    m = MigovModel(scenario, seed=seed, steps=steps, collect_agents=collect_agents)
    while m.running:
        m.step()
        if on_step is not None:
            on_step(m.steps)
    result = result_of(m, scenario_name, time.perf_counter() - start)
    result.provenance["seed"] = int(seed)
    m.release()
    return result
