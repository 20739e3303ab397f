"""Claims from the literature as falsifiable tests (pattern-oriented modelling, Grimm et al. 2005).

A claim names its source, what its verdict rests on (``basis``: a relation coded into a named
mechanism, or one no mechanism states), a measure (``measure.py``: a model measure or a
per-agent selector, a window, a statistic), a comparison and the sign it expects. Each arm of a
claim is an ordinary experiment run through the sweep engine (same executors, resumable storage,
progress bar), once under ``<out>/arms/`` however many claims share it, with common random
numbers: replicate r of every arm runs on the same seed, so arms are compared pair by pair.
Each replicate gives one statistic:

* contrast (B - A), over matched replicate pairs;
* sweep: the Spearman rank correlation of the measure with one parameter;
* interaction in a 2 x 2 factorial: (HH - HL) - (LH - LL), positive = super-additive;
* threshold: the measure minus a threshold;
* unchanged: B - A must stay within +-margin.

The verdict (``statistics.py``) rests on the mean of those statistics: a t-test p-value, adjusted
with Holm's method across all claims judged together, and the direction of the effect; the 95%
bootstrap interval is reported beside it. Fewer matched replicates than the claim's minimum, or
too many runs without a value, give *inconclusive* with the reason. Nothing here feeds back into
the model.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from migov.experiments.claims.measure import Measure, check_about, event_steps, measure_runs, resolve_window
from migov.experiments.claims.statistics import ALPHA, benjamini_hochberg, bootstrap_mean, decide, holm, p_value
from migov.experiments.common.outdir import MANIFEST, open_accumulating, record_files
from migov.experiments.sweep.engine import load_results, run_sweep
from migov.experiments.sweep.experiment import SCENARIO_COLUMN
from migov.experiments.sweep.loaded import LoadedExperiment, build_experiment
from migov.experiments.sweep.provenance import of_sweep
from migov.model import Scenario, ScenarioError, load_scenario
from migov.model.agents import static_attributes
from migov.model.config import Source, Strict, _format_pydantic, copy_data, read_yaml, set_paths
from pydantic import Field, ValidationError, model_validator
from scipy import stats

REGISTRY = Path(__file__).with_name("claims.yaml")


class Arm(Strict):
    scenario: str | None = Field(None, description="scenario name (default: the claim's base)")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted path -> value, as with --set")


class Factor(Strict):
    path: str = Field(description="dotted path of the factor")
    low: Any = Field(description="low level")
    high: Any = Field(description="high level")


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
    basis: Literal["assumed", "emergent", "check"] = Field(
        description="what the verdict rests on: assumed = the relation is coded into a named mechanism, so the "
                    "verdict checks that it survives the rest of the model; emergent = no single mechanism states "
                    "it, it arises from interactions; check = an implementation check kept on purpose")
    mechanisms: list[str] = Field(min_length=1, description="the mechanisms involved, as module.function in "
                                                            "migov.model (e.g. legitimacy.update_legitimacy)")
    measure: Measure
    comparison: Comparison
    expected: Literal["positive", "negative", "none"] = Field(description="the sign the claim predicts")
    about: str | None = Field(None, description="name of the event the claim is about; the measure's window must "
                                                "overlap its span")
    replicates: int = Field(20, ge=2, le=10_000, description="replicate seeds per arm")
    min_replicates: int = Field(10, ge=2, le=10_000, description="fewer matched replicates than this give "
                                                                 "'inconclusive (too few replicates)'")
    max_missing: float = Field(0.2, ge=0, le=1, description="largest share of runs of an arm without a value "
                                                            "(failed, or NaN) before the claim is inconclusive")
    steps: int | None = Field(None, ge=1, description="steps per run (default: the scenario's)")
    fails_if: str = Field(description="what result would make the claim fail, in one sentence")
    note: str = Field("", description="how the claim is expressed in the model, and its limits")

    @model_validator(mode="after")
    def _sign(self) -> Claim:
        if (self.expected == "none") != (self.comparison.type == "unchanged"):
            raise ValueError("expected 'none' goes with an 'unchanged' comparison, and only with it")
        for k, name in enumerate(self.mechanisms):
            if mechanism(name) is None:
                raise ValueError(f"mechanisms[{k}]: '{name}' is not a function of migov.model; expected "
                                 "module.function, e.g. legitimacy.update_legitimacy or model.MigovModel.run_projects")
        return self


def mechanism(name: str):
    """The function ``module.function`` (or ``module.Class.method``) of migov.model, or None."""
    parts = name.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts):
        return None
    try:
        obj = importlib.import_module(f"migov.model.{parts[0]}")
    except ImportError:
        return None
    for part in parts[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if callable(obj) else None


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


@dataclass
class Context:
    """What a claim's measure needs to know of its arms' scenarios, worked out once: each arm's
    scenario (with its settings), the named events across them, the window in recorded steps and
    the static attributes a selector filters on."""

    scenarios: list[Scenario]
    events: dict[str, tuple[int, int | None]]
    windows: list[tuple[int, int]]
    statics: list[pd.DataFrame]
    calendar: tuple[float, int]


def claim_context(claim: Claim) -> Context:
    base = claim.comparison.base.scenario or "baseline"
    scenarios = []
    for label, arm in arms(claim):
        settings = {k: v for k, v in arm.items() if k != SCENARIO_COLUMN}
        try:
            scenarios.append(load_scenario(arm.get(SCENARIO_COLUMN, base), overrides=settings))
        except ScenarioError as err:
            raise ScenarioError(f"claim {claim.id}, arm {label}", err.field, err.message) from None
    calendars = {(sc.simulation.start_year, sc.simulation.steps_per_year) for sc in scenarios}
    if len(calendars) > 1:
        raise ScenarioError(f"claim {claim.id}", "comparison", "its arms run on different calendars "
                            f"(start year, steps per year: {sorted(calendars)}); they cannot share a window")
    events = event_steps(scenarios)
    where = f"claim {claim.id}"
    windows = [resolve_window(claim.measure, sc, claim.steps or sc.simulation.steps, events, where)
               for sc in scenarios]
    for w, sc in zip(windows, scenarios, strict=True):
        check_about(claim.about, w, events, claim.steps or sc.simulation.steps, where)
    statics = [static_attributes(sc) if claim.measure.per_agent else pd.DataFrame() for sc in scenarios]
    return Context(scenarios, events, windows, statics, next(iter(calendars)))


def claim_experiment(claim: Claim, folder: Path, design: pd.DataFrame, replicates: int, seed: int,
                     name: str, description: str, posterior: Path | None = None,
                     crn_block: int | None = None) -> LoadedExperiment:
    """An experiment running ``design``'s rows (scenario and dotted paths), the rows sharing
    replicate seeds (common random numbers), keeping every step of every model measure (and,
    for a per-agent measure, the agents' series) so that any window and statistic can be taken
    afterwards. Built in memory and handed to the engine as an object. Used for a claim's arms
    and for the ``--where`` samples (``crn_block``: the arms of a sample share seeds, each sample
    has its own). With ``posterior`` (a calibration folder), replicate r of
    every row runs parameter set r drawn from it, so arms are compared under the same plausible
    parameterisation and the verdict holds across the posterior, not at the defaults. Its YAML
    and design are also written to ``folder`` as the record of what ran (not read back)."""
    folder.mkdir(parents=True, exist_ok=True)
    design.to_csv(folder / "design.csv", index=False)
    params = {col: {"levels": [v.item() if isinstance(v, np.generic) else v for v in design[col].dropna().unique()]}
              for col in design.columns}
    exp = {
        "name": name,
        "description": description,
        "scenario": experiment_scenario(claim, design),
        "parameters": params,
        "design": {"type": "csv", "file": "design.csv"},
        "replicates": replicates,
        "seed": seed,
        "common_random_numbers": True,
        **({"crn_block": crn_block} if crn_block else {}),
        "collect": {"final": False, "series": True, "stride": 1, "agents": claim.measure.per_agent},
    }
    if claim.steps:
        exp["steps"] = claim.steps
    if posterior is not None:
        exp["posterior"] = str(Path(posterior).resolve())
    path = folder / "experiment.yaml"
    path.write_text(yaml.safe_dump(exp, sort_keys=False), encoding="utf-8")
    return build_experiment(exp, path, design)


def arm_scenario(claim: Claim, arm: dict | None = None) -> str:
    """The scenario an arm runs: its own, else the claim's base scenario, else the baseline."""
    return (arm or {}).get(SCENARIO_COLUMN, claim.comparison.base.scenario or "baseline")


def lacked_path(data: dict, values: dict[str, Any]) -> ScenarioError | None:
    """The error ``set_paths`` gives for the first of ``values``' paths the scenario ``data`` lacks, if any."""
    for path, value in values.items():
        try:
            set_paths(copy_data(data), path, value.item() if isinstance(value, np.generic) else value, "--ranges")
        except ScenarioError as err:
            return err
    return None


def experiment_scenario(claim: Claim, design: pd.DataFrame) -> str:
    """The scenario an experiment of ``design``'s rows is checked against: the rows' one scenario, or,
    when arms run different scenarios (the ``--design lhs`` samples), the claim's base scenario if it
    has every path the rows set, else the first of the rows' scenarios that has them all (an arm may
    set a named event only its own scenario has)."""
    scenarios = [str(v) for v in design[SCENARIO_COLUMN].dropna().unique()] if SCENARIO_COLUMN in design else []
    default = arm_scenario(claim)
    if len(scenarios) <= 1:
        return scenarios[0] if scenarios else default
    probes = {c: design[c].dropna().iloc[0] for c in design.columns if c != SCENARIO_COLUMN and design[c].notna().any()}
    for name in [default, *scenarios]:
        if lacked_path(load_scenario(name).model_dump(mode="json"), probes) is None:
            return name
    return default  # none has them all: the sweep's own check names the path


def arm_key(claim: Claim, arm: dict, replicates: int, seed: int, posterior: Path | None) -> str:
    """What makes two arms the same runs: scenario, settings, steps, seeds, what is collected and
    the posterior drawn from. Arms of different claims with the same key are run once."""
    spec = {"scenario": arm_scenario(claim, arm),
            "set": {k: v for k, v in sorted(arm.items()) if k != SCENARIO_COLUMN}, "steps": claim.steps,
            "replicates": replicates, "seed": seed, "agents": claim.measure.per_agent,
            "posterior": str(Path(posterior).resolve()) if posterior else None}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_arms(claim: Claim, out: Path, replicates: int, seed: int, workers: int, executor: str, quiet: bool,
             posterior: Path | None) -> list[Path]:
    """Run each of the claim's arms as a sweep of its own under ``out/arms/<key>`` (resumable), unless
    an identical arm (``arm_key``) already ran there, for this claim or another; the folders in arm order."""
    folders = []
    for _, arm in arms(claim):
        key = arm_key(claim, arm, replicates, seed, posterior)
        folder = out / "arms" / key
        row = {**arm} or {SCENARIO_COLUMN: arm_scenario(claim)}
        experiment = claim_experiment(claim, folder / "spec", pd.DataFrame([row]), replicates, seed, f"arm_{key}",
                                      "one arm of the claims that run it", posterior)
        run_sweep(experiment, folder / "runs", workers=workers, executor=executor, quiet=quiet)
        folders.append(folder / "runs")
    return folders


# --------------------------------------------------------------------------- evaluating
def folder_values(folder: Path, claim: Claim, ctx: Context, arm_of_point: list[int]) -> pd.DataFrame:
    """The claim's measure for every run of a sweep folder whose design point p runs arm
    ``arm_of_point[p]``: columns run_id, point, replicate, value (NaN for a failed run)."""
    res = load_results(folder, series=True, agents=claim.measure.per_agent)
    runs = res.runs[["run_id", "point", "replicate", "status"]]
    frames = []
    for point, arm in enumerate(arm_of_point):
        ids = runs.loc[(runs["point"] == point) & (runs["status"] == "ok"), "run_id"]
        series = res.series[res.series["run_id"].isin(ids)]
        agents = res.agents[res.agents["run_id"].isin(ids)] if claim.measure.per_agent else None
        if len(ids):
            frames.append(measure_runs(series, agents, claim.measure, ctx.windows[arm], ctx.statics[arm],
                                       ctx.calendar, f"claim {claim.id}"))
    vals = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id", "value"])
    return runs[["run_id", "point", "replicate"]].merge(vals, on="run_id", how="left")


def claim_values(folders: list[Path], claim: Claim, ctx: Context | None = None) -> pd.DataFrame:
    """One value of the claim's measure per run of each arm: columns point (the arm), replicate,
    value (NaN where the run failed or the measure is undefined)."""
    ctx = ctx or claim_context(claim)
    frames = []
    for arm, folder in enumerate(folders):
        v = folder_values(folder, claim, ctx, [arm])
        frames.append(v.assign(point=arm)[["point", "replicate", "value"]])
    return pd.concat(frames, ignore_index=True).sort_values(["replicate", "point"]).reset_index(drop=True)


def per_replicate(values: pd.DataFrame, claim: Claim) -> np.ndarray:
    """The claim's statistic within each replicate (matched across arms by common seeds); a
    replicate with a missing value in any arm is left out (``missing`` counts them)."""
    wide = values.pivot(index="replicate", columns="point", values="value")
    wide = wide[np.isfinite(wide.to_numpy(dtype=float)).all(axis=1)]
    cmp = claim.comparison
    if cmp.type in ("contrast", "unchanged"):
        return (wide[1] - wide[0]).to_numpy()
    if cmp.type == "threshold":
        return (wide[0] - cmp.threshold).to_numpy()
    if cmp.type == "interaction":  # points: LL, LH, HL, HH
        return (wide[3] - wide[1] - wide[2] + wide[0]).to_numpy()
    x = np.arange(len(cmp.values))
    return np.array([stats.spearmanr(x, row).statistic if np.ptp(row) > 0 else 0.0 for row in wide.to_numpy()])


def missing(values: pd.DataFrame, claim: Claim) -> dict[str, int]:
    """Runs without a value (failed, or NaN), per arm label."""
    labels = [label for label, _ in arms(claim)]
    counts = values.groupby("point")["value"].apply(lambda v: int((~np.isfinite(v.to_numpy(dtype=float))).sum()))
    return {labels[p]: int(counts.get(p, 0)) for p in range(len(labels))}


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
    p: float = np.nan  # unadjusted p-value (statistics.p_value)
    p_holm: float = np.nan  # Holm-adjusted over the claims judged together
    q_bh: float = np.nan  # Benjamini-Hochberg q-value over the same family
    missing: dict[str, int] = field(default_factory=dict)  # runs without a value, per arm
    reason: str = ""  # why inconclusive, when it is for a reason other than the statistics
    no_spread: bool = False  # every replicate gave the same statistic: p and interval are degenerate

    @property
    def label(self) -> str:
        """The verdict as shown: 'inconclusive (too few replicates)' and the like."""
        return f"{self.verdict} ({self.reason})" if self.reason else self.verdict


def evaluate(claim: Claim, values: pd.DataFrame, seed: int = 0, replicates: int | None = None) -> Verdict:
    """The claim's effect, interval and p-value, and a verdict as if it were judged alone (``adjust``
    judges a family of claims together). ``replicates``: runs expected per arm (default: the
    most seen)."""
    stat = per_replicate(values, claim)
    effect, lo, hi = bootstrap_mean(stat, np.random.default_rng(seed))
    sign = {"positive": 1, "negative": -1, "none": 0}[claim.expected]
    if len(stat) == 0:
        share = np.nan
    elif sign:
        share = float(np.mean(np.sign(stat) == sign))
    else:
        share = float(np.mean(np.abs(stat) <= claim.comparison.margin))
    gaps = missing(values, claim)
    expected_runs = replicates or int(values.groupby("point").size().max())
    v = Verdict(claim, effect, lo, hi, share, len(stat), "inconclusive", values,
                p=p_value(stat, claim.expected, claim.comparison.margin), missing=gaps,
                no_spread=bool(len(stat) >= 2 and np.ptp(stat) == 0))
    worst = max(gaps.values(), default=0)
    if expected_runs and worst / expected_runs > claim.max_missing:
        arm = max(gaps, key=gaps.get)
        v.reason = f"too many missing values: arm {arm} {worst} of {expected_runs}"
    elif len(stat) < claim.min_replicates:
        v.reason = f"too few replicates: {len(stat)} of at least {claim.min_replicates}"
    adjust([v])
    return v


def adjust(verdicts: list[Verdict], alpha: float = ALPHA) -> list[Verdict]:
    """Judge the claims as one family: Holm-adjusted p-values (and BH q-values) over those with a
    p-value and no disqualifying reason; verdicts on the adjusted values (``statistics.decide``)."""
    judged = [v for v in verdicts if not v.reason and np.isfinite(v.p)]
    p = np.array([v.p for v in judged])
    for v, ph, q in zip(judged, holm(p), benjamini_hochberg(p), strict=True):
        v.p_holm, v.q_bh = float(ph), float(q)
        v.verdict = decide(v.claim.expected, v.effect, v.p_holm, v.claim.comparison.margin, alpha)
    for v in verdicts:
        if v not in judged:
            v.p_holm = v.q_bh = np.nan
            v.verdict = "inconclusive"
    return verdicts


def run_claim(claim: Claim, out: Path, replicates: int | None = None, workers: int = 1, executor: str = "processes",
              seed: int = 0, adaptive: bool = False, cap: int = 200, quiet: bool = False,
              posterior: Path | None = None) -> Verdict:
    """Run a claim (resumably) and judge it alone. With ``adaptive``, replicates are added in rounds
    of the initial count until the interval's width changes by less than 10% or ``cap`` is reached.
    ``out`` must be new, empty or a migov claims folder (it accumulates claims and resumes); each
    arm runs under ``out/arms/`` once, whichever claims share it."""
    open_accumulating(out, "claims")
    record_files(out, [f"{claim.id}/", "arms/"])
    ctx = claim_context(claim)
    r0 = replicates or claim.replicates
    frames, rounds, k = [], [], 0
    while True:
        folders = run_arms(claim, out, r0, seed + 1000 * k, workers, executor, quiet, posterior)
        vals = claim_values(folders, claim, ctx)
        vals["replicate"] += k * r0
        frames.append(vals)
        verdict = evaluate(claim, pd.concat(frames, ignore_index=True), seed, (k + 1) * r0)
        width = verdict.ci_high - verdict.ci_low
        rounds.append((verdict.replicates, width))
        k += 1
        if not adaptive or (k + 1) * r0 > cap:
            break
        if len(rounds) >= 2 and abs(rounds[-1][1] - rounds[-2][1]) <= 0.1 * max(rounds[-2][1], 1e-12):
            break
    verdict.rounds = rounds
    (out / claim.id).mkdir(parents=True, exist_ok=True)
    labels = [label for label, _ in arms(claim)]
    verdict.values.assign(arm=verdict.values["point"].map(dict(enumerate(labels)))).to_csv(
        out / claim.id / "values.csv", index=False)
    manifest = json.loads((folders[-1] / MANIFEST).read_text(encoding="utf-8"))
    verdict.provenance = of_sweep(manifest)
    verdict.provenance["arms"] = [f.parent.name for f in folders]
    if manifest.get("posterior"):
        verdict.provenance["posterior"] = manifest["posterior"]
    return verdict
