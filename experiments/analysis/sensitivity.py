"""``migov analyse``: figures, tables and a short summary of a sweep's results.

What is drawn depends on the design:

- grid: each measure against each swept parameter (every run, the mean at each level over
  replicates and the other parameters, and the replicate spread), and heatmaps of each measure
  for every pair of parameters (means over replicates);
- lhs and csv: each measure against each parameter, and Spearman rank correlations;
- morris: elementary effects (SALib) on the replicate mean of each design point: mu*, its
  bootstrap interval and sigma per parameter and measure;
- sobol: first-order and total indices (SALib, Saltelli/Jansen) on the replicate means.

Every design gets a table of replicate noise: the share of the run-to-run variance of each
measure that lies within design points (seed noise) rather than between them, and the share of
the variance of the point means that is still noise after averaging the replicates, so a reader
can judge whether an index or a slope stands above the noise. Measures are each run's final
state (the sweep's mean over the final window). Failed runs are left out and counted; pending
runs (a sweep not yet finished) are noted.

Everything is written into one folder (default ``OUTPUT/analysis``), atomically: PNG figures,
CSV tables, ``summary.md``, which embeds the tables and links the figures, and ``manifest.json``
(the sweep analysed and the files written). An earlier analysis there is replaced only with
``overwrite``; the sweep folder itself is never a destination (see ``outdir``).
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments.analysis.compare import KEY_MEASURES
from migov.experiments.analysis.figures import PALETTE, STYLE
from migov.experiments.common.outdir import check_destination
from migov.experiments.common.storage import atomic_folder, manifest, write_json
from migov.experiments.sweep.engine import SweepError, SweepResults, load_results
from migov.experiments.sweep.experiment import Experiment, ParameterSpec
from migov.experiments.sweep.runner import package_versions
from migov.model import ScenarioError
from migov.model.config import read_text
from scipy import stats

DEFAULT_MEASURES = ["hhi", "funding_share_NGOs", "funding_share_IOM", "legitimacy_donors", "legitimacy_hosts",
                    "legitimacy_peers", "niche_overlap", "mandate_breadth", "offices", "contestations",
                    "network_density", "knowledge_stock"]
TITLES = dict(KEY_MEASURES)
NOT_MEASURES = {"run_id", "step", "year", "ledger_error"}
MAX_ANNOTATED_CELLS = 64


@dataclass
class Analysis:
    """What ``analyse`` found: tables by file stem, figures by file stem, and summary sections."""

    results: SweepResults
    measures: list[str]
    data: pd.DataFrame  # one row per successful run: run id, point, replicate, parameters, measures
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, plt.Figure] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> dict:
        return self.results.manifest.get("experiment", {})

    @property
    def parameters(self) -> list[str]:
        return self.results.parameters

    @property
    def design_type(self) -> str:
        return self.experiment.get("design", {}).get("type", "grid")


# --------------------------------------------------------------------------- loading
def available_measures(final: pd.DataFrame) -> list[str]:
    return [c for c in final.columns if c not in NOT_MEASURES and pd.api.types.is_numeric_dtype(final[c])]


def choose_measures(final: pd.DataFrame, measures: list[str] | None) -> list[str]:
    """The measures asked for (all must exist), or the default key list where present."""
    have = available_measures(final)
    if measures:
        unknown = [m for m in measures if m not in have]
        if unknown:
            raise SweepError(f"unknown measure{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"this sweep has: {', '.join(have)}")
        return list(dict.fromkeys(measures))
    chosen = [m for m in DEFAULT_MEASURES if m in have]
    return chosen or have


SWEEP_FILES = ("design.parquet", "runs.parquet")


def check_sweep_folder(folder: str | Path) -> None:
    """One line for a folder that is missing or is not a sweep's (a ``migov run`` result, say),
    instead of a FileNotFoundError from deep inside the loading."""
    f = Path(folder)
    expected = "expected the output folder of migov sweep"
    if not f.is_dir():
        raise ScenarioError(str(f), "", f"{'is a file' if f.exists() else 'no such folder'}; {expected}")
    man = f / "manifest.json"
    if not man.is_file():
        raise ScenarioError(str(f), "manifest.json", f"missing, so this is not a sweep folder; {expected}")
    try:
        data = json.loads(read_text(man))
    except json.JSONDecodeError as err:
        raise ScenarioError(str(man), "", f"not valid JSON (line {err.lineno}: {err.msg}); {expected}") from None
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
        raise ScenarioError(str(man), "experiment", f"missing, so this is not a sweep's manifest; {expected}")
    missing = [n for n in SWEEP_FILES if not (f / n).is_file()]
    if missing:
        raise ScenarioError(str(f), missing[0], f"missing; {expected} (it holds {' and '.join(SWEEP_FILES)})")


def load(folder: str | Path, measures: list[str] | None = None) -> Analysis:
    """Load a sweep's results and keep the successful runs with their parameters and measures."""
    check_sweep_folder(folder)
    res = load_results(folder, series=False)
    runs = res.runs
    status = runs["status"]
    n_ok, n_failed, n_pending = int((status == "ok").sum()), int((status == "failed").sum()), \
        int((status == "pending").sum())
    if n_ok == 0:
        what = f"{n_failed} failed, {n_pending} pending" if len(runs) else "no runs"
        raise SweepError(f"{res.folder}: no successful runs to analyse ({what}); run the sweep first")
    if res.final.empty:
        raise SweepError(f"{res.folder}: the sweep kept no final states (collect.final is false); nothing to analyse")
    chosen = choose_measures(res.final, measures)
    ok = runs.loc[status == "ok", ["run_id", "point", "replicate", "seed", *res.parameters]]
    final = res.final.drop_duplicates("run_id", keep="last")[["run_id", *chosen]]
    data = ok.merge(final, on="run_id", how="inner").sort_values("run_id").reset_index(drop=True)
    an = Analysis(res, chosen, data)
    an.notes.append(f"{len(runs)} runs in the design ({len(res.design)} points x "
                    f"{an.experiment.get('replicates', 1)} replicates): {n_ok} succeeded and are analysed")
    if n_failed:
        errors = runs.loc[status == "failed", "error"].fillna("").value_counts()
        listed = "; ".join(f"{n} x `{_one_line(e)}`" for e, n in errors.head(3).items())
        an.notes.append(f"{n_failed} failed and are left out ({listed})")
    if n_pending:
        an.notes.append(f"{n_pending} are still pending (the sweep has not finished; run it again to resume): "
                        f"these results are partial")
    missing = len(ok) - len(data)
    if missing:
        an.notes.append(f"{missing} successful runs have no final state and are left out")
    return an


