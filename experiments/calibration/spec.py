"""Calibration files: a scenario, free parameters with priors, targets chosen from the stylised
facts, a population size and a stopping rule. Validated like experiment files: a mistake is one
line naming the file, the field and what was expected, before any run.

Targets are in-sample facts only (every year up to ``facts.LAST_IN_SAMPLE_YEAR``): the facts after
it stay a test the calibration never saw, and the report sets the posterior against them apart.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Literal

from migov.experiments.sweep.experiment import LIBRARY, MAX_SEED, read_checked
from migov.experiments.sweep.loaded import _scenario_path
from migov.experiments.validation.facts import FACTS, Fact, load_facts
from migov.model import ScenarioError
from migov.model.config import Simulation, Strict, copy_data, read_resolved, set_paths
from migov.model.config import validate_scenario as validate_scenario_data
from pydantic import Field, model_validator

NORMAL_REACH = 4.0  # an unbounded normal prior must keep mean +- this many sd inside the field's range


class Prior(Strict):
    """A prior: uniform or log-uniform on [low, high]; normal (mean, sd), bounded by low/high when given."""

    distribution: Literal["uniform", "loguniform", "normal"]
    low: float | None = Field(None, description="lower bound (uniform, loguniform; optional for normal)")
    high: float | None = Field(None, description="upper bound (uniform, loguniform; optional for normal)")
    mean: float | None = Field(None, description="normal: mean")
    sd: float | None = Field(None, gt=0, description="normal: standard deviation")

    @model_validator(mode="after")
    def _complete(self) -> Prior:
        if self.distribution in ("uniform", "loguniform"):
            if self.low is None or self.high is None:
                raise ValueError(f"a {self.distribution} prior needs 'low' and 'high'")
            if self.mean is not None or self.sd is not None:
                raise ValueError(f"a {self.distribution} prior takes 'low' and 'high', not 'mean' or 'sd'")
        else:
            if self.mean is None or self.sd is None:
                raise ValueError("a normal prior needs 'mean' and 'sd'")
        for name in ("low", "high", "mean"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"'{name}' must be a finite number")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.distribution == "loguniform" and self.low is not None and self.low <= 0:
            raise ValueError("a loguniform prior needs 'low' above zero")
        if self.distribution == "normal" and ((self.low is not None and self.mean < self.low)
                                              or (self.high is not None and self.mean > self.high)):
            raise ValueError(f"the normal prior's mean {self.mean} lies outside its bounds")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        """Where the prior puts mass: its range, or mean +- NORMAL_REACH sd where a normal is unbounded."""
        lo = self.low if self.low is not None else self.mean - NORMAL_REACH * self.sd
        hi = self.high if self.high is not None else self.mean + NORMAL_REACH * self.sd
        return lo, hi

    @property
    def width(self) -> float:
        """The prior's spread on the scale it is sampled on (log10 for loguniform): an sd."""
        lo, hi = self.bounds
        if self.distribution == "uniform":
            return (hi - lo) / math.sqrt(12)
        if self.distribution == "loguniform":
            return (math.log10(hi) - math.log10(lo)) / math.sqrt(12)
        if self.low is None and self.high is None:
            return self.sd
        from scipy.stats import truncnorm

        a, b = (lo - self.mean) / self.sd, (hi - self.mean) / self.sd
        return float(truncnorm(a, b, loc=self.mean, scale=self.sd).std())


class FreeParameter(Strict):
    path: str = Field(min_length=1, description="the scenario field by dotted path (parameters.appeal_response, "
                                                "donors.*.field_share)")
    prior: Prior
    description: str = ""


class Target(Strict):
    fact: str = Field(description="a fact's id in the stylised facts (experiments/validation/facts.yaml)")
    years: list[int] | None = Field(None, min_length=1, description="the record's years to fit (default: all); for "
                                                                  "a ratio of years, its later year")
    weight: float = Field(1.0, gt=0, le=1000, description="the fact's weight in the distance, shared among its years")
    scale: Literal["log", "linear"] | None = Field(None, description="compare on log or linear scale (default: log "
                                                                   "for levels and ratios, linear for shares)")


class Budget(Strict):
    population: int = Field(100, ge=4, le=100_000, description="particles per generation")
    generations: int = Field(8, ge=1, le=1000, description="most generations")
    min_epsilon: float = Field(0.0, ge=0.0, description="stop when the acceptance threshold falls to this")
    max_runs: int | None = Field(None, ge=1, description="stop once this many simulations have been made (each "
                                                         "particle's replicates count one each)")
    max_minutes: float | None = Field(None, gt=0, description="stop after this much wall time")
    min_acceptance: float = Field(0.0, ge=0.0, le=1.0, description="stop when a generation accepts fewer than "
                                                                   "this share of its proposals")
    predictive: int = Field(40, ge=2, le=10_000, description="posterior draws run over the whole history for the "
                                                             "predictive check (one seed each)")


