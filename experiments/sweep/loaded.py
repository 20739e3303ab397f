"""An experiment loaded for running: its base scenario resolved, every parameter path, value,
csv column and measure checked against the scenario before any run, and its identity (everything
that decides its results: the files, the design, the code) for resuming safely."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from migov.experiments.sweep import design, one_run
from migov.experiments.sweep.design import (
    build_design,
    check_run_count,
    crn_blocks,
    design_file,
    problem_file,
    problem_specs,
    read_design_table,
    read_problem,
    run_table,
)
from migov.experiments.sweep.experiment import SCENARIO_COLUMN, Experiment, _read_experiment, find_experiment
from migov.experiments.sweep.posterior import DRAW_COLUMN, Posterior, load_posterior, values_at, with_draws
from migov.model import Scenario, ScenarioError
from migov.model.agents import static_attributes
from migov.model.config import (
    _format_pydantic,
    copy_data,
    find_scenario,
    read_resolved,
    set_paths,
    validate_scenario,
)
from pydantic import ValidationError

_NOTED: set[tuple] = set()  # (posterior folder, scenario) pairs already noted in this process


def _scenario_path(ref: str, folder: Path) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") and not p.is_absolute() and (folder / p).is_file():
        return folder / p
    return find_scenario(ref)


class LoadedExperiment:
    """An experiment with its base scenario data resolved and every parameter path checked."""

    def __init__(self, path: Path, exp: Experiment, scenario_path: Path, scenario_data: dict,
                 table: Any = None):
        self.path = path
        self.exp = exp
        self.scenario_path = scenario_path
        self.scenario_data = scenario_data
        self.base = validate_scenario(copy_data(scenario_data), str(scenario_path))
        self.table = table  # a csv design's points, when they came in memory rather than from the file
        self.checked_values: set[tuple[str, str]] = set()  # (path, repr(value)) the scenario accepted

    def design(self) -> Any:
        """The design's points: the table handed over in memory, or built from the experiment."""
        return self.table if self.table is not None else build_design(self.exp, self.path.parent)

    @property
    def posterior(self) -> Posterior | None:
        """The calibration posterior the runs draw their parameters from, if the experiment names one."""
        if self.exp.posterior is None:
            return None
        if "_posterior" not in self.__dict__:
            folder = Path(self.exp.posterior)
            folder = folder if folder.is_absolute() else self.path.parent / folder
            self.__dict__["_posterior"] = load_posterior(folder, "posterior")
        return self.__dict__["_posterior"]

    def runs(self, design: Any = None) -> pd.DataFrame:
        """One row per run (run id, point, replicate, seed, the design's values) and, with a
        posterior, the draw and the parameter set each replicate takes from it."""
        if design is None:
            design = self.design()
        runs = run_table(self.exp, design)
        if self.posterior is not None:
            blocks = crn_blocks(self.exp, len(design)) if self.exp.crn_block else None
            runs = with_draws(runs, self.posterior, self.exp.seed, [*design.columns, *self.undrawn(design)], blocks)
        return runs

    def undrawn(self, design: Any = None) -> list[str]:
        """Posterior paths on which the scenarios a design compares (its ``scenario`` column) differ:
        drawing them would erase the very difference compared, so each scenario keeps its own value."""
        if self.posterior is None:
            return []
        if design is None:
            design = self.design()
        if SCENARIO_COLUMN not in design:
            return []
        names = sorted({str(v) for v in design[SCENARIO_COLUMN].dropna() if str(v)})
        datas = [self.base.model_dump(mode="json")]
        datas += [validate_scenario(copy_data(self.other_scenario(n)[0]), n).model_dump(mode="json")
                  for n in names]
        out = []
        for path in self.posterior.paths:
            try:
                seen = {json.dumps(values_at(d, path), sort_keys=True) for d in datas}
            except ScenarioError:
                continue
            if len(seen) > 1:
                out.append(path)
        return out

    def run_parameters(self, runs: pd.DataFrame) -> list[str]:
        """The run table's columns a run sets in its scenario: the design's and the drawn ones."""
        skip = {"run_id", "point", "replicate", "seed", DRAW_COLUMN}
        return [c for c in runs.columns if c not in skip]

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

    def static_table(self, design: Any = None) -> pd.DataFrame:
        """Each agent's static attributes (``static_attributes``) for the sweep's runs, written once
        with the folder. Only a design column outside ``parameters.`` and ``simulation.`` (an
        agent's field, a ``scenario`` column) can change them: without one the table is the base
        scenario's, the same for every run (no ``point`` column); with one it holds each design
        point's agents after a ``point`` column (join runs.parquet on point, then agent and type).
        Points with the same values in those columns share one computation."""
        if design is None:
            design = self.design()
        varying = [c for c in design.columns if not c.startswith(("parameters.", "simulation."))]
        if not varying:
            return static_attributes(self.base)
        tables: dict[str, pd.DataFrame] = {}
        blocks = []
        for row in design[varying].itertuples(index=False):
            values = {c: _plain(v) for c, v in zip(varying, row, strict=True)}
            key = repr(sorted(values.items()))
            if key not in tables:
                tables[key] = static_attributes(self.scenario_for(values))
            blocks.append(tables[key])
        table = pd.concat(blocks, keys=range(len(blocks)), names=["point", None]).reset_index(level=0)
        return table.reset_index(drop=True)

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
            self.__dict__["_problem"] = read_problem(problem_file(self.exp, self.path.parent))
        return self.__dict__["_problem"]

    def identity(self, design: Any = None) -> dict[str, str]:
        """Hashes of everything that decides the experiment's results, one per input, so that a
        change to any of them is caught and named: the experiment's settings, the base scenario as
        resolved (its file and every file it extends), the design's points (a csv design's
        contents), other scenarios a design's ``scenario`` column names, and the code."""
        if design is None:
            design = self.design()
        others = sorted({str(v) for v in design[SCENARIO_COLUMN].dropna()}) if SCENARIO_COLUMN in design else []
        resolved = {n: validate_scenario(copy_data(self.other_scenario(n)[0]), n).content_hash() for n in others}
        return {
            "experiment": self.exp.content_hash(),
            "scenario": self.base.content_hash(),
            "design": _digest(design.to_csv(index=False) + (json.dumps(self.salib_problem, sort_keys=True)
                                                             if self.salib_problem else "")),
            "other_scenarios": _digest(json.dumps(resolved, sort_keys=True)),
            "code": code_hash(),
            **({"posterior": self.posterior.digest} if self.posterior is not None else {}),
        }

    @property
    def hash(self) -> str:
        """One hash of :meth:`identity`: results made under another experiment, scenario, design
        file or code are never mixed into the same folder."""
        return identity_hash(self.identity())


