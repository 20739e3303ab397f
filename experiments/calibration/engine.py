"""ABC-SMC on pyabc: priors, an adaptive distance, a sampler, and pyabc's SQLite history as the
record of every generation (and what ``--resume`` continues from).

Why pyabc: it is the maintained Python library for ABC-SMC (Klinger, Rickert & Hasenauer 2018;
Schälte et al. 2022), with adaptive distances, adaptive population sizes and transitions, samplers
for one process, many processes and Dask, and a database that survives a crash. migov adds only
what is its own: the simulator, the calibration file, and the report.

The distance is pyabc's adaptive p-norm (p = 2): before every generation each statistic is
rescaled by ``pcmad`` over the last generation's simulations, accepted and rejected (the median
absolute deviation around the median plus that around the record: Schälte et al. 2022), so
incomes in millions and ratios near one weigh alike, and a statistic on which the simulations tie
(a small count) keeps a weight as long as the tie is off the record. pyabc multiplies each
statistic's difference by its weight before squaring, so a target's ``weight`` w over its n years
enters as sqrt(w / n) per year: each fact's share of the squared distance is w, whatever its number
of years. Each generation's scale weights are logged to ``scale_weights.json``.

Reproducibility: each particle's statistics are a pure function of its parameters and the base
seed (see ``simulate``). Which particles a generation accepts also depends on pyabc's random draws,
seeded here; with ``--executor serial`` a calibration is the same on every run, while the parallel
samplers accept particles in the order their workers finish, so two parallel calibrations of the
same file agree in distribution, not particle for particle.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
from migov.experiments.calibration.simulate import FAILURES, Simulator
from migov.experiments.calibration.spec import Budget, LoadedCalibration, Prior

DB_FILE = "calibration.db"
SCALE_LOG = "scale_weights.json"
MAX_WEIGHT_RATIO = 100.0  # no statistic's scale weight may exceed the smallest non-zero one by more


def pyabc_prior(priors: dict[str, Prior]):
    """pyabc's prior: each parameter in the space it is sampled in (log10 for loguniform)."""
    import pyabc

    rvs = {}
    for name, p in priors.items():
        if p.distribution == "uniform":
            rvs[name] = pyabc.RV("uniform", p.low, p.high - p.low)
        elif p.distribution == "loguniform":
            lo, hi = math.log10(p.low), math.log10(p.high)
            rvs[name] = pyabc.RV("uniform", lo, hi - lo)
        elif p.low is None and p.high is None:
            rvs[name] = pyabc.RV("norm", p.mean, p.sd)
        else:
            lo = -np.inf if p.low is None else (p.low - p.mean) / p.sd
            hi = np.inf if p.high is None else (p.high - p.mean) / p.sd
            rvs[name] = pyabc.RV("truncnorm", lo, hi, p.mean, p.sd)
    return pyabc.Distribution(**rvs)


def distance(loaded: LoadedCalibration, sim: Simulator, scale_log: Path | None = None):
    import pyabc
    from pyabc.distance import pcmad

    weights = {k: math.sqrt(w) for k, (_, _, _, w) in zip(sim.keys(), loaded.rows, strict=True)}
    return pyabc.AdaptivePNormDistance(p=2, scale_function=pcmad, fixed_weights=weights,
                                       max_scale_weight_ratio=MAX_WEIGHT_RATIO,
                                       scale_log_file=None if scale_log is None else str(scale_log))


@contextlib.contextmanager
def sampler(executor: str, workers: int, scheduler: str | None, quiet: bool = False) -> Iterator[object]:
    """pyabc's sampler for the executor (with its progress bar over each generation's particles); a
    Dask cluster migov starts is stopped on the way out."""
    from pyabc.sampler import MulticoreEvalParallelSampler, SingleCoreSampler

    if executor == "serial" or (executor == "processes" and workers == 1):
        smp = SingleCoreSampler()
        smp.show_progress = not quiet
        yield smp
    elif executor == "processes":
        smp = MulticoreEvalParallelSampler(n_procs=workers)
        smp.show_progress = not quiet
        yield smp
    else:
        from migov.experiments.sweep.engine import _dask_client
        from pyabc.sampler import DaskDistributedSampler

        client, cluster = _dask_client(workers, scheduler)
        try:
            yield DaskDistributedSampler(dask_client=client, batch_size=1)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


