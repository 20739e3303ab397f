"""``migov sweep``: an experiment (a design over a scenario), resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from migov.experiments.cli.args import (
    EXIT_FAILED_RUNS,
    positive_int,
    shard_arg,
)


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    sw = sub.add_parser("sweep", help="run an experiment file: a design over a scenario, with replicates",
                        description="Run an experiment (a file, or a name in experiments/library/): every "
                                    "design point x replicate, streamed to Parquet as batches finish. Running "
                                    "the same command again on the same output folder resumes it.")
    sw.add_argument("experiment", help="experiment file (YAML), or the name of a shipped one (sobol_small)")
    sw.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    sw.add_argument("--executor", choices=("processes", "dask", "serial"), default="processes",
                    help="local processes (default), dask.distributed, or serial in this process")
    sw.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="address of a running Dask scheduler (tcp://host:8786); implies --executor dask")
    sw.add_argument("--shard", type=shard_arg, default=None, metavar="I/N",
                    help="run only the I-th of N slices of the runs (for a SLURM job array)")
    sw.add_argument("--resume", action="store_true",
                    help="continue an interrupted sweep (the default whenever the folder holds this experiment)")
    sw.add_argument("--retry-failed", action="store_true", help="also run again the runs that failed before")
    sw.add_argument("--dry-run", action="store_true", help="print the runs and a time estimate; run nothing")
    sw.add_argument("--allow-large", action="store_true",
                    help="accept a design of more than 1,000,000 runs (points x replicates)")
    sw.add_argument("--out", type=Path, default=None, help="output folder (default: the experiment's, or "
                                                           "results/sweeps/<name>)")
    sw.add_argument("--chunk", type=positive_int, default=None, help="runs per batch (default: automatic)")
    sw.add_argument("--posterior", type=Path, default=None, metavar="DIR",
                    help="a calibration folder (migov calibrate): replicate r of every point runs parameter set r "
                         "drawn from its posterior (weighted, seeded by the experiment's seed); the design's own "
                         "parameters win; the same as the experiment's 'posterior' field, which it replaces")
    sw.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    sw.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from migov.experiments.sweep.engine import run_sweep
    from migov.experiments.sweep.loaded import load_experiment
    from migov.experiments.sweep.parallel import default_workers
    from migov.experiments.sweep.plan import dry_run

    loaded = load_experiment(args.experiment, allow_large=args.allow_large,  # refuses a huge design early
                             posterior=args.posterior)
    exp = loaded.exp
    out = args.out or (Path(exp.output) if exp.output else Path("results") / "sweeps" / exp.name)
    executor = "dask" if args.scheduler else args.executor
    workers = args.workers or default_workers()
    if args.dry_run:
        print(dry_run(loaded, workers))
        return 0
    report = run_sweep(loaded, out, workers=workers, executor=executor, scheduler=args.scheduler,
                       shard=args.shard, chunk=args.chunk, quiet=args.quiet, retry_failed=args.retry_failed)
    if not args.quiet:
        shard = f" (shard {args.shard[0]}/{args.shard[1]})" if args.shard else ""
        print(f"{exp.name}{shard}: {report.ran} runs in {report.wall_time_s:.1f} s; "
              f"{report.done_before} were already done; {report.total} in all.")
        print(f"Results in {out}/  (load with migov.load_results('{out}'); "
              f"analyse with: migov analyse {out})")
    if report.failed:
        print(failure_table(report.failures), file=sys.stderr)
        print(f"migov: {report.failed} of {report.total} runs failed (table in {out / 'failed_runs.csv'}); "
              f"fix the cause and run again with --retry-failed", file=sys.stderr)
        return EXIT_FAILED_RUNS
    return 0


def failure_table(failures, rows: int = 20) -> str:
    """The failed runs as a plain table: run, parameters, error (first ``rows``)."""
    shown = failures.drop(columns=["point", "replicate", "seed"], errors="ignore").head(rows).copy()
    shown["error"] = shown["error"].astype(str).str.slice(0, 100)
    more = len(failures) - len(shown)
    return shown.to_string(index=False) + (f"\n... and {more} more" if more > 0 else "")
