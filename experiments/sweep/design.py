"""Designs: the table of parameter sets an experiment runs, and the seed of every run.

A design is a DataFrame with one column per parameter path and one row per point; users can
hand in their own as a CSV. Samplers come from ``scipy.stats.qmc`` (Latin hypercube) and SALib
(Saltelli for Sobol indices, Morris trajectories), never hand-written. Seeds are spawned from
the experiment's base seed with numpy's ``SeedSequence``, so runs are independent and the same
experiment always gives the same seeds.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
from migov.experiments.sweep.experiment import Experiment, ParameterSpec
from migov.model import ScenarioError
from migov.model.config import read_text
from scipy import stats
from scipy.stats import qmc

MAX_RUNS = 1_000_000  # a design past this is refused unless --allow-large: its tables alone would fill memory


def salib_problem(exp: Experiment) -> dict:
    names = list(exp.parameters)
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _from_unit(u: np.ndarray, spec: ParameterSpec) -> np.ndarray:
    """Map unit-interval samples onto a parameter's distribution."""
    lo, hi = spec.range
    if spec.distribution == "uniform":
        x = lo + u * (hi - lo)
    elif spec.distribution == "loguniform":
        x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
    else:
        a, b = (lo - spec.mean) / spec.sd, (hi - spec.mean) / spec.sd
        x = stats.truncnorm.ppf(np.clip(u, 1e-12, 1 - 1e-12), a, b, loc=spec.mean, scale=spec.sd)
    return np.round(x) if spec.integer else x


def _grid_values(spec: ParameterSpec) -> list:
    if spec.levels is not None:
        return list(spec.levels)
    u = np.linspace(0.0, 1.0, spec.points)
    return [float(v) for v in _from_unit(u, spec)]


def build_design(exp: Experiment, folder: Path | None = None) -> pd.DataFrame:
    """The points of an experiment's design, one column per parameter path."""
    names = list(exp.parameters)
    d = exp.design
    if d.type == "grid":
        rows = list(itertools.product(*(_grid_values(exp.parameters[n]) for n in names)))
        return pd.DataFrame(rows, columns=names)
    if d.type == "csv":
        path = design_file(exp, folder)
        df = read_design_csv(path)
        unknown = [c for c in df.columns if c not in names] if names else []
        if unknown:
            raise ScenarioError(str(path), unknown[0], f"column is not a parameter of the experiment {names}")
        return df
    unit = unit_sample(exp)
    return pd.DataFrame({n: _from_unit(unit[:, j], exp.parameters[n]) for j, n in enumerate(names)})


def design_file(exp: Experiment, folder: Path | None) -> Path:
    """A csv design's file: relative paths are relative to the experiment file's folder."""
    f = Path(exp.design.file or "")
    return f if folder is None or f.is_absolute() else Path(folder) / f