class Calibration(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="short name; default output results/calibrate/<name>")
    description: str = ""
    scenario: str = Field(description="a scenario name in the library, or a path relative to this file")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Field(0, description="base seed of priors' draws and runs")
    replicates: int = Field(1, ge=1, le=100, description="seeds per particle: its summary is the median over them")
    parameters: dict[str, FreeParameter] = Field(min_length=1, description="free parameters by short name")
    targets: list[Target] = Field(min_length=1)
    budget: Budget = Field(default_factory=Budget, description="the default budget")
    quick: Budget = Field(default_factory=lambda: Budget(population=12, generations=2, max_runs=60, predictive=8),
                          description="the --quick budget, for trying the calibration within minutes")

    @model_validator(mode="after")
    def _names(self) -> Calibration:
        bad = [n for n in self.parameters if not n.isidentifier()]
        if bad:
            raise ValueError(f"parameter name '{bad[0]}' must be an identifier (letters, digits, _)")
        paths = [p.path for p in self.parameters.values()]
        twice = [p for i, p in enumerate(paths) if p in paths[:i]]
        if twice:
            raise ValueError(f"path {twice[0]} is calibrated twice")
        facts = [t.fact for t in self.targets]
        twice = [f for i, f in enumerate(facts) if f in facts[:i]]
        if twice:
            raise ValueError(f"fact {twice[0]} is targeted twice; give its years in one target")
        return self

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class LoadedCalibration:
    """A calibration file with its scenario resolved and its targets matched to the facts."""

    def __init__(self, path: Path, cal: Calibration, scenario_path: Path, scenario_data: dict,
                 rows: list[tuple[Fact, int, int, float]], facts_path: Path):
        self.path = path
        self.cal = cal
        self.scenario_path = scenario_path
        self.scenario_data = scenario_data
        self.base = validate_scenario_data(copy_data(scenario_data), str(scenario_path))
        self.rows = rows  # (fact, first year, last year, weight of the row)
        self.facts_path = facts_path

    @property
    def last_year(self) -> int:
        return max(last for _, _, last, _ in self.rows)

    def steps_needed(self) -> int:
        """Steps from the scenario's start to the end of the last target year: calibration runs stop
        there, since nothing later is compared."""
        return steps_through(self.last_year, self.base.simulation)


def steps_through(year: int, sim: Simulation) -> int:
    """Steps from the scenario's start to the end of ``year``."""
    return max(1, (year - sim.start_year + 1) * sim.steps_per_year)


def find_shipped(name: str | Path, kind: str, what: str) -> Path:
    """A file by path, or by name among those shipped in ``experiments/library/<kind>/``."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    cand = LIBRARY / kind / f"{name}.yaml"
    if cand.is_file():
        return cand
    known = sorted(f.stem for f in (LIBRARY / kind).glob("*.yaml"))
    raise ScenarioError(str(name), "", f"no such {what} file or name; shipped {what}s: {', '.join(known)}")


def find_calibration(name: str | Path) -> Path:
    """A calibration file by path, or by name among those shipped (``experiments/library/calibrate/``)."""
    return find_shipped(name, "calibrate", "calibration")


def load_calibration(path: str | Path, facts_path: Path = FACTS) -> LoadedCalibration:
    """Read and check a calibration file: its schema, every parameter path and its prior's bounds
    against the scenario, and every target against the in-sample facts."""
    p = find_calibration(path)
    cal = read_checked(p, Calibration, "calibration")
    scenario_path = _scenario_path(cal.scenario, p.parent)
    scenario_data = read_resolved(scenario_path)
    for name, fp in cal.parameters.items():
        for value in fp.prior.bounds:
            probe = copy_data(scenario_data)
            try:
                set_paths(probe, fp.path, value, source=str(p))
            except ScenarioError as err:
                raise ScenarioError(str(p), f"parameters.{name}.path", f"not a field of the scenario "
                                    f"({err.field}: {err.message})") from None
            try:
                validate_scenario_data(probe, str(p))
            except ScenarioError as err:
                hint = " (bound the normal prior with low and high)" if fp.prior.distribution == "normal" else ""
                raise ScenarioError(str(p), f"parameters.{name}.prior", f"reaches {value:g}, which {err.field} "
                                    f"does not allow: {err.message}{hint}") from None
    facts = {f.id: f for f in load_facts(facts_path).facts}
    rows: list[tuple[Fact, int, int, float]] = []
    for i, t in enumerate(cal.targets):
        where = f"targets[{i}]"
        fact = facts.get(t.fact)
        if fact is None:
            raise ScenarioError(str(p), f"{where}.fact", f"unknown fact '{t.fact}'; known: {', '.join(facts)}")
        if fact.comparison == "sign":
            raise ScenarioError(str(p), f"{where}.fact", f"'{t.fact}' is a sign (a direction), not a figure to fit; "
                                "expected a level, ratio or share")
        if fact.sample != "in":
            raise ScenarioError(str(p), f"{where}.fact", f"'{t.fact}' is out-of-sample (a year after the in-sample "
                                "span); a calibration fits in-sample facts only, so the later ones stay a test")
        if not fact.measured:
            raise ScenarioError(str(p), f"{where}.fact", f"'{t.fact}' is not measured by the model "
                                f"({fact.measure.reason})")
        record = fact.record()
        years = t.years or [last for _, last, _, _ in record]
        have = {last for _, last, _, _ in record}
        missing = [y for y in years if y not in have]
        if missing:
            raise ScenarioError(str(p), f"{where}.years", f"{missing[0]} is not a year of '{t.fact}'s record; "
                                f"expected some of {sorted(have)}")
        for first, last, _, _ in record:
            if last in years:
                rows.append((fact, first, last, t.weight / len(years)))
    start = validate_scenario_data(copy_data(scenario_data), str(scenario_path)).simulation.start_year
    early = [(f.id, first) for f, first, _, _ in rows if first < start]
    if early:
        raise ScenarioError(str(p), "targets", f"'{early[0][0]}' needs {early[0][1]}, before the scenario starts "
                            f"in {start}")
    return LoadedCalibration(p, cal, scenario_path, scenario_data, rows, Path(facts_path))
