"""Many independent runs on the available cores, with a progress bar.

Each task is one scenario with one seed. Workers are separate processes (Mesa sets the ``spawn``
start method), each run is deterministic in its seed, so results do not depend on the number
of workers or the order in which runs finish. A run that raises is reported with its error and
does not stop the others.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import pandas as pd
from migov.experiments.sweep.design import replicate_seeds  # noqa: F401 - compare's seeds are a sweep's
from migov.experiments.sweep.runner import run_scenario
from migov.model import Scenario
from tqdm import tqdm


@dataclass(frozen=True)
class Task:
    key: str  # scenario label
    replicate: int
    seed: int
    scenario: Scenario
    steps: int | None = None


@dataclass
class Outcome:
    task: Task
    model: pd.DataFrame | None
    events: pd.DataFrame | None
    error: str = ""
    wall_time_s: float = 0.0


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _run(task: Task) -> Outcome:
    try:
        r = run_scenario(task.scenario, task.seed, steps=task.steps, collect_agents=False, scenario_name=task.key)
        return Outcome(task, r.model, r.events, wall_time_s=r.provenance["wall_time_s"])
    except Exception as err:  # a failing run is recorded, the others go on
        detail = traceback.format_exception_only(type(err), err)[-1].strip()
        return Outcome(task, None, None, error=detail)


def run_tasks(tasks: list[Task], workers: int | None = None, desc: str = "runs", quiet: bool = False
              ) -> Iterator[Outcome]:
    """Run every task, yielding outcomes as they finish (in completion order)."""
    workers = min(workers or default_workers(), max(1, len(tasks)))
    failed = 0
    with tqdm(total=len(tasks), desc=desc, unit="run", disable=quiet or None, file=sys.stderr) as bar:
        if workers == 1:
            for t in tasks:
                out = _run(t)
                failed += bool(out.error)
                bar.set_postfix(failed=failed)
                bar.update(1)
                yield out
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run, t) for t in tasks]
            for fut in as_completed(futures):
                out = fut.result()
                failed += bool(out.error)
                bar.set_postfix(failed=failed)
                bar.update(1)
                yield out
