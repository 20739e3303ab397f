"""``migov analyse``: figures, tables and a short summary of a sweep's results.

What is drawn depends on the design:

- grid: each measure against each swept parameter (every run, the mean at each level over
  replicates and the other parameters, and the replicate spread), and heatmaps of each measure
  for every pair of parameters (means over replicates);
- lhs and csv: each measure against each parameter, and Spearman rank correlations;
- morris: elementary effects (SALib) on the replicate mean of each design point: mu*, its
  bootstrap interval and sigma per parameter and measure;
- sobol: first-order and total indices (SALib, Saltelli/Jansen) on the replicate means;
- a csv design drawn by SALib's sampler (``design.salib``): the indices of the method it declares,
  as for the design types of the same names.

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
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments.analysis.sensitivity import (
    main_effects,
    morris_table,
    point_means,
    sobol_tables,
    spearman_table,
    variance_split,
)
from migov.experiments.analysis.sensitivity_figures import (
    plot_grid_measure,
    plot_heatmaps,
    plot_morris,
    plot_scatter_measure,
    plot_sobol,
)
from migov.experiments.analysis.sweep_results import Analysis, check_sweep_folder, load
from migov.experiments.common.outdir import check_destination
from migov.experiments.common.storage import atomic_folder, manifest, write_json
from migov.experiments.common.style import label_of
from migov.experiments.sweep.engine import SweepError
from migov.experiments.sweep.provenance import of_sweep
from migov.experiments.sweep.runner import package_versions


# --------------------------------------------------------------------------- the analysis
def analyse(folder: str | Path, measures: list[str] | None = None) -> Analysis:
    """Load a sweep and build every table, figure and summary section its design calls for."""
    an = load(folder, measures)
    means = point_means(an)
    an.tables["point_means"] = means
    split = variance_split(an)
    an.tables["variance"] = split
    kind = an.method
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
        lines.append(f"- [{label_of(m)}]({stem}.png)")
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
        lines.append(f"- [{label_of(m)}]({stem}.png)")
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
    seeds = "" if not crn else (f"; common random numbers within blocks of {exp['crn_block']} points (replicate r "
                                "has one seed per block)" if exp.get("crn_block") else
                                "; common random numbers (replicate r has the same seed at every point)")
    reps = int(exp.get("replicates", 1))
    head = [f"# Analysis of sweep `{exp.get('name', an.results.folder.name)}`", ""]
    if exp.get("description"):
        head += [str(exp["description"]), ""]
    size = f", size {design['size']}" if design.get("size") else ""
    if isinstance(design.get("salib"), dict):
        size += (f" (a SALib {design['salib'].get('method')} sample from `{design.get('file')}`, problem "
                 f"`{design['salib'].get('problem')}`)")
    window = exp.get("collect", {}).get("final_window")
    head += [
        f"- experiment hash `{man.get('experiment_hash', '?')}`, scenario `{man.get('scenario_file', '?')}`",
        f"- design: {design.get('type', '?')}{size}; {len(an.results.design)} points x {reps} replicates; "
        f"base seed {exp.get('seed', 0)}{seeds}",
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
        prov = {**of_sweep(an.results.manifest), "sweep": str(an.results.folder),
                "experiment": an.experiment.get("name"), "experiment_hash": an.results.manifest.get("experiment_hash"),
                "measures": an.measures, "versions": package_versions()}  # versions: the software that analysed
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
