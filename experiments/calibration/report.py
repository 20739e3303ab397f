"""What a calibration leaves for a modeller to judge: the posterior of every generation, the
diagnostics per generation, which parameters the record identifies, marginal and pairwise plots,
the posterior predictive against every fact (in-sample targets, in-sample facts not targeted, and
out-of-sample facts apart), and ``report.md`` tying them together."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from migov.experiments.analysis.figures import STYLE
from migov.experiments.calibration.simulate import Simulator, natural, sampled, stat_key
from migov.experiments.calibration.spec import LoadedCalibration, Prior
from migov.experiments.common.style import label_of, legend_outside
from migov.experiments.validation.validate import Validation, _number, markdown

IDENTIFIED = 0.5  # posterior sd below this share of the prior's: the record identifies the parameter
WEAK = 0.8  # below this share: weakly identified; above: the record says little about it
EDGE = 0.05  # a posterior median in the outer 5% of the prior's range is piled against a bound


def posterior_table(history, sim: Simulator) -> pd.DataFrame:
    """Every accepted particle of every generation: generation, particle (its index in the
    generation), weight (normalised per generation), distance, and one column per calibrated path,
    in the scenario's units. Each row is one particle as pyabc stored it, its values kept together."""
    blocks = []
    for t in range(history.max_t + 1):
        particles = history.get_population(t).particles
        w = np.array([p.weight for p in particles], dtype=float)
        block = pd.DataFrame({"generation": t, "particle": np.arange(len(particles), dtype=np.int64),
                              "weight": w / w.sum(), "distance": [float(p.distance) for p in particles]})
        for name, path in sim.paths.items():
            block[path] = [natural(sim.priors[name], float(p.parameter[name])) for p in particles]
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()


def diagnostics(history, replicates: int) -> pd.DataFrame:
    """One row per generation: threshold, proposals, acceptance rate, effective sample size, runs
    (proposals x replicates) and wall time."""
    from pyabc.weighted_statistics import effective_sample_size

    pops = history.get_all_populations()
    rows = []
    for r in pops.itertuples():
        if r.t < 0:  # the prior sample pyabc draws to set its first scales and threshold
            rows.append({"generation": -1, "epsilon": np.nan, "proposals": int(r.samples), "accepted": 0,
                         "acceptance_rate": np.nan, "ess": np.nan, "runs": int(r.samples) * replicates,
                         "wall_time_s": float(r.wall_time or 0.0)})
            continue
        _, w = history.get_distribution(m=0, t=int(r.t))
        rows.append({"generation": int(r.t), "epsilon": float(r.epsilon), "proposals": int(r.samples),
                     "accepted": int(r.particles), "acceptance_rate": r.particles / max(1, r.samples),
                     "ess": float(effective_sample_size(w)), "runs": int(r.samples) * replicates,
                     "wall_time_s": float(r.wall_time or 0.0)})
    return pd.DataFrame(rows)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    return float(np.interp(q * cum[-1], cum, x[order]))


def identification(post: pd.DataFrame, sim: Simulator) -> pd.DataFrame:
    """Per parameter: the last generation's weighted median and 90% interval, and its sd on the
    sampled scale (log10 for loguniform) against the prior's: what the record narrows and what not."""
    last = post[post["generation"] == post["generation"].max()]
    w = last["weight"].to_numpy(float)
    w = w / w.sum()
    rows = []
    for name, path in sim.paths.items():
        prior: Prior = sim.priors[name]
        x = last[path].to_numpy(float)
        xs = np.array([sampled(prior, v) for v in x])
        mean = float(np.sum(w * xs))
        sd = float(math.sqrt(max(0.0, np.sum(w * (xs - mean) ** 2))))
        ratio = sd / prior.width if prior.width > 0 else np.nan
        verdict = ("identified" if ratio < IDENTIFIED else "weakly identified" if ratio < WEAK
                   else "not identified")
        lo, hi = prior.bounds
        s_lo, s_hi = sampled(prior, lo), sampled(prior, hi)
        where = (sampled(prior, weighted_quantile(x, w, 0.5)) - s_lo) / (s_hi - s_lo)
        if where < EDGE or where > 1 - EDGE:
            verdict += f" (against the prior's {'lower' if where < EDGE else 'upper'} bound: the record may " \
                       "want values beyond the prior, or the model misfits)"
        rows.append({"parameter": name, "path": path, "prior": prior.distribution, "prior_low": lo, "prior_high": hi,
                     "median": weighted_quantile(x, w, 0.5), "p05": weighted_quantile(x, w, 0.05),
                     "p95": weighted_quantile(x, w, 0.95), "sd_ratio": ratio, "verdict": verdict})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures
