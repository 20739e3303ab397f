"""Shared fixtures and Hypothesis profiles for the model tests.

Profiles: ``default`` (25 examples, used locally and in CI) and ``thorough`` (200 examples), chosen
with ``HYPOTHESIS_PROFILE``. Tests marked ``slow`` read ``MIGOV_SLOW_EXAMPLES`` for their example
count so CI can run them in a reduced form.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from migov.model import Scenario, load_scenario
from procs import adopt_orphans, cmdline, descendants, wait_gone

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


# ------------------------------------------------------------------ no process left behind
# The suite must leave no process running. This process becomes a child subreaper, so a process
# orphaned by a test (its parent killed) is re-parented here rather than to init and still counts;
# after each test the new descendants are noted with the test that started them, and at the end of
# the session any still alive (after a generous wait) are listed and the session fails.
#
# Python's multiprocessing helpers: the resource tracker and the forkserver live as long as the
# process that started them (they exit when its pipe to them closes, i.e. with pytest), so they are
# not leftovers. Their children (forkserver workers) are not excluded.
HELPERS = ("from multiprocessing.resource_tracker import main", "from multiprocessing.forkserver import main")
LEFTOVER_WAIT_S = 30.0
_started_by: dict[int, tuple[str, str]] = {}  # pid -> (command line, the test after which it was first seen)


def _ours() -> set[int]:
    return {p for p in descendants(os.getpid()) if not any(h in cmdline(p) for h in HELPERS)}


def pytest_configure(config: pytest.Config) -> None:
    adopt_orphans()  # Linux; elsewhere orphans escape the check (it still sees the rest)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Note which test a process first appeared after, so a leftover names its likely culprit."""
    result = yield
    for pid in _ours():
        if pid not in _started_by:
            _started_by[pid] = (cmdline(pid), item.nodeid)
    return result


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a process it started outlives it (after fixtures are torn down)."""
    left = wait_gone(_ours(), timeout=LEFTOVER_WAIT_S)
    if not left:
        return
    lines = [f"{len(left)} process(es) left running by the test session:"]
    for pid in sorted(left):
        cmd, test = _started_by.get(pid, (cmdline(pid), "session fixtures or collection"))
        lines.append(f"  pid {pid}: {cmd}  (first seen after {test})")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line, red=True, bold=True)
    else:
        print("\n".join(lines), file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def make_runs_fail(monkeypatch):
    """``make_runs_fail({1, 4})``: those runs of a sweep raise, as a diverging model would. The
    code hash is held still, since swapping the run function is not a change to the model."""
    import migov.experiments.sweep.engine as sweep_module
    import migov.experiments.sweep.loaded as experiment_module

    real = sweep_module.run_once
    monkeypatch.setattr(experiment_module, "code_hash", lambda: "test-code")

    def arrange(run_ids: set[int]) -> None:
        def flaky(loaded, run_id, *args, **kwargs):
            if run_id in run_ids:
                raise RuntimeError("the model diverged")
            return real(loaded, run_id, *args, **kwargs)

        monkeypatch.setattr(sweep_module, "run_once", flaky)

    return arrange
