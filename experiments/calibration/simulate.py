"""The model as ABC sees it: a parameter set in, the targets' summary statistics out.

One particle runs the scenario with its values set (by dotted path, as ``--set`` sets them) for
``replicates`` seeds, stops at the end of the last target year, turns the quarterly series into the
facts' yearly numbers (``validation.validate.annual_quantities``, the code ``migov validate`` uses)
and returns, for each target row, the median over the seeds on the target's scale. A run's seed is
a hash of the base seed, the replicate and the parameter values, so a particle's numbers are a
pure function of what it is: the same parameters give the same statistics in any process.

With more than one seed per particle the statistic is the median over them: the model's typical
behaviour is fitted to one realisation of history, whose own noise is then treated as nil, so the
posterior comes out narrower than with one seed (the shipped calibration uses one). A run that
fails lands far from every target, so the particle is rejected, and is written to ``failures.jsonl``
with its parameters and error, which the report counts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from migov.experiments.calibration.spec import LoadedCalibration, Prior
from migov.experiments.sweep.experiment import Collect
from migov.experiments.sweep.loaded import scenario_with
from migov.experiments.sweep.one_run import run_point
from migov.experiments.validation.facts import Fact
from migov.experiments.validation.validate import annual_quantities, fact_series

FAILURES = "failures.jsonl"
FLOOR = 1e-6  # the smallest value a log-scale statistic takes (a model value of zero)
MISSING = {"log": math.log(FLOOR) - 10.0, "linear": -1e4}  # where a value the model could not give lands: far off


def default_scale(fact: Fact) -> str:
    return "linear" if fact.comparison == "share" else "log"


def on_scale(value: float, scale: str) -> float:
    if not math.isfinite(value):
        return MISSING[scale]
    return math.log(max(value, FLOOR)) if scale == "log" else float(value)


def sampled(prior: Prior, value: float) -> float:
    """A parameter's value in the space ABC samples it in (log10 for a loguniform prior)."""
    return math.log10(value) if prior.distribution == "loguniform" else value


def natural(prior: Prior, value: float) -> float:
    """A sampled value back in the scenario's units."""
    return 10.0 ** value if prior.distribution == "loguniform" else float(value)


def stat_key(fact: str, first: int, last: int) -> str:
    """A target figure's name: the fact's id and its year or span (``iom_expenditure@1998``)."""
    return f"{fact}@{first}" if first == last else f"{fact}@{first}-{last}"


def run_seed(base: int, replicate: int, values: dict[str, float]) -> int:
    blob = json.dumps([int(base), int(replicate), sorted((k, repr(float(v))) for k, v in values.items())])
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:4], "little")


@dataclass
class Simulator:
    """Picklable: the scenario's raw data, the parameters' paths and priors, and the target rows
    travel to worker processes once with it."""

    scenario_data: dict
    where: str
    paths: dict[str, str]  # short name -> dotted path
    priors: dict[str, Prior]
    rows: list[tuple[Fact, int, int, str]]  # fact, first year, last year, scale
    steps: int | None
    replicates: int
    base_seed: int
    failures: str | None = None  # where failed runs are logged (one JSON line each)
    coordinator: int = field(default_factory=os.getpid)  # the process that made it: workers die with it

    @classmethod
    def of(cls, loaded: LoadedCalibration, steps: int | None = None, failures: Path | None = None) -> Simulator:
        cal = loaded.cal
        scales = {t.fact: t.scale for t in cal.targets}
        rows = [(fact, first, last, scales.get(fact.id) or default_scale(fact)) for fact, first, last, _ in loaded.rows]
        return cls(loaded.scenario_data, str(loaded.scenario_path),
                   {n: p.path for n, p in cal.parameters.items()}, {n: p.prior for n, p in cal.parameters.items()},
                   rows, steps or loaded.steps_needed(), cal.replicates, cal.seed,
                   None if failures is None else str(failures))

    def keys(self) -> list[str]:
        return [stat_key(f.id, a, b) for f, a, b, _ in self.rows]

    def observed(self) -> dict[str, float]:
        """The record's values on the targets' scales."""
        out = {}
        for fact, first, last, scale in self.rows:
            record = {(a, b): v for a, b, v, _ in fact.record()}
            out[stat_key(fact.id, first, last)] = on_scale(record[(first, last)], scale)
        return out

    def values_of(self, params: dict[str, float]) -> dict[str, float]:
        """Dotted path -> value in the scenario's units, from ABC's (sampled-space) parameters."""
        return {self.paths[n]: natural(self.priors[n], float(params[n])) for n in self.paths}

    def annual(self, values: dict[str, Any], seed: int, steps: int | None = None) -> pd.DataFrame:
        """One run's yearly quantities (the table ``migov validate`` compares with the facts)."""
        sc = scenario_with(self.scenario_data, values, "calibration", f"{self.where} with calibrated values")
        out = run_point(sc, 0, seed, steps or self.steps,
                        Collect(final=False, series=True, stride=1, agents=True))
        return annual_quantities(out["series"], out["agents"], sc.simulation.steps_per_year)

    def statistics(self, annual: pd.DataFrame) -> dict[str, float]:
        """Each target row's model value (raw, not on scale) from one run's yearly quantities."""
        stats: dict[str, float] = {}
        for fact, first, last, _ in self.rows:
            table = fact_series(fact, annual)
            value = np.nan
            if table is not None and last in table:
                value = float(table[last].iloc[0])
            stats[stat_key(fact.id, first, last)] = value
        return stats

    def _log_failure(self, values: dict[str, float], seed: int, err: Exception) -> None:
        if self.failures is None:
            return
        line = json.dumps({"pid": os.getpid(), "seed": seed, "values": values,
                           "error": f"{type(err).__name__}: {err}"[:500]}) + "\n"
        fd = os.open(self.failures, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)  # one write: lines never mix
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def __call__(self, params: dict[str, float]) -> dict[str, float]:
        _die_with(self.coordinator)
        values = self.values_of(params)
        runs = []
        for r in range(self.replicates):
            seed = run_seed(self.base_seed, r, values)
            try:
                runs.append(self.statistics(self.annual(values, seed)))
            except Exception as err:  # lands far from the record, so the particle is rejected; logged
                self._log_failure(values, seed, err)
                runs.append({k: np.nan for k in self.keys()})
        out = {}
        for fact, first, last, scale in self.rows:
            key = stat_key(fact.id, first, last)
            vals = np.array([on_scale(r[key], scale) for r in runs])
            out[key] = float(np.median(vals))
        return out


_ARMED: set[int] = set()


def _die_with(coordinator: int) -> None:
    """In a worker process (pyabc's samplers start them), die with the coordinating process, even
    on ``kill -9``, rather than simulate on alone; once per process."""
    pid = os.getpid()
    if pid == coordinator or pid in _ARMED:
        return
    _ARMED.add(pid)
    if os.getppid() != coordinator:  # not forked by it (a Dask worker: its nanny sees to that)
        return
    from migov.experiments.common.processes import die_with_parent

    die_with_parent(signal.SIGKILL, parent=coordinator)
