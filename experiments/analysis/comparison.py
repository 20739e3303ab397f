"""Running ``migov compare``: scenarios x replicate seeds, in parallel, written all or nothing."""

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
from migov.experiments.sweep.parallel import Task, replicate_seeds, run_tasks
from migov.experiments.sweep.runner import package_versions
from migov.model import ScenarioError, load_scenario


def compare_scenarios(paths: list[Path], replicates: int, workers: int | None = None, steps: int | None = None,
                      base_seed: int = 0, quiet: bool = False) -> tuple[Comparison, dict]:
    labels = [p.stem for p in paths]
    if len(set(labels)) != len(labels):
        raise ScenarioError(", ".join(map(str, paths)), "", "each scenario can be compared once")
    scenarios = {label: load_scenario(p) for label, p in zip(labels, paths, strict=True)}
    seeds = replicate_seeds(base_seed, replicates)
    tasks = [Task(label, r, seeds[r], sc, steps) for label, sc in scenarios.items() for r in range(replicates)]
    frames, failures, wall = [], [], 0.0
    for out in run_tasks(tasks, workers, desc="compare", quiet=quiet):
        t = out.task
        if out.error:
            failures.append({"scenario": t.key, "replicate": t.replicate, "seed": t.seed, "error": out.error})
            continue
        wall += out.wall_time_s
        df = out.model
        df.insert(0, "seed", t.seed)
        df.insert(0, "replicate", t.replicate)
        df.insert(0, "scenario", t.key)
        frames.append(df)
    if not frames:
        raise RuntimeError("every run failed: " + "; ".join(f["error"] for f in failures[:3]))
    runs = pd.concat(frames, ignore_index=True).sort_values(["scenario", "replicate", "step"], kind="stable")
    runs["scenario"] = pd.Categorical(runs["scenario"], categories=labels, ordered=True)
    runs = runs.sort_values(["scenario", "replicate", "step"], kind="stable").reset_index(drop=True)
    runs["scenario"] = runs["scenario"].astype(str)
    window = scenarios[labels[0]].simulation.steps_per_year
    final = final_state(runs, window)
    measures = [m for m, _ in key_measures(runs)] + [c for c in runs.columns if c.startswith("fund_share_")]
    measures += ["earmarked_share", "budget_gini", "challenges", "local_partnerships"]
    measures = list(dict.fromkeys(measures))
    diff = differences(final, labels, measures, seed=base_seed)
    means = final_means(final, labels, measures, seed=base_seed)
    prov = {
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
