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
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from migov.model import Scenario, ScenarioError
from migov.model.config import (
    MAX_STEPS,
    Strict,
    _format_pydantic,
    find_scenario,
    read_resolved,
    read_yaml,
    set_paths,
    validate_scenario,
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
    common_random_numbers: bool = Field(False, description="replicate r uses the same seed at every design point")
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] | None = Field(None, description="steps per run (default: "
                                                                                   "the scenario's)")
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
        return scenario_with(base, params, str(self.path), f"{where} with {self.path.name} parameters")

    def other_scenario(self, name: str) -> tuple[dict, Path]:
        cache = self.__dict__.setdefault("_others", {})
        if name not in cache:
            path = _scenario_path(name, self.path.parent)
            cache[name] = (read_resolved(path), path)
        return cache[name]

    @property
    def salib_problem(self) -> dict | None:
        """The SALib problem a csv design was sampled from (names, bounds, distributions), or None."""
        if self.exp.design.salib is None:
            return None
        if "_problem" not in self.__dict__:
            from migov.experiments.sweep.design import problem_file, read_problem

            self.__dict__["_problem"] = read_problem(problem_file(self.exp, self.path.parent))
        return self.__dict__["_problem"]

    def identity(self, design: Any = None) -> dict[str, str]:
        """Hashes of everything that decides the experiment's results, one per input, so that a
        change to any of them is caught and named: the experiment's settings, the base scenario as
        resolved (its file and every file it extends), the design's points (a csv design's
        contents), other scenarios a design's ``scenario`` column names, and the code."""
        from migov.experiments.sweep.design import build_design

        if design is None:
            design = build_design(self.exp, self.path.parent)
        others = sorted({str(v) for v in design[SCENARIO_COLUMN].dropna()}) if SCENARIO_COLUMN in design else []
        resolved = {n: validate_scenario(copy.deepcopy(self.other_scenario(n)[0]), n).content_hash() for n in others}
        return {
            "experiment": self.exp.content_hash(),
            "scenario": self.base.content_hash(),
            "design": _digest(design.to_csv(index=False) + (json.dumps(self.salib_problem, sort_keys=True)
                                                             if self.salib_problem else "")),
            "other_scenarios": _digest(json.dumps(resolved, sort_keys=True)),
            "code": code_hash(),
        }

    @property
    def hash(self) -> str:
        """One hash of :meth:`identity`: results made under another experiment, scenario, design
        file or code are never mixed into the same folder."""
        return identity_hash(self.identity())


def scenario_with(base: dict, params: Mapping[str, Any], source: str, where: str) -> Scenario:
    """A copy of raw scenario data with ``params`` (dotted path -> value) set and validated: the
    one code path of sweeps and ``migov.evaluate``. Empty values (None or NaN) are left out."""
    data = copy.deepcopy(base)
    for key, value in params.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        set_paths(data, key, value, source=source)
    return validate_scenario(data, where)


def identity_hash(identity: dict[str, str]) -> str:
    """The experiment hash: one digest of its identity's parts."""
    return _digest(json.dumps(identity, sort_keys=True))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_code_hash() -> str:
    """A hash of the model package's source (what a run's numbers depend on)."""
    import migov.model as model_package

    digest = hashlib.sha256()
    for f in sorted(Path(model_package.__file__).parent.glob("*.py")):
        digest.update(f.name.encode() + f.read_bytes())
    return digest.hexdigest()[:16]


def code_hash() -> str:
    """The model's source, the design samplers and the function that turns a run into the stored
    final state and series (``sweep.run_once``, ``sweep.run_point``): the code a sweep's numbers depend on."""
    import inspect

    from migov.experiments.sweep import design
    from migov.experiments.sweep import engine as sweep

    return _digest(model_code_hash() + inspect.getsource(design) + inspect.getsource(sweep.run_once)
                   + inspect.getsource(sweep.run_point))


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


def load_experiment(path: str | Path, allow_large: bool = False) -> LoadedExperiment:
    """Load an experiment file and check everything a run would trip over before any run: the
    design's size (refused past ``design.MAX_RUNS`` runs unless ``allow_large``), every parameter
    path and value against the scenario, a csv design's columns and values, and the measures."""
    from migov.experiments.sweep.design import check_run_count, design_file, read_design_table

    p = find_experiment(path)
    exp = _read_experiment(p)
    table = read_design_table(exp, p.parent) if exp.design.type == "csv" else None
    check_run_count(exp, str(p), None if table is None else len(table), allow_large)
    scenario_path = _scenario_path(exp.scenario, p.parent)
    loaded = LoadedExperiment(p, exp, scenario_path, read_resolved(scenario_path))
    for key, spec in exp.parameters.items():
        if key == SCENARIO_COLUMN:
            levels = list(spec.levels or [])
            _check_scenarios(loaded, str(p), [(f"parameters.scenario.levels[{j}]", v) for j, v in enumerate(levels)])
            continue
        values = list(spec.levels) if spec.levels is not None else list(spec.range)
        where = f"parameters.{key}" + (".levels" if spec.levels is not None else ".range")
        _check_values(loaded, str(p), f"parameters.{key}", where, key, values)
    if table is not None:
        _check_design_table(loaded, design_file(exp, p.parent), table)
    if exp.design.salib is not None and exp.parameters:
        _check_salib_parameters(loaded)
    _check_measures(loaded)
    return loaded


