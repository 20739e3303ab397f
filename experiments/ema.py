"""EMA Workbench as a client: an experiment file becomes an ``ema_workbench.Model``.

    from ema_workbench import MultiprocessingEvaluator
    from migov.experiments.ema import ema_model

    model = ema_model("sobol_small")
    with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=100)

Uncertainties come from the experiment's parameters (a range: RealParameter, or IntegerParameter
for a uniform integer range; levels: CategoricalParameter, or a Constant for a single level),
outcomes from its measures (ScalarOutcome; all the model's measures when the experiment names
none). EMA names must be Python identifiers, so each is its dotted path with the rest replaced
by ``_`` (``donors.*.scale_preference`` is ``donors_all_scale_preference``); the path itself
is the EMA ``variable_name``. The function is :func:`migov.evaluate` at the experiment's scenario,
steps and final window, so an outcome is the number a sweep stores for that point.

Seeds: EMA hands the function a point, never a run number, so runs use the experiment's common
random numbers (replicate r has the same seed at every point, as ``common_random_numbers: true``
spawns them) and an outcome is the mean over the replicates, as ``migov analyse`` averages them.

Start method: importing Mesa sets multiprocessing's start method to spawn for the whole process
(``mesa/batchrunner.py``, with force), and EMA's MultiprocessingEvaluator uses that default, so
every worker would start a new interpreter and import pandas, SciPy, Mesa, EMA and migov again
(about 2 s each, the time of several runs). :func:`ema_model` sets the platform's default back
(fork on Linux), so workers start at once with everything imported and the scenario parsed;
``start_method=None`` leaves it alone. ``benchmarks/bench_ema.py`` measures both.

ema-workbench is a core dependency (PRIM for claims over the parameter space uses it too).
"""

from __future__ import annotations

import multiprocessing
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from migov.experiments.api import _resolved, evaluate
from migov.experiments.sweep.design import replicate_seeds
from migov.experiments.sweep.experiment import SCENARIO_COLUMN, ParameterSpec
from migov.experiments.sweep.loaded import LoadedExperiment, _scenario_path, load_experiment, measure_names
from migov.model import ScenarioError


@dataclass(frozen=True)
class MigovFunction:
    """What an EMA model calls with a point's values (by dotted path): :func:`migov.evaluate` at
    the experiment's scenario, steps and final window, averaged over the replicate seeds. A
    plain frozen dataclass, so it pickles into EMA's worker processes under any start method."""

    scenario: str
    folder: str
    seeds: tuple[int, ...]
    steps: int | None
    measures: tuple[str, ...]
    final_window: int | None = None
    rounded: tuple[str, ...] = ()  # integer parameters sampled from a continuous distribution
    constants: tuple[tuple[str, str], ...] = ()  # (EMA name, path): EMA passes constants by name

    def __call__(self, **params: Any) -> dict[str, float]:
        for name, path in self.constants:
            if name in params:
                params[path] = params.pop(name)
        scenario = self.scenario
        other = params.pop(SCENARIO_COLUMN, None)
        if isinstance(other, str) and other:
            scenario = str(_scenario_path(other, Path(self.folder)))
        for name in self.rounded:
            params[name] = float(np.round(params[name]))
        runs = [evaluate(params, scenario, seed, self.steps, self.measures, self.final_window) for seed in self.seeds]
        return {m: float(np.mean([r[m] for r in runs])) for m in self.measures}