def marginals_figure(post: pd.DataFrame, sim: Simulator, title: str):
    """Each parameter's weighted histogram in the last generation over its prior's range (log axis
    for a loguniform prior), the prior's density drawn beneath."""
    import matplotlib.pyplot as plt
    from scipy import stats

    names = list(sim.paths)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    last = post[post["generation"] == post["generation"].max()]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            prior, path = sim.priors[name], sim.paths[name]
            lo, hi = prior.bounds
            s_lo, s_hi = sampled(prior, lo), sampled(prior, hi)
            xs = np.array([sampled(prior, v) for v in last[path]])
            ax.hist(xs, bins=20, range=(s_lo, s_hi), weights=last["weight"], density=True, color="#0072B2",
                    alpha=0.7, label="posterior")
            grid = np.linspace(s_lo, s_hi, 200)
            if prior.distribution == "normal":
                dens = stats.norm(prior.mean, prior.sd).pdf(grid)
                dens = dens / np.trapezoid(dens, grid)
            else:
                dens = np.full_like(grid, 1.0 / (s_hi - s_lo))
            ax.plot(grid, dens, color="#D55E00", lw=1.5, label="prior")
            ax.set_title(name, fontsize=10)
            ax.set_xlabel(_axis_words(sim, name, 40), fontsize=8)
            ax.set_yticks([])
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        legend_outside(axes.flat[cols - 1], fontsize=8)
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    return fig


def pairs_figure(post: pd.DataFrame, sim: Simulator, title: str):
    """Pairwise scatter of the last generation (point size by weight), on the sampled scales."""
    import matplotlib.pyplot as plt

    names = list(sim.paths)
    n = len(names)
    last = post[post["generation"] == post["generation"].max()]
    w = last["weight"].to_numpy(float)
    size = 8 + 60 * w / w.max()
    scaled = {nm: np.array([sampled(sim.priors[nm], v) for v in last[sim.paths[nm]]]) for nm in names}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(n, n, figsize=(2.2 * n + 1, 2.2 * n + 1), squeeze=False)
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                ax = axes[i, j]
                if i == j:
                    ax.hist(scaled[a], bins=15, weights=w, color="#0072B2", alpha=0.7)
                elif i > j:
                    ax.scatter(scaled[b], scaled[a], s=size, color="#0072B2", alpha=0.5, lw=0)
                else:
                    ax.axis("off")
                    continue
                ax.tick_params(labelsize=6)
                if i == n - 1:
                    ax.set_xlabel(_axis_words(sim, b), fontsize=7)
                if j == 0 and i > 0:
                    ax.set_ylabel(_axis_words(sim, a), fontsize=7)
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
    return fig


def _axis_words(sim: Simulator, name: str, width: int = 24) -> str:
    """A sampled parameter in words (on the log scale its prior samples on, if so)."""
    words = label_of(sim.paths[name])
    return textwrap.fill(("log10 of " if sim.priors[name].distribution == "loguniform" else "") + words, width)


def diagnostics_figure(diag: pd.DataFrame, title: str):
    import matplotlib.pyplot as plt

    d = diag[diag["generation"] >= 0]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        axes[0].plot(d["generation"], d["epsilon"], marker="o", color="#0072B2")
        axes[0].set_title("acceptance threshold (epsilon)", fontsize=10)
        axes[1].plot(d["generation"], d["acceptance_rate"], marker="o", color="#009E73")
        axes[1].set_title("acceptance rate", fontsize=10)
        axes[1].set_ylim(0, 1.05)
        axes[2].plot(d["generation"], d["ess"], marker="o", color="#CC79A7")
        axes[2].set_title("effective sample size", fontsize=10)
        for ax in axes:
            ax.set_xlabel("generation")
        fig.suptitle(title + " (epsilon is on the adaptive distance's scale, refitted each generation)", fontsize=10)
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- report
def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:.3g}"


def targeted(val: Validation, sim: Simulator) -> pd.DataFrame:
    """The predictive table with a column saying whether each row was a calibration target."""
    keys = set(sim.keys())
    table = val.table.copy()
    table["target"] = [stat_key(r.fact, int(r.first_year), int(r.last_year)) in keys for r in table.itertuples()]
    return table


