"""``migov claims``: verdicts on the claims registry, with a report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from migov.experiments.cli.args import (
    POSTERIOR_HELP,
    UsageError,
    positive_int,
    seed_int,
)


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cl = sub.add_parser("claims", help="test the claims registry: verdicts with effect sizes, and a report",
                        description="Run every claim (or --only some) through the sweep engine and write a report "
                                    "(Markdown and self-contained HTML) with verdicts: holds, fails, inconclusive.")
    cl.add_argument("--only", nargs="+", metavar="ID", default=None, help="claim ids to run")
    cl.add_argument("--replicates", type=positive_int, default=None,
                    help="replicates per arm (default: each claim's; 3 per sample with --design lhs)")
    cl.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    cl.add_argument("--executor", choices=("processes", "dask", "serial"), default="processes")
    cl.add_argument("--adaptive", action="store_true",
                    help="add replicates until the interval's width stabilises (within 10%%) or --cap is reached")
    cl.add_argument("--cap", type=positive_int, default=200, help="most replicates per arm with --adaptive")
    cl.add_argument("--seed", type=seed_int, default=0, help="base seed")
    cl.add_argument("--registry", type=Path, default=None, help="claims file (default experiments/claims/claims.yaml)")
    cl.add_argument("--out", type=Path, default=Path("results") / "claims",
                    help="output folder: new, empty or an earlier claims folder, which is resumed "
                         "(default results/claims)")
    cl.add_argument("--design", choices=("lhs",), default=None,
                    help="evaluate each claim over a Latin hypercube of the parameter space (--ranges) instead of "
                         "at the scenario's values: the share of the space where it goes the claimed way, and where "
                         "(PRIM)")
    cl.add_argument("--samples", type=positive_int, default=64, help="Latin hypercube samples for --design lhs")
    cl.add_argument("--ranges", default=None, metavar="EXPERIMENT",
                    help="experiment file (or library name) whose ranged parameters span the space for --design lhs "
                         "(default morris_screening)")
    cl.add_argument("--where", metavar="ID", default=None, help="shorthand for --design lhs --only ID")
    cl.add_argument("--posterior", type=Path, default=None, metavar="DIR", help=POSTERIOR_HELP)
    cl.add_argument("--quiet", "-q", action="store_true")
    cl.set_defaults(func=cmd_claims)


def cmd_claims(args: argparse.Namespace) -> int:
    from migov.experiments.claims.registry import REGISTRY, load_registry
    from migov.experiments.common.outdir import open_accumulating
    from migov.experiments.sweep.engine import SweepInterrupted
    from migov.experiments.sweep.parallel import default_workers

    registry = load_registry(args.registry or REGISTRY)
    if args.posterior:
        from migov.experiments.sweep.posterior import load_posterior

        load_posterior(args.posterior)  # a folder without a posterior is one line before any run
    claims = registry.claims
    if args.where:
        if args.only:
            raise UsageError("--where ID is short for --design lhs --only ID; give one or the other")
        args.design, args.only, option = "lhs", [args.where], "--where"
    else:
        option = "--only"
    if args.ranges and not args.design:
        raise UsageError("--ranges is for --design lhs (the space a claim is evaluated over)")
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise UsageError(f"{option}: unknown claim '{unknown[0]}'; known: {', '.join(sorted(known))}")
        claims = [c for c in claims if c.id in args.only]
    if args.design:
        from migov.experiments.claims.where import DEFAULT_RANGES, parameter_ranges, where_design

        space = parameter_ranges(args.ranges or DEFAULT_RANGES)  # a bad ranges file is one line before any run
        for c in claims:  # and so is a space that does not fit a claim (a path its scenarios lack, nothing left)
            where_design(c, args.samples, args.seed, space)
    open_accumulating(args.out, "claims", [args.registry or REGISTRY])  # new, empty or migov's claims folder
    workers = args.workers or default_workers()
    try:
        if args.design:
            return claims_over_space(args, claims, workers)
        return claims_at_scenarios(args, claims, workers)
    except (SweepInterrupted, KeyboardInterrupt):  # the engine's hint names its own sweep; the user ran this
        raise SweepInterrupted(f"interrupted; every finished run is kept in {args.out}; resume with: "
                               f"{_command(args)}") from None


def claims_at_scenarios(args: argparse.Namespace, claims: list, workers: int) -> int:
    """Each claim's arms at the scenarios' values: verdicts, Holm-adjusted together, and the report."""
    from migov.experiments.claims.registry import adjust, run_claim
    from migov.experiments.claims.report import write_report

    verdicts = []
    for c in claims:
        v = run_claim(c, args.out, args.replicates, workers, args.executor, args.seed, args.adaptive, args.cap,
                      quiet=args.quiet, posterior=args.posterior)
        verdicts.append(v)
        if not args.quiet:
            print(f"{c.id}: effect {v.effect:+.4g}, 95% CI [{v.ci_low:+.4g}, {v.ci_high:+.4g}], p {v.p:.3g} "
                  f"({v.replicates} matched replicates{'; ' + v.reason if v.reason else ''})")
    adjust(verdicts)  # one family: Holm-adjusted p-values across the claims run together
    if not args.quiet:
        print(f"\nVerdicts on Holm-adjusted p-values across {len(verdicts)} claims:")
        for v in verdicts:
            print(f"  {v.claim.id} [{v.claim.basis}]: {v.label} (Holm p {v.p_holm:.3g})")
    md, page = write_report(verdicts, args.out, _command(args), args.seed)
    if not args.quiet:
        print(f"\nReport: {md} and {page}")
    return 0


def claims_over_space(args: argparse.Namespace, claims: list, workers: int) -> int:
    """``--design lhs``: each claim over a Latin hypercube of the ranges; the share holding and where."""
    from migov.experiments.claims.where import DEFAULT_RANGES, run_where, write_where_overview

    results = []
    for c in claims:
        w = run_where(c, args.out, args.samples, args.replicates or 3, workers, args.executor, args.seed, args.quiet,
                      args.posterior, args.ranges or DEFAULT_RANGES)
        results.append(w)
        if not args.quiet:
            lo, hi = w.share_ci
            print(f"{c.id}: the claimed way at {w.share:.0%} of {len(w.valid)} samples (95% interval {lo:.0%} to "
                  f"{hi:.0%}); "
                  f"PRIM box coverage {w.box.coverage:.2f}, density {w.box.density:.2f}")
            for p, (blo, bhi) in w.box.bounds.items():
                print(f"  {p}: {blo:.4g} .. {bhi:.4g} (quasi-p {w.box.qp.get(p, float('nan')):.2g})")
    path = write_where_overview(results, args.out, _command(args))
    if not args.quiet:
        print(f"\nOverview: {path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line as the report states it (and as a resume hint gives it back)."""
    given = getattr(args, "argv", None) or sys.argv[1:]
    return shlex.join(["migov", *given])