def _looks_like_data(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_header(path: Path, text: str) -> None:
    """A header row of distinct parameter paths, not a first row of numbers that pandas would
    silently take for column names."""
    try:
        header = next(csv.reader(io.StringIO(text)))
    except (csv.Error, StopIteration) as err:
        raise ScenarioError(str(path), "", f"cannot be read as CSV ({err}); expected a header row") from None
    if any(_looks_like_data(c.strip()) for c in header):
        raise ScenarioError(str(path), "header", "the first row looks like data; expected a header row of parameter "
                                                 "paths such as parameters.uncertainty")
    for i, cell in enumerate(header):
        if not cell.strip():
            raise ScenarioError(str(path), f"column {i + 1}", "has no name; expected a parameter path in the header")
        if header.index(cell) != i:
            raise ScenarioError(str(path), cell, f"appears twice in the header (columns {header.index(cell) + 1} "
                                                 f"and {i + 1}); expected each parameter once")


def read_design_csv(path: Path) -> pd.DataFrame:
    """A user's design table, or one line naming the file and what is wrong with it."""
    text = read_text(path)
    if not text.strip():
        raise ScenarioError(str(path), "", "the design file is empty; expected a header row of parameter paths "
                                           "and one row per point")
    _check_header(path, text)
    try:
        df = pd.read_csv(io.StringIO(text), index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        problem = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise ScenarioError(str(path), "", f"cannot be read as CSV ({problem}); expected comma-separated "
                                           "values under a header row") from None
    if df.empty:
        raise ScenarioError(str(path), "", "the design file has no rows; expected one row per point")
    return df.reset_index(drop=True)


def design_points(exp: Experiment, csv_rows: int | None = None) -> int:
    """How many points the design has, computed without building it (``csv_rows`` for csv)."""
    d, n = exp.design, len(exp.parameters)
    if d.type == "grid":
        return math.prod(len(s.levels) if s.levels is not None else int(s.points or 0)
                         for s in exp.parameters.values())
    if d.type == "lhs":
        return int(d.size or 0)
    if d.type == "sobol":  # Saltelli: N (D + 2), or N (2D + 2) with second-order indices
        return int(d.size or 0) * ((2 * n + 2) if d.second_order else (n + 2))
    if d.type == "morris":
        return int(d.size or 0) * (n + 1)
    return int(csv_rows or 0)


DESIGN_FIELD = {"grid": "parameters", "lhs": "design.size", "sobol": "design.size", "morris": "design.size",
                "csv": "design.file"}


def check_run_count(exp: Experiment, source: str, csv_rows: int | None = None, allow_large: bool = False) -> int:
    """The number of runs (points x replicates), refused past ``MAX_RUNS`` before anything is
    allocated, unless ``allow_large``."""
    points = design_points(exp, csv_rows)
    runs = points * exp.replicates
    if runs <= MAX_RUNS or allow_large:
        return runs
    field = DESIGN_FIELD[exp.design.type] if points > MAX_RUNS else "replicates"
    raise ScenarioError(source, field, f"{points:,} points x {exp.replicates:,} replicates = {runs:,} runs; expected "
                                       f"at most {MAX_RUNS:,} (make the design smaller, or add --allow-large)")


def unit_sample(exp: Experiment) -> np.ndarray | None:
    """The sampler's points in the unit cube (lhs, sobol, morris), before they are mapped onto
    each parameter's distribution; SALib's analyses take these. None for grid and csv."""
    d, names = exp.design, list(exp.parameters)
    rng_seed = int(np.random.SeedSequence([exp.seed, 1]).generate_state(1)[0])
    if d.type == "lhs":
        return qmc.LatinHypercube(d=len(names), scramble=d.scramble, seed=rng_seed).random(d.size)
    if d.type == "sobol":
        from SALib.sample import sobol as saltelli

        return saltelli.sample(salib_problem(exp), d.size, calc_second_order=d.second_order,
                               scramble=d.scramble, seed=rng_seed)
    if d.type == "morris":
        from SALib.sample import morris

        return morris.sample(salib_problem(exp), d.size, num_levels=d.levels, seed=rng_seed)
    return None


def run_table(exp: Experiment, design: pd.DataFrame) -> pd.DataFrame:
    """One row per run: run id, design point, replicate, seed, then the parameters."""
    n_points, reps = len(design), exp.replicates
    if exp.common_random_numbers:
        children = np.random.SeedSequence(exp.seed).spawn(reps)
        rep_seeds = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]
        seeds = np.tile(rep_seeds, n_points)
    else:
        children = np.random.SeedSequence(exp.seed).spawn(n_points * reps)
        seeds = np.array([int(c.generate_state(1, dtype=np.uint32)[0]) for c in children])
    point = np.repeat(np.arange(n_points), reps)
    replicate = np.tile(np.arange(reps), n_points)
    table = pd.DataFrame({
        "run_id": np.arange(n_points * reps, dtype=np.int64),
        "point": point.astype(np.int64),
        "replicate": replicate.astype(np.int64),
        "seed": seeds.astype(np.int64),
    })
    params = design.iloc[point].reset_index(drop=True)
    return pd.concat([table, params], axis=1)
