"""Calibration figures: how long the shipped history calibration takes, measured, not guessed.

    python benchmarks/bench_calibrate.py [--calibration history] [--workers N]

Runs the calibration's --quick budget (no predictive runs) in a temporary folder and prints its
runs, wall time, runs per second on the workers, and what the default budget's run budget would
take at that rate (target: about an hour on 2 cores). A finished default calibration folder can be
read instead with --folder DIR (its diagnostics.csv). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments.calibration.calibrate import calibrate  # noqa: E402
from migov.experiments.calibration.spec import load_calibration  # noqa: E402
from migov.experiments.sweep.parallel import default_workers  # noqa: E402


def figures(diag: pd.DataFrame, wall: float, loaded, workers: int) -> None:
    runs = int(diag["runs"].sum())
    rate = runs / wall
    budget = loaded.cal.budget
    print(f"calibration {loaded.cal.name}: {runs} runs of {loaded.steps_needed()} steps in {wall:.0f} s on "
          f"{workers} worker(s): {rate:.2f} runs/s")
    if budget.max_runs:
        print(f"default budget: at most {budget.max_runs} runs -> about {budget.max_runs / rate / 60:.0f} min "
              f"(wall-time limit {budget.max_minutes} min; target: about an hour on 2 cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", default="history")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--folder", type=Path, default=None, help="read a finished calibration instead of running")
    args = ap.parse_args()
    loaded = load_calibration(args.calibration)
    workers = args.workers or default_workers()
    if args.folder:
        diag = pd.read_csv(args.folder / "diagnostics.csv")
        figures(diag, float(diag["wall_time_s"].sum()), loaded, workers)
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        calibrate(loaded, Path(tmp) / "out", quick=True, workers=workers, quiet=True, predictive=False)
        wall = time.perf_counter() - t0
        figures(pd.read_csv(Path(tmp) / "out" / "diagnostics.csv"), wall, loaded, workers)


if __name__ == "__main__":
    main()