def _check_salib_parameters(loaded: LoadedExperiment) -> None:
    """Parameters declared beside a SALib sample are the problem's, with its bounds and
    distributions (a problem file edited after the experiment was written is caught here)."""
    from migov.experiments.sweep.design import problem_file, problem_specs

    where = problem_file(loaded.exp, loaded.path.parent)
    specs = problem_specs(loaded.salib_problem)
    for name, spec in loaded.exp.parameters.items():
        if name not in specs:
            raise ScenarioError(str(loaded.path), f"parameters.{name}", f"is not in the SALib problem {where} "
                                f"({', '.join(specs)}); expected the problem's parameters")
        theirs = specs[name]
        if spec.range is None or tuple(spec.range) != tuple(theirs.range) or spec.distribution != theirs.distribution:
            mine = f"{list(spec.range) if spec.range else spec.levels} {spec.distribution}"
            raise ScenarioError(str(loaded.path), f"parameters.{name}", f"{mine} differs from the SALib problem "
                                f"{where} ({list(theirs.range)} {theirs.distribution}); expected the range the "
                                "sample was drawn from")


def _read_experiment(p: Path) -> Experiment:
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(str(p), "", f"expected a mapping of experiment fields, got {type(data).__name__}")
    try:
        return Experiment.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(p), loc, msg) from None


def _check_values(loaded: LoadedExperiment, source: str, path_field: str, value_field: str, key: str,
                  values: list) -> None:
    """Each value set at ``key`` in the base scenario, which must accept it (the code path of
    ``migov run --set``); errors name ``path_field`` for a bad path, ``value_field`` for a value."""
    for value in values:
        probe = copy.deepcopy(loaded.scenario_data)
        try:
            set_paths(probe, key, value, source=source)
        except ScenarioError as err:
            raise ScenarioError(source, path_field, f"not a parameter of the scenario "
                                f"({err.field}: {err.message})") from None
        try:
            validate_scenario(probe, source)
        except ScenarioError as err:
            raise ScenarioError(source, value_field, f"{value!r} is not allowed for {err.field}: {err.message}"
                                ) from None


def _check_scenarios(loaded: LoadedExperiment, source: str, named: list[tuple[str, Any]]) -> None:
    """Every scenario a ``scenario`` column or level names (given as (field, name)) must exist
    and validate."""
    for field, name in named:
        try:
            validate_scenario(copy.deepcopy(loaded.other_scenario(str(name))[0]), str(name))
        except ScenarioError as err:
            raise ScenarioError(source, field, str(err)) from None


CHECKED_VALUES = 100  # distinct values of a csv column checked one by one; beyond, its extremes


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _column_probes(column: Any) -> list:
    """The values of a design column worth checking: all distinct ones, or for a long numeric
    column its minimum, maximum and first value (the scenario's bounds are intervals)."""
    distinct = column.dropna().unique()
    if len(distinct) <= CHECKED_VALUES:
        return [_plain(v) for v in distinct]
    if column.dtype.kind in "iuf":
        return [_plain(v) for v in (column.min(), column.max(), column.dropna().iloc[0])]
    return [_plain(v) for v in distinct[:CHECKED_VALUES]]


def _check_design_table(loaded: LoadedExperiment, csv_path: Path, table: Any) -> None:
    """A csv design's columns are scenario paths and their values are ones the scenario accepts,
    checked as ``parameters.*.levels`` are, whether or not the experiment declares parameters;
    then the first row is checked as a whole, as its run would see it."""
    source, declared = str(csv_path), list(loaded.exp.parameters)
    for column in table.columns:
        if declared and column not in declared:
            raise ScenarioError(source, column, f"column is not a parameter of the experiment {declared}")
        values = _column_probes(table[column])
        if column == SCENARIO_COLUMN:
            _check_scenarios(loaded, source, [(column, v) for v in values])
            continue
        _check_values(loaded, source, column, column, column, values)
    first = {k: _plain(v) for k, v in table.iloc[0].items()}
    try:
        loaded.scenario_for(first)
    except ScenarioError as err:
        raise ScenarioError(source, "row 1", f"the first point is not a valid scenario ({err.field}: {err.message})"
                            ) from None


def _scenario_names(loaded: LoadedExperiment) -> list[str]:
    return list(loaded.__dict__.get("_others", {}))


def _check_measures(loaded: LoadedExperiment) -> None:
    """``collect.measures`` must name measures the model computes for these scenarios (some are
    per organisation, e.g. funding_share_IOM, or exist only with a fund, e.g. fund_total)."""
    wanted = loaded.exp.collect.measures
    if not wanted:
        return
    from difflib import get_close_matches

    known = measure_names([loaded.base, *(validate_scenario(copy.deepcopy(loaded.other_scenario(n)[0]), n)
                                          for n in _scenario_names(loaded))])
    for i, name in enumerate(wanted):
        field = f"collect.measures[{i}]"
        if name in wanted[:i]:
            raise ScenarioError(str(loaded.path), field, f"'{name}' is listed twice; expected each measure once")
        if name not in known:
            close = get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ScenarioError(str(loaded.path), field, f"unknown measure '{name}'{hint}; expected one of "
                                f"{', '.join(sorted(known))}")


def measure_names(scenarios: list[Scenario]) -> set[str]:
    """The names of the model's measures (model.parquet's columns but step and year) for these
    scenarios, read off a model built at step 0."""
    from migov.model import MigovModel

    names: set[str] = set()
    for sc in scenarios:
        m = MigovModel(sc, seed=0, collect_agents=False)
        names |= set(m.measures)
        m.release()
    return names
