"""Where does a claim hold? PRIM over a Latin hypercube of behavioural parameters.

``migov claims --where ID --samples N`` samples the behavioural parameters (the ranges below, the
same as the Morris screening example) by Latin hypercube, runs the claim's arms at every sample
(through the sweep engine, replicates sharing seeds across arms), and marks a sample as *holding*
when the mean effect over its replicates goes the claimed way (for an *unchanged* claim: lies
within the margin). PRIM (the Patient Rule Induction Method, Friedman & Fisher 1999) then peels
the box of parameter space where holding samples are densest: at each step it removes the
``alpha`` share of samples from the one side of one parameter that raises the density of holding
samples most, until the box holds fewer than ``min_mass`` of the samples. The reported box is the
first (so the widest) box on that peeling trajectory whose density reaches ``threshold`` (or, if
none does, the densest one),
with its coverage (share of all holding samples inside it) and density (share of samples inside
it that hold). This is our own implementation; ``ema_workbench`` offers a fuller one.
"""

from __future__ import annotations

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
    arms,
    claim_context,
    claim_experiment,
    folder_values,
    per_replicate,
)
from migov.experiments.common.outdir import open_accumulating, record_files
from migov.experiments.sweep.engine import run_sweep
from scipy.stats import qmc

BEHAVIOURAL: dict[str, tuple[float, float]] = {
    "parameters.legitimacy_decay": (0.01, 0.04),
    "parameters.gain_knowledge": (0.015, 0.06),
    "parameters.gain_partnership": (0.015, 0.06),
    "parameters.knowledge_partnership_synergy": (0.0, 0.06),
    "parameters.uncertainty": (0.1, 0.9),
    "parameters.challenge_rate": (0.05, 0.3),
    "parameters.contest_strength": (0.03, 0.12),
    "parameters.mandate_stretch": (0.05, 0.3),
    "parameters.choice_temperature": (0.25, 1.0),
    "parameters.familiarity_gain": (0.05, 0.2),
    "parameters.office_cost": (0.5, 2.0),
    "parameters.subcontract_share": (0.1, 0.5),
}


@dataclass
class Box:
    bounds: dict[str, tuple[float, float]]
    coverage: float
    density: float
    mass: float
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)


def prim(x: pd.DataFrame, y: np.ndarray, alpha: float = 0.05, min_mass: float = 0.05,
         threshold: float = 0.8) -> Box:
    """Peel a box around the samples where ``y`` is 1 (see the module docstring)."""
    y = np.asarray(y, dtype=float)
    inside = np.ones(len(y), dtype=bool)
    lo = x.min().to_dict()
    hi = x.max().to_dict()
    total_hits = max(y.sum(), 1e-12)
    steps = [(dict(lo), dict(hi), inside.copy())]
    while inside.mean() > min_mass:
        best = None
        for col in x.columns:
            v = x[col].to_numpy()
            vin = v[inside]
            for side in ("low", "high"):
                cut = np.quantile(vin, alpha) if side == "low" else np.quantile(vin, 1 - alpha)
                keep = inside & ((v > cut) if side == "low" else (v < cut))
                if keep.sum() == 0 or keep.sum() == inside.sum():
                    continue
                dens = y[keep].mean()
                if best is None or dens > best[0]:
                    best = (dens, col, side, cut, keep)
        if best is None:
            break
        _, col, side, cut, keep = best
        if side == "low":
            lo[col] = float(cut)
        else:
            hi[col] = float(cut)
        inside = keep
        steps.append((dict(lo), dict(hi), inside.copy()))
    rows = [{"step": k, "mass": m.mean(), "density": y[m].mean(), "coverage": y[m].sum() / total_hits}
            for k, (_, _, m) in enumerate(steps)]
    traj = pd.DataFrame(rows)
    ok = traj[traj["density"] >= threshold]
    pick = int(ok["step"].iloc[0]) if len(ok) else int(traj["density"].idxmax())
    blo, bhi, _ = steps[pick]
    restricted = {c: (blo[c], bhi[c]) for c in x.columns
                  if blo[c] > x[c].min() + 1e-12 or bhi[c] < x[c].max() - 1e-12}
    return Box(restricted, float(traj.loc[pick, "coverage"]), float(traj.loc[pick, "density"]),
               float(traj.loc[pick, "mass"]), traj)


