"""Sensitivity numbers on a sweep: point means, replicate noise, Morris elementary effects,
Sobol indices (SALib), Spearman correlations and main effects."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from migov.experiments.analysis.sweep_results import Analysis
from migov.experiments.sweep.experiment import Experiment, ParameterSpec
from scipy import stats


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
    # seeds shared by every point (not only within blocks of points, crn_block)
    crn = bool(an.experiment.get("common_random_numbers", False)) and not an.experiment.get("crn_block")
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
    problem = an.results.manifest.get("salib_problem")
    if problem:  # a SALib sample: its problem file gives the ranges (declaring them in the experiment is optional)
        from migov.experiments.sweep.design import problem_specs

        specs = {n: s.model_dump(mode="json") for n, s in problem_specs(problem).items()}
        params = {**specs, **params}
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
    if "sampler" in sources and exp.design.type != "csv":  # a csv design has no sampler to draw again
        from migov.experiments.sweep import design as designs

        try:
            unit = designs.unit_sample(exp)
            mapped = np.column_stack([designs._from_unit(unit[:, j], exp.parameters[p])
                                      for j, p in enumerate(design.columns)])
            if mapped.shape == design.shape and np.allclose(mapped, design.to_numpy(float), rtol=1e-12, atol=0):
                return unit, "drawn again with the experiment's seeded sampler (exact)"
        except Exception:  # another SALib or scipy version, say: fall back to inverting the design
            pass
    levels = exp.design.levels if exp.design.method == "morris" else None
    unit = unit_from_design(design, exp.parameters, levels)
    how = "inverted from the stored design" + (" through its SALib problem's bounds" if exp.design.salib else "")
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
        if not is_numeric(an.data[p]):
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


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
