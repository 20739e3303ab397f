"""Experiment files: a parameter space over a scenario, a design, replicates and what to keep.

Validated by pydantic like scenarios, with the same one-line errors naming the file, the field
and what was expected. Parameters are addressed by their dotted path in the scenario
(``parameters.uncertainty``, ``donors.EU.scale_preference``); every path is checked against the
scenario when the experiment is loaded, so a misspelt path fails before any run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from migov.model import ScenarioError
from migov.model.config import (
    MAX_STEPS,
    Strict,
    _format_pydantic,
    read_yaml,
)
from pydantic import Field, ValidationError, model_validator

DesignType = Literal["grid", "lhs", "sobol", "morris", "csv"]
SCENARIO_COLUMN = "scenario"  # a design column that picks the base scenario of a point
VALUE_LIMIT = 1e6  # no scenario field reaches beyond +-1e6 (money, in millions), so neither may a distribution
MAX_SEED = 2**63 - 1  # seeds are stored in 64-bit integer columns


class ParameterSpec(Strict):
    """One swept parameter: discrete ``levels``, or a ``range`` with a distribution."""

    levels: list[float | int | bool | str] | None = Field(None, description="values to use (grid, or any design)")
    range: tuple[float, float] | None = Field(None, description="[low, high] for a continuous parameter")
    distribution: Literal["uniform", "loguniform", "normal"] = Field(
        "uniform", description="how a unit sample maps to the range (normal: mean and sd, clipped to range)")
    mean: float | None = Field(None, ge=-VALUE_LIMIT, le=VALUE_LIMIT, description="mean of a normal distribution")
    sd: float | None = Field(None, gt=0, le=VALUE_LIMIT, description="standard deviation of a normal distribution")
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


class SalibSample(Strict):
    """A csv design drawn by SALib's sampler (``salib sample ... -p PROBLEM -o FILE``)."""

    problem: str = Field(description="the SALib problem file the sample was drawn from, relative to this file "
                                     "(migov design EXPERIMENT --salib-problem FILE writes one); its names are the "
                                     "file's columns, in order")
    method: Literal["sobol", "morris"] = Field(
        description="the sampler: sobol (salib sample saltelli or sobol; set design.second_order to match its "
                    "--max-order, 2 by default) or morris (salib sample morris; set design.levels to its -l); "
                    "migov analyse computes this method's indices")


class Design(Strict):
    type: DesignType = Field(description="grid (full factorial), lhs, sobol (Saltelli), morris, or csv")
    size: int | None = Field(None, ge=1, le=1_000_000,
                             description="lhs: points; sobol: base sample N (a power of two); morris: trajectories")
    file: str | None = Field(None, description="csv design: a file of points, one column per parameter path")
    columns: list[str] | None = Field(None, description="csv design: the file has no header row; these are its "
                                                        "columns, in order (parameter paths)")
    salib: SalibSample | None = Field(None, description="csv design: the file is SALib's sampler output (no header, "
                                                        "space- or comma-separated)")
    second_order: bool = Field(False, description="sobol, or a csv design from SALib's sobol sampler: also "
                                                  "second-order indices")
    levels: int = Field(4, ge=2, le=20, description="morris, or a csv design from SALib's morris sampler: grid levels")
    scramble: bool = Field(True, description="lhs/sobol: scrambled sampling")

    @model_validator(mode="after")
    def _needs(self) -> Design:
        if self.type in ("lhs", "sobol", "morris") and self.size is None:
            raise ValueError(f"a {self.type} design needs a 'size'")
        if self.type == "sobol" and self.size is not None and self.size & (self.size - 1):
            raise ValueError(f"Saltelli sampling needs a power of two for 'size', got {self.size}")
        if self.type == "csv" and not self.file:
            raise ValueError("a csv design needs a 'file'")
        if self.type != "csv" and (self.columns is not None or self.salib is not None):
            raise ValueError(f"'{'columns' if self.columns is not None else 'salib'}' is for csv designs (a file of "
                             f"points), not {self.type}")
        if self.columns is not None and self.salib is not None:
            raise ValueError("give 'columns' or 'salib', not both: a SALib sample's columns are its problem file's "
                             "names")
        if self.columns is not None:
            if not self.columns:
                raise ValueError("'columns' is empty; expected the parameter path of each column of the file")
            twice = [c for i, c in enumerate(self.columns) if c in self.columns[:i]]
            if twice:
                raise ValueError(f"'columns' names {twice[0]} twice; expected each parameter once")
        return self

    @property
    def method(self) -> str:
        """How the design was drawn, hence which indices analyse computes: the type, or for a
        SALib sample its sampler (sobol or morris)."""
        return self.salib.method if self.salib is not None else self.type


