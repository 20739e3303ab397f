"""Claims under uncertainty about parameters: in how much of the parameter space, and where, does a claim go the
claimed way?

``migov claims --design lhs --samples N [--ranges EXPERIMENT]`` samples the ranged parameters of an
experiment file (by default the library's ``morris_screening``: the main behavioural parameters,
about half to double the baseline's values) by Latin hypercube. It leaves out the paths the
claim's arms set, and those on which the scenarios its arms compare differ (sampling them would
erase the very difference compared). Parameters given as ``levels`` and the file's own scenario
are not used. At every sample it runs the claim's arms through the sweep engine and marks the
sample as going *the claimed way* when the mean of the per-replicate statistic does (for an
*unchanged* claim: lies within the margin). That is a sign, not a verdict: no test is made at a
sample, so with few replicates a claim whose effect is nil goes the claimed way at about half of
them.

Seeds: within a sample, replicate r of every arm has the same seed (common random numbers, so the
arms are compared pair by pair); each sample has seeds of its own (the experiment's ``crn_block``
is the number of arms). The samples are then independent draws of parameters and noise alike,
and the 95% Wilson interval of the share covers both: how much of the space, and how often the
runs' noise lets a nil effect look like the claimed way.

Where it goes the claimed way is found with PRIM (the Patient Rule Induction Method, Friedman &
Fisher 1999) as EMA Workbench implements it (``ema_workbench.analysis.prim``: peeling then
pasting, with the peeling trajectory and the quasi-p value of each restriction, Bryant & Lempert
2010; the larger of a restriction's two sides is reported). The box reported is the first (so
the widest) on the trajectory whose density reaches ``THRESHOLD``, or, when none does, the
densest one (flagged); a claim that goes the claimed way at ``THRESHOLD`` of all samples has the
whole space as its box. With ``--posterior`` each replicate of each sample draws the parameters
that are not sampled from a calibration's posterior (the arms of a sample share the draw). A sample
whose arms gave no value is left out and counted.

Each run is kept under ``<claim>/where/<samples>x<replicates>-seed<seed>-<hash>/``, the hash of
what was run (the sampled points, the arms, steps and posterior): a rerun with other settings into
the same folder adds a folder beside the earlier one, and the same settings resume it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments.analysis.figures import STYLE
from migov.experiments.claims.registry import (
    Claim,
    arm_scenario,
    arms,
    claim_context,
    claim_experiment,
    folder_values,
    lacked_path,
    per_replicate,
)
from migov.experiments.common.outdir import open_accumulating, record_files
from migov.experiments.common.style import PALETTE, label_of, legend_outside
from migov.experiments.sweep.design import build_design
from migov.experiments.sweep.engine import run_sweep
from migov.experiments.sweep.experiment import Design, Experiment, ParameterSpec
from migov.experiments.sweep.loaded import load_experiment
from migov.experiments.sweep.posterior import values_at
from migov.model import ScenarioError, load_scenario
from scipy.stats import binomtest

DEFAULT_RANGES = "morris_screening"
THRESHOLD = 0.8  # the density a box must reach to be called "where the claim goes the claimed way"
QP_SIGNIFICANT = 0.05  # a restriction whose quasi-p is below this is more than the noise of the sample


@dataclass
class Box:
    """A PRIM box: restrictions (parameter -> (low, high)) with their quasi-p values, and its statistics."""

    bounds: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    meets_threshold: bool
    qp: dict[str, float] = field(default_factory=dict)
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class Where:
    """A claim over the sampled space: the samples (parameters, effect, claimed_way), the share going the claimed
    way and the box."""

    claim: Claim
    table: pd.DataFrame
    box: Box
    ranges: dict[str, ParameterSpec]
    source: str
    folder: str = "where"  # under the claim's folder: where/<settings>, holding where.md

    @property
    def page(self) -> str:
        """The claim's where.md relative to the claims folder."""
        return f"{self.claim.id}/{self.folder}/where.md"

    @property
    def valid(self) -> pd.DataFrame:
        return self.table[self.table["effect"].notna()]

    @property
    def share(self) -> float:
        return float(self.valid["claimed_way"].mean()) if len(self.valid) else float("nan")

    @property
    def share_ci(self) -> tuple[float, float]:
        n = len(self.valid)
        if not n:
            return float("nan"), float("nan")
        ci = binomtest(int(self.valid["claimed_way"].sum()), n).proportion_ci(method="wilson")
        return float(ci.low), float(ci.high)