def where_design(claim: Claim, samples: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Latin hypercube of behavioural parameters and the design (samples x arms)."""
    fixed = {k for _, arm in arms(claim) for k in arm}
    names = [n for n in BEHAVIOURAL if n not in fixed]  # what the claim's arms set is not sampled
    unit = qmc.LatinHypercube(d=len(names), seed=seed).random(samples)
    lows = np.array([BEHAVIOURAL[n][0] for n in names])
    highs = np.array([BEHAVIOURAL[n][1] for n in names])
    points = pd.DataFrame(lows + unit * (highs - lows), columns=names)
    rows = []
    for s, (_, p) in enumerate(points.iterrows()):
        for label, arm in arms(claim):
            # the arm's own settings win over the sampled background values
            rows.append({"sample": s, "arm": label, **p.to_dict(), **arm})
    return points, pd.DataFrame(rows)


def run_where(claim: Claim, out: Path, samples: int = 64, replicates: int = 3, workers: int = 1,
              executor: str = "processes", seed: int = 0, quiet: bool = False,
              posterior: Path | None = None) -> tuple[Box, pd.DataFrame]:
    open_accumulating(out, "claims")  # the claims folder: new, empty or migov's
    record_files(out, [f"{claim.id}/"])
    folder = out / claim.id / "where"
    points, design = where_design(claim, samples, seed)
    experiment = claim_experiment(claim, folder / "spec", design.drop(columns=["sample", "arm"]), replicates, seed,
                                  f"{claim.id}_where", f"where does {claim.id} hold", posterior)
    run_sweep(experiment, folder / "runs", workers=workers, executor=executor, quiet=quiet)
    n_arms = len(arms(claim))
    vals = folder_values(folder / "runs", claim, claim_context(claim), [p % n_arms for p in range(len(design))])
    vals["sample"] = vals["point"] // n_arms
    vals["arm"] = vals["point"] % n_arms
    effects = []
    for s, g in vals.groupby("sample"):
        stat = per_replicate(g[["arm", "replicate", "value"]].rename(columns={"arm": "point"}), claim)
        effects.append((s, float(np.mean(stat)) if len(stat) else np.nan))
    eff = pd.DataFrame(effects, columns=["sample", "effect"]).set_index("sample")
    points = points.loc[eff.index]
    if claim.expected == "none":
        holds = (eff["effect"].abs() <= claim.comparison.margin).to_numpy()
    else:
        sign = 1 if claim.expected == "positive" else -1
        holds = (np.sign(eff["effect"]) == sign).to_numpy()
    box = prim(points, holds)
    table = points.assign(effect=eff["effect"].to_numpy(), holds=holds)
    table.to_csv(folder / "samples.csv", index=False)
    where_figure(box, table, claim).savefig(folder / "where.png", dpi=110)
    plt.close("all")
    write_where_summary(box, table, claim, folder)
    return box, table


def where_figure(box: Box, table: pd.DataFrame, claim: Claim) -> plt.Figure:
    sampled = [c for c in table.columns if c not in ("effect", "holds")]
    dims = list(box.bounds)[:2] or sampled[:2]
    if len(dims) == 1:
        dims = [dims[0], next(n for n in sampled if n != dims[0])]
    with plt.rc_context(STYLE):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
        colours = np.where(table["holds"], "#117733", "#CC3311")
        ax.scatter(table[dims[0]], table[dims[1]], c=colours, s=28, alpha=0.8)
        lo0, hi0 = box.bounds.get(dims[0], (table[dims[0]].min(), table[dims[0]].max()))
        lo1, hi1 = box.bounds.get(dims[1], (table[dims[1]].min(), table[dims[1]].max()))
        ax.add_patch(plt.Rectangle((lo0, lo1), hi0 - lo0, hi1 - lo1, fill=False, lw=2, ec="black"))
        ax.set_xlabel(dims[0])
        ax.set_ylabel(dims[1])
        ax.set_title(f"{claim.id}: green = holds at the sample")
        t = box.trajectory
        ax2.plot(t["coverage"], t["density"], "o-", color="#0072B2")
        ax2.set_xlabel("coverage")
        ax2.set_ylabel("density")
        ax2.set_title("PRIM peeling trajectory")
    return fig


def write_where_summary(box: Box, table: pd.DataFrame, claim: Claim, folder: Path) -> None:
    lines = [f"# Where does `{claim.id}` hold?", "", claim.claim, "",
             f"{len(table)} Latin hypercube samples of {len(table.columns) - 2} behavioural parameters (those the "
             f"claim's arms do not set); the claim goes the "
             f"claimed way at {table['holds'].mean():.0%} of them.", "",
             f"PRIM box: coverage {box.coverage:.2f}, density {box.density:.2f}, mass {box.mass:.2f}.", ""]
    if box.bounds:
        lines += ["| parameter | low | high | sampled range |", "|---|---|---|---|"]
        for p, (lo, hi) in box.bounds.items():
            lines.append(f"| `{p}` | {lo:.4g} | {hi:.4g} | {BEHAVIOURAL[p][0]:g} to {BEHAVIOURAL[p][1]:g} |")
    else:
        lines.append("The box spans the whole sampled space: no parameter restriction raises the density.")
    lines += ["", "![where](where.png)", ""]
    (folder / "where.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
