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
        df = read_design_table(exp, folder)
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
                                                 "paths such as parameters.uncertainty (for a file without one, such "
                                                 "as SALib's sampler writes, give design.columns or design.salib)")
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


# --------------------------------------------------------------------------- headerless and SALib samples
SALIB_DISTS = {"uniform": "unif", "loguniform": "logunif"}  # our distributions as SALib's problem files name them


def problem_file(exp: Experiment, folder: Path | None) -> Path:
    """A SALib design's problem file: relative paths are relative to the experiment file's folder."""
    f = Path(exp.design.salib.problem if exp.design.salib else "")
    return f if folder is None or f.is_absolute() else Path(folder) / f


def problem_text(exp: Experiment, source: str) -> str:
    """The experiment's parameter space as a SALib problem file, the format ``salib sample -p FILE``
    reads (``SALib.util.read_param_file``): one ``name,low,high`` line per parameter in the
    experiment's order, names being the dotted parameter paths; a loguniform range adds the group
    and distribution columns (``NA,logunif``). Commas, because SALib sniffs the delimiter and
    prefers a comma where dots and spaces also occur in every line."""
    if not exp.parameters:
        raise ScenarioError(source, "parameters", "is empty; a SALib problem needs at least one parameter with a range")
    lines, with_dists = [], any(s.distribution != "uniform" for s in exp.parameters.values())
    for name, spec in exp.parameters.items():
        field = f"parameters.{name}"
        if spec.range is None:
            raise ScenarioError(source, field, "has levels; a SALib problem needs a 'range' for every parameter")
        if spec.distribution not in SALIB_DISTS:
            raise ScenarioError(source, f"{field}.distribution", f"{spec.distribution} cannot be written to a SALib "
                                "problem file (it holds two bounds per parameter); expected uniform or loguniform")
        if spec.integer:
            raise ScenarioError(source, f"{field}.integer", "SALib samples real numbers; expected a parameter "
                                "without 'integer: true' in a SALib problem")
        if any(c in name for c in ',"\'\t\n') or name.startswith("#"):
            raise ScenarioError(source, field, "cannot be a name in a SALib problem file (a comma, quote, tab or "
                                "leading #)")
        lo, hi = spec.range
        cells = [name, repr(float(lo)), repr(float(hi))]
        lines.append(",".join(cells + (["NA", SALIB_DISTS[spec.distribution]] if with_dists else [])))
    return "\n".join(lines) + "\n"


def read_problem(path: Path) -> dict:
    """A SALib problem file read by SALib's own reader (so migov and ``salib sample`` agree on its
    names and order), checked for what a design needs: distinct names, two bounds each, no groups,
    uniform or loguniform distributions."""
    from SALib.util import read_param_file

    source = str(path)
    read_text(path)  # one line for a missing or unreadable file
    expected = "expected one 'name,low,high' line per parameter (migov design EXPERIMENT --salib-problem FILE)"
    try:
        problem = read_param_file(str(path))
    except (ValueError, TypeError, KeyError, IndexError, csv.Error) as err:
        raise ScenarioError(source, "", f"cannot be read as a SALib problem file ({err}); {expected}") from None
    names = [n.strip() for n in problem["names"]]
    if not names:
        raise ScenarioError(source, "", f"names no parameters; {expected}")
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ScenarioError(source, name, "appears twice; expected each parameter once")
    if problem.get("groups"):
        raise ScenarioError(source, "groups", "the problem groups its parameters; a migov design needs one column "
                                              "per parameter (leave the group column out, or NA)")
    dists = problem.get("dists") or ["unif"] * len(names)
    for name, (lo, hi), dist in zip(names, problem["bounds"], dists, strict=True):
        if dist not in SALIB_DISTS.values():
            raise ScenarioError(source, name, f"distribution '{dist}'; expected unif or logunif")
        if not lo < hi:
            raise ScenarioError(source, name, f"bounds [{lo}, {hi}]; expected low < high")
    return {"num_vars": len(names), "names": names, "bounds": [[float(lo), float(hi)] for lo, hi in problem["bounds"]],
            "dists": list(dists)}


def problem_specs(problem: dict) -> dict[str, ParameterSpec]:
    """A SALib problem's parameters as migov parameter specs (ranges and distributions)."""
    back = {v: k for k, v in SALIB_DISTS.items()}
    return {n: ParameterSpec(range=(lo, hi), distribution=back[d])
            for n, (lo, hi), d in zip(problem["names"], problem["bounds"], problem["dists"], strict=True)}


