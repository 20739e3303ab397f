"""migov: an agent-based model of how international organisations compete and cooperate to govern
migration.

The package has two rooms: :mod:`migov.model` (the Mesa model: agents, the step, measures, the
scenario schema) and :mod:`migov.experiments` (running, sweeps, analysis, claims, the dashboard and
the command line). The names below are the public API; see docs/api.md.
"""

from migov.experiments import __version__
from migov.model import MigovModel, Scenario, ScenarioError, load_scenario

__all__ = ["MigovModel", "Scenario", "ScenarioError", "__version__", "load_scenario"]
