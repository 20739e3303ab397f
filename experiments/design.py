"""Designs: the table of parameter sets an experiment runs, and the seed of every run.

A design is a DataFrame with one column per parameter path and one row per point; users can
hand in their own as a CSV. Samplers come from ``scipy.stats.qmc`` (Latin hypercube) and SALib
(Saltelli for Sobol indices, Morris trajectories), never hand-written. Seeds are spawned from
the experiment's base seed with numpy's ``SeedSequence``, so runs are independent and the same
experiment always gives the same seeds.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from model import ScenarioError

from .experiment import Experiment, ParameterSpec


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
        path = Path(d.file) if folder is None or Path(d.file).is_absolute() else Path(folder) / d.file
        if not path.is_file():
            raise ScenarioError(str(path), "", "design file not found")
        df = pd.read_csv(path)
        unknown = [c for c in df.columns if c not in names] if names else []
        if unknown:
            raise ScenarioError(str(path), unknown[0], f"column is not a parameter of the experiment {names}")
        if df.empty:
            raise ScenarioError(str(path), "", "the design file has no rows")
        return df.reset_index(drop=True)
    unit = unit_sample(exp)
    return pd.DataFrame({n: _from_unit(unit[:, j], exp.parameters[n]) for j, n in enumerate(names)})


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