def _one_line(text: str, n: int = 120) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------- numbers
def point_means(an: Analysis) -> pd.DataFrame:
    """Mean, replicate sd and replicate count of each measure at every design point (design order;
    NaN where a point has no successful run)."""
    g = an.data.groupby("point")
    out = an.results.design.copy()
    out.insert(0, "point", np.arange(len(out)))
    idx = pd.RangeIndex(len(out))
    for m in an.measures:
        out[m] = g[m].mean().reindex(idx).to_numpy()
        out[f"{m}__sd"] = g[m].std(ddof=1).reindex(idx).to_numpy()
        out[f"{m}__n"] = g[m].count().reindex(idx).fillna(0).astype(int).to_numpy()
    return out


def variance_split(an: Analysis) -> pd.DataFrame:
    """Per measure: the run-level variance; the pooled within-point (replicate) variance; the share
    of the total sum of squares that lies within points (seed noise) rather than between them; and
    the share of the variance of the point means that is still replicate noise after averaging."""
    crn = bool(an.experiment.get("common_random_numbers", False))
    rows = []
    for m in an.measures:
        d = an.data[["point", m]].dropna()
        g = d.groupby("point")[m]
        counts = g.count()
        ss_within = float(((d[m] - g.transform("mean")) ** 2).sum())
        ss_total = float(((d[m] - d[m].mean()) ** 2).sum())
        dof = int((counts - 1).sum())
        within = ss_within / dof if dof > 0 else np.nan
        means = g.mean()
        var_means = float(means.var(ddof=1)) if len(means) > 1 else np.nan
        if crn:
            noise_of_means = _interaction_noise(an.data, m)
        else:
            noise_of_means = within * float((1.0 / counts).mean()) if dof > 0 else np.nan
        rows.append({
            "measure": m, "runs": len(d), "points": len(counts), "mean": float(d[m].mean()) if len(d) else np.nan,
            "total_var": ss_total / (len(d) - 1) if len(d) > 1 else np.nan, "within_point_var": within,
            "within_share": _ratio(ss_within, ss_total) if dof > 0 else np.nan,
            "noise_share_of_means": _ratio(noise_of_means, var_means),
        })
    return pd.DataFrame(rows)


def _interaction_noise(data: pd.DataFrame, m: str) -> float:
    """With common random numbers a seed's effect shared by every point cancels between points;
    the noise left in the point means is the point x replicate interaction: its mean square (over
    points that have every replicate) divided by the number of replicates."""
    table = data.pivot_table(index="point", columns="replicate", values=m, aggfunc="mean").dropna()
    p, r = table.shape
    if p < 2 or r < 2:
        return np.nan
    y = table.to_numpy(float)
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    return float((resid**2).sum() / ((p - 1) * (r - 1)) / r)


