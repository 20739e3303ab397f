"""``migov compare``: scenarios over replicate seeds, set side by side."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from migov.experiments.cli.args import (
    ALLOW_LARGE_STEPS,
    OVERWRITE_HELP,
    POSTERIOR_HELP,
    UsageError,
    check_steps,
    positive_int,
    seed_int,
)
from migov.model.config import find_scenario


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cmp = sub.add_parser("compare", help="run scenarios over replicate seeds and compare them",
                         description="Run each scenario over N replicate seeds (the same seeds for every "
                                     "scenario) in parallel, and write overlaid figures (median and "
                                     "interquartile band) and a table of final-state differences with "
                                     "bootstrap confidence intervals.")
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="two or more scenario names or paths")
    cmp.add_argument("--replicates", "-n", type=positive_int, default=10, help="seeds per scenario (default 10)")
    cmp.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    cmp.add_argument("--steps", type=positive_int, default=None, help="steps per run (default: each scenario's)")
    cmp.add_argument("--seed", type=seed_int, default=0, help="base seed the replicate seeds derive from")
    cmp.add_argument("--out", type=Path, default=None,
                     help="output folder, new or empty (default results/compare/A_vs_B)")
    cmp.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    cmp.add_argument("--posterior", type=Path, default=None, metavar="DIR", help=POSTERIOR_HELP)
    cmp.add_argument("--no-figures", action="store_true", help="do not draw figures")
    cmp.add_argument("--allow-large", action="store_true", help=ALLOW_LARGE_STEPS)
    cmp.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    cmp.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.compare import markdown_table
    from migov.experiments.analysis.comparison import compare_scenarios, write_comparison
    from migov.experiments.common.outdir import check_destination
    from migov.experiments.sweep.kept import run_store

    if len(args.scenarios) < 2:
        raise UsageError("compare needs at least two scenarios")
    check_steps(args.steps, args.allow_large)
    paths = [find_scenario(s) for s in args.scenarios]
    out = args.out or Path("results") / "compare" / "_vs_".join(p.stem for p in paths)
    if args.posterior:
        from migov.experiments.sweep.posterior import load_posterior

        load_posterior(args.posterior)  # a folder without a posterior is one line before any run
    check_destination(out, paths, args.overwrite)  # before the runs, so a refused folder costs nothing
    store = run_store(out)  # the runs, kept as they finish: Ctrl-C keeps them, the same command resumes
    cmp, prov = compare_scenarios(paths, args.replicates, args.workers, args.steps, args.seed, args.quiet, store,
                                  args.posterior)
    write_comparison(cmp, prov, out, figures=not args.no_figures, overwrite=args.overwrite)
    shutil.rmtree(store)  # the comparison holds every run's series now
    if not args.quiet:
        print(markdown_table(cmp.differences))
        funds = cmp.means[cmp.means["measure"].str.startswith("fund_share_")]  # incl. established IOs as a group
        if len(funds):
            from migov.experiments.analysis.compare import markdown_means

            print("\nWho captured the trust or pooled funds (final cumulative shares):")
            print(markdown_means(funds))
        if prov["failures"]:
            print(f"\n{len(prov['failures'])} runs failed; see manifest.json")
        print(f"\nResults in {out}/ (runs, final, differences as Parquet; differences.csv/.md; figures/)")
    return 0
