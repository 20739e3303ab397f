"""``migov explore``: pattern-space exploration (PSE) — which combinations of two or three output
patterns the model can produce at all, whatever its parameters.

As OpenMOLE's PSE (Chérel, Cottineau & Reuillon 2015): the pattern space is cut into a grid of
cells; a first generation samples the parameter space (Latin hypercube); each later generation
picks parents among the parameter sets that reached a cell, the rarer the cell the likelier
(novelty: weight 1 / hits), and breeds offspring by simulated binary crossover and polynomial
mutation, DEAP's bounded operators on the unit cube. The archive keeps, for every cell ever
reached, the first parameter set that reached it. A cell the search never reaches, after a
budget spent looking for novelty, is a pattern the model does not produce easily — if the record
lies in one, that is a finding about the model.

Every generation's evaluations are written when it finishes (``evaluations/gen-NNNN.parquet``);
a stopped exploration resumes from the last finished generation and, because each generation's
offspring come from a generator seeded by (seed, generation) and each run's seed from its
parameters, gives what an uninterrupted one gives.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from migov.experiments.calibration.simulate import run_seed
from migov.experiments.calibration.spec import find_shipped, steps_through
from migov.experiments.sweep.experiment import MAX_SEED, read_checked
from migov.experiments.sweep.loaded import _scenario_path
from migov.model import ScenarioError
from migov.model.config import Strict, copy_data, read_resolved, set_paths
from migov.model.config import validate_scenario as validate_scenario_data
from pydantic import Field, model_validator

EVALS = "evaluations"
ETA = 20.0  # distribution index of crossover and mutation (OpenMOLE's and NSGA-II's usual value)


class Range(Strict):
    path: str = Field(min_length=1, description="the scenario field by dotted path")
    low: float
    high: float
    log: bool = Field(False, description="explore on a log scale (low must be above zero)")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(f"expected low < high, got {self.low} and {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low above zero")
        return self

    def value(self, u: float) -> float:
        if self.log:
            return float(10 ** (math.log10(self.low) + u * (math.log10(self.high) - math.log10(self.low))))
        return float(self.low + u * (self.high - self.low))


class Pattern(Strict):
    quantity: Literal["income", "offices", "members", "venue_members", "earmarked_share", "ngo_direct_share",
                      "ngo_subcontract_share"] = Field(description="a yearly quantity, as migov validate measures it")
    organisation: str | None = Field(None, description="whose (income, offices, members)")
    organisations: list[str] | None = Field(None, min_length=2, max_length=2,
                                            description="numerator and denominator: a ratio of organisations")
    year: int = Field(ge=1800, le=2200)
    low: float
    high: float
    cells: int = Field(ge=2, le=200, description="grid cells between low and high (values beyond fall in the "
                                                 "edge cells)")
    record: float | None = Field(None, description="the record's value, marked on the figure")
    label: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Pattern:
        if self.low >= self.high:
            raise ValueError(f"expected low < high, got {self.low} and {self.high}")
        per_org = self.quantity in ("income", "offices", "members")
        if per_org and not (self.organisation or self.organisations):
            raise ValueError(f"'{self.quantity}' needs an organisation (or two organisations for a ratio)")
        if not per_org and (self.organisation or self.organisations):
            raise ValueError(f"'{self.quantity}' takes no organisation")
        if self.organisation and self.organisations:
            raise ValueError("give organisation or organisations, not both")
        return self

    def cell(self, value: float) -> int:
        if not math.isfinite(value):
            return -1
        k = math.floor((value - self.low) / (self.high - self.low) * self.cells)
        return min(max(k, 0), self.cells - 1)

    def value_of(self, annual: pd.DataFrame) -> float:
        row = annual[annual["year"] == self.year]
        if row.empty:
            return float("nan")
        r = row.iloc[0]
        if self.organisations:
            a, b = (r.get(f"{self.quantity}:{o}", np.nan) for o in self.organisations)
            return float(a / b) if b else float("nan")
        col = f"{self.quantity}:{self.organisation}" if self.organisation else self.quantity
        return float(r.get(col, np.nan))


class Search(Strict):
    initial: int = Field(40, ge=2, le=100_000, description="parameter sets of the first generation (Latin hypercube)")
    offspring: int = Field(40, ge=2, le=100_000, description="parameter sets bred per later generation")
    generations: int = Field(10, ge=1, le=10_000, description="generations, the first included")
    mutation: float = Field(0.3, ge=0.0, le=1.0, description="per-parameter mutation probability")
    crossover: float = Field(0.5, ge=0.0, le=1.0, description="probability that two parents are crossed")


class Exploration(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    scenario: str
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    parameters: dict[str, Range] = Field(min_length=1)
    patterns: dict[str, Pattern] = Field(min_length=2, max_length=3)
    search: Search = Field(default_factory=Search)
    quick: Search = Field(default_factory=lambda: Search(initial=8, offspring=8, generations=2))


@dataclass
class LoadedExploration:
    path: Path
    exp: Exploration
    scenario_path: Path
    scenario_data: dict

    def identity(self, quick: bool) -> dict:
        """What decides the exploration's results: an earlier folder made under others is not continued."""
        import hashlib
        import json

        from migov.experiments.sweep.loaded import code_hash

        blob = json.dumps(self.exp.model_dump(mode="json"), sort_keys=True).encode()
        sc = validate_scenario_data(copy_data(self.scenario_data), str(self.scenario_path))
        return {"exploration_hash": hashlib.sha256(blob).hexdigest()[:16], "scenario_hash": sc.content_hash(),
                "code_hash": code_hash(), "quick": bool(quick)}

    def steps(self) -> int:
        sim = validate_scenario_data(copy_data(self.scenario_data), str(self.scenario_path)).simulation
        return steps_through(max(p.year for p in self.exp.patterns.values()), sim)


