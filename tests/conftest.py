"""Shared fixtures and Hypothesis profiles for the model tests.

Profiles: ``default`` (25 examples, used locally and in CI) and ``thorough`` (200 examples), chosen
with ``HYPOTHESIS_PROFILE``. Tests marked ``slow`` read ``MIGOV_SLOW_EXAMPLES`` for their example
count so CI can run them in a reduced form.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from model import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.yaml"
# the seed texts live next to the repository (../shared/seeds), not in it; CI clones only the repo
SEEDS = Path(os.environ.get("MIGOV_SEEDS", REPO.parent / "shared" / "seeds"))

settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "thorough", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def baseline_path() -> Path:
    return BASELINE


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(BASELINE)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed texts not found at {SEEDS} (they live outside the repository)")
    return SEEDS
