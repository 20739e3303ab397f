"""Running ``migov compare``: scenarios x replicate seeds on the sweep engine (resumable), the
comparison written all or nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from migov.experiments.analysis.compare import (
    Comparison,
    differences,
    final_means,
    final_state,
    key_measures,
    markdown_means,
    markdown_table,
    plot_differences,
    plot_measures,
    plot_shares,
)
from migov.experiments.analysis.figures import save_figures
from migov.experiments.common.storage import atomic_folder, manifest, write_json, write_parquet
from migov.experiments.sweep.experiment import SCENARIO_COLUMN
from migov.experiments.sweep.kept import run_kept
from migov.experiments.sweep.loaded import LoadedExperiment, build_experiment, measure_columns
from migov.experiments.sweep.provenance import provenance
from migov.experiments.sweep.runner import package_versions
from migov.model import ScenarioError, load_scenario


def comparison_experiment(paths: list[Path], replicates: int, steps: int | None, base_seed: int,
                          store: Path, posterior: Path | None = None) -> LoadedExperiment:
    """The comparison as an experiment in memory: one design point per scenario (a ``scenario``
    column), replicates sharing seeds across scenarios (common random numbers), every step kept;
    with ``posterior`` (a calibration folder) replicate r of every scenario runs parameter set r
    drawn from it."""
    data = {
        "name": "compare",
        "description": "migov compare " + " ".join(p.stem for p in paths),
        "scenario": str(paths[0].resolve()),
        "parameters": {SCENARIO_COLUMN: {"levels": [str(p.resolve()) for p in paths]}},
        "design": {"type": "grid"},
        "replicates": replicates,
        "seed": base_seed,
        "common_random_numbers": True,
        "collect": {"final": False, "series": True, "stride": 1, "agents": False},
    }
    if steps:
        data["steps"] = steps
    if posterior is not None:
        data["posterior"] = str(Path(posterior).resolve())
    return build_experiment(data, store.with_name(store.name + ".yaml"))  # names it; never written


def compare_scenarios(paths: list[Path], replicates: int, workers: int | None = None, steps: int | None = None,
                      base_seed: int = 0, quiet: bool = False, store: Path | None = None,
                      posterior: Path | None = None) -> tuple[Comparison, dict]:
    """Run every scenario over the same replicate seeds on the sweep engine and set them side by
    side. The runs are kept in ``store`` as they finish (see ``sweep.kept``), so an interrupted
    comparison keeps them and the same command resumes it; without ``store`` a temporary one is
    used and removed."""
    labels = [p.stem for p in paths]
    if len(set(labels)) != len(labels):
        raise ScenarioError(", ".join(map(str, paths)), "", "each scenario can be compared once")
    scenarios = {label: load_scenario(p) for label, p in zip(labels, paths, strict=True)}
    made: list[LoadedExperiment] = []

    def make(s: Path) -> LoadedExperiment:
        made.append(comparison_experiment(paths, replicates, steps, base_seed, s, posterior))
        return made[-1]

    res = run_kept(make, store, workers, quiet)
    table = res.runs.assign(scenario=[labels[int(p)] for p in res.runs["point"]])
    failures = [{"scenario": r.scenario, "replicate": int(r.replicate), "seed": int(r.seed), "error": r.error}
                for r in table[table["status"] == "failed"].itertuples()]
    if res.series.empty:
        raise RuntimeError("every run failed: " + "; ".join(f["error"] for f in failures[:3]))
    ok = table.loc[table["status"] == "ok", ["run_id", "point", "replicate", "seed", "scenario"]]
    by_run = dict(list(res.series.groupby("run_id")))
    frames = [by_run[r.run_id].drop(columns="run_id").sort_values("step", kind="stable")
              .assign(scenario=r.scenario, replicate=r.replicate, seed=r.seed)
              for r in ok.sort_values(["point", "replicate"]).itertuples() if r.run_id in by_run]
    runs = pd.concat(frames, ignore_index=True)
    # columns in the model table's order, however the runs were batched or resumed
    rank = {c: i for i, c in enumerate(measure_columns(list(scenarios.values())))}
    first = ["scenario", "replicate", "seed"]
    rest = sorted((c for c in runs.columns if c not in first), key=lambda c: (c in rank, rank.get(c, 0)))
    runs = runs[[*first, *rest]]
    seeds = [int(s) for s in table.loc[table["point"] == 0].sort_values("replicate")["seed"]]
    wall = float(table.loc[table["status"] == "ok", "wall_time_s"].sum())
    window = scenarios[labels[0]].simulation.steps_per_year
    final = final_state(runs, window)
    measures = [m for m, _ in key_measures(runs)] + [c for c in runs.columns if c.startswith("fund_share_")]
    measures += ["earmarked_share", "budget_gini", "challenges", "local_partnerships"]
    measures = list(dict.fromkeys(measures))
    diff = differences(final, labels, measures, seed=base_seed)
    means = final_means(final, labels, measures, seed=base_seed)
    prov = {
        **provenance({label: sc.content_hash() for label, sc in scenarios.items()}, base_seed),
        "command": "compare",
        "scenarios": {label: {"file": str(paths[i]), "hash": scenarios[label].content_hash(),
                              "title": scenarios[label].title} for i, label in enumerate(labels)},
        "replicates": replicates,
        "base_seed": base_seed,
        "seeds": seeds,
        "steps": {label: steps or sc.simulation.steps for label, sc in scenarios.items()},
        "versions": package_versions(),
        "run_wall_time_s": round(wall, 3),
        "failures": failures,
        **({"posterior": made[0].posterior.record(made[0].runs().drop_duplicates("replicate"))} if posterior else {}),
    }
    return Comparison(labels, runs, final, diff, means), prov


def write_comparison(cmp: Comparison, prov: dict, out: Path, figures: bool = True, overwrite: bool = False) -> Path:
    """Write a comparison's tables, figures and manifest into ``out`` atomically; an earlier migov
    result there is replaced only with ``overwrite``, and never a folder holding a compared scenario."""
    window = 4 if "year" not in cmp.runs else max(1, round(1 / (cmp.runs["year"].iloc[1] - cmp.runs["year"].iloc[0])))

    def fill(tmp: Path) -> None:
        files = []
        for name, df in (("runs", cmp.runs), ("final", cmp.final), ("differences", cmp.differences),
                         ("means", cmp.means)):
            write_parquet(df, tmp / f"{name}.parquet", prov)
            files.append(f"{name}.parquet")
        cmp.differences.to_csv(tmp / "differences.csv", index=False)
        (tmp / "differences.md").write_text(markdown_table(cmp.differences) + "\n", encoding="utf-8")
        cmp.means.to_csv(tmp / "means.csv", index=False)
        (tmp / "means.md").write_text(markdown_means(cmp.means) + "\n", encoding="utf-8")
        files += ["differences.csv", "differences.md", "means.csv", "means.md"]
        if figures:
            (tmp / "figures").mkdir()
            figs = {"measures": plot_measures(cmp.runs, cmp.labels, window),
                    "funding_shares": plot_shares(cmp.runs, cmp.labels, window)}
            if len(cmp.differences):
                figs["differences"] = plot_differences(cmp.differences)
            files += [f"figures/{n}" for n in save_figures(figs, tmp / "figures",
                                                           {"scenario": "+".join(cmp.labels), "seed": prov["seeds"]})]
        write_json(manifest(prov, [*files, "manifest.json"], kind="compare"), tmp / "manifest.json")

    inputs = [Path(s["file"]) for s in prov["scenarios"].values()]
    return atomic_folder(out, fill, "compare", inputs=inputs, overwrite=overwrite)