class Collect(Strict):
    final: bool = Field(True, description="keep each run's final state")
    final_window: int | None = Field(None, ge=1, le=MAX_STEPS,
                                     description="steps averaged for the final state (default: a year)")
    series: bool = Field(True, description="keep per-step model measures")
    stride: int = Field(4, ge=1, le=MAX_STEPS, description="keep every n-th step of the series")
    agents: bool = Field(False, description="keep per-agent series (large)")
    measures: list[str] | None = Field(None, description="measures to keep (default: all); names of the model's "
                                                          "measures, checked against the scenario on loading")


class Experiment(Strict):
    name: str = Field(description="short name; the default output folder is results/sweeps/<name>")
    description: str = Field("", description="what the experiment asks")
    scenario: str = Field(description="base scenario: a name in scenarios/ or a path relative to this file")
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict, description="swept parameters by dotted path")
    design: Design = Field(description="how points are chosen")
    replicates: Annotated[int, Field(ge=1, le=100_000)] = Field(1, description="seeds per design point")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Field(0, description="base seed; every run's seed is spawned "
                                                                          "from it")
    common_random_numbers: bool = Field(False, description="replicate r uses the same seed at every design point "
                                                           "(or within each block of points, with crn_block)")
    crn_block: Annotated[int, Field(ge=1)] | None = Field(
        None, description="with common_random_numbers: share seeds (and posterior draws) only within consecutive "
                          "blocks of this many design points (the arms of one sample), each block with its own; "
                          "default: every point shares them")
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] | None = Field(None, description="steps per run (default: "
                                                                                   "the scenario's)")
    collect: Collect = Field(default_factory=Collect, description="what each run keeps")
    output: str | None = Field(None, description="output folder (default results/sweeps/<name>)")
    posterior: str | None = Field(None, description="a calibration folder (migov calibrate), relative to this file: "
                                                    "replicate r of every point takes parameter set r drawn from "
                                                    "its posterior (weighted, seeded by 'seed'); the design's own "
                                                    "parameters win over drawn ones")

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
        if self.crn_block is not None and not self.common_random_numbers:
            raise ValueError("'crn_block' shares seeds within blocks of points; it needs common_random_numbers: true")
        return self

    def content_hash(self) -> str:
        # parameter order shapes lhs/sobol/morris designs, so it is part of the identity
        # crn_block is left out when unset, so experiments written before it existed keep their identity
        exclude = {"output"} | ({"crn_block"} if self.crn_block is None else set())
        content = {**self.model_dump(mode="json", exclude=exclude), "parameter_order": list(self.parameters)}
        blob = json.dumps(content, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


LIBRARY = Path(__file__).resolve().parents[1] / "library"


def find_experiment(name: str | Path) -> Path:
    """An experiment by path, or by name among the experiments shipped in ``experiments/library/``
    (``sobol_small``)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists() or os.sep in str(name):
        return p
    for ext in (".yaml", ".yml"):
        if (LIBRARY / f"{name}{ext}").is_file():
            return LIBRARY / f"{name}{ext}"
    known = sorted(f.stem for f in LIBRARY.glob("*.y*ml"))
    raise ScenarioError(str(name), "", f"no such experiment file or name; shipped experiments: {', '.join(known)}")


M = TypeVar("M", bound=Strict)


def read_checked(p: Path, model: type[M], what: str) -> M:
    """A YAML file validated against ``model`` (experiment, calibration, exploration files); a
    mistake is one ScenarioError line naming the file and the field."""
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(str(p), "", f"expected a mapping of {what} fields, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(p), loc, msg) from None


def _read_experiment(p: Path) -> Experiment:
    return read_checked(p, Experiment, "experiment")
