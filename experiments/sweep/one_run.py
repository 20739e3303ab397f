"""One run of an experiment, turned into what a sweep stores: the final state (mean over the
final window), the series at the collection stride, and the agents' series if asked for.

Its source is part of an experiment's code hash: what it keeps decides a sweep's numbers and
columns, so a folder is never resumed by a version that writes other columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from migov.experiments.sweep.experiment import Collect
from migov.model import MigovModel, Scenario

if TYPE_CHECKING:
    from migov.experiments.sweep.loaded import LoadedExperiment

TIME = ("step", "year", "quarter")  # when each row is: kept in the series, never averaged into the final state


def run_once(loaded: LoadedExperiment, run_id: int, seed: int, params: dict, steps: int | None,
             collect: Collect) -> dict[str, pd.DataFrame]:
    """One run of the experiment: the scenario with this point's values, this seed."""
    return run_point(loaded.scenario_for(params), run_id, seed, steps, collect)


def run_point(sc: Scenario, run_id: int, seed: int, steps: int | None, collect: Collect) -> dict[str, pd.DataFrame]:
    """Run a scenario and keep what ``collect`` asks for: the final state (the mean over the last
    ``final_window`` steps, default a year), the series and the agents, each keyed by ``run_id``.
    Sweeps and ``migov.evaluate`` both call this, so their numbers for a point and seed agree."""
    m = MigovModel(sc, seed=seed, steps=steps or sc.simulation.steps, collect_agents=collect.agents)
    m.run_model()
    df = m.model_frame()
    if collect.measures:
        keep = [*TIME, *[c for c in collect.measures if c in df.columns]]
        df = df[keep]
    out: dict[str, pd.DataFrame] = {}
    window = collect.final_window or sc.simulation.steps_per_year
    if collect.final:
        final = df[df["step"] > df["step"].max() - window].drop(columns=list(TIME)).mean().to_frame().T
        final.insert(0, "run_id", run_id)
        out["final"] = final
    keep_rows = (df["step"] % collect.stride == 0) | (df["step"] == df["step"].max())
    if collect.series:
        series = df[keep_rows].copy()
        series.insert(0, "run_id", run_id)
        out["series"] = series
    agents = m.agent_frame() if collect.agents else None
    m.release()
    if agents is not None:
        agents = agents[(agents["step"] % collect.stride == 0) | (agents["step"] == agents["step"].max())].copy()
        agents.insert(0, "run_id", run_id)
        out["agents"] = agents
    return out
