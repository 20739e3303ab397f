"""``migov run``: one scenario, one seed; results, figures and a summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from migov.experiments.cli.args import (
    ALLOW_LARGE_STEPS,
    OVERWRITE_HELP,
    check_steps,
    positive_int,
    seed_int,
)
from migov.model import load_scenario
from migov.model.config import find_scenario


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    run = sub.add_parser("run", help="run one scenario with one seed; write results and figures",
                         description="Run one scenario with one seed and write Parquet results, a manifest, "
                                     "figures and a summary.")
    run.add_argument("scenario", help="scenario name (e.g. baseline) or path to a YAML file")
    run.add_argument("--seed", type=seed_int, default=1, help="random seed (default 1)")
    run.add_argument("--steps", type=positive_int, default=None, help="steps to run (default: the scenario's)")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder, new or empty (default results/<scenario>/seed-<seed>)")
    run.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario field by dotted path, e.g. donors.EU.scale_preference=0.9 "
                          "(repeatable)")
    run.add_argument("--posterior", type=Path, default=None, metavar="DIR",
                     help="a calibration folder (migov calibrate): run one parameter set drawn from its posterior "
                          "(weighted, seeded by --seed; recorded in the manifest); --set values win over drawn ones")
    run.add_argument("--no-agents", action="store_true", help="do not collect per-agent series")
    run.add_argument("--allow-large", action="store_true", help=ALLOW_LARGE_STEPS)
    run.add_argument("--no-figures", action="store_true", help="do not draw figures")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.run_folder import run_and_write
    from migov.experiments.common.outdir import check_destination

    check_steps(args.steps, args.allow_large)
    path = find_scenario(args.scenario)
    if args.posterior:
        from migov.experiments.sweep.posterior import load_posterior

        post = load_posterior(args.posterior)
        draw = post.draw(1, args.seed)
        args.overrides = [f"{p}={float(draw[p].iloc[0])!r}" for p in post.paths] + list(args.overrides)
        args.posterior_record = post.record(draw)
    scenario = load_scenario(path, overrides=args.overrides)
    out = args.out or Path("results") / path.stem / f"seed-{args.seed}"
    check_destination(out, [path], args.overwrite)  # before the run, so a refused folder costs nothing
    run_and_write(scenario, path, args, out)
    return 0
