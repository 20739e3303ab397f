"""Sweep engine figures: throughput, parallel efficiency, per-run overhead, memory.

    python benchmarks/bench_sweep.py [--runs 96] [--steps 120] [--memory-steps 10]

1. Throughput (runs per second) on the baseline with 1 worker and with all workers, and the
   parallel efficiency (speed-up / workers). Target >= 0.85 on all cores.
2. The engine's per-run overhead against calling the model directly (same runs, serial):
   (sweep time - direct time) / direct time. Target <= 5%.
3. Peak memory of the process that coordinates a 2,000-run sweep against a 200-run sweep (short
   runs, so the test is about the engine, not the model). Target: within 10%.
Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments.sweep.engine import load_results, run_sweep  # noqa: E402
from migov.experiments.sweep.loaded import load_experiment  # noqa: E402
from migov.experiments.sweep.parallel import default_workers  # noqa: E402
from migov.model import MigovModel  # noqa: E402

EXPERIMENT = """name: bench
scenario: {scenario}
parameters:
  parameters.uncertainty: {{range: [0.1, 0.9]}}
design: {{type: lhs, size: {points}}}
replicates: 1
seed: 1
steps: {steps}
collect: {{series: {series}, stride: 4}}
"""


def write_experiment(folder: Path, points: int, steps: int, series: bool = True) -> Path:
    p = folder / f"bench_{points}_{steps}.yaml"
    p.write_text(EXPERIMENT.format(scenario=ROOT / "scenarios" / "baseline.yaml", points=points, steps=steps,
                                   series=str(series).lower()), encoding="utf-8")
    return p


def timed_sweep(exp_path: Path, workers: int, executor: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_experiment(exp_path)
        t = time.perf_counter()
        run_sweep(loaded, Path(tmp) / "out", workers=workers, executor=executor, quiet=True)
        return time.perf_counter() - t


def direct(exp_path: Path) -> float:
    """The same runs, calling the model directly: validate each scenario, step it, keep its frame."""
    loaded = load_experiment(exp_path)
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(loaded, Path(tmp) / "o", workers=1, executor="serial", quiet=True)
        runs = load_results(Path(tmp) / "o", series=False).runs
    t = time.perf_counter()
    for _, r in runs.iterrows():
        sc = loaded.scenario_for({"parameters.uncertainty": float(r["parameters.uncertainty"])})
        m = MigovModel(sc, seed=int(r["seed"]), collect_agents=False)
        for _ in range(loaded.exp.steps):
            m.step()
        m.model_frame()
    return time.perf_counter() - t


def own_peak_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM starts afresh at exec, unlike
    ru_maxrss, which a child inherits from the process that started it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(exp_path: str) -> None:
    loaded = load_experiment(exp_path)
    with tempfile.TemporaryDirectory() as tmp:
        run_sweep(loaded, Path(tmp) / "out", workers=default_workers(), executor="processes", quiet=True)
    print(json.dumps({"coordinator_mb": own_peak_mb(),
                      "largest_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def peak_memory(exp_path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(exp_path)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=96)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--memory-steps", type=int, default=10)
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exp = write_experiment(folder, args.runs, args.steps)
        t1 = timed_sweep(exp, 1, "processes")
        tn = timed_sweep(exp, workers, "processes")
        speedup = t1 / tn
        print(f"throughput, 1 worker: {args.runs / t1:.2f} runs/s ({t1:.1f} s for {args.runs} runs of "
              f"{args.steps} steps)")
        print(f"throughput, {workers} workers: {args.runs / tn:.2f} runs/s ({tn:.1f} s)")
        print(f"parallel efficiency: {speedup / workers:.2f} (speed-up {speedup:.2f} on {workers} workers; "
              f"target >= 0.85)")
        t_direct = direct(exp)
        t_engine = timed_sweep(exp, 1, "serial")
        print(f"engine overhead per run: {(t_engine - t_direct) / t_direct:+.1%} ({t_engine / args.runs * 1000:.1f} "
              f"ms in the engine vs {t_direct / args.runs * 1000:.1f} ms calling the model; target <= 5%)")
        small = peak_memory(write_experiment(folder, 200, args.memory_steps, series=True))
        large = peak_memory(write_experiment(folder, 2000, args.memory_steps, series=True))
        print(f"peak memory, coordinator: 200 runs {small['coordinator_mb']:.0f} MB, 2,000 runs "
              f"{large['coordinator_mb']:.0f} MB ({large['coordinator_mb'] / small['coordinator_mb'] - 1:+.1%}; "
              f"target within 10%); largest worker {small['largest_worker_mb']:.0f} / "
              f"{large['largest_worker_mb']:.0f} MB")


if __name__ == "__main__":
    main()
