"""The ``migov`` command line.

User mistakes (a missing or malformed scenario, an unknown ``--set`` key, a bad option) print
one line naming the file, the field and what was expected, and exit with status 2; no
traceback, and nothing half-written in the output folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from migov.experiments import __version__
from migov.experiments.sweep.engine import SweepError, SweepInterrupted
from migov.model import ScenarioError, load_scenario
from migov.model.config import MAX_STEPS, find_scenario, library_dirs, repo_scenarios  # noqa: F401  (for callers)

EXIT_USAGE = 2
EXIT_FAILED_RUNS = 1  # a sweep finished, but some of its runs failed
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake in how the command was called."""


def scenario_dirs() -> list[Path]:
    """The scenario library folders (``model.config.library_dirs``, shared with ``extends``)."""
    return library_dirs()


def whole_number(low: int, what: str = "a number"):
    """An argparse type: a whole number of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what} >= {low}, got {value}")
        return value

    return parse


positive_int = whole_number(1)
seed_int = whole_number(0, "a seed")
ALLOW_LARGE_STEPS = f"accept --steps above {MAX_STEPS:,} (the schema's limit for simulation.steps)"
OVERWRITE_HELP = ("replace an earlier migov result in --out (atomically; refused if the folder holds anything "
                  "its manifest does not list)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migov",
        description="Agent-based model of international organisations competing to govern migration.",
    )
    parser.add_argument("--version", action="version", version=f"migov {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    run.add_argument("--no-agents", action="store_true", help="do not collect per-agent series")
    run.add_argument("--allow-large", action="store_true", help=ALLOW_LARGE_STEPS)
    run.add_argument("--no-figures", action="store_true", help="do not draw figures")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("scenarios", help="list the scenario library", description="List the scenarios.")
    lst.set_defaults(func=cmd_scenarios)

    show = sub.add_parser("show", help="a scenario's narrative, sources and what differs from its base",
                          description="Print a scenario's narrative, sources and the parameters that differ "
                                      "from its base.")
    show.add_argument("scenario", help="scenario name or path")
    show.set_defaults(func=cmd_show)

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
    cmp.add_argument("--no-figures", action="store_true", help="do not draw figures")
    cmp.add_argument("--allow-large", action="store_true", help=ALLOW_LARGE_STEPS)
    cmp.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    cmp.set_defaults(func=cmd_compare)

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
    sw.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    sw.set_defaults(func=cmd_sweep)

    an = sub.add_parser("analyse", aliases=["analyze"],
                        help="figures, sensitivity indices and a summary of a sweep's results",
                        description="Analyse a sweep's output folder: each measure against each parameter (grid: "
                                    "means with replicate spread and heatmaps; lhs/csv: scatter plots and Spearman "
                                    "correlations; morris: elementary effects; sobol: first-order and total "
                                    "indices), the share of variance that is replicate noise, and summary.md.")
    an.add_argument("output", type=Path, metavar="OUTPUT", help="a sweep's output folder")
    an.add_argument("--measures", nargs="+", default=None, metavar="MEASURE",
                    help="measures to analyse (default: a key list: hhi, funding shares, legitimacy, overlap, "
                         "mandate breadth, offices, contestations, network density, knowledge)")
    an.add_argument("--out", type=Path, default=None, help="folder for figures, tables and summary.md, new or "
                                                           "empty, never OUTPUT itself (default OUTPUT/analysis)")
    an.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    an.add_argument("--quiet", "-q", action="store_true", help="print nothing")
    an.set_defaults(func=cmd_analyse)

    dash = sub.add_parser("dashboard", help="the classroom dashboard in the browser (Mesa SolaraViz)",
                          description="Start the dashboard on localhost and print its address: pick a scenario, "
                                      "move the levers, step or play, export figures and data.")
    dash.add_argument("scenario", nargs="?", default="baseline", help="scenario to open with (default baseline)")
    dash.add_argument("--port", type=positive_int, default=8765, help="port (default 8765)")
    dash.add_argument("--host", default="localhost", help="host to listen on (default localhost)")
    dash.set_defaults(func=cmd_dashboard)

    cl = sub.add_parser("claims", help="test the claims registry: verdicts with effect sizes, and a report",
                        description="Run every claim (or --only some) through the sweep engine and write a report "
                                    "(Markdown and self-contained HTML) with verdicts: holds, fails, inconclusive.")
    cl.add_argument("--only", nargs="+", metavar="ID", default=None, help="claim ids to run")
    cl.add_argument("--replicates", type=positive_int, default=None, help="replicates per arm (default: each claim's)")
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
    cl.add_argument("--where", metavar="ID", default=None,
                    help="find where in the behavioural parameter space claim ID holds (Latin hypercube + PRIM)")
    cl.add_argument("--samples", type=positive_int, default=64, help="Latin hypercube samples for --where")
    cl.add_argument("--quiet", "-q", action="store_true")
    cl.set_defaults(func=cmd_claims)
    return parser


def shard_arg(text: str) -> tuple[int, int]:
    from migov.experiments.sweep.engine import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def check_steps(steps: int | None, allow_large: bool) -> None:
    """``--steps`` within the schema's limit, so a slip of the finger never runs for days in silence."""
    if steps is not None and steps > MAX_STEPS and not allow_large:
        raise UsageError(f"--steps: {steps:,} is more than {MAX_STEPS:,}, the limit for simulation.steps; expected "
                         f"at most {MAX_STEPS:,} (add --allow-large to run longer)")


