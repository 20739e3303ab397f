"""EMA Workbench figures: time per run through migov's EMA adapter, sequential against a process pool.

    python benchmarks/bench_ema.py [--experiment sobol_small] [--scenarios 24] [--steps 120] [--workers 2]

The same points (EMA's own Latin hypercube sampler) are run

1. by calling ``migov.evaluate`` in a loop (no EMA: the cost of the runs themselves);
2. with EMA's SequentialEvaluator;
3. with EMA's MultiprocessingEvaluator, start method as ``ema_model`` leaves it (the platform's
   default, fork on Linux);
4. with the MultiprocessingEvaluator under spawn, the start method Mesa's import forces.

For a pool the figures are the wall time per run and the worker time per run (wall x workers /
runs); a pool is as good as it can be when its worker time per run equals the sequential time per
run (efficiency 1.0: it is then ``workers`` times faster). On a machine that others load too, the
wall figures show their load; the CPU time per run (this process and its reaped workers) shows
what the pool itself costs: x1.00 the sequential CPU per run means no overhead. Also printed:
what a spawned worker pays before its first run (a fresh interpreter importing EMA and migov).
Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # EMA's progress bar
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Clock:
    """Wall time, and CPU time of this process and of its finished children (a pool's workers are
    reaped when the evaluator closes): CPU time is what the machine's other load disturbs least."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu

    @staticmethod
    def _cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def report(label: str, runs: int, clocks: list[Clock], workers: int = 1, sequential: Clock | None = None) -> Clock:
    """One line per configuration, from its fastest repeat."""
    best = min(clocks, key=lambda c: c.wall)
    per_run = best.wall / runs
    line = f"{label:<44} {per_run * 1000:7.1f} ms/run wall  {best.cpu / runs * 1000:7.1f} ms/run CPU"
    if workers > 1:
        line += f"  worker time {per_run * workers * 1000:7.1f} ms/run"
        if sequential is not None:
            seq = sequential.wall / runs
            line += (f"  efficiency {seq / (per_run * workers):.2f} (speed-up {seq / per_run:.2f}); CPU per run "
                     f"x{best.cpu / sequential.cpu:.2f} sequential's")
    print(line, flush=True)
    return best


def import_cost() -> float:
    """Seconds for a new interpreter to import what a spawned EMA worker unpickles the model with."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", "import ema_workbench, migov.experiments.ema"], check=True,
                   capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="sobol_small")
    ap.add_argument("--scenarios", type=int, default=24, help="points EMA samples (default 24)")
    ap.add_argument("--steps", type=int, default=120, help="steps per run (default 120, the baseline's 30 years)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="repeats of each configuration; the fastest counts")
    args = ap.parse_args()

    import warnings

    warnings.filterwarnings("ignore", message="ipyparallel not installed")
    from ema_workbench import MultiprocessingEvaluator, SequentialEvaluator
    from ema_workbench.em_framework import sample_uncertainties
    from migov.experiments.ema import ema_model

    from migov import evaluate

    model = ema_model(args.experiment, replicates=1, steps=args.steps)
    points = sample_uncertainties(model, args.scenarios)
    n, f = args.scenarios, model.function
    print(f"{args.experiment}: {n} points x 1 seed, {args.steps} steps per run, {args.workers} workers, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; start method after ema_model: "
          f"{multiprocessing.get_start_method()}")

    def loop() -> None:
        for p in points:
            evaluate({u.variable_name[0]: p[u.name] for u in model.uncertainties}, f.scenario, f.seeds[0], f.steps,
                     f.measures)

    def with_evaluator(kind, **kw) -> None:
        with kind(model, **kw) as ev:
            ev.perform_experiments(points)

    method = multiprocessing.get_start_method()
    configs = [("migov.evaluate in a loop (no EMA)", loop, None),
               ("EMA SequentialEvaluator", lambda: with_evaluator(SequentialEvaluator), None),
               *((f"EMA MultiprocessingEvaluator ({start}" + (", Mesa's)" if start == "spawn" else ")"),
                  lambda: with_evaluator(MultiprocessingEvaluator, n_processes=args.workers), start)
                 for start in dict.fromkeys([method, "spawn"]))]
    clocks: dict[str, list[Clock]] = {label: [] for label, _, _ in configs}
    for _ in range(args.repeat):  # interleaved, so a burst of other load hits every configuration alike
        for label, fn, start in configs:
            multiprocessing.set_start_method(start or method, force=True)
            with Clock() as c:
                fn()
            clocks[label].append(c)
    multiprocessing.set_start_method(method, force=True)
    sequential = None
    for label, _, start in configs:
        best = report(label, n, clocks[label], args.workers if start else 1, sequential)
        if label.startswith("EMA Sequential"):
            sequential = best
    print(f"a spawned worker's start-up (new interpreter importing EMA and migov): {import_cost():.2f} s")


if __name__ == "__main__":
    main()
