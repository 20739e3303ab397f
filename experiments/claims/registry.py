"""Claims from the literature as falsifiable tests (pattern-oriented modelling, Grimm et al. 2005).

A claim names its source, a measure, a comparison and the sign it expects. Each claim compiles
into an ordinary experiment (a csv design of its arms, common random numbers across the arms)
and runs through the sweep engine, so it gets the same executors, resumable storage and progress
bar. The verdict rests on an effect size with a 95% bootstrap interval, not a p-value, since
replicates can be added at will (White et al. 2014):

* contrast (B - A), over matched replicate pairs;
* sweep: the Spearman rank correlation of the measure with one parameter;
* interaction in a 2 x 2 factorial: (HH - HL) - (LH - LL), positive = super-additive;
* threshold: the measure minus a threshold;
* unchanged: B - A must stay within +-margin.

*holds* when the interval excludes zero in the claimed direction (for *unchanged*: lies within
the margin), *fails* when it excludes zero the other way (lies outside the margin),
*inconclusive* otherwise. Nothing here feeds back into the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from migov.experiments.common.outdir import MANIFEST, open_accumulating, record_files
from migov.experiments.sweep.engine import load_results, run_sweep
from migov.experiments.sweep.experiment import SCENARIO_COLUMN
from migov.experiments.sweep.loaded import LoadedExperiment, build_experiment
from migov.experiments.sweep.provenance import of_sweep
from migov.model import ScenarioError
from migov.model.config import Source, Strict, _format_pydantic, read_yaml
from pydantic import Field, ValidationError, model_validator
from scipy import stats

BOOTSTRAP = 4000
REGISTRY = Path(__file__).with_name("claims.yaml")


class Arm(Strict):
    scenario: str | None = Field(None, description="scenario name (default: the claim's base)")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted path -> value, as with --set")


class Factor(Strict):
    path: str = Field(description="dotted path of the factor")
    low: Any = Field(description="low level")
    high: Any = Field(description="high level")


class Measure(Strict):
    name: str = Field(description="a collected model measure (a column of model.parquet)")
    summary: Literal["final", "growth", "time_to"] = Field(
        "final", description="final state (mean over the last `window` steps); growth = final / initial; or "
                             "time_to = the first year the measure reaches `crosses` (runs that never do count as "
                             "one step past the horizon)")
    window: int | None = Field(None, ge=1, description="steps averaged for the final state (default a year)")
    crosses: float | None = Field(None, description="time_to: the value the measure must reach")

    @model_validator(mode="after")
    def _crossing(self) -> Measure:
        if (self.summary == "time_to") != (self.crosses is not None):
            raise ValueError("'crosses' goes with summary time_to, and only with it")
        return self


class Comparison(Strict):
    type: Literal["contrast", "sweep", "interaction", "threshold", "unchanged"]
    base: Arm = Field(default_factory=Arm, description="what every arm starts from")
    a: Arm | None = Field(None, description="contrast/unchanged: the reference arm")
    b: Arm | None = Field(None, description="contrast/unchanged: the arm the claim is about")
    parameter: str | None = Field(None, description="sweep: the parameter path")
    values: list[Any] | None = Field(None, description="sweep: its values, in order")
    factors: list[Factor] | None = Field(None, description="interaction: exactly two factors")
    threshold: float | None = Field(None, description="threshold: the value the measure must exceed (or stay under)")
    margin: float | None = Field(None, gt=0, description="unchanged: largest difference that counts as none")

    @model_validator(mode="after")
    def _complete(self) -> Comparison:
        need = {"contrast": ("a", "b"), "unchanged": ("a", "b", "margin"), "sweep": ("parameter", "values"),
                "interaction": ("factors",), "threshold": ("threshold",)}[self.type]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"a {self.type} comparison needs {', '.join(missing)}")
        if self.type == "interaction" and len(self.factors) != 2:
            raise ValueError("an interaction needs exactly two factors")
        if self.type == "sweep" and len(self.values) < 3:
            raise ValueError("a sweep needs at least three values")
        return self


class Claim(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$", description="short identifier")
    claim: str = Field(description="the claim in one sentence")
    source: Source = Field(description="seed file and passage, or a published reference")
    measure: Measure
    comparison: Comparison
    expected: Literal["positive", "negative", "none"] = Field(description="the sign the claim predicts")
    replicates: int = Field(20, ge=2, le=10_000, description="replicate seeds per arm")
    steps: int | None = Field(None, ge=1, description="steps per run (default: the scenario's)")
    fails_if: str = Field(description="what result would make the claim fail, in one sentence")
    note: str = Field("", description="how the claim is expressed in the model, and its limits")

    @model_validator(mode="after")
    def _sign(self) -> Claim:
        if (self.expected == "none") != (self.comparison.type == "unchanged"):
            raise ValueError("expected 'none' goes with an 'unchanged' comparison, and only with it")
        return self


class Registry(Strict):
    claims: list[Claim] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[str] = set()
        for c in self.claims:
            if c.id in seen:
                raise ValueError(f"claim id '{c.id}' is used twice")
            seen.add(c.id)
        return self


def load_registry(path: str | Path = REGISTRY) -> Registry:
    data = read_yaml(path)
    try:
        return Registry.model_validate(data if isinstance(data, dict) else {"claims": data})
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(path), loc, msg) from None


# --------------------------------------------------------------------------- compiling
def arms(claim: Claim) -> list[tuple[str, dict]]:
    """The claim's arms as (label, {scenario and dotted path: value})."""
    cmp = claim.comparison

    def merged(*parts: Arm) -> dict:
        out: dict[str, Any] = {}
        for part in parts:
            if part.scenario:
                out[SCENARIO_COLUMN] = part.scenario
            out.update(part.set)
        return out

    if cmp.type in ("contrast", "unchanged"):
        return [("A", merged(cmp.base, cmp.a)), ("B", merged(cmp.base, cmp.b))]
    if cmp.type == "threshold":
        return [("base", merged(cmp.base))]
    if cmp.type == "sweep":
        return [(f"{cmp.parameter}={v}", {**merged(cmp.base), cmp.parameter: v}) for v in cmp.values]
    f1, f2 = cmp.factors
    return [(f"{l1}{l2}", {**merged(cmp.base), f1.path: v1, f2.path: v2})
            for l1, v1 in (("L", f1.low), ("H", f1.high)) for l2, v2 in (("L", f2.low), ("H", f2.high))]