def parameter_ranges(source: str | Path = DEFAULT_RANGES) -> Experiment:
    """An experiment file (or a library experiment's name), checked as a sweep would check it, reduced
    to its ranged parameters: the space a claim is evaluated over."""
    loaded = load_experiment(source, allow_large=True)
    specs = {n: s for n, s in loaded.exp.parameters.items() if s.range is not None}
    if not specs:
        raise ScenarioError(str(loaded.path), "parameters", "no parameter has a 'range'; --ranges needs an "
                                                            "experiment with at least one ranged parameter to sample")
    return loaded.exp.model_copy(update={"parameters": specs})


def where_design(claim: Claim, samples: int, seed: int, ranges: Experiment) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Latin hypercube of the ranges the claim's arms do not set, and the design (samples x arms)."""
    fixed = {k for _, arm in arms(claim) for k in arm} | compared_paths(claim, ranges)
    names = [n for n in ranges.parameters if n not in fixed]
    if not names:
        raise ScenarioError(f"claim {claim.id}", "comparison", "its arms set every ranged parameter of --ranges; "
                                                               "expected at least one left to sample")
    spec = ranges.model_copy(update={"parameters": {n: ranges.parameters[n] for n in names},
                                     "design": Design(type="lhs", size=samples), "seed": seed})
    points = build_design(spec)  # each range mapped by its own distribution (uniform, loguniform, normal, integer)
    rows = [{"sample": s, "arm": label, **p, **arm}  # the arm's own settings win over the sampled background
            for s, p in enumerate(points.to_dict("records")) for label, arm in arms(claim)]
    return points, pd.DataFrame(rows)


def compared_paths(claim: Claim, ranges: Experiment) -> set[str]:
    """The ranged paths on which the scenarios the claim's arms run differ (as ``LoadedExperiment.undrawn``
    for a posterior). A path one of those scenarios lacks is an error naming the claim."""
    names = sorted({arm_scenario(claim, arm) for _, arm in arms(claim)})
    datas = [load_scenario(n).model_dump(mode="json") for n in names]
    differ = set()
    for path, spec in ranges.parameters.items():
        for d in datas:
            err = lacked_path(d, {path: spec.range[0]})
            if err is not None:
                raise ScenarioError(f"claim {claim.id}", "--ranges", f"{path} is not a parameter of the scenarios "
                                                                     f"its arms run ({err.message})")
        if len({json.dumps(values_at(d, path), sort_keys=True) for d in datas}) > 1:
            differ.add(path)
    return differ


