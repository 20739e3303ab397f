"""How the model's cost grows with the world: microseconds per agent-step from 1x to 16x the baseline.

    python benchmarks/bench_scale.py [--sizes 1 2 4 8 16] [--repeats 3] [--steps 120] [--history]
                                     [--sweep-runs 16] [--profile K]

1. Worlds of k times the baseline's host governments and NGOs (each copy keeps its region,
   pressures and wants; organisations' offices, working groups and memberships, and events
   that name hosts, extend to the copies, so every copy lives as the original does). Each size
   runs in a fresh process (so its peak memory is its own), ``--repeats`` times; the script
   prints the median wall time, agents, microseconds per agent-step (spin-up steps counted) and
   peak resident memory, then the log-log slope of time against agents from the smallest to the
   largest size. With ``--history`` the history world (1995-2025 from data) runs too.
2. The share of a run spent collecting data: the same baseline run with Mesa's DataCollector
   (model and agent reporters) and with collection switched off.
3. A sweep's throughput on 2 workers: runs per second for ``--sweep-runs`` baseline runs.

Targets (issue 15): <= 5 us per agent-step at about 1,000 agents; slope <= 1.05 from 1x to 16x;
collection <= 15% of a run. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.model import MigovModel, load_scenario  # noqa: E402
from migov.model.config import Scenario  # noqa: E402
from worlds import scaled  # noqa: E402


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(scenario: Scenario, seed: int, steps: int | None, collect: bool = True) -> tuple[float, int, int]:
    """Wall time of one run, its agents and the steps it took (spin-up included)."""
    t = time.perf_counter()
    m = MigovModel(scenario, seed=seed, steps=steps, collect_agents=collect)
    if not collect:
        m.datacollector.collect = lambda model: None  # the run without any collection, for the share
    while m.running:
        m.step()
    return time.perf_counter() - t, len(m.agents), m.steps + m.scenario.simulation.spin_up


def child(name: str, k: int, repeats: int, steps: int | None) -> None:
    """One size in this fresh process: warm-up, then the repeats; JSON on stdout."""
    base = scaled(load_scenario(name), k)
    run(base, 0, 4)
    times = [run(base, seed, steps) for seed in range(repeats)]
    wall = statistics.median(t for t, _, _ in times)
    _, agents, n_steps = times[0]
    print(json.dumps({"k": k, "agents": agents, "steps": n_steps, "wall": wall, "peak_mb": peak_mb()}))


def measure(name: str, k: int, repeats: int, steps: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", name, str(k), str(repeats), str(steps or 0)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def collection_share(repeats: int, steps: int) -> tuple[float, float]:
    base = load_scenario("baseline")
    run(base, 0, 4)
    on = statistics.median(run(base, s, steps, True)[0] for s in range(repeats))
    off = statistics.median(run(base, s, steps, False)[0] for s in range(repeats))
    return on, off


def sweep_throughput(runs: int, steps: int, workers: int = 2) -> float:
    from migov.experiments.sweep.engine import run_sweep
    from migov.experiments.sweep.loaded import load_experiment

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "bench.yaml"
        p.write_text(f"name: bench\nscenario: {ROOT / 'scenarios' / 'baseline.yaml'}\n"
                     "parameters: {parameters.uncertainty: {range: [0.1, 0.9]}}\n"
                     f"design: {{type: lhs, size: {runs}}}\nseed: 1\nsteps: {steps}\n", encoding="utf-8")
        loaded = load_experiment(p)
        t = time.perf_counter()
        run_sweep(loaded, Path(tmp) / "out", workers=workers, executor="processes", quiet=True)
        return runs / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--history", action="store_true", help="also time the history world")
    ap.add_argument("--sweep-runs", type=int, default=16)
    ap.add_argument("--profile", type=int, default=None, metavar="K", help="print a cProfile of one run at size K")
    ap.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, k, repeats, steps = args.child
        child(name, int(k), int(repeats), int(steps) or None)
        return
    if args.profile:
        sc = scaled(load_scenario("baseline"), args.profile)
        prof = cProfile.Profile()
        prof.runcall(run, sc, 0, args.steps)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        return
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'size':>5} {'agents':>7} {'steps':>6} {'wall s':>8} {'us/agent-step':>14} {'peak MB':>8}")
    rows = []
    for k in args.sizes:
        r = measure("baseline", k, args.repeats, args.steps)
        rows.append(r)
        print(f"{k:>4}x {r['agents']:>7} {r['steps']:>6} {r['wall']:>8.3f} "
              f"{r['wall'] / (r['agents'] * r['steps']) * 1e6:>14.1f} {r['peak_mb']:>8.0f}")
    if len(rows) > 1:
        x, y = np.log([r["agents"] for r in rows]), np.log([r["wall"] for r in rows])
        slope = float(np.polyfit(x, y, 1)[0])
        print(f"log-log slope of time on agents, {args.sizes[0]}x to {args.sizes[-1]}x: {slope:.2f} (target <= 1.05)")
    near = min(rows, key=lambda r: abs(r["agents"] - 1000))
    print(f"at {near['agents']} agents: {near['wall'] / (near['agents'] * near['steps']) * 1e6:.1f} us per "
          "agent-step (target <= 5)")
    if args.history:
        r = measure("history", 1, args.repeats, None)
        print(f"history world: {r['agents']} agents, {r['steps']} steps, {r['wall']:.3f} s, "
              f"{r['wall'] / (r['agents'] * r['steps']) * 1e6:.1f} us per agent-step, {r['peak_mb']:.0f} MB")
    on, off = collection_share(args.repeats, args.steps)
    print(f"data collection: {(on - off) / on:.0%} of a baseline run ({on:.3f} s with, {off:.3f} s without; "
          "target <= 15%)")
    print(f"sweep on 2 workers: {sweep_throughput(args.sweep_runs, args.steps):.2f} baseline runs per second")


if __name__ == "__main__":
    main()