def cmd_run(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.run_folder import run_and_write
    from migov.experiments.common.outdir import check_destination

    check_steps(args.steps, args.allow_large)
    path = find_scenario(args.scenario)
    scenario = load_scenario(path, overrides=args.overrides)
    out = args.out or Path("results") / path.stem / f"seed-{args.seed}"
    check_destination(out, [path], args.overwrite)  # before the run, so a refused folder costs nothing
    run_and_write(scenario, path, args, out)
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from migov.experiments.common.library import list_scenarios

    print(list_scenarios(scenario_dirs()))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from migov.experiments.common.library import describe

    print(describe(find_scenario(args.scenario)))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.compare import markdown_table
    from migov.experiments.analysis.comparison import compare_scenarios, write_comparison
    from migov.experiments.common.outdir import check_destination

    if len(args.scenarios) < 2:
        raise UsageError("compare needs at least two scenarios")
    check_steps(args.steps, args.allow_large)
    paths = [find_scenario(s) for s in args.scenarios]
    out = args.out or Path("results") / "compare" / "_vs_".join(p.stem for p in paths)
    check_destination(out, paths, args.overwrite)  # before the runs, so a refused folder costs nothing
    cmp, prov = compare_scenarios(paths, args.replicates, args.workers, args.steps, args.seed, args.quiet)
    write_comparison(cmp, prov, out, figures=not args.no_figures, overwrite=args.overwrite)
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from migov.experiments.sweep.engine import run_sweep
    from migov.experiments.sweep.experiment import load_experiment
    from migov.experiments.sweep.parallel import default_workers
    from migov.experiments.sweep.plan import dry_run

    loaded = load_experiment(args.experiment, allow_large=args.allow_large)  # refuses a huge design early
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
        print(f"Results in {out}/  (load with migov.experiments.sweep.engine.load_results('{out}'); "
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


def cmd_analyse(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.sensitivity import run_analysis

    an, out = run_analysis(args.output, args.measures, args.out, args.overwrite)  # checks --out before analysing
    if not args.quiet:
        ok = len(an.data)
        print(f"{an.experiment.get('name', args.output)}: {an.design_type} design, {ok} runs analysed "
              f"({len(an.measures)} measures x {len(an.parameters)} parameters).")
        print(f"Summary, tables and figures in {out}/ (open {out / 'summary.md'})")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard until Ctrl-C, SIGTERM or SIGHUP; the server never outlives migov (see
    ``run_supervised``). Status 0 when stopped by Ctrl-C or SIGTERM, else the server's."""
    from migov.experiments.common.processes import run_supervised

    path = find_scenario(args.scenario)
    load_scenario(path)  # a broken scenario is a clear error here, before the server starts
    env = dict(os.environ, MIGOV_DASHBOARD_SCENARIO=path.stem)
    if path.resolve().parent not in [d.resolve() for d in scenario_dirs() if d.is_dir()]:
        env["MIGOV_SCENARIOS"] = str(path.resolve().parent)
    app = "migov.experiments.dashboard.app"
    print(f"migov dashboard: open http://{args.host}:{args.port}/  (Ctrl-C to stop)", flush=True)
    cmd = [sys.executable, "-m", "solara", "run", app, "--host", args.host, "--port", str(args.port),
           "--no-open", "--production", "--log-level", "warning"]
    return run_supervised(cmd, env=env)


def cmd_claims(args: argparse.Namespace) -> int:
    from migov.experiments.claims.registry import REGISTRY, load_registry, run_claim
    from migov.experiments.claims.report import write_report
    from migov.experiments.common.outdir import open_accumulating
    from migov.experiments.sweep.parallel import default_workers

    registry = load_registry(args.registry or REGISTRY)
    claims = registry.claims
    if args.where:
        from migov.experiments.claims.where import run_where

        match = [c for c in claims if c.id == args.where]
        if not match:
            raise UsageError(f"--where: unknown claim '{args.where}'; known: {', '.join(c.id for c in claims)}")
        open_accumulating(args.out, "claims", [args.registry or REGISTRY])
        box, table = run_where(match[0], args.out, args.samples, args.replicates or 3,
                               args.workers or default_workers(), args.executor, args.seed, args.quiet)
        if not args.quiet:
            print(f"{args.where}: goes the claimed way at {table['holds'].mean():.0%} of {len(table)} samples; "
                  f"PRIM box coverage {box.coverage:.2f}, density {box.density:.2f}")
            for p, (lo, hi) in box.bounds.items():
                print(f"  {p}: {lo:.4g} .. {hi:.4g}")
            print(f"Details: {args.out / args.where / 'where' / 'where.md'}")
        return 0
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise UsageError(f"--only: unknown claim '{unknown[0]}'; known: {', '.join(sorted(known))}")
        claims = [c for c in claims if c.id in args.only]
    open_accumulating(args.out, "claims", [args.registry or REGISTRY])  # new, empty or migov's claims folder
    workers = args.workers or default_workers()
    verdicts = []
    for c in claims:
        v = run_claim(c, args.out, args.replicates, workers, args.executor, args.seed, args.adaptive, args.cap,
                      quiet=args.quiet)
        verdicts.append(v)
        if not args.quiet:
            print(f"{c.id}: {v.verdict} (effect {v.effect:+.4g}, 95% CI [{v.ci_low:+.4g}, {v.ci_high:+.4g}], "
                  f"{v.share:.0%} of {v.replicates} replicates the claimed way)")
    command = "migov claims " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 else "migov claims"
    md, page = write_report(verdicts, args.out, command, args.seed)
    if not args.quiet:
        print(f"\nReport: {md} and {page}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as err:
        print(f"migov: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as err:
        print(f"migov: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SweepError as err:
        print(f"migov: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SweepInterrupted as stop:
        print(f"migov: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # run and compare write their folder whole at the end
        print("migov: interrupted before the results were written; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