def morris_noise(an: Analysis, m: str, keep: np.ndarray, delta: float) -> float:
    """What mu* would be for a parameter that does nothing: each step of each trajectory is taken
    per replicate, and the spread of those differences over replicates (which cancels any seed
    effect shared by both points, as with common random numbers) gives the noise in the step of
    the replicate means; mu* of pure noise is its mean absolute value."""
    n_points, k = len(an.results.design), len(an.parameters) + 1
    table = an.data.pivot_table(index="point", columns="replicate", values=m, aggfunc="mean")
    if table.shape[1] < 2:
        return np.nan
    y = table.reindex(range(n_points)).to_numpy(float).reshape(-1, k, table.shape[1])[keep]
    steps = np.diff(y, axis=1)
    n = (~np.isnan(steps)).sum(axis=2)
    ok = n >= 2
    if not ok.any():
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        var_of_mean = np.nanvar(steps, axis=2, ddof=1)[ok] / n[ok]
    return float(np.sqrt(var_of_mean.mean()) / delta * np.sqrt(2.0 / np.pi))


def _ratio(a: float, b: float) -> float:
    if np.isnan(a) or np.isnan(b):
        return np.nan
    if b <= 0:
        return np.nan if a > 0 else 0.0
    return float(min(a / b, 1.0)) if a >= 0 else np.nan


def unit_from_design(design: pd.DataFrame, parameters: dict[str, ParameterSpec],
                     morris_levels: int | None = None) -> np.ndarray:
    """The unit-cube sample behind a design, one column per design column (the inverse of
    ``design._from_unit``). Integer rounding makes it approximate; for Morris designs the values are
    snapped to the design's grid of levels, which undoes the rounding unless it moved a value by
    half a grid step or more."""
    cols = []
    for name in design.columns:
        spec = parameters[name]
        x = design[name].to_numpy(float)
        lo, hi = spec.range
        if spec.distribution == "uniform":
            u = (x - lo) / (hi - lo)
        elif spec.distribution == "loguniform":
            u = (np.log(x) - np.log(lo)) / (np.log(hi) - np.log(lo))
        else:
            a, b = (lo - spec.mean) / spec.sd, (hi - spec.mean) / spec.sd
            u = stats.truncnorm.cdf(x, a, b, loc=spec.mean, scale=spec.sd)
        u = np.clip(u, 0.0, 1.0)
        if morris_levels:
            u = np.round(u * (morris_levels - 1)) / (morris_levels - 1)
        cols.append(u)
    return np.column_stack(cols)


def stored_experiment(an: Analysis) -> Experiment:
    """The experiment from the manifest, its parameters in the design's column order (the manifest
    is written with sorted keys, which loses the order the samplers used)."""
    data = dict(an.experiment)
    params = data.get("parameters", {})
    data["parameters"] = {p: params[p] for p in an.parameters if p in params} | params
    return Experiment.model_validate(data)


def unit_sample(an: Analysis, sources: tuple[str, ...] = ("file", "sampler", "design")) -> tuple[np.ndarray, str]:
    """The unit-cube sample of a Morris or Sobol design, one column per parameter in design order:
    the sweep's ``design_unit.parquet``; else drawn again with the experiment's seeded sampler, if
    that reproduces the stored design; else inverted from the stored design."""
    design = an.results.design
    exp = stored_experiment(an)
    path = an.results.folder / "design_unit.parquet"
    if "file" in sources and path.is_file():
        unit = pd.read_parquet(path)
        if list(unit.columns) == list(design.columns) and len(unit) == len(design):
            return unit.to_numpy(float), "the sweep's design_unit.parquet (exact)"
    if "sampler" in sources:
        from migov.experiments.sweep import design as designs

        try:
            unit = designs.unit_sample(exp)
            mapped = np.column_stack([designs._from_unit(unit[:, j], exp.parameters[p])
                                      for j, p in enumerate(design.columns)])
            if mapped.shape == design.shape and np.allclose(mapped, design.to_numpy(float), rtol=1e-12, atol=0):
                return unit, "drawn again with the experiment's seeded sampler (exact)"
        except Exception:  # another SALib or scipy version, say: fall back to inverting the design
            pass
    levels = exp.design.levels if exp.design.type == "morris" else None
    unit = unit_from_design(design, exp.parameters, levels)
    how = "inverted from the stored design"
    if any(s.integer for s in exp.parameters.values()):
        how += " (approximate: integer parameters were rounded)"
    return unit, how