def find_exploration(name: str | Path) -> Path:
    """An exploration file by path, or by name among those shipped (``experiments/library/explore/``)."""
    return find_shipped(name, "explore", "exploration")


def load_exploration(path: str | Path) -> LoadedExploration:
    p = find_exploration(path)
    exp = read_checked(p, Exploration, "exploration")
    scenario_path = _scenario_path(exp.scenario, p.parent)
    scenario_data = read_resolved(scenario_path)
    for name, rng in exp.parameters.items():
        for value in (rng.low, rng.high):
            probe = copy_data(scenario_data)
            try:
                set_paths(probe, rng.path, value, source=str(p))
                validate_scenario_data(probe, str(p))
            except ScenarioError as err:
                raise ScenarioError(str(p), f"parameters.{name}", f"{value:g} at {rng.path}: {err.message}") from None
    sc = validate_scenario_data(copy_data(scenario_data), str(scenario_path))
    for name, pat in exp.patterns.items():
        for org in pat.organisations or ([pat.organisation] if pat.organisation else []):
            if org not in sc.organisations:
                raise ScenarioError(str(p), f"patterns.{name}", f"no organisation '{org}' in {scenario_path.stem}")
        last = sc.simulation.start_year + sc.simulation.steps // sc.simulation.steps_per_year - 1
        if not sc.simulation.start_year <= pat.year <= last:
            raise ScenarioError(str(p), f"patterns.{name}.year", f"{pat.year} is outside the scenario's years "
                                f"{sc.simulation.start_year}-{last}")
    return LoadedExploration(p, exp, scenario_path, scenario_data)


# --------------------------------------------------------------------------- evaluation
@dataclass
class PatternModel:
    """Picklable: one parameter set (unit cube) in, the patterns' values out."""

    scenario_data: dict
    where: str
    ranges: dict[str, Range]
    patterns: dict[str, Pattern]
    steps: int
    seed: int

    def __call__(self, unit: tuple[float, ...]) -> dict[str, float]:
        from migov.experiments.calibration.simulate import Simulator

        values = {r.path: r.value(u) for r, u in zip(self.ranges.values(), unit, strict=True)}
        sim = Simulator(self.scenario_data, self.where, {}, {}, [], self.steps, 1, self.seed)
        try:
            annual = sim.annual(values, run_seed(self.seed, 0, values))
        except Exception:  # a parameter set the model cannot run reaches no cell
            return {n: float("nan") for n in self.patterns}
        return {n: p.value_of(annual) for n, p in self.patterns.items()}