def find_region(x: pd.DataFrame, holds: np.ndarray, threshold: float = THRESHOLD, peel_alpha: float = 0.05,
                mass_min: float = 0.05) -> Box:
    """The PRIM box of ``x`` where ``holds`` (the claimed way) is densest (see the module docstring)."""
    y = np.asarray(holds, dtype=int)
    if len(y) == 0 or y.min() == y.max():  # everywhere or nowhere sampled: nothing to peel
        whole = pd.DataFrame([{"coverage": float(y.any()), "density": float(y.mean()) if len(y) else np.nan,
                               "mass": 1.0, "res_dim": 0}])
        return Box({}, float(y.any()), float(whole["density"].iloc[0]), 1.0,
                   bool(len(y) and y.mean() >= threshold), trajectory=whole)
    with warnings.catch_warnings():  # ema_workbench warns about evaluators we do not use and pandas idioms
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim as ema_prim

        logging.getLogger("EMA").setLevel(logging.WARNING)
        # Prim's own threshold only decides whether find_box keeps its last box; a tiny one keeps the
        # whole trajectory, and the box is then chosen on it by our documented rule
        alg = ema_prim.Prim(x.reset_index(drop=True).astype(float), y, threshold=1e-9, peel_alpha=peel_alpha,
                            mass_min=mass_min)
        box = alg.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True)
    reach = traj.index[traj["density"] >= threshold]
    pick = int(reach[0]) if len(reach) else int(traj["density"].idxmax())
    box.select(pick)
    lims, initial = box.box_lims[pick], box.box_lims[0]
    bounds, qp = {}, {}
    for col in x.columns:
        lo, hi = float(lims[col].iloc[0]), float(lims[col].iloc[1])
        if lo > float(initial[col].iloc[0]) or hi < float(initial[col].iloc[1]):
            bounds[col] = (lo, hi)
            qp[col] = max((q for q in box.qp[pick].get(col, []) if q is not None and q >= 0), default=float("nan"))
    row = traj.iloc[pick]
    return Box(bounds, float(row["coverage"]), float(row["density"]), float(row["mass"]), bool(len(reach)), qp,
               traj)


def where_folder(claim: Claim, design: pd.DataFrame, samples: int, replicates: int, seed: int,
                 posterior: Path | None) -> str:
    """The folder of one ``--design lhs`` run of a claim, under ``where/``: its settings in words and
    the hash of what is run (points and arms, steps, what is collected, posterior)."""
    spec = {"design": design.to_json(orient="records", double_precision=15), "replicates": replicates, "seed": seed,
            "steps": claim.steps, "agents": claim.measure.per_agent,
            "posterior": str(Path(posterior).resolve()) if posterior else None}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
    return f"where/{samples}x{replicates}-seed{seed}-{key}"


def run_where(claim: Claim, out: Path, samples: int = 64, replicates: int = 3, workers: int = 1,
              executor: str = "processes", seed: int = 0, quiet: bool = False, posterior: Path | None = None,
              ranges: str | Path = DEFAULT_RANGES) -> Where:
    """Run the claim over the Latin hypercube and write ``<claim>/where/<settings>/`` (samples.csv,
    where.md, where.png, and the sweep's spec/ and runs/)."""
    open_accumulating(out, "claims")  # the claims folder: new, empty or migov's
    record_files(out, [f"{claim.id}/"])
    space = parameter_ranges(ranges)
    points, design = where_design(claim, samples, seed, space)
    n_arms = len(arms(claim))
    runs = design.drop(columns=["sample", "arm"])
    sub = where_folder(claim, runs, samples, replicates, seed, posterior)
    folder = out / claim.id / sub
    experiment = claim_experiment(claim, folder / "spec", runs, replicates, seed, f"{claim.id}_where",
                                  f"where does {claim.id} hold", posterior, crn_block=n_arms)
    run_sweep(experiment, folder / "runs", workers=workers, executor=executor, quiet=quiet)
    vals = folder_values(folder / "runs", claim, claim_context(claim), [p % n_arms for p in range(len(design))])
    vals["sample"] = vals["point"] // n_arms
    vals["arm"] = vals["point"] % n_arms
    effect = np.full(len(points), np.nan)
    for s, g in vals.groupby("sample"):
        stat = per_replicate(g[["arm", "replicate", "value"]].rename(columns={"arm": "point"}), claim)
        stat = stat[np.isfinite(stat)]
        effect[int(s)] = float(np.mean(stat)) if len(stat) else np.nan
    if claim.expected == "none":
        holds = np.abs(effect) <= claim.comparison.margin
    else:
        holds = np.sign(effect) == (1 if claim.expected == "positive" else -1)
    way = pd.array(np.where(np.isnan(effect), pd.NA, holds), dtype="boolean")  # no sign where there is no value
    table = points.assign(effect=effect, claimed_way=way)
    valid = table["effect"].notna().to_numpy()
    box = find_region(points[valid], holds[valid])
    result = Where(claim, table, box, {n: space.parameters[n] for n in points.columns}, str(ranges), sub)
    table.to_csv(folder / "samples.csv", index=False)
    fig = where_figure(result)
    fig.savefig(folder / "where.png", dpi=110)
    plt.close(fig)
    (folder / "where.md").write_text(where_text(result) + "\n", encoding="utf-8")
    return result