def scenario_with(base: dict, params: Mapping[str, Any], source: str, where: str) -> Scenario:
    """A copy of raw scenario data with ``params`` (dotted path -> value) set and validated: the
    one code path of sweeps and ``migov.evaluate``. Empty values (None or NaN) are left out."""
    data = copy_data(base)
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
    """The model's source, the design samplers and the module that turns a run into the stored
    final state and series (``one_run``, whole: its constants decide the columns too): the code a
    sweep's numbers and columns depend on."""
    return _digest(model_code_hash() + inspect.getsource(design) + inspect.getsource(one_run))


def load_experiment(path: str | Path, allow_large: bool = False, posterior: Path | None = None) -> LoadedExperiment:
    """Load an experiment file and check everything a run would trip over before any run: the
    design's size (refused past ``design.MAX_RUNS`` runs unless ``allow_large``), every parameter
    path and value against the scenario, a csv design's columns and values, and the measures."""
    p = find_experiment(path)
    exp = _read_experiment(p)
    if posterior is not None:  # --posterior: replaces the file's own, and so changes the experiment's identity
        exp = exp.model_copy(update={"posterior": str(Path(posterior).resolve())})
    table = read_design_table(exp, p.parent) if exp.design.type == "csv" else None
    return _checked(p, exp, table, allow_large)


def build_experiment(data: dict, path: Path, design: Any = None, allow_large: bool = False) -> LoadedExperiment:
    """An experiment built in memory (a claim's arms, the ``--where`` samples) and handed to the
    engine as an object: validated and checked exactly as a file would be. ``path`` names it in
    messages and anchors relative scenario paths; a csv design's points come as ``design``."""
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(path), loc, msg) from None
    return _checked(Path(path), exp, design, allow_large)


def _checked(p: Path, exp: Experiment, table: Any, allow_large: bool) -> LoadedExperiment:
    check_run_count(exp, str(p), None if table is None else len(table), allow_large)
    scenario_path = _scenario_path(exp.scenario, p.parent)
    loaded = LoadedExperiment(p, exp, scenario_path, read_resolved(scenario_path), table)
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
    if loaded.posterior is not None:  # every drawn path and its extremes, before any run
        post = loaded.posterior
        for key in post.paths:
            col = post.particles[key]
            _check_values(loaded, str(p), "posterior", "posterior", key, sorted({col.min(), col.max()}))
        if post.scenario and Path(post.scenario).resolve() != scenario_path.resolve():
            note = (post.folder, scenario_path.stem)
            if note not in _NOTED:
                _NOTED.add(note)
                print(f"migov: note: the posterior in {post.folder} was calibrated on {Path(post.scenario).stem}, "
                      f"not {scenario_path.stem}: its draws carry the calibrated parameters' uncertainty into "
                      f"{scenario_path.stem}, they are not a calibration of it", file=sys.stderr)
    _check_measures(loaded)
    return loaded


def _check_salib_parameters(loaded: LoadedExperiment) -> None:
    """Parameters declared beside a SALib sample are the problem's, with its bounds and
    distributions (a problem file edited after the experiment was written is caught here)."""
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


def _check_values(loaded: LoadedExperiment, source: str, path_field: str, value_field: str, key: str,
                  values: list) -> None:
    """Each value set at ``key`` in the base scenario, which must accept it (the code path of
    ``migov run --set``); errors name ``path_field`` for a bad path, ``value_field`` for a value.
    A value already checked at ``key`` for this experiment (a csv design's column and the same
    parameter's levels) is not checked again."""
    done = loaded.checked_values
    for value in values:
        if (key, repr(value)) in done:
            continue
        probe = copy_data(loaded.scenario_data)
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
        done.add((key, repr(value)))


def _check_scenarios(loaded: LoadedExperiment, source: str, named: list[tuple[str, Any]]) -> None:
    """Every scenario a ``scenario`` column or level names (given as (field, name)) must exist
    and validate."""
    for field, name in named:
        try:
            validate_scenario(copy_data(loaded.other_scenario(str(name))[0]), str(name))
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

    known = measure_names([loaded.base, *(validate_scenario(copy_data(loaded.other_scenario(n)[0]), n)
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
    return set(measure_columns(scenarios))


def measure_columns(scenarios: list[Scenario]) -> list[str]:
    """The model's measures for these scenarios in the model table's order (the first scenario's,
    then each new one as it comes)."""
    from migov.model import MigovModel

    names: dict[str, None] = {}
    for sc in scenarios:
        m = MigovModel(sc, seed=0, collect_agents=False)
        names.update(dict.fromkeys(m.measures))
        m.release()
    return list(names)
