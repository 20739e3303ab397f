"""migov's model: the Mesa agents, the step, the measures and the scenario schema.

Nothing here writes files; ``experiments`` runs the model and stores results.
"""

from .agents import NGO, DonorState, HostGovernment, InternationalOrganisation
from .config import ACTIONS, Scenario, ScenarioError, load_scenario, validate_scenario
from .model import MigovModel

__all__ = [
    "ACTIONS",
    "NGO",
    "DonorState",
    "HostGovernment",
    "InternationalOrganisation",
    "MigovModel",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "validate_scenario",
]
