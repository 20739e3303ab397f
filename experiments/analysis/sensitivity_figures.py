"""Figures of a sensitivity analysis: measures against parameters, heatmaps, Morris and Sobol
panels. Parameters and measures are named in words (``label_of``); heatmap panels of measures on
one scale (shares, concentration, legitimacy: 0-1) share one colour scale and one colour bar."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments.analysis.figures import STYLE
from migov.experiments.analysis.sensitivity import is_numeric
from migov.experiments.analysis.sweep_results import MAX_ANNOTATED_CELLS, Analysis
from migov.experiments.common.style import PALETTE, label_of, legend_outside, unit_of

LABEL_WIDTH = 34  # characters per line of an axis label in words


def _panels(n: int, width: float = 4.4, height: float = 3.4, ncol: int | None = None):
    ncol = ncol or min(n, 3 if n <= 6 else 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, axes.flat


def _levels(design: pd.DataFrame, p: str) -> list:
    values = list(dict.fromkeys(design[p].tolist()))
    return sorted(values) if is_numeric(design[p]) else values


def plot_grid_measure(an: Analysis, m: str, means: pd.DataFrame) -> plt.Figure:
    """One measure against each swept parameter: every run (grey), the mean at each level over
    replicates and the other parameters (line), +- the pooled replicate sd at that level (bars)."""
    rng = np.random.default_rng(0)
    with plt.rc_context(STYLE):
        fig, axes = _panels(len(an.parameters), ncol=min(len(an.parameters), 3))
        for ax, p in zip(axes, an.parameters, strict=False):
            levels = _levels(an.results.design, p)
            numeric = is_numeric(an.results.design[p])
            pos = {v: (float(v) if numeric else i) for i, v in enumerate(levels)}
            span = (max(pos.values()) - min(pos.values())) or 1.0
            x = an.data[p].map(pos).to_numpy(float)
            ax.scatter(x + rng.uniform(-0.015, 0.015, len(x)) * span, an.data[m], s=10, color="#999999",
                       alpha=0.5, lw=0, label="runs")
            mean = means.groupby(p)[m].mean().reindex(levels)
            sd = np.sqrt((means[f"{m}__sd"] ** 2).groupby(means[p]).mean().reindex(levels))
            xs = [pos[v] for v in levels]
            ax.errorbar(xs, mean.to_numpy(float), yerr=sd.to_numpy(float), color=PALETTE[0], lw=2, marker="o",
                        capsize=4, label="mean ± replicate sd")
            if not numeric:
                ax.set_xticks(xs, [str(v) for v in levels])
            ax.set_xlabel(label_of(p, LABEL_WIDTH))
            ax.set_ylabel(label_of(m))
        legend_outside(axes[min(len(an.parameters), 3) - 1], fontsize=9)
        fig.suptitle(f"{label_of(m)}: mean over replicates and the other parameters", fontsize=13)
    return fig


def plot_heatmaps(an: Analysis, p: str, q: str, means: pd.DataFrame) -> plt.Figure:
    """Each measure over a pair of parameters, averaged over replicates (and any other parameters).
    Measures on one scale (``unit_of``) share one colour scale and one colour bar, so their
    colours can be compared across panels; a measure on a scale of its own has its own bar."""
    xs, ys = _levels(an.results.design, p), _levels(an.results.design, q)
    grids = {m: means.groupby([q, p])[m].mean().unstack(p).reindex(index=ys, columns=xs).to_numpy(float)
             for m in an.measures}
    scales: dict[str, tuple[float, float]] = {}
    for m, values in grids.items():
        finite = values[np.isfinite(values)]
        if finite.size:
            lo, hi = scales.get(unit_of(m), (np.inf, -np.inf))
            scales[unit_of(m)] = (min(lo, finite.min()), max(hi, finite.max()))
    with plt.rc_context(STYLE):
        fig, axes = _panels(len(an.measures), width=4.6, height=3.8)
        images: dict[str, list] = {}
        for ax, m in zip(axes, an.measures, strict=False):
            values = grids[m]
            lo, hi = scales.get(unit_of(m), (0.0, 1.0))
            im = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis", vmin=lo, vmax=hi)
            images.setdefault(unit_of(m), []).append((ax, im))
            ax.set_xticks(range(len(xs)), [f"{v:.3g}" if is_numeric(an.results.design[p]) else str(v) for v in xs],
                          fontsize=9)
            ax.set_yticks(range(len(ys)), [f"{v:.3g}" if is_numeric(an.results.design[q]) else str(v) for v in ys],
                          fontsize=9)
            ax.set_xlabel(label_of(p, LABEL_WIDTH), fontsize=10)
            ax.set_ylabel(label_of(q, LABEL_WIDTH), fontsize=10)
            ax.set_title(label_of(m), fontsize=11)
            if values.size <= MAX_ANNOTATED_CELLS:
                for (i, j), v in np.ndenumerate(values):
                    if np.isfinite(v):
                        light = hi > lo and (v - lo) / (hi - lo) < 0.5
                        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                                color="white" if light else "black")
        for shown in images.values():
            shared = len(shown) > 1
            bar = fig.colorbar(shown[0][1], ax=[a for a, _ in shown], shrink=0.6 if shared else 0.85,
                               label="one scale (0-1) for the panels without a bar of their own" if shared else None)
            bar.ax.tick_params(labelsize=9)
        fig.suptitle(f"Means over replicates. Across: {label_of(p)}; up: {label_of(q)}", fontsize=13)
    return fig


def plot_scatter_measure(an: Analysis, m: str, means: pd.DataFrame, rho: pd.DataFrame) -> plt.Figure:
    params = [p for p in an.parameters if is_numeric(an.data[p])]
    reps = an.data.groupby("point").size().max() > 1
    with plt.rc_context(STYLE):
        fig, axes = _panels(max(1, len(params)), ncol=min(max(1, len(params)), 3))
        for ax, p in zip(axes, params, strict=False):
            ax.scatter(an.data[p], an.data[m], s=12, color="#999999" if reps else PALETTE[0], alpha=0.6, lw=0,
                       label="runs")
            if reps:
                ax.scatter(means[p], means[m], s=18, color=PALETTE[0], lw=0, label="point means")
            r = rho[(rho["measure"] == m) & (rho["parameter"] == p)]
            if len(r) and np.isfinite(r["rho"].iloc[0]):
                ax.set_title(f"Spearman ρ = {r['rho'].iloc[0]:+.2f}", fontsize=11)
            ax.set_xlabel(label_of(p, LABEL_WIDTH))
            ax.set_ylabel(label_of(m))
        if reps and params:
            legend_outside(axes[min(len(params), 3) - 1], fontsize=9)
        fig.suptitle(label_of(m), fontsize=13)
    return fig


def plot_morris(table: pd.DataFrame, measures: list[str]) -> plt.Figure:
    shown = [m for m in measures if m in set(table["measure"])]
    with plt.rc_context(STYLE):
        n_par = table["parameter"].nunique()
        fig, axes = _panels(len(shown), width=5.2, height=max(2.6, 0.7 * n_par + 1.4))
        for ax, m in zip(axes, shown, strict=False):
            t = table[table["measure"] == m]
            y = np.arange(len(t))[::-1]
            ax.barh(y, t["mu_star"], xerr=t["mu_star_conf"], color=PALETTE[0], capsize=3)
            noise = t["noise_mu_star"].iloc[0]
            if np.isfinite(noise):
                ax.axvline(noise, color="black", ls="--", lw=1.2)
            ax.set_yticks(y, [label_of(p, LABEL_WIDTH) for p in t["parameter"]], fontsize=9)
            ax.set_title(label_of(m), fontsize=11)
            ax.set_xlabel("μ* (95% CI)")
        if shown and np.isfinite(table["noise_mu_star"]).any():
            fig.legend([plt.Line2D([], [], color="black", ls="--", lw=1.2)], ["μ* of replicate noise alone"],
                       loc="outside lower center", frameon=False, fontsize=9)
        fig.suptitle("Morris screening: mean absolute elementary effect per parameter (unit range)", fontsize=13)
    return fig


def plot_sobol(table: pd.DataFrame, measures: list[str], noise: pd.Series) -> plt.Figure:
    shown = [m for m in measures if m in set(table["measure"])]
    with plt.rc_context(STYLE):
        n_par = table["parameter"].nunique()
        fig, axes = _panels(len(shown), width=max(4.4, 0.9 * n_par + 2), height=3.8)
        for ax, m in zip(axes, shown, strict=False):
            t = table[table["measure"] == m]
            x = np.arange(len(t))
            ax.bar(x - 0.2, t["S1"], 0.4, yerr=t["S1_conf"], color=PALETTE[0], capsize=3)
            ax.bar(x + 0.2, t["ST"], 0.4, yerr=t["ST_conf"], color=PALETTE[1], capsize=3)
            share = noise.get(m, np.nan)
            if np.isfinite(share):
                ax.axhline(share, color="black", ls="--", lw=1.2)
            ax.axhline(0, color="black", lw=0.8)
            ax.set_xticks(x, [label_of(p, LABEL_WIDTH) for p in t["parameter"]], rotation=30, ha="right", fontsize=9)
            ax.set_title(label_of(m), fontsize=11)
        if shown:
            handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE[0]), plt.Rectangle((0, 0), 1, 1, color=PALETTE[1])]
            labels = ["S1 (first order)", "ST (total)"]
            if any(np.isfinite(noise.get(m, np.nan)) for m in shown):
                handles.append(plt.Line2D([], [], color="black", ls="--", lw=1.2))
                labels.append("noise share of the point means")
            fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False, fontsize=9)
        fig.suptitle("Sobol indices with 95% bootstrap intervals", fontsize=13)
    return fig