def where_figure(w: Where) -> plt.Figure:
    """Left: the samples on the box's two first restrictions (or two sampled parameters), blue dots where
    the claim goes the claimed way and orange crosses where not, with the box; right: PRIM's coverage-density
    trade-off along the peeling trajectory."""
    box, table = w.box, w.valid
    sampled = list(w.ranges)
    dims = (list(box.bounds) + [n for n in sampled if n not in box.bounds])[:2]
    with plt.rc_context(STYLE):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
        y = dims[1] if len(dims) == 2 else "effect"
        way = table["claimed_way"].astype(bool)
        # blue and orange with two shapes: told apart under every colour-vision deficiency
        ax.scatter(table.loc[way, dims[0]], table.loc[way, y], color=PALETTE[0], marker="o", s=28, alpha=0.8,
                   label="the claimed way")
        ax.scatter(table.loc[~way, dims[0]], table.loc[~way, y], color=PALETTE[3], marker="x", s=28, alpha=0.8,
                   label="not")
        if len(dims) == 2:
            (lo0, hi0), (lo1, hi1) = (box.bounds.get(d, w.ranges[d].range) for d in dims)
            ax.add_patch(plt.Rectangle((lo0, lo1), hi0 - lo0, hi1 - lo1, fill=False, lw=2, ec="black"))
        ax.set_ylabel(label_of(y, 40) if len(dims) == 2 else "effect")
        ax.set_xlabel(label_of(dims[0], 50))
        legend_outside(ax, where="below", fontsize=9)
        ax.set_title(f"{w.claim.id}\nthe claimed way at {w.share:.0%} of the samples", fontsize=10)
        t = box.trajectory
        points = ax2.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=30, zorder=2)
        ax2.plot(t["coverage"], t["density"], color="#BBBBBB", lw=1, zorder=1)
        ax2.axhline(THRESHOLD, color="black", ls="--", lw=1)
        ax2.plot([box.coverage], [box.density], "s", mfc="none", mec="black", ms=12)
        bar = fig.colorbar(points, ax=ax2, label="restricted parameters")
        bar.ax.yaxis.get_major_locator().set_params(integer=True)
        ax2.set_xlabel("coverage (share of holding samples inside)")
        ax2.set_ylabel("density (share inside that hold)")
        ax2.set_title("PRIM peeling trajectory\n(square: the box reported)", fontsize=10)
    return fig


def where_text(w: Where) -> str:
    """The claim over the sampled space in Markdown: share holding, and the box with its quasi-p values."""
    box, n, lo, hi = w.box, len(w.valid), *w.share_ci
    left = len(w.table) - n
    lines = [f"# Where does `{w.claim.id}` go the claimed way?", "", w.claim.claim, "",
             f"{len(w.table)} Latin hypercube samples of {len(w.ranges)} parameters (the ranged parameters of "
             f"`{w.source}` that the claim's arms do not set or compare); the mean effect goes the claimed way at "
             f"**{w.share:.0%}** of them (95% Wilson interval {lo:.0%} to {hi:.0%})"
             + (f"; {left} samples without a value are left out" if left else "") + ".", ""]
    if not box.bounds and w.share >= THRESHOLD:
        lines.append(f"It goes the claimed way at {THRESHOLD:.0%} of the space or more, so PRIM's box is the whole "
                     "sampled space.")
    elif not box.bounds:
        lines.append("PRIM finds no restriction that raises the share: the claim goes the claimed way (or not) "
                     "evenly over the sampled space.")
    else:
        reach = "" if box.meets_threshold else f" No box reaches density {THRESHOLD:g}; this is the densest."
        lines += [f"PRIM box: coverage {box.coverage:.2f}, density {box.density:.2f}, mass {box.mass:.2f}.{reach}", "",
                  "| parameter | low | high | sampled range | quasi-p |", "|---|---|---|---|---|"]
        for p, (blo, bhi) in box.bounds.items():
            rlo, rhi = w.ranges[p].range
            lines.append(f"| `{p}` | {blo:.4g} | {bhi:.4g} | {rlo:g} to {rhi:g} | {box.qp.get(p, np.nan):.2g} |")
    lines += ["", "![where](where.png)"]
    return "\n".join(lines)