def compile_claim(claim: Claim, folder: Path, replicates: int, seed: int,
                  posterior: Path | None = None) -> LoadedExperiment:
    """The claim as an experiment over the csv design of its arms, built in memory."""
    base = claim.comparison.base.scenario or "baseline"
    rows = [a or {SCENARIO_COLUMN: base} for _, a in arms(claim)]  # a design needs at least one column
    return claim_experiment(claim, folder, pd.DataFrame(rows), replicates, seed, claim.id, claim.claim, posterior)


def claim_experiment(claim: Claim, folder: Path, design: pd.DataFrame, replicates: int, seed: int,
                     name: str, description: str, posterior: Path | None = None) -> LoadedExperiment:
    """An experiment measuring ``claim``'s measure over a csv ``design``, its rows sharing replicate
    seeds (common random numbers), built in memory and handed to the engine as an object. Used for
    a claim's arms and for the ``--where`` samples. With ``posterior`` (a calibration folder),
    replicate r of every arm runs parameter set r drawn from it, so arms are compared under the
    same plausible parameterisation and the verdict holds across the posterior, not at the defaults.
    Its YAML and design are also written to ``folder`` as the record of what ran (not read back)."""
    folder.mkdir(parents=True, exist_ok=True)
    design.to_csv(folder / "design.csv", index=False)
    params = {col: {"levels": [v.item() if isinstance(v, np.generic) else v for v in design[col].dropna().unique()]}
              for col in design.columns}
    exp = {
        "name": name,
        "description": description,
        "scenario": claim.comparison.base.scenario or "baseline",
        "parameters": params,
        "design": {"type": "csv", "file": "design.csv"},
        "replicates": replicates,
        "seed": seed,
        "common_random_numbers": True,
        "collect": {"final": True, "final_window": claim.measure.window, "series": claim.measure.summary != "final",
                    "stride": 1, "measures": [claim.measure.name]},
    }
    if claim.steps:
        exp["steps"] = claim.steps
    if posterior is not None:
        exp["posterior"] = str(Path(posterior).resolve())
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(exp, sort_keys=False), encoding="utf-8")
    return build_experiment(exp, path, design)


# --------------------------------------------------------------------------- evaluating
def claim_values(folder: Path, claim: Claim) -> pd.DataFrame:
    """One value of the claim's measure per run: columns point, replicate, value."""
    res = load_results(folder, series=claim.measure.summary != "final")
    ok = res.runs[res.runs["status"] == "ok"][["run_id", "point", "replicate"]]
    name = claim.measure.name
    if claim.measure.summary == "final":
        if name not in res.final.columns:
            raise ScenarioError(claim.id, "measure.name", f"'{name}' is not a collected measure")
        vals = res.final[["run_id", name]].rename(columns={name: "value"})
    else:
        s = res.series
        if name not in s.columns:
            raise ScenarioError(claim.id, "measure.name", f"'{name}' is not a collected measure")
        s = s.sort_values(["run_id", "step"])
        if claim.measure.summary == "growth":
            first = s[s["step"] == 1].set_index("run_id")[name]
            last = s.groupby("run_id")[name].last()
            vals = (last / first).rename("value").reset_index()
        else:  # time_to: the first year the measure reaches the value; never = one step past the end
            def first_year(g: pd.DataFrame) -> float:
                hit = g[g[name] >= claim.measure.crosses]
                if len(hit):
                    return float(hit["year"].iloc[0])
                # years per model step, from the run's own calendar
                dt = (g["year"].iloc[-1] - g["year"].iloc[0]) / max(g["step"].iloc[-1] - g["step"].iloc[0], 1)
                return float(g["year"].iloc[-1] + dt)

            vals = s.groupby("run_id").apply(first_year, include_groups=False).rename("value").reset_index()
    return ok.merge(vals, on="run_id").sort_values(["replicate", "point"]).reset_index(drop=True)