def problem(an: Analysis) -> dict:
    names = an.parameters
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def morris_table(an: Analysis, means: pd.DataFrame) -> pd.DataFrame:
    from SALib.analyze import morris

    exp = an.experiment
    levels = int(exp.get("design", {}).get("levels", 4))
    unit, how = unit_sample(an)
    an.notes.append(f"Unit-cube sample for SALib: {how}")
    k = len(an.parameters) + 1
    delta = levels / (2.0 * (levels - 1))
    rows = []
    for m in an.measures:
        y = means[m].to_numpy(float)
        complete = ~np.isnan(y.reshape(-1, k)).any(axis=1)
        if not complete.any():
            an.notes.append(f"Morris: no complete trajectory for {m}; skipped")
            continue
        if not complete.all():
            an.notes.append(f"Morris: {int((~complete).sum())} of {len(complete)} trajectories of {m} have a point "
                            f"with no successful run and are left out")
        keep = np.repeat(complete, k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = morris.analyze(problem(an), unit[keep], y[keep], num_levels=levels,
                                seed=int(exp.get("seed", 0)))
        noise_mu = morris_noise(an, m, complete, delta)
        for j, p in enumerate(an.parameters):
            rows.append({"measure": m, "parameter": p, "mu_star": float(si["mu_star"][j]),
                         "mu_star_conf": float(si["mu_star_conf"][j]), "mu": float(si["mu"][j]),
                         "sigma": float(si["sigma"][j]), "noise_mu_star": noise_mu,
                         "above_noise": _above(si["mu_star"][j] - si["mu_star_conf"][j], noise_mu),
                         "trajectories": int(complete.sum())})
    return pd.DataFrame(rows)


def _above(low: float, noise: float) -> str:
    """Whether an index's lower 95% bound clears the noise level ('?' when the noise is unknown)."""
    if not np.isfinite(noise) or not np.isfinite(low):
        return "?"
    return "yes" if low > noise else "no"


def sobol_tables(an: Analysis, means: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from SALib.analyze import sobol

    exp = an.experiment
    second = bool(exp.get("design", {}).get("second_order", False))
    rows, pairs = [], []
    names = an.parameters
    noise = an.tables["variance"].set_index("measure")["noise_share_of_means"] if "variance" in an.tables \
        else variance_split(an).set_index("measure")["noise_share_of_means"]
    for m in an.measures:
        y = means[m].to_numpy(float)
        if np.isnan(y).any():
            an.notes.append(f"Sobol: {int(np.isnan(y).sum())} design points have no successful run for {m}; "
                            f"Sobol indices need every point, so {m} is skipped")
            continue
        if np.ptp(y) == 0:
            an.notes.append(f"Sobol: {m} is the same at every design point; no variance to apportion")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol.analyze(problem(an), y, calc_second_order=second, seed=int(exp.get("seed", 0)))
        for j, p in enumerate(names):
            rows.append({"measure": m, "parameter": p, "S1": float(si["S1"][j]), "S1_conf": float(si["S1_conf"][j]),
                         "ST": float(si["ST"][j]), "ST_conf": float(si["ST_conf"][j]), "noise_share": noise.get(m),
                         "ST_above_noise": _above(si["ST"][j] - si["ST_conf"][j], noise.get(m, np.nan))})
        if second:
            for i, j in itertools.combinations(range(len(names)), 2):
                pairs.append({"measure": m, "parameter_1": names[i], "parameter_2": names[j],
                              "S2": float(si["S2"][i, j]), "S2_conf": float(si["S2_conf"][i, j])})
    return pd.DataFrame(rows), pd.DataFrame(pairs)


def spearman_table(an: Analysis) -> pd.DataFrame:
    rows = []
    for p in an.parameters:
        if not _numeric(an.data[p]):
            an.notes.append(f"Spearman: {p} is not numeric; left out")
            continue
        for m in an.measures:
            d = an.data[[p, m]].dropna()
            if len(d) < 3 or d[p].nunique() < 2 or d[m].nunique() < 2:
                rho, pval = np.nan, np.nan
            else:
                rho, pval = stats.spearmanr(d[p], d[m])
            rows.append({"measure": m, "parameter": p, "rho": float(rho), "p_value": float(pval), "n": len(d)})
    return pd.DataFrame(rows)


def main_effects(an: Analysis, means: pd.DataFrame) -> pd.DataFrame:
    """Grid: for each parameter and measure, the mean at each level (over replicates and the other
    parameters) and the range of those means, beside the replicate sd."""
    rows = []
    split = variance_split(an).set_index("measure")
    for p in an.parameters:
        for m in an.measures:
            by = means.groupby(p, sort=False)[m].mean()
            runs = an.data[[p, m]].dropna().groupby(p)[m].count()
            sd = float(np.sqrt(split.loc[m, "within_point_var"]))
            rows.append({"measure": m, "parameter": p, "levels": len(by),
                         "lowest_level_mean": float(by.min()), "highest_level_mean": float(by.max()),
                         "range_of_level_means": float(by.max() - by.min()), "replicate_sd": sd,
                         "runs_per_level": int(runs.min()) if len(runs) else 0,
                         "level_mean_se": sd / np.sqrt(runs.min()) if len(runs) else np.nan})
    return pd.DataFrame(rows)


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


# --------------------------------------------------------------------------- figures
def _title(m: str) -> str:
    return TITLES.get(m, m.replace("_", " "))


def _panels(n: int, width: float = 4.4, height: float = 3.4, ncol: int | None = None):
    ncol = ncol or min(n, 3 if n <= 6 else 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, height * nrow), layout="constrained", squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, axes.flat


def _levels(design: pd.DataFrame, p: str) -> list:
    values = list(dict.fromkeys(design[p].tolist()))
    return sorted(values) if _numeric(design[p]) else values


def plot_grid_measure(an: Analysis, m: str, means: pd.DataFrame) -> plt.Figure:
    """One measure against each swept parameter: every run (grey), the mean at each level over
    replicates and the other parameters (line), +- the pooled replicate sd at that level (bars)."""
    rng = np.random.default_rng(0)
    with plt.rc_context(STYLE):
        fig, axes = _panels(len(an.parameters), ncol=min(len(an.parameters), 3))
        for ax, p in zip(axes, an.parameters, strict=False):
            levels = _levels(an.results.design, p)
            numeric = _numeric(an.results.design[p])
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
            ax.set_xlabel(p)
            ax.set_ylabel(_title(m))
        axes[0].legend(frameon=False, fontsize=9)
        fig.suptitle(f"{_title(m)}: mean over replicates and the other parameters", fontsize=13)
    return fig


def plot_heatmaps(an: Analysis, p: str, q: str, means: pd.DataFrame) -> plt.Figure:
    """Each measure over a pair of parameters, averaged over replicates (and any other parameters)."""
    xs, ys = _levels(an.results.design, p), _levels(an.results.design, q)
    with plt.rc_context(STYLE):
        fig, axes = _panels(len(an.measures), width=4.6, height=3.8)
        for ax, m in zip(axes, an.measures, strict=False):
            grid = means.groupby([q, p])[m].mean().unstack(p).reindex(index=ys, columns=xs)
            im = ax.imshow(grid.to_numpy(float), origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(len(xs)), [f"{v:.3g}" if _numeric(an.results.design[p]) else str(v) for v in xs],
                          fontsize=9)
            ax.set_yticks(range(len(ys)), [f"{v:.3g}" if _numeric(an.results.design[q]) else str(v) for v in ys],
                          fontsize=9)
            ax.set_xlabel(p, fontsize=10)
            ax.set_ylabel(q, fontsize=10)
            ax.set_title(_title(m), fontsize=11)
            fig.colorbar(im, ax=ax, shrink=0.85).ax.tick_params(labelsize=9)
            if grid.size <= MAX_ANNOTATED_CELLS:
                values = grid.to_numpy(float)
                lo, hi = np.nanmin(values), np.nanmax(values)
                for (i, j), v in np.ndenumerate(values):
                    if np.isfinite(v):
                        light = hi > lo and (v - lo) / (hi - lo) < 0.5
                        ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                                color="white" if light else "black")
        fig.suptitle(f"means over replicates: {q} against {p}", fontsize=13)
    return fig


def plot_scatter_measure(an: Analysis, m: str, means: pd.DataFrame, rho: pd.DataFrame) -> plt.Figure:
    params = [p for p in an.parameters if _numeric(an.data[p])]
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
            ax.set_xlabel(p)
            ax.set_ylabel(_title(m))
        if reps and params:
            axes[0].legend(frameon=False, fontsize=9)
        fig.suptitle(_title(m), fontsize=13)
    return fig


def plot_morris(table: pd.DataFrame, measures: list[str]) -> plt.Figure:
    shown = [m for m in measures if m in set(table["measure"])]
    with plt.rc_context(STYLE):
        n_par = table["parameter"].nunique()
        fig, axes = _panels(len(shown), width=5.2, height=max(2.6, 0.45 * n_par + 1.4))
        for ax, m in zip(axes, shown, strict=False):
            t = table[table["measure"] == m]
            y = np.arange(len(t))[::-1]
            ax.barh(y, t["mu_star"], xerr=t["mu_star_conf"], color=PALETTE[0], capsize=3)
            noise = t["noise_mu_star"].iloc[0]
            if np.isfinite(noise):
                ax.axvline(noise, color="black", ls="--", lw=1.2)
            ax.set_yticks(y, [_short(p) for p in t["parameter"]], fontsize=9)
            ax.set_title(_title(m), fontsize=11)
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
            ax.set_xticks(x, [_short(p) for p in t["parameter"]], rotation=30, ha="right", fontsize=9)
            ax.set_title(_title(m), fontsize=11)
        if shown:
            handles = [plt.Rectangle((0, 0), 1, 1, color=PALETTE[0]), plt.Rectangle((0, 0), 1, 1, color=PALETTE[1])]
            labels = ["S1 (first order)", "ST (total)"]
            if any(np.isfinite(noise.get(m, np.nan)) for m in shown):
                handles.append(plt.Line2D([], [], color="black", ls="--", lw=1.2))
                labels.append("noise share of the point means")
            fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False, fontsize=9)
        fig.suptitle("Sobol indices with 95% bootstrap intervals", fontsize=13)
    return fig