def where_table(results: list[Where]) -> pd.DataFrame:
    """One row per claim: the share of the sampled space where it goes the claimed way, and its PRIM box."""
    return pd.DataFrame([{
        "id": w.claim.id, "basis": w.claim.basis, "samples": len(w.table), "valid": len(w.valid),
        "share_claimed_way": w.share, "share_low": w.share_ci[0], "share_high": w.share_ci[1],
        # the restrictions PRIM is sure of (quasi-p below 0.05), then all of them
        "box": "; ".join(f"{p} in [{lo:.4g}, {hi:.4g}]" for p, (lo, hi) in w.box.bounds.items()
                         if w.box.qp.get(p, 1.0) < QP_SIGNIFICANT),
        "box_weak": sum(w.box.qp.get(p, 1.0) >= QP_SIGNIFICANT for p in w.box.bounds),
        "box_all": "; ".join(f"{p} in [{lo:.4g}, {hi:.4g}] (qp {w.box.qp.get(p, np.nan):.2g})"
                             for p, (lo, hi) in w.box.bounds.items()),
        "box_coverage": w.box.coverage, "box_density": w.box.density, "box_meets_threshold": w.box.meets_threshold,
    } for w in results])


def write_where_overview(results: list[Where], out: Path, command: str) -> Path:
    """``where.csv`` and ``where.md`` in the claims folder: every claim's share of the space and box."""
    table = where_table(results)
    table.to_csv(out / "where.csv", index=False)
    lines = ["# Claims over the parameter space", "", f"*Command: `{command}`.*", "",
             "Each claim's arms run at every Latin hypercube sample of the parameters it does not set; a sample "
             "goes *the claimed way* when the mean effect over its replicates does (a sign, not a verdict: no test "
             "is made at a sample). The share is over the "
             f"samples with a value (95% Wilson interval); the box is PRIM's (density threshold {THRESHOLD:g}), "
             f"showing the restrictions whose quasi-p is below {QP_SIGNIFICANT:g} and counting the weaker ones "
             "(each claim's `where.md` lists them all).", "",
             "| claim | basis | claimed way at | 95% interval | where (PRIM box) | coverage | density |",
             "|---|---|---|---|---|---|---|"]
    for w, row in zip(results, table.itertuples(), strict=True):
        alike = "the whole space" if row.share_claimed_way >= THRESHOLD else "nowhere" if row.share_claimed_way == 0 \
            else "everywhere alike"
        where = row.box.replace("; ", "<br>") or ("no sure restriction" if row.box_weak else alike)
        where += f" (+{row.box_weak} weak)" if row.box_weak else ""
        where += "" if row.box_meets_threshold or not row.box_all else " (densest box; below threshold)"
        lines.append(f"| [{w.claim.id}]({w.page}) | {w.claim.basis} | {row.share_claimed_way:.0%} "
                     f"| {row.share_low:.0%} to {row.share_high:.0%} | {where} | {row.box_coverage:.2f} "
                     f"| {row.box_density:.2f} |")
    path = out / "where.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    record_files(out, ["where.csv", "where.md"])
    return path