def read_headerless(path: Path, columns: list[str], origin: str = "design.columns") -> pd.DataFrame:
    """A design file without a header row, as SALib's sampler writes it (``np.savetxt``: one row of
    numbers per point, space-separated by default, comma-separated with ``--delimiter ,``); blank
    lines and lines starting with # are skipped. One line naming the file and row for a bad row."""
    text = read_text(path)
    rows, first = [], True
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")] if "," in line else line.split()
        if len(cells) != len(columns):
            raise ScenarioError(str(path), f"line {i}", f"{len(cells)} values; expected {len(columns)}, one for each "
                                                        f"column ({', '.join(columns)})")
        try:
            values = [float(c) for c in cells]
        except ValueError:
            j = next(k for k, c in enumerate(cells) if not _looks_like_data(c))
            hint = (f" (it looks like a header row; this design's columns come from {origin}, so its file has none: "
                    "remove the line)" if first else "")
            raise ScenarioError(str(path), f"line {i}", f"column {j + 1} ({columns[j]}): '{cells[j]}' is not a "
                                                        f"number{hint}") from None
        bad = [k for k, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise ScenarioError(str(path), f"line {i}", f"column {bad[0] + 1} ({columns[bad[0]]}): "
                                                        f"'{cells[bad[0]]}' is not a finite number")
        rows.append(values)
        first = False
    if not rows:
        raise ScenarioError(str(path), "", "the design file has no rows; expected one row of numbers per point")
    return pd.DataFrame(rows, columns=list(columns))


def check_salib_sample(exp: Experiment, problem: dict, table: pd.DataFrame, source: str) -> None:
    """A SALib sample fits its problem and method: every value within the problem's bounds (a
    sample drawn from another problem, or with its columns swapped, usually is not), a Saltelli
    sample of N (D + 2) rows, or N (2D + 2) with second-order indices, and Morris trajectories of
    D + 1 rows, each step moving one parameter."""
    for name, (lo, hi) in zip(problem["names"], problem["bounds"], strict=True):
        x = table[name].to_numpy(float)
        slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
        outside = np.flatnonzero((x < lo - slack) | (x > hi + slack))
        if len(outside):
            k = int(outside[0])
            raise ScenarioError(source, f"row {k + 1}", f"{name} = {x[k]:g} is outside the problem's bounds "
                                f"[{lo:g}, {hi:g}]; expected a sample drawn from {exp.design.salib.problem}, columns "
                                "in its order")
    n, d = len(table), problem["num_vars"]
    if exp.design.salib.method == "sobol":
        second = exp.design.second_order
        per, other = (2 * d + 2, d + 2) if second else (d + 2, 2 * d + 2)
        if n % per:
            hint = (f"; {n} rows fit one {'without' if second else 'with'} them: set design.second_order: "
                    f"{str(not second).lower()}") if not n % other else ""
            said = "with" if second else "without"
            raise ScenarioError(source, "", f"{n} rows; a Saltelli sample of {d} parameters {said} second-order "
                                f"indices (design.second_order: {str(second).lower()}) has N x {per} rows{hint}")
        return
    if n % (d + 1):
        raise ScenarioError(source, "", f"{n} rows; a Morris sample of {d} parameters has trajectories of {d + 1} rows")
    steps = np.diff(table[problem["names"]].to_numpy(float).reshape(-1, d + 1, d), axis=1)
    moved = (steps != 0).sum(axis=2)
    if (moved != 1).any():
        t, k = (int(v) for v in np.argwhere(moved != 1)[0])
        first = t * (d + 1) + k + 1
        raise ScenarioError(source, f"rows {first}-{first + 1}", f"{int(moved[t, k])} parameters change between these "
                            f"rows; a Morris trajectory changes one per step (was the sample drawn with salib sample "
                            f"morris, as design.salib.method says?)")


def read_design_table(exp: Experiment, folder: Path | None) -> pd.DataFrame:
    """A csv design's points: a file with a header row, a headerless file with ``columns``, or a
    SALib sample whose columns are its problem's names, checked against the problem and method."""
    path = design_file(exp, folder)
    d = exp.design
    if d.salib is not None:
        problem = read_problem(problem_file(exp, folder))
        table = read_headerless(path, problem["names"], f"the problem file {d.salib.problem}")
        check_salib_sample(exp, problem, table, str(path))
        return table
    if d.columns is not None:
        return read_headerless(path, d.columns)
    return read_design_csv(path)


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


def replicate_seeds(seed: int | np.random.SeedSequence, replicates: int) -> list[int]:
    """The seed of each replicate under common random numbers (the same at every point, or at
    every point of a ``crn_block``), spawned from the experiment's base seed (or from a block's
    own sequence)."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in root.spawn(replicates)]


def crn_blocks(exp: Experiment, n_points: int) -> np.ndarray:
    """The common-random-numbers block of each design point: 0 for all, or point // crn_block."""
    points = np.arange(n_points)
    return points // exp.crn_block if exp.crn_block else np.zeros(n_points, dtype=int)


def run_table(exp: Experiment, design: pd.DataFrame) -> pd.DataFrame:
    """One row per run: run id, design point, replicate, seed, then the parameters. Under common
    random numbers replicate r has one seed per block of points (all points by default); each
    block's seeds are spawned from its own child of the base seed."""
    n_points, reps = len(design), exp.replicates
    if exp.common_random_numbers and exp.crn_block:
        block = crn_blocks(exp, n_points)
        roots = np.random.SeedSequence(exp.seed).spawn(int(block.max(initial=-1)) + 1)
        per_block = [replicate_seeds(r, reps) for r in roots]
        seeds = np.array([s for b in block for s in per_block[b]], dtype=np.int64)
    elif exp.common_random_numbers:
        seeds = np.tile(replicate_seeds(exp.seed, reps), n_points)
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