def per_replicate(values: pd.DataFrame, claim: Claim) -> np.ndarray:
    """The claim's statistic within each replicate (matched across arms by common seeds)."""
    wide = values.pivot(index="replicate", columns="point", values="value").dropna()
    cmp = claim.comparison
    if cmp.type in ("contrast", "unchanged"):
        return (wide[1] - wide[0]).to_numpy()
    if cmp.type == "threshold":
        return (wide[0] - cmp.threshold).to_numpy()
    if cmp.type == "interaction":  # points: LL, LH, HL, HH
        return (wide[3] - wide[1] - wide[2] + wide[0]).to_numpy()
    x = np.arange(len(cmp.values))
    return np.array([stats.spearmanr(x, row).statistic if np.ptp(row) > 0 else 0.0 for row in wide.to_numpy()])


@dataclass
class Verdict:
    claim: Claim
    effect: float
    ci_low: float
    ci_high: float
    share: float  # replicates (matched sets) that go the claimed way
    replicates: int
    verdict: str
    values: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    rounds: list[tuple[int, float]] = field(default_factory=list)  # (replicates, CI width)
    provenance: dict = field(default_factory=dict)  # of its runs (provenance.of_sweep)


def decide(expected: str, lo: float, hi: float, margin: float | None = None) -> str:
    """holds / fails / inconclusive from a 95% interval."""
    if expected == "none":
        if -margin <= lo and hi <= margin:
            return "holds"
        if lo > margin or hi < -margin:
            return "fails"
        return "inconclusive"
    if expected == "negative":
        lo, hi = -hi, -lo
    if lo > 0:
        return "holds"
    if hi < 0:
        return "fails"
    return "inconclusive"


def bootstrap_mean(x: np.ndarray, rng: np.random.Generator, n: int = BOOTSTRAP) -> tuple[float, float, float]:
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    boot = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def evaluate(claim: Claim, values: pd.DataFrame, seed: int = 0) -> Verdict:
    stat = per_replicate(values, claim)
    effect, lo, hi = bootstrap_mean(stat, np.random.default_rng(seed))
    sign = {"positive": 1, "negative": -1, "none": 0}[claim.expected]
    share = float(np.mean(np.sign(stat) == sign)) if sign else float(np.mean(np.abs(stat) <= claim.comparison.margin))
    verdict = decide(claim.expected, lo, hi, claim.comparison.margin) if not np.isnan(lo) else "inconclusive"
    return Verdict(claim, effect, lo, hi, share, len(stat), verdict, values)


def run_claim(claim: Claim, out: Path, replicates: int | None = None, workers: int = 1, executor: str = "processes",
              seed: int = 0, adaptive: bool = False, cap: int = 200, quiet: bool = False,
              posterior: Path | None = None) -> Verdict:
    """Run a claim (resumably) and judge it. With ``adaptive``, replicates are added in rounds of
    the initial count until the interval's width changes by less than 10% or ``cap`` is reached.
    ``out`` must be new, empty or a migov claims folder (it accumulates claims and resumes)."""
    open_accumulating(out, "claims")
    record_files(out, [f"{claim.id}/"])
    r0 = replicates or claim.replicates
    frames, rounds, k = [], [], 0
    while True:
        folder = out / claim.id / f"round-{k}"
        experiment = compile_claim(claim, folder / "spec", r0, seed + 1000 * k, posterior)
        run_sweep(experiment, folder / "runs", workers=workers, executor=executor, quiet=quiet)
        vals = claim_values(folder / "runs", claim)
        vals["replicate"] += k * r0
        frames.append(vals)
        verdict = evaluate(claim, pd.concat(frames, ignore_index=True), seed)
        width = verdict.ci_high - verdict.ci_low
        rounds.append((verdict.replicates, width))
        k += 1
        if not adaptive or (k + 1) * r0 > cap:
            break
        if len(rounds) >= 2 and abs(rounds[-1][1] - rounds[-2][1]) <= 0.1 * max(rounds[-2][1], 1e-12):
            break
    verdict.rounds = rounds
    manifest = json.loads((folder / "runs" / MANIFEST).read_text(encoding="utf-8"))
    verdict.provenance = of_sweep(manifest)
    if manifest.get("posterior"):
        verdict.provenance["posterior"] = manifest["posterior"]
    return verdict
