"""migov: an agent-based model of how international organisations compete and cooperate to govern
migration.

The package has two rooms: :mod:`migov.model` (the Mesa model: agents, the step, measures, the
scenario schema) and :mod:`migov.experiments` (running, sweeps, analysis, claims, the dashboard and
the command line). The names below are the public API; see docs/api.md.

``run``, ``evaluate``, ``load_results`` and ``Results`` live in :mod:`migov.experiments.api` and
are imported on first use, so that ``import migov.model`` (which imports this package first) does
not pull in the sweep engine.
"""

from migov.experiments import __version__
from migov.model import MigovModel, Scenario, ScenarioError, load_scenario

_API = ("Results", "evaluate", "load_results", "run")

__all__ = ["MigovModel", "Results", "Scenario", "ScenarioError", "__version__", "evaluate", "load_results",
           "load_scenario", "run"]


def __getattr__(name: str):
    if name in _API:
        from migov.experiments import api

        return getattr(api, name)
    raise AttributeError(f"module 'migov' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