def ema_model(experiment: str | Path | LoadedExperiment, *, replicates: int | None = None,
              steps: int | None = None, start_method: str | None = "platform"):
    """An ``ema_workbench.Model`` of an experiment file (a path or a shipped name).

    Args:
        experiment: an experiment file, the name of a shipped one (``"sobol_small"``), or a loaded one.
        replicates: seeds per point (default: the experiment's ``replicates``); outcomes are means.
        steps: steps per run (default: the experiment's, else the scenario's).
        start_method: ``"platform"`` sets multiprocessing's start method back to the platform's
            default (Mesa's import forces spawn; see the module's docstring), a method's name sets
            that one, None leaves it as it is.
    """
    from ema_workbench import Model, ScalarOutcome
    loaded = experiment if isinstance(experiment, LoadedExperiment) else load_experiment(experiment)
    exp = loaded.exp
    if exp.crn_block:
        raise ScenarioError(str(loaded.path), "crn_block", "an EMA model gives every experiment the same replicate "
                            "seeds; remove crn_block to drive this experiment from EMA Workbench")
    if exp.design.type == "csv" and not exp.parameters:
        raise ScenarioError(str(loaded.path), "parameters", "is empty; an EMA model's uncertainties come from the "
                            "experiment's parameters (a csv design alone gives none)")
    measures = list(exp.collect.measures or sorted(measure_names([loaded.base]) - {"ledger_error"}))
    uncertainties, constants, rounded = [], [], []
    names: dict[str, str] = {}
    for path, spec in exp.parameters.items():
        name = _identifier(path, names, str(loaded.path), f"parameters.{path}")
        kind = _uncertainty(name, path, spec)
        (constants if type(kind).__name__ == "Constant" else uncertainties).append(kind)
        if spec.integer and spec.range is not None and spec.distribution != "uniform":
            rounded.append(path)
    outcomes, taken = [], dict(names)
    for m in measures:
        outcomes.append(ScalarOutcome(_identifier(m, taken, str(loaded.path), "collect.measures"), variable_name=m))
    _resolved(loaded.scenario_path)  # parsed once here: forked workers inherit it
    function = MigovFunction(
        scenario=str(loaded.scenario_path.resolve()), folder=str(loaded.path.parent.resolve()),
        seeds=tuple(replicate_seeds(exp.seed, replicates or exp.replicates)), steps=steps or exp.steps,
        measures=tuple(measures), final_window=exp.collect.final_window, rounded=tuple(rounded),
        constants=tuple((c.name, names[c.name]) for c in constants))
    model = Model(re.sub(r"[^0-9A-Za-z]", "", exp.name) or "migov", function=function)
    model.uncertainties = uncertainties
    model.constants = constants
    model.outcomes = outcomes
    _set_start_method(start_method)
    return model


def _uncertainty(name: str, path: str, spec: ParameterSpec):
    """The EMA parameter for one experiment parameter, sampled as the sweep's samplers map the unit
    interval onto it (uniform, loguniform, or a normal clipped to the range)."""
    from ema_workbench import CategoricalParameter, Constant, IntegerParameter, RealParameter
    from scipy import stats

    if spec.levels is not None:
        if len(spec.levels) == 1:
            return Constant(name, spec.levels[0])  # EMA's categories need two or more
        return CategoricalParameter(name, list(spec.levels), variable_name=path)
    lo, hi = spec.range
    if spec.distribution == "uniform":
        if spec.integer:
            return IntegerParameter(name, round(lo), round(hi), variable_name=path)
        return RealParameter(name, lo, hi, variable_name=path)
    if spec.distribution == "loguniform":
        dist = stats.loguniform(lo, hi)
    else:
        dist = stats.truncnorm((lo - spec.mean) / spec.sd, (hi - spec.mean) / spec.sd, loc=spec.mean, scale=spec.sd)
    return RealParameter.from_dist(name, dist, variable_name=path)


def _identifier(text: str, taken: dict[str, str], source: str, field: str) -> str:
    """A Python identifier for an EMA name (``*`` reads ``all``), distinct from those ``taken``."""
    name = re.sub(r"\W+", "_", text.replace("*", "all")).strip("_") or "x"
    name = f"p_{name}" if name[0].isdigit() else name
    if name in taken and taken[name] != text:
        raise ScenarioError(source, field, f"'{text}' and '{taken[name]}' both become the EMA name '{name}'; "
                                           "expected names that differ in letters or digits")
    taken[name] = text
    return name


def _set_start_method(choice: str | None) -> None:
    if choice is None:
        return
    method = multiprocessing.get_all_start_methods()[0] if choice == "platform" else choice  # the first is the default
    if multiprocessing.get_start_method(allow_none=True) != method:
        multiprocessing.set_start_method(method, force=True)