def evaluate_all(model: PatternModel, units: list[tuple[float, ...]], workers: int) -> list[dict[str, float]]:
    """The patterns of every parameter set, in order; worker processes are stopped on the way out."""
    if workers <= 1 or len(units) <= 1:
        return [model(u) for u in units]
    from concurrent.futures import ProcessPoolExecutor

    from migov.experiments.sweep.engine import _pool_context, _stop_pool, _worker_start

    pool = ProcessPoolExecutor(max_workers=min(workers, len(units)), mp_context=_pool_context(),
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        return list(pool.map(model, units))
    finally:
        _stop_pool(pool)


# --------------------------------------------------------------------------- search
def cells_of(table: pd.DataFrame, patterns: dict[str, Pattern]) -> pd.Series:
    """Each evaluation's cell as a tuple of indices (None when a pattern could not be measured)."""
    idx = [table[n].map(p.cell) for n, p in patterns.items()]
    cells = list(zip(*idx, strict=True))
    return pd.Series([None if min(c) < 0 else c for c in cells], index=table.index, dtype=object)


def breed(archive: pd.DataFrame, names: list[str], search: Search, seed: int, generation: int) -> list[tuple]:
    """Offspring from the archive: parents chosen with weight 1 / hits of their cell (rare cells
    first), simulated binary crossover and polynomial mutation on the unit cube (DEAP)."""
    from deap import tools

    rng = np.random.default_rng(np.random.SeedSequence([seed, generation, 0x95E]))
    random.seed(int(rng.integers(2**32)))  # DEAP's operators draw from Python's generator
    w = 1.0 / archive["hits"].to_numpy(float)
    units = archive[[f"u:{n}" for n in names]].to_numpy(float)
    out: list[tuple] = []
    while len(out) < search.offspring:
        i, j = rng.choice(len(archive), size=2, replace=True, p=w / w.sum())
        a, b = list(units[i]), list(units[j])
        if len(names) > 1 and rng.random() < search.crossover:
            a, b = tools.cxSimulatedBinaryBounded(a, b, ETA, 0.0, 1.0)
        for child in (a, b):
            (child,) = tools.mutPolynomialBounded(child, ETA, 0.0, 1.0, search.mutation)
            out.append(tuple(min(1.0, max(0.0, float(x))) for x in child))
    return out[: search.offspring]


def lhs(n: int, d: int, seed: int) -> list[tuple]:
    from scipy.stats import qmc

    return [tuple(map(float, row)) for row in qmc.LatinHypercube(d=d, seed=np.random.default_rng([seed, 0])).random(n)]


def archive_of(evals: pd.DataFrame, patterns: dict[str, Pattern]) -> pd.DataFrame:
    """One row per reached cell: the first parameter set that reached it, and its hits."""
    if evals.empty:
        return evals
    ev = evals.assign(cell=cells_of(evals, patterns)).dropna(subset=["cell"])
    hits = ev.groupby("cell").size()
    first = ev.drop_duplicates("cell", keep="first").set_index("cell")
    first["hits"] = hits
    return first.reset_index()


def explore(loaded: LoadedExploration, out: Path, quick: bool, workers: int, quiet: bool,
            write: Callable[[pd.DataFrame, Path], None]) -> pd.DataFrame:
    """Run (or continue) the search; every finished generation is written by ``write`` into
    ``out/evaluations``. Returns every evaluation so far."""
    from tqdm import tqdm

    exp = loaded.exp
    search = exp.quick if quick else exp.search
    names = list(exp.parameters)
    model = PatternModel(loaded.scenario_data, str(loaded.scenario_path), exp.parameters, exp.patterns,
                         loaded.steps(), exp.seed)
    folder = out / EVALS
    folder.mkdir(parents=True, exist_ok=True)
    done = sorted(folder.glob("gen-*.parquet"))
    evals = pd.concat([pd.read_parquet(f) for f in done], ignore_index=True) if done else pd.DataFrame()
    total = search.initial + search.offspring * (search.generations - 1)
    with tqdm(total=total, initial=len(evals), desc=f"explore {exp.name}", unit="run", disable=quiet or None) as bar:
        for gen in range(len(done), search.generations):
            units = (lhs(search.initial, len(names), exp.seed) if gen == 0
                     else breed(archive_of(evals, exp.patterns), names, search, exp.seed, gen))
            results = evaluate_all(model, units, workers)
            block = pd.DataFrame({"generation": gen, "index": range(len(units))})
            for k, n in enumerate(names):
                block[f"u:{n}"] = [u[k] for u in units]
                block[exp.parameters[n].path] = [exp.parameters[n].value(u[k]) for u in units]
            for n in exp.patterns:
                block[n] = [r[n] for r in results]
            write(block, folder / f"gen-{gen:04d}.parquet")
            evals = pd.concat([evals, block], ignore_index=True)
            bar.update(len(units))
            reached = len(archive_of(evals, exp.patterns))
            bar.set_postfix(cells=reached)
    return evals


def coverage(evals: pd.DataFrame, patterns: dict[str, Pattern]) -> pd.DataFrame:
    """Cells reached after each generation (the search's convergence curve)."""
    rows = []
    for gen in sorted(evals["generation"].unique()):
        rows.append({"generation": int(gen), "runs": int((evals["generation"] <= gen).sum()),
                     "cells_reached": len(archive_of(evals[evals["generation"] <= gen], patterns))})
    return pd.DataFrame(rows)


def figure(archive: pd.DataFrame, patterns: dict[str, Pattern], title: str):
    """The reached cells, pattern against pattern (each pair for three), the record marked."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from migov.experiments.analysis.figures import STYLE

    names = list(patterns)
    pairs = [(0, 1)] if len(names) == 2 else [(0, 1), (0, 2), (1, 2)]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.8), squeeze=False)
        for ax, (i, j) in zip(axes[0], pairs, strict=True):
            a, b = patterns[names[i]], patterns[names[j]]
            wa, wb = (a.high - a.low) / a.cells, (b.high - b.low) / b.cells
            seen = {(c[i], c[j]) for c in archive["cell"]}
            for ci, cj in seen:
                ax.add_patch(Rectangle((a.low + ci * wa, b.low + cj * wb), wa, wb, color="#0072B2", alpha=0.55,
                                       lw=0))
            if a.record is not None and b.record is not None:
                ax.scatter([a.record], [b.record], marker="*", s=220, color="#D55E00", zorder=5, label="record")
                ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
            ax.set_xlim(a.low, a.high)
            ax.set_ylim(b.low, b.high)
            ax.set_xlabel(a.label or names[i], fontsize=9)
            ax.set_ylabel(b.label or names[j], fontsize=9)
            ax.set_title(f"{len(seen)} of {a.cells * b.cells} cells reached", fontsize=10)
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    return fig


def record_cell_reached(archive: pd.DataFrame, patterns: dict[str, Pattern]) -> bool | str | None:
    """Whether the record's cell was reached, on the patterns that have a record (the reached cells
    projected on them): None when none has one, "outside" when a record lies beyond its pattern's
    range (an edge cell would only say that runs went at least as far)."""
    dims = [k for k, p in enumerate(patterns.values()) if p.record is not None]
    if not dims:
        return None
    pats = list(patterns.values())
    if any(not pats[k].low <= pats[k].record <= pats[k].high for k in dims):
        return "outside"
    cell = tuple(pats[k].cell(pats[k].record) for k in dims)
    return cell in {tuple(c[k] for k in dims) for c in archive["cell"]}
