"""``migov sweep --dry-run``: how many runs, the first parameter sets, and a time estimate."""

from __future__ import annotations

import time

from migov.experiments.sweep.loaded import LoadedExperiment
from migov.experiments.sweep.one_run import run_once


def dry_run(loaded: LoadedExperiment, workers: int, show: int = 5) -> str:
    exp = loaded.exp
    design = loaded.design()
    runs = loaded.runs(design)
    steps = exp.steps or loaded.base.simulation.steps
    probe = max(1, steps // 10)
    first = runs.iloc[0]
    t0 = time.perf_counter()
    run_once(loaded, 0, int(first["seed"]), {p: first[p] for p in loaded.run_parameters(runs)}, probe, exp.collect)
    per_run = (time.perf_counter() - t0) * steps / probe
    total = per_run * len(runs) / workers
    lines = [
        f"experiment {exp.name}: {exp.design.type} design, {len(design)} points x {exp.replicates} replicates "
        f"= {len(runs)} runs of {steps} steps on {loaded.scenario_path.name}",
        f"parameters: {', '.join(design.columns) or '(none)'}",
        f"seeds: spawned from base seed {exp.seed}"
        + ((f" (common random numbers within blocks of {exp.crn_block} points)" if exp.crn_block
            else " (common random numbers across points)") if exp.common_random_numbers else ""),
        "",
        "first parameter sets:",
        runs.head(show).to_string(index=False),
        "",
        f"estimate: about {per_run:.2f} s per run (timed on {probe} steps), "
        f"{total / 60:.1f} min on {workers} worker(s)",
    ]
    return "\n".join(lines)