def _short(p: str) -> str:
    return p.removeprefix("parameters.")


# --------------------------------------------------------------------------- the analysis
def analyse(folder: str | Path, measures: list[str] | None = None) -> Analysis:
    """Load a sweep and build every table, figure and summary section its design calls for."""
    an = load(folder, measures)
    means = point_means(an)
    an.tables["point_means"] = means
    split = variance_split(an)
    an.tables["variance"] = split
    kind = an.design_type
    if kind in ("morris", "sobol") and int(an.experiment.get("replicates", 1)) == 1 \
            and not an.experiment.get("common_random_numbers", False):
        an.notes.append("One replicate with independent seeds: every design point's seed noise enters the indices "
                        "as if it were an interaction of every parameter (for a noisy measure, ST of every "
                        "parameter is pushed towards 1 and Morris mu* up), and it cannot be measured; use "
                        "replicates >= 2, or common_random_numbers, to tell effects from noise")
    if kind == "grid":
        _grid(an, means)
    elif kind in ("lhs", "csv"):
        _correlations(an, means)
    elif kind == "morris":
        _morris(an, means)
    elif kind == "sobol":
        _sobol(an, means)
    else:  # pragma: no cover - the schema allows no other
        raise SweepError(f"{an.results.folder}: unknown design type '{kind}'")
    return an


