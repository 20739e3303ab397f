"""``migov compare``: scenarios side by side over replicate seeds.

Every scenario runs with the same replicate seeds (common random numbers). Figures overlay the
scenarios as a median line and an interquartile band over replicates; flow measures (funding
shares, concentration, events) are first smoothed to rolling annual means within each run. The
table compares each scenario's final state (mean over the last year of each run) with the first
scenario's: the difference in means with a 95% percentile bootstrap interval over replicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments.analysis.figures import STYLE, organisations_in
from migov.experiments.common.style import KEY_MEASURES, PALETTE, label_of, legend_outside, organisation_colours

FLOW = ("hhi", "funding_share_", "contestations", "host_refusals", "challenges", "earmarked_share",
        "ngo_income_", "funding_total")
BOOTSTRAP = 2000


@dataclass
class Comparison:
    labels: list[str]
    runs: pd.DataFrame  # long: scenario, replicate, seed, step, year, measures...
    final: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per run
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    means: pd.DataFrame = field(default_factory=pd.DataFrame)


def is_flow(measure: str) -> bool:
    return any(measure == f or (f.endswith("_") and measure.startswith(f)) for f in FLOW)


def smooth(runs: pd.DataFrame, window: int) -> pd.DataFrame:
    """Rolling annual means of flow measures within each run."""
    out = runs.copy()
    flows = [c for c in runs.columns if is_flow(c)]
    out[flows] = (runs.groupby(["scenario", "replicate"], sort=False)[flows]
                  .transform(lambda s: s.rolling(window, min_periods=1).mean()))
    return out


def final_state(runs: pd.DataFrame, window: int) -> pd.DataFrame:
    """Each run's final state: the mean of every measure over its last ``window`` steps."""
    last = runs[runs["step"] > runs.groupby(["scenario", "replicate"])["step"].transform("max") - window]
    numeric = [c for c in runs.columns if c not in ("scenario", "replicate", "seed", "step", "year", "quarter")]
    return last.groupby(["scenario", "replicate", "seed"], sort=False)[numeric].mean().reset_index()


def bootstrap_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n: int = BOOTSTRAP
                         ) -> tuple[float, float, float]:
    """Difference in means b - a with a 95% percentile bootstrap interval (resampling each
    group's replicates independently). NaN values are dropped."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return np.nan, np.nan, np.nan
    diff = b.mean() - a.mean()
    ia = rng.integers(0, len(a), size=(n, len(a)))
    ib = rng.integers(0, len(b), size=(n, len(b)))
    boot = b[ib].mean(axis=1) - a[ia].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(diff), float(lo), float(hi)


def differences(final: pd.DataFrame, labels: list[str], measures: list[str], seed: int = 0) -> pd.DataFrame:
    """Final-state differences of every scenario against the first."""
    rng = np.random.default_rng(seed)
    ref = final[final["scenario"] == labels[0]]
    rows = []
    for label in labels[1:]:
        other = final[final["scenario"] == label]
        for m in measures:
            if m not in final.columns or ref[m].isna().all() or other[m].isna().all():
                continue  # only in one scenario (e.g. a trust fund's capture): see final_means
            d, lo, hi = bootstrap_difference(ref[m].to_numpy(float), other[m].to_numpy(float), rng)
            rows.append({"measure": m, "scenario": label, "reference": labels[0],
                         "reference_mean": float(ref[m].mean()), "scenario_mean": float(other[m].mean()),
                         "difference": d, "ci_low": lo, "ci_high": hi,
                         "excludes_zero": bool(lo > 0 or hi < 0) if not np.isnan(lo) else False})
    return pd.DataFrame(rows)


def final_means(final: pd.DataFrame, labels: list[str], measures: list[str], seed: int = 0) -> pd.DataFrame:
    """Each scenario's mean final state with a 95% bootstrap interval over replicates."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in measures:
        if m not in final.columns:
            continue
        for label in labels:
            x = final.loc[final["scenario"] == label, m].to_numpy(float)
            x = x[~np.isnan(x)]
            if len(x) == 0:
                continue
            boot = x[rng.integers(0, len(x), size=(BOOTSTRAP, len(x)))].mean(axis=1)
            lo, hi = np.percentile(boot, [2.5, 97.5])
            rows.append({"measure": m, "scenario": label, "mean": float(x.mean()), "ci_low": float(lo),
                         "ci_high": float(hi), "replicates": len(x)})
    return pd.DataFrame(rows)


def key_measures(runs: pd.DataFrame) -> list[tuple[str, str]]:
    return [(m, t) for m, t in KEY_MEASURES if m in runs.columns and runs[m].notna().any()]


def _band(ax, df: pd.DataFrame, measure: str, colour: str, label: str) -> None:
    g = df.groupby("year")[measure]
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    ax.fill_between(q.index, q[0.25], q[0.75], color=colour, alpha=0.25, lw=0)
    ax.plot(q.index, q[0.5], color=colour, lw=2, label=label)


