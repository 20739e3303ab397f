"""Experiment files: a parameter space over a scenario, a design, replicates and what to keep.

Validated by pydantic like scenarios, with the same one-line errors naming the file, the field
and what was expected. Parameters are addressed by their dotted path in the scenario
(``parameters.uncertainty``, ``donors.EU.scale_preference``); every path is checked against the
scenario when the experiment is loaded, so a misspelt path fails before any run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from model import Scenario, ScenarioError
from model.config import Strict, _format_pydantic, read_resolved, read_yaml, set_paths, validate_scenario

DesignType = Literal["grid", "lhs", "sobol", "morris", "csv"]
SCENARIO_COLUMN = "scenario"  # a design column that picks the base scenario of a point


class ParameterSpec(Strict):
    """One swept parameter: discrete ``levels``, or a ``range`` with a distribution."""

    levels: list[float | int | bool | str] | None = Field(None, description="values to use (grid, or any design)")
    range: tuple[float, float] | None = Field(None, description="[low, high] for a continuous parameter")
    distribution: Literal["uniform", "loguniform", "normal"] = Field(
        "uniform", description="how a unit sample maps to the range (normal: mean and sd, clipped to range)")
    mean: float | None = Field(None, description="mean of a normal distribution")
    sd: float | None = Field(None, gt=0, description="standard deviation of a normal distribution")
    integer: bool = Field(False, description="round sampled values to whole numbers")
    points: int | None = Field(None, ge=2, le=1000, description="grid points across the range (grid designs)")

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterSpec:
        if (self.levels is None) == (self.range is None):
            raise ValueError("give either 'levels' or 'range'")
        if self.levels is not None and len(self.levels) == 0:
            raise ValueError("'levels' is empty")
        if self.range is not None:
            lo, hi = self.range
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
                raise ValueError(f"'range' must be [low, high] with low < high, got [{lo}, {hi}]")
            if self.distribution == "loguniform" and lo <= 0:
                raise ValueError("a loguniform range must be positive")
            if self.distribution == "normal" and (self.mean is None or self.sd is None):
                raise ValueError("a normal distribution needs 'mean' and 'sd'")
        return self


class Design(Strict):
    type: DesignType = Field(description="grid (full factorial), lhs, sobol (Saltelli), morris, or csv")
    size: int | None = Field(None, ge=1, le=1_000_000,
                             description="lhs: points; sobol: base sample N (a power of two); morris: trajectories")
    file: str | None = Field(None, description="csv design: a file of points, one column per parameter path")
    second_order: bool = Field(False, description="sobol: also second-order indices")
    levels: int = Field(4, ge=2, le=20, description="morris: grid levels")
    scramble: bool = Field(True, description="lhs/sobol: scrambled sampling")

    @model_validator(mode="after")
    def _needs(self) -> Design:
        if self.type in ("lhs", "sobol", "morris") and self.size is None:
            raise ValueError(f"a {self.type} design needs a 'size'")
        if self.type == "sobol" and self.size is not None and self.size & (self.size - 1):
            raise ValueError(f"Saltelli sampling needs a power of two for 'size', got {self.size}")
        if self.type == "csv" and not self.file:
            raise ValueError("a csv design needs a 'file'")
        return self


class Collect(Strict):
    final: bool = Field(True, description="keep each run's final state")
    final_window: int | None = Field(None, ge=1, description="steps averaged for the final state (default: a year)")
    series: bool = Field(True, description="keep per-step model measures")
    stride: int = Field(4, ge=1, le=10_000, description="keep every n-th step of the series")
    agents: bool = Field(False, description="keep per-agent series (large)")
    measures: list[str] | None = Field(None, description="measures to keep (default: all)")


class Experiment(Strict):
    name: str = Field(description="short name; the default output folder is results/sweeps/<name>")
    description: str = Field("", description="what the experiment asks")
    scenario: str = Field(description="base scenario: a name in scenarios/ or a path relative to this file")
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict, description="swept parameters by dotted path")
    design: Design = Field(description="how points are chosen")
    replicates: Annotated[int, Field(ge=1, le=100_000)] = Field(1, description="seeds per design point")
    seed: Annotated[int, Field(ge=0)] = Field(0, description="base seed; every run's seed is spawned from it")
    common_random_numbers: bool = Field(False, description="replicate r uses the same seed at every design point")
    steps: Annotated[int, Field(ge=1)] | None = Field(None, description="steps per run (default: the scenario's)")
    collect: Collect = Field(default_factory=Collect, description="what each run keeps")
    output: str | None = Field(None, description="output folder (default results/sweeps/<name>)")

    @model_validator(mode="after")
    def _design_fits(self) -> Experiment:
        continuous = self.design.type in ("lhs", "sobol", "morris")
        if self.design.type != "csv" and not self.parameters:
            raise ValueError("'parameters' is empty: nothing to sweep")
        if continuous:
            bad = [p for p, s in self.parameters.items() if s.range is None]
            if bad:
                raise ValueError(f"a {self.design.type} design needs a 'range' for every parameter; "
                                 f"{bad[0]} has levels")
        if self.design.type == "grid":
            bad = [p for p, s in self.parameters.items() if s.range is not None and s.points is None]
            if bad:
                raise ValueError(f"a grid needs 'levels', or 'points' with a 'range'; {bad[0]} has neither")
        return self

    def content_hash(self) -> str:
        # parameter order shapes lhs/sobol/morris designs, so it is part of the identity
        content = {**self.model_dump(mode="json", exclude={"output"}), "parameter_order": list(self.parameters)}
        blob = json.dumps(content, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _scenario_path(ref: str, folder: Path) -> Path:
    from .cli import find_scenario

    p = Path(ref)
    if p.suffix in (".yaml", ".yml") and not p.is_absolute() and (folder / p).is_file():
        return folder / p
    return find_scenario(ref)


class LoadedExperiment:
    """An experiment with its base scenario data resolved and every parameter path checked."""

    def __init__(self, path: Path, exp: Experiment, scenario_path: Path, scenario_data: dict):
        self.path = path
        self.exp = exp
        self.scenario_path = scenario_path
        self.scenario_data = scenario_data
        self.base = validate_scenario(copy.deepcopy(scenario_data), str(scenario_path))

    def scenario_for(self, params: dict[str, Any]) -> Scenario:
        """The base scenario with one design point's values set (the same code path as
        ``migov run --set``). A ``scenario`` column picks another base scenario for the point;
        empty cells (None or NaN) leave the scenario's value as it is."""
        params = dict(params)
        other = params.pop(SCENARIO_COLUMN, None)
        base, where = self.scenario_data, self.scenario_path
        if isinstance(other, str) and other:
            base, where = self.other_scenario(other)
        data = copy.deepcopy(base)
        for key, value in params.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            set_paths(data, key, value, source=str(self.path))
        return validate_scenario(data, f"{where} with {self.path.name} parameters")

    def other_scenario(self, name: str) -> tuple[dict, Path]:
        cache = self.__dict__.setdefault("_others", {})
        if name not in cache:
            path = _scenario_path(name, self.path.parent)
            cache[name] = (read_resolved(path), path)
        return cache[name]

    @property
    def hash(self) -> str:
        """The experiment, its base scenario and the model's code: results made under another of
        any of them are never mixed into the same folder."""
        base = json.dumps(self.base.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256((self.exp.content_hash() + base + model_code_hash()).encode()).hexdigest()[:16]


def model_code_hash() -> str:
    """A hash of the model package's source (what a run's numbers depend on)."""
    import model as model_package

    digest = hashlib.sha256()
    for f in sorted(Path(model_package.__file__).parent.glob("*.py")):
        digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:16]