def _grid(an: Analysis, means: pd.DataFrame) -> None:
    effects = main_effects(an, means)
    an.tables["main_effects"] = effects
    lines = ["## Each measure against each parameter", "",
             "Grey dots are runs; the line is the mean at each level over replicates and the other parameters, "
             "with bars of ± the pooled replicate sd (seed noise within a design point).", ""]
    for m in an.measures:
        stem = f"effects_{_slug(m)}"
        an.figures[stem] = plot_grid_measure(an, m, means)
        lines.append(f"- [{_title(m)}]({stem}.png)")
    ranges = effects.pivot(index="measure", columns="parameter", values="range_of_level_means")
    ranges = ranges.reindex(index=an.measures, columns=an.parameters)
    ranges["replicate_sd"] = effects.groupby("measure")["replicate_sd"].first()
    lines += ["", "Range of the level means of each parameter (largest minus smallest mean over its levels) beside "
              "the replicate sd. A level mean averages many runs, so its noise is about the replicate sd over the "
              "square root of its runs (`level_mean_se` in `main_effects.csv`); a range several times that is an "
              "effect, not noise:", "",
              markdown_frame(ranges, index_name="measure", code=an.parameters)]
    pairs = [(p, q) for p, q in itertools.combinations(an.parameters, 2)
             if an.results.design[p].nunique() > 1 and an.results.design[q].nunique() > 1]
    if pairs:
        lines += ["", "## Heatmaps", "", "Each measure over a pair of parameters, as means over replicates"
                  + (" and the other parameters" if len(an.parameters) > 2 else "") + ":", ""]
        for p, q in pairs:
            stem = f"heatmap_{_slug(p)}__{_slug(q)}"
            an.figures[stem] = plot_heatmaps(an, p, q, means)
            alt = f"{q} against {p}".replace("*", "\\*")
            lines.append(f"![{alt}]({stem}.png)")
            lines.append("")
    an.sections.append("\n".join(lines))


def _correlations(an: Analysis, means: pd.DataFrame) -> None:
    rho = spearman_table(an)
    an.tables["spearman"] = rho
    lines = ["## Rank correlations", "",
             "Spearman's ρ between each parameter and each measure over all successful runs "
             "(scipy.stats.spearmanr; \\* p < 0.05, \\*\\* p < 0.01; p-values unadjusted for the many tests; "
             "`spearman.csv` has the p-values and n):", ""]
    if len(rho):
        star = rho.assign(cell=[_rho_cell(r, p) for r, p in zip(rho["rho"], rho["p_value"], strict=True)])
        lines.append(markdown_frame(star.pivot(index="measure", columns="parameter", values="cell")
                                    .reindex(index=an.measures), index_name="measure", code=an.parameters))
    lines += ["", "## Each measure against each parameter", ""]
    for m in an.measures:
        stem = f"scatter_{_slug(m)}"
        an.figures[stem] = plot_scatter_measure(an, m, means, rho)
        lines.append(f"- [{_title(m)}]({stem}.png)")
    an.sections.append("\n".join(lines))


