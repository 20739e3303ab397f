"""``migov calibrate``: ABC-SMC against the stylised facts, resumable, with a report."""

from __future__ import annotations

import argparse
from pathlib import Path

from migov.experiments.cli.args import positive_int


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cmd = sub.add_parser("calibrate", help="calibrate a scenario against the stylised facts (ABC-SMC with pyabc)",
                         description="Approximate Bayesian computation (ABC-SMC, pyabc) of a calibration file's "
                                     "free parameters against its in-sample facts; then the posterior, diagnostics, "
                                     "what the record identifies, and the posterior predictive against every fact, "
                                     "out-of-sample ones apart, in report.md. Every finished generation is kept in "
                                     "calibration.db: --resume continues after a stop or a crash.")
    cmd.add_argument("calibration", metavar="FILE",
                     help="calibration file (YAML), or the name of a shipped one (history)")
    cmd.add_argument("--out", type=Path, default=None, help="output folder (default results/calibrate/NAME, or "
                                                            "NAME-quick with --quick)")
    cmd.add_argument("--resume", action="store_true", help="continue the calibration in --out from its last "
                                                           "finished generation")
    cmd.add_argument("--quick", action="store_true", help="the file's small 'quick' budget: a try within minutes")
    cmd.add_argument("--executor", choices=("processes", "dask", "serial"), default="processes",
                     help="pyabc's multicore sampler (default), its Dask sampler, or one process (reproducible "
                          "particle for particle)")
    cmd.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="address of a running Dask scheduler (tcp://host:8786); implies --executor dask")
    cmd.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    cmd.add_argument("--no-predictive", action="store_true",
                     help="skip the posterior predictive runs over the whole history")
    cmd.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")
    cmd.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from migov.experiments.calibration.calibrate import calibrate
    from migov.experiments.calibration.spec import load_calibration
    from migov.experiments.sweep.parallel import default_workers

    loaded = load_calibration(args.calibration)
    out = args.out or Path("results") / "calibrate" / (loaded.cal.name + ("-quick" if args.quick else ""))
    executor = "dask" if args.scheduler else args.executor
    outcome = calibrate(loaded, out, args.quick, args.resume, executor, args.workers or default_workers(),
                        args.scheduler, args.quiet, not args.no_predictive)
    if not args.quiet:
        print(f"\n{outcome.generations} generations, {outcome.runs} runs; stopped at {outcome.stop}.")
        print(outcome.identification[["parameter", "median", "p05", "p95", "sd_ratio", "verdict"]]
              .to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        if outcome.predictive is not None:
            p = outcome.predictive
            for sample in ("in-sample", "out-of-sample"):
                part = p[p["sample"] == sample]
                print(f"{sample}: record inside the posterior predictive band for "
                      f"{int((part['inside_band'] == 'yes').sum())} of {len(part)} figures")
        print(f"Report: {out / 'report.md'}")
    return 0