def load_experiment(path: str | Path) -> LoadedExperiment:
    p = Path(path)
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(str(p), "", f"expected a mapping of experiment fields, got {type(data).__name__}")
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(p), loc, msg) from None
    scenario_path = _scenario_path(exp.scenario, p.parent)
    scenario_data = read_resolved(scenario_path)
    loaded = LoadedExperiment(p, exp, scenario_path, scenario_data)
    for key, spec in exp.parameters.items():
        if key == SCENARIO_COLUMN:
            for j, name in enumerate(spec.levels or []):
                try:
                    validate_scenario(copy.deepcopy(loaded.other_scenario(str(name))[0]), str(name))
                except ScenarioError as err:
                    raise ScenarioError(str(p), f"parameters.scenario.levels[{j}]", str(err)) from None
            continue
        values = list(spec.levels) if spec.levels is not None else list(spec.range)
        where = f"parameters.{key}" + (".levels" if spec.levels is not None else ".range")
        for value in values:
            probe = copy.deepcopy(scenario_data)
            try:
                set_paths(probe, key, value, source=str(p))
            except ScenarioError as err:
                raise ScenarioError(str(p), f"parameters.{key}", f"not a parameter of the scenario "
                                    f"({err.field}: {err.message})") from None
            try:
                validate_scenario(probe, str(p))
            except ScenarioError as err:
                raise ScenarioError(str(p), where, f"{value!r} is not allowed for {err.field}: {err.message}"
                                    ) from None
    return loaded