def _rho_cell(rho: float, p: float) -> str:
    if not np.isfinite(rho):
        return "–"
    mark = "**" if p < 0.01 else "*" if p < 0.05 else ""
    return f"{rho:+.2f}{mark}"


def _morris(an: Analysis, means: pd.DataFrame) -> None:
    table = morris_table(an, means)
    an.tables["morris"] = table
    lines = ["## Morris elementary effects", "",
             "SALib's Morris method on the replicate mean of each design point, in design order. μ* is the mean "
             "absolute elementary effect with each parameter scaled to [0, 1] (roughly: how much the measure "
             "moves as the parameter crosses its whole range), with a 95% bootstrap interval; σ is the spread "
             "of the effects (non-linearity or interactions). `noise μ*` is what μ* would be for a parameter "
             "that does nothing, from replicate noise alone; an index near it is indistinguishable from noise, "
             "and `CI above noise` says whether the lower end of μ*'s interval clears it (`morris.csv`):", ""]
    if len(table):
        shown = table.assign(**{"mu_star (95% CI)": [f"{a:.3g} ± {b:.2g}" for a, b in
                                                     zip(table["mu_star"], table["mu_star_conf"], strict=True)]})
        shown = shown[["measure", "parameter", "mu_star (95% CI)", "sigma", "noise_mu_star", "above_noise"]]
        lines.append(markdown_frame(shown.rename(columns={"noise_mu_star": "noise μ*",
                                                          "above_noise": "CI above noise"})))
        an.figures["morris_mu_star"] = plot_morris(table, an.measures)
        lines += ["", "![Morris mu*](morris_mu_star.png)"]
    an.sections.append("\n".join(lines))


def _sobol(an: Analysis, means: pd.DataFrame) -> None:
    table, pairs = sobol_tables(an, means)
    an.tables["sobol"] = table
    lines = ["## Sobol indices", "",
             "SALib's Sobol analysis (Saltelli sampling) on the replicate mean of each design point, in design "
             "order: S1 is the share of the variance of the measure explained by the parameter alone, ST with "
             "all its interactions; 95% bootstrap intervals. Seed noise that survives the replicate mean acts "
             "like one more parameter: an index no larger than `noise_share_of_means` in the replicate-noise "
             "table above is indistinguishable from noise, and `ST CI above noise` says whether the lower end "
             "of ST's interval clears it (`sobol.csv`):", ""]
    if len(table):
        shown = table.assign(**{"S1 (95% CI)": [f"{a:.3f} ± {b:.3f}" for a, b in
                                                zip(table["S1"], table["S1_conf"], strict=True)],
                                "ST (95% CI)": [f"{a:.3f} ± {b:.3f}" for a, b in
                                                zip(table["ST"], table["ST_conf"], strict=True)]})
        lines.append(markdown_frame(shown[["measure", "parameter", "S1 (95% CI)", "ST (95% CI)", "noise_share",
                                           "ST_above_noise"]].rename(columns={"noise_share": "noise share",
                                                                              "ST_above_noise": "ST CI above noise"})))
        noise = an.tables["variance"].set_index("measure")["noise_share_of_means"]
        an.figures["sobol_indices"] = plot_sobol(table, an.measures, noise)
        lines += ["", "![Sobol indices](sobol_indices.png)"]
    if len(pairs):
        an.tables["sobol_s2"] = pairs
        lines += ["", "Second-order indices (`sobol_s2.csv`):", "",
                  markdown_frame(pairs.assign(S2=[f"{a:.3f} ± {b:.3f}" for a, b in
                                                  zip(pairs["S2"], pairs["S2_conf"], strict=True)])
                                 .drop(columns="S2_conf"))]
    an.sections.append("\n".join(lines))


# --------------------------------------------------------------------------- writing
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.replace("*", "all")).strip("_")


def _fmt(v) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return "–" if not np.isfinite(v) else f"{v:.3g}"
    return str(v)


def markdown_frame(df: pd.DataFrame, index_name: str | None = None, code: list[str] | tuple[str, ...] = ()) -> str:
    """A frame as a Markdown table (the index too when ``index_name`` is given). Parameter paths
    (the ``parameter`` columns, and headers named in ``code``) are set as code; other asterisks are
    escaped so they are not read as emphasis."""
    df = df.reset_index(names=index_name) if index_name is not None else df
    code_cols = {"parameter", "parameter_1", "parameter_2"}

    def cell(col, v) -> str:
        text = _fmt(v).replace("|", "\\|")
        return f"`{text}`" if col in code_cols else text.replace("*", "\\*")

    head = [f"`{c}`" if c in code else str(c).replace("*", "\\*") for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row, strict=True)) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