class _StopMessage(logging.Handler):
    """Keeps pyabc's own words for why it stopped ("Stop: Maximum number of generations.")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Stop:"):
            self.message = text.removeprefix("Stop:").strip().rstrip(".")


@contextlib.contextmanager
def progress(quiet: bool) -> Iterator[_StopMessage]:
    """pyabc's own log of each generation (threshold, acceptance rate, particles) on stderr; yields
    the handler that keeps its stop message."""
    loggers = [logging.getLogger(n) for n in ("ABC", "ABC.Sampler", "ABC.Distance", "ABC.Epsilon",
                                              "ABC.Population", "ABC.Adaptation", "ABC.History")]
    before = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("calibrate: %(message)s"))
    for lg in loggers:
        lg.handlers = []
        lg.propagate = False
        lg.setLevel(logging.WARNING)
    main = loggers[0]
    stop = _StopMessage()
    main.addHandler(stop)
    main.setLevel(logging.INFO)
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    main.addHandler(handler)
    for lg in loggers[1:]:
        lg.addHandler(handler)
    try:
        yield stop
    finally:
        for lg, (level, prop, handlers) in zip(loggers, before, strict=True):
            lg.setLevel(level)
            lg.propagate = prop
            lg.handlers = handlers


def run_abc(loaded: LoadedCalibration, out: Path, budget: Budget, resume: bool, executor: str, workers: int,
            scheduler: str | None = None, quiet: bool = False):
    """Run (or continue) ABC-SMC into ``out/calibration.db`` until the budget's first stopping
    rule; returns pyabc's History and pyabc's stop message ("" when nothing was left to run)."""
    import pyabc

    sim = Simulator.of(loaded, failures=out / FAILURES)
    db = "sqlite:///" + str((out / DB_FILE).resolve())
    with progress(quiet) as stop, sampler(executor, workers, scheduler, quiet) as smp:
        abc = pyabc.ABCSMC(sim, pyabc_prior(sim.priors), distance(loaded, sim, out / SCALE_LOG),
                           population_size=budget.population, sampler=smp)
        if resume:
            history = abc.load(db, 1)
            done = history.max_t + 1
            spent = float(history.get_all_populations()["wall_time"].fillna(0).sum()) / 60.0
            runs = history.total_nr_simulations * loaded.cal.replicates
        else:
            abc.new(db, sim.observed(), meta_info={"calibration": loaded.cal.name,
                                                   "calibration_hash": loaded.cal.content_hash()})
            done, spent, runs = 0, 0.0, 0
        left = budget.generations - done
        if left <= 0 or (budget.max_runs is not None and runs >= budget.max_runs) or (
                budget.max_minutes is not None and spent >= budget.max_minutes):
            return abc.history, ""
        # pyabc draws from numpy's global generator; a resumed calibration continues from another
        # seed than the first generation's (it cannot restore the generator's state)
        np.random.seed(int(np.random.SeedSequence([loaded.cal.seed, done]).generate_state(1)[0]))
        max_runs = np.inf if budget.max_runs is None else max(1, budget.max_runs // loaded.cal.replicates)
        walltime = None if budget.max_minutes is None else timedelta(minutes=max(0.1, budget.max_minutes - spent))
        abc.run(minimum_epsilon=budget.min_epsilon, max_nr_populations=left, min_acceptance_rate=budget.min_acceptance,
                max_total_nr_simulations=max_runs, max_walltime=walltime)
        return abc.history, stop.message