def plot_measures(runs: pd.DataFrame, labels: list[str], window: int, only: list[str] | None = None) -> plt.Figure:
    sm = smooth(runs[runs["step"] > 0], window)
    measures = key_measures(runs)
    if only is not None:
        measures = [(m, label_of(m)) for m in only if m in runs.columns]
    ncol = min(3 if len(measures) <= 6 else 4, len(measures))
    nrow = int(np.ceil(len(measures) / ncol))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.4 * nrow), layout="constrained", squeeze=False)
        for ax, (m, title) in zip(axes.flat, measures, strict=False):
            for j, label in enumerate(labels):
                _band(ax, sm[sm["scenario"] == label], m, PALETTE[j % len(PALETTE)], label)
            ax.set_title(title, fontsize=12)
            ax.set_xlabel("year")
        for ax in axes.flat[len(measures):]:
            ax.set_axis_off()
        handles, names = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside upper center", ncol=min(len(labels), 4), frameon=False)
        fig.suptitle("median line and interquartile band over replicates; flows as rolling annual means",
                     fontsize=11, y=0.0, va="bottom")
    return fig


def plot_shares(runs: pd.DataFrame, labels: list[str], window: int) -> plt.Figure:
    """Median funding share per organisation over time, one panel per scenario."""
    orgs = organisations_in(runs)
    cols = [f"funding_share_{o}" for o in orgs] + ["funding_share_NGOs"]
    sm = smooth(runs[runs["step"] > 0], window)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(labels), figsize=(6 * len(labels), 4.6), sharey=True,
                                 layout="constrained", squeeze=False)
        colours = organisation_colours(orgs)
        for ax, label in zip(axes.flat, labels, strict=True):
            med = sm[sm["scenario"] == label].groupby("year")[cols].median().fillna(0.0)
            med = med.div(med.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
            ax.stackplot(med.index, med.T.to_numpy(), labels=[*orgs, "NGOs"],
                         colors=[colours[o] for o in [*orgs, "NGOs"]], alpha=0.9)
            ax.set_title(label)
            ax.set_xlabel("year")
            ax.set_ylim(0, 1)
            ax.set_xlim(med.index.min(), med.index.max())
        axes.flat[0].set_ylabel("median share of funding")
        legend_outside(axes.flat[-1])
    return fig


def plot_differences(diff: pd.DataFrame) -> plt.Figure:
    """A forest plot of final-state differences against the reference, standardised by the
    reference's mean so measures on different scales share one axis."""
    with plt.rc_context(STYLE):
        measures = list(dict.fromkeys(diff["measure"]))
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(measures) * max(1, diff["scenario"].nunique()) + 1.5),
                               layout="constrained")
        y = 0
        ticks, names = [], []
        for j, (label, g) in enumerate(diff.groupby("scenario", sort=False)):
            for _, r in g.iterrows():
                scale = abs(r["reference_mean"]) or 1.0
                err = [[(r["difference"] - r["ci_low"]) / scale], [(r["ci_high"] - r["difference"]) / scale]]
                ax.errorbar(r["difference"] / scale, y, xerr=err,
                            fmt="o", color=PALETTE[(j + 1) % len(PALETTE)], capsize=3,
                            label=label if _ == g.index[0] else None)
                ticks.append(y)
                names.append(label_of(r["measure"]))
                y -= 1
        ax.axvline(0, color="black", lw=1)
        ax.set_yticks(ticks, names, fontsize=9)
        ax.set_xlabel(f"difference from {diff['reference'].iloc[0]}, relative to its mean (95% bootstrap CI)")
        legend_outside(ax)
    return fig


def markdown_table(diff: pd.DataFrame) -> str:
    lines = ["| measure | scenario | reference mean | scenario mean | difference | 95% CI |",
             "|---|---|---|---|---|---|"]
    for _, r in diff.iterrows():
        mark = " *" if r["excludes_zero"] else ""
        lines.append(f"| {r['measure']} | {r['scenario']} | {r['reference_mean']:.4g} | {r['scenario_mean']:.4g} | "
                     f"{r['difference']:+.4g}{mark} | [{r['ci_low']:+.4g}, {r['ci_high']:+.4g}] |")
    lines.append("")
    lines.append("Final state = mean over each run's last year; * = the interval excludes zero.")
    return "\n".join(lines)


def markdown_means(means: pd.DataFrame) -> str:
    lines = ["| measure | scenario | mean | 95% CI | replicates |", "|---|---|---|---|---|"]
    for _, r in means.iterrows():
        lines.append(f"| {r['measure']} | {r['scenario']} | {r['mean']:.4g} | [{r['ci_low']:.4g}, {r['ci_high']:.4g}] "
                     f"| {r['replicates']} |")
    return "\n".join(lines)