def summary_markdown(an: Analysis, files: list[str]) -> str:
    exp = an.experiment
    design = exp.get("design", {})
    man = an.results.manifest
    crn = bool(exp.get("common_random_numbers", False))
    reps = int(exp.get("replicates", 1))
    head = [f"# Analysis of sweep `{exp.get('name', an.results.folder.name)}`", ""]
    if exp.get("description"):
        head += [str(exp["description"]), ""]
    size = f", size {design['size']}" if design.get("size") else ""
    window = exp.get("collect", {}).get("final_window")
    head += [
        f"- experiment hash `{man.get('experiment_hash', '?')}`, scenario `{man.get('scenario_file', '?')}`",
        f"- design: {design.get('type', '?')}{size}; {len(an.results.design)} points x {reps} replicates; "
        f"base seed {exp.get('seed', 0)}" + ("; common random numbers (replicate r has the same seed at every "
                                             "point)" if crn else ""),
        f"- parameters: {', '.join(f'`{p}`' for p in an.parameters)}",
        f"- measures: each run's final state (its mean over the last {f'{window} steps' if window else 'year'}): "
        f"{', '.join(an.measures)}",
    ]
    head += [f"- {n}" for n in an.notes]
    noise = an.tables["variance"]
    head += ["", "## Replicate noise", "",
             "How much of each measure's variation is seed noise: the run-level variance, the pooled variance "
             "between replicates of one design point, the share of the total sum of squares that lies within "
             "points (`within_share`: seed noise rather than the parameters), and the share of the variance of "
             "the point means (what the indices and heatmaps use) that is still noise after averaging the "
             "replicates (`noise_share_of_means`)"
             + (". With one replicate the noise cannot be measured, and it is inside every index" if reps == 1
                else "")
             + (". With common random numbers a seed's effect shared by all points cancels between them, so "
                "`noise_share_of_means` uses only the point x replicate interaction" if crn else "")
             + ". Also in `variance.csv`:", "",
             markdown_frame(noise[["measure", "runs", "mean", "total_var", "within_point_var", "within_share",
                                   "noise_share_of_means"]])]
    body = "\n\n".join(an.sections)
    tail = ["", "## Files", "", *[f"- [{f}]({f})" for f in files]]
    return "\n".join(head) + "\n\n" + body + "\n" + "\n".join(tail) + "\n"


def write_analysis(an: Analysis, out: Path, overwrite: bool = False) -> Path:
    """Write figures, tables, summary.md and a manifest into ``out`` (atomically: a temporary
    folder renamed); an earlier analysis is replaced only with ``overwrite``."""
    meta = {"Software": "migov",
            "Description": f"sweep={an.experiment.get('name')} hash={an.results.manifest.get('experiment_hash')}"}

    def fill(tmp: Path) -> None:
        files = []
        for stem, df in an.tables.items():
            df.to_csv(tmp / f"{stem}.csv", index=False)
            files.append(f"{stem}.csv")
        for stem, fig in an.figures.items():
            fig.savefig(tmp / f"{stem}.png", metadata=meta)
            files.append(f"{stem}.png")
        (tmp / "summary.md").write_text(summary_markdown(an, sorted(files)), encoding="utf-8")
        prov = {"sweep": str(an.results.folder), "experiment": an.experiment.get("name"),
                "experiment_hash": an.results.manifest.get("experiment_hash"), "measures": an.measures,
                "versions": package_versions()}
        write_json(manifest(prov, [*files, "summary.md", "manifest.json"], kind="analysis"), tmp / "manifest.json")

    try:
        return atomic_folder(Path(out), fill, "analysis", inputs=[an.results.folder], overwrite=overwrite)
    finally:
        for fig in an.figures.values():
            plt.close(fig)


def run_analysis(folder: str | Path, measures: list[str] | None = None, out: str | Path | None = None,
                 overwrite: bool = False) -> tuple[Analysis, Path]:
    """``migov analyse``: analyse a sweep folder and write the results (default FOLDER/analysis).
    The destination is checked first, so a refused folder costs no analysis."""
    check_sweep_folder(folder)  # first: a wrong OUTPUT is the likelier mistake than a wrong --out
    dest = Path(out) if out is not None else Path(folder) / "analysis"
    check_destination(dest, [Path(folder)], overwrite)
    an = analyse(folder, measures)
    return an, write_analysis(an, dest, overwrite)
