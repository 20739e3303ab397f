"""Time the baseline run against Mesa's bundled Boltzmann wealth model, in one invocation.

    python benchmarks/bench_baseline.py [--repeats 7] [--profile]

Prints the median wall time of each (baseline: 120 steps with model and agent data collection;
Boltzmann: 1,000 agents, 100 steps) and their ratio. Target: ratio <= 0.33 (issue 15). ``--profile`` also
prints a cProfile summary of one baseline run. Tests never assert these times.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import statistics
import time
from pathlib import Path

from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannWealth
from migov.model import MigovModel, load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def run_baseline(scenario, seed: int) -> None:
    m = MigovModel(scenario, seed=seed, collect_agents=True)
    for _ in range(120):
        m.step()


def run_boltzmann(seed: int) -> None:
    m = BoltzmannWealth(n=1000, width=10, height=10, seed=seed)
    for _ in range(100):
        m.step()


def median_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        fn(r)
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    scenario = load_scenario(BASELINE)
    run_baseline(scenario, 0)  # warm-up: imports, caches
    run_boltzmann(0)
    base, base_all = median_time(lambda s: run_baseline(scenario, s), args.repeats)
    boltz, boltz_all = median_time(run_boltzmann, args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"baseline (120 steps, data collection on): median {base:.3f} s  (runs: "
          + ", ".join(f"{t:.3f}" for t in base_all) + ")")
    print(f"Boltzmann wealth (1000 agents, 100 steps): median {boltz:.3f} s  (runs: "
          + ", ".join(f"{t:.3f}" for t in boltz_all) + ")")
    print(f"ratio baseline / Boltzmann: {base / boltz:.2f}  (target <= 0.33, issue 15; was <= 1.00)")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run_baseline(scenario, 1)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