def scale_weights(path: Path, fixed: dict[str, float]) -> pd.DataFrame | None:
    """The adaptive distance's weight of each statistic in the last generation, from pyabc's log,
    times the target's fixed weight: which figures steered the last acceptance (0: none)."""
    if not path.is_file():
        return None
    from pyabc.storage import load_dict_from_json

    log = load_dict_from_json(str(path))
    if not log:
        return None
    last = log[max(log, key=int)]
    return pd.DataFrame({"statistic": list(fixed),
                         "scale_weight": [float(last.get(k, np.nan)) * w for k, w in fixed.items()]})


def failures(path: Path) -> tuple[int, list[str]]:
    """How many runs failed, and their first distinct errors."""
    if not path.is_file():
        return 0, []
    import json

    errors = [json.loads(line)["error"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return len(errors), list(dict.fromkeys(errors))[:3]


def report_markdown(loaded: LoadedCalibration, diag: pd.DataFrame, ident: pd.DataFrame,
                    predictive: pd.DataFrame | None, default: pd.DataFrame | None, budget_name: str,
                    stop: str, prov: dict, weights: pd.DataFrame | None = None,
                    failed: tuple[int, list[str]] = (0, [])) -> str:
    cal = loaded.cal
    d = diag[diag["generation"] >= 0]
    population = (cal.budget if budget_name == "default" else cal.quick).population
    lines = [f"# Calibration `{cal.name}` of `{loaded.scenario_path.stem}`", ""]
    if cal.description:
        lines += [textwrap.fill(cal.description.strip(), 100), ""]
    lines += [f"ABC-SMC (pyabc {prov['versions'].get('pyabc', '?')}, adaptive p-norm distance) with the "
              f"{budget_name} budget: {len(d)} generations of {population} particles, "
              f"{int(diag['runs'].sum())} runs of {loaded.steps_needed()} steps "
              f"({cal.replicates} seed(s) per particle), {diag['wall_time_s'].sum() / 60:.1f} min. Stopped: {stop}.",
              f"Targets: {len(loaded.rows)} figures from {len(cal.targets)} in-sample facts (every year up to "
              f"{prov['last_in_sample_year']}); the later facts were never seen and are checked apart below.", "",
              "## Generations", "", "| generation | epsilon | proposals | acceptance | ESS | runs | wall time (s) |",
              "|---|---|---|---|---|---|---|"]
    for r in d.itertuples():
        lines.append(f"| {r.generation} | {_fmt(r.epsilon)} | {r.proposals} | {r.acceptance_rate:.2f} | "
                     f"{r.ess:.1f} | {r.runs} | {r.wall_time_s:.0f} |")
    lines += ["", f"Generation -1 (not shown) is pyabc's prior sample that sets the first scales and threshold "
              f"({int(diag.loc[diag['generation'] < 0, 'runs'].sum())} runs). Epsilon is on the adaptive distance's "
              "scale, refitted every generation: it falls only where the scales stay put. Failed runs: "
              f"{failed[0]}" + (f" (first errors: {'; '.join(failed[1])}; all in failures.jsonl)" if failed[0] else "")
              + ".", "", "![diagnostics](figures/diagnostics.png)", ""]
    if weights is not None:
        lines += ["### What steered the last generation", "",
                  "Each target figure's weight in the distance of the last generation: the adaptive scale weight "
                  "(1 / pcmad over the generation's simulations) times the target's fixed weight. A weight of 0 "
                  "means the simulations tied exactly on the record, so the figure steered nothing.", "",
                  "| statistic | weight |", "|---|---|"]
        lines += [f"| {r.statistic} | {_fmt(r.scale_weight)} |" for r in weights.itertuples()]
        lines.append("")
    lines += ["## What the record identifies", "",
              f"Posterior sd against prior sd on the sampled scale (log10 for log-uniform priors): below "
              f"{IDENTIFIED} the record identifies the parameter, below {WEAK} weakly, above it the record says "
              "little about it and its value in any claim should be read as uncertain.", "",
              "| parameter | path | prior | posterior median | 90% interval | sd ratio | verdict |",
              "|---|---|---|---|---|---|---|"]
    for r in ident.itertuples():
        lines.append(f"| {r.parameter} | `{r.path}` | {r.prior} [{_fmt(r.prior_low)}, {_fmt(r.prior_high)}] | "
                     f"{_fmt(r.median)} | {_fmt(r.p05)} - {_fmt(r.p95)} | {r.sd_ratio:.2f} | {r.verdict} |")
    lines += ["", "![marginals](figures/marginals.png)", ""]
    if len(ident) > 1:
        lines += ["![pairs](figures/pairs.png)", ""]
    if predictive is not None:
        n_in = predictive[(predictive["sample"] == "in-sample") & predictive["target"]]
        inside = int((n_in["inside_band"] == "yes").sum())
        lines += ["## Posterior predictive", "",
                  f"{prov['predictive_draws']} parameter sets drawn from the last generation (weighted, seed "
                  f"{cal.seed}), one run each over the whole history; median and 5-95% band. The record lies inside "
                  f"the band for {inside} of {len(n_in)} target figures.", ""]
        for title, pick in (("In-sample, targeted", (predictive["sample"] == "in-sample") & predictive["target"]),
                            ("In-sample, not targeted", (predictive["sample"] == "in-sample") & ~predictive["target"]),
                            ("Out-of-sample (never seen by the calibration)", predictive["sample"] == "out-of-sample")):
            part = predictive[pick]
            if part.empty:
                continue
            lines += [f"### {title}", "", markdown(part, sources=False), ""]
        if default is not None:
            lines += ["### Beside the defaults", "", "The same facts at the scenario's default parameters (same "
                      "number of seeds): how far calibration moved the model.", "",
                      _beside(predictive, default), ""]
        lines += ["Figures: `figures/fact_<id>.png`, one per fact (model band against the record).", ""]
    lines += ["## Files", "", "- `posterior.parquet`: every generation's particles (generation, particle, weight, "
              "distance, one column per path)", "- `diagnostics.csv`: the generations table above",
              "- `identification.csv`: the identification table above",
              "- `predictive.parquet`, `predictive_values.parquet`: the posterior predictive table and each run's "
              "value",
              "- `calibration.db`: pyabc's history (every generation, every accepted particle's statistics); "
              "`--resume` continues from it",
              "- `calibrated.yaml`: a scenario extending the calibrated one with the posterior medians, naming this "
              "folder (use `--posterior` to carry the whole posterior instead)", ""]
    return "\n".join(lines)


def _beside(post: pd.DataFrame, default: pd.DataFrame) -> str:
    keys = ["fact", "years"]
    m = post[[*keys, "sample", "record", "record_approx", "model_median", "inside_band"]].merge(
        default[[*keys, "model_median", "inside_band"]].rename(columns={"model_median": "default_median",
                                                                       "inside_band": "default_inside"}),
        on=keys, how="left")
    lines = ["| fact | year(s) | sample | record | defaults | calibrated |", "|---|---|---|---|---|---|"]
    for r in m.itertuples():
        def cell(v, inside):
            return _number(v) + ("*" if inside == "yes" else "")
        lines.append(f"| {r.fact} | {r.years} | {r.sample} | {'~' if r.record_approx else ''}{_number(r.record)} | "
                     f"{cell(r.default_median, r.default_inside)} | {cell(r.model_median, r.inside_band)} |")
    lines.append("")
    lines.append("\\* the record lies inside the 5-95% band.")
    return "\n".join(lines)


def calibrated_scenario(loaded: LoadedCalibration, ident: pd.DataFrame, folder: Path) -> str:
    """A scenario file that extends the calibrated scenario and sets each calibrated path to its
    posterior median; it names the posterior it came from and never replaces the original."""
    import yaml
    from migov.model.config import expand_path

    data: dict = {}
    for r in ident.itertuples():
        for concrete in expand_path(loaded.scenario_data, r.path, "calibration"):
            parts = concrete.split(".")
            node = data
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = float(f"{r.median:.6g}")
    base = loaded.scenario_path.resolve()
    head = {"extends": str(base), "title": f"{loaded.base.title} (calibrated: {loaded.cal.name})",
            "summary": f"{loaded.base.title} at the posterior medians of calibration '{loaded.cal.name}'",
            "narrative": f"The posterior medians of calibration '{loaded.cal.name}' ({folder.resolve()}); "
                           "a point in the posterior, not the posterior itself: pass --posterior to carry its "
                           "uncertainty into runs and claims."}
    return yaml.safe_dump({**head, **data}, sort_keys=False)


__all__ = ["diagnostics", "identification", "posterior_table", "report_markdown", "stat_key"]
