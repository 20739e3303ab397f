"""``migov validate``: a scenario's replicates set beside published stylised facts."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from migov.experiments.cli.args import (
    ALLOW_LARGE_STEPS,
    OVERWRITE_HELP,
    POSTERIOR_HELP,
    check_steps,
    positive_int,
    seed_int,
)
from migov.model.config import Mechanisms, find_scenario, load_scenario, parse_value

MECHANISMS = tuple(Mechanisms.model_fields)


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cmd = sub.add_parser("validate", help="set a scenario's replicates beside published stylised facts",
                         description="Run a scenario over N replicate seeds and set each stylised fact (IOM and "
                                     "UNHCR money and growth, their ratio, IOM members and field locations, "
                                     "earmarked and NGO shares, GMG membership; figures with their sources) beside "
                                     "the model's median and 5-95% band. Facts up to 2014 are in-sample; later "
                                     "ones are reported apart as out-of-sample.")
    cmd.add_argument("scenario", metavar="SCENARIO", help="scenario name or path")
    cmd.add_argument("--replicates", "-n", type=positive_int, default=10, help="seeds (default 10)")
    cmd.add_argument("--seed", type=seed_int, default=0, help="base seed the replicate seeds derive from")
    cmd.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    cmd.add_argument("--steps", type=positive_int, default=None, help="steps per run (default: the scenario's)")
    cmd.add_argument("--facts", type=Path, default=None, help="facts file (default: the project's facts.yaml)")
    cmd.add_argument("--out", type=Path, default=None,
                     help="output folder, new or empty (default results/validate/SCENARIO)")
    cmd.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="change any scenario field by dotted path for every run (repeatable)")
    cmd.add_argument("--ablate", action="append", default=[], choices=MECHANISMS, metavar="MECHANISM",
                     help=f"also run with this mechanism switched off and tabulate what changes (repeatable; "
                          f"one of {', '.join(MECHANISMS)})")
    cmd.add_argument("--ablations", action="store_true", help="--ablate every mechanism, one at a time")
    cmd.add_argument("--posterior", type=Path, default=None, metavar="DIR", help=POSTERIOR_HELP)
    cmd.add_argument("--no-figures", action="store_true", help="do not draw figures")
    cmd.add_argument("--allow-large", action="store_true", help=ALLOW_LARGE_STEPS)
    cmd.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no table")
    cmd.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from migov.experiments.common.outdir import check_destination
    from migov.experiments.sweep.kept import run_store
    from migov.experiments.validation.facts import FACTS, load_facts
    from migov.experiments.validation.validate import markdown, validate_scenario, write_validation

    check_steps(args.steps, args.allow_large)
    path = find_scenario(args.scenario)
    facts = args.facts or FACTS
    load_facts(facts)  # a bad facts file is one line before any run
    out = args.out or Path("results") / "validate" / path.stem
    load_scenario(path, overrides=args.overrides)  # a bad --set is one line before any run
    overrides = {k.strip(): parse_value(v, "--set", k.strip()) for k, _, v in
                 (item.partition("=") for item in args.overrides)}
    ablate = list(MECHANISMS) if args.ablations else list(dict.fromkeys(args.ablate))
    if args.posterior:
        from migov.experiments.sweep.posterior import load_posterior

        load_posterior(args.posterior)  # a folder without a posterior is one line before any run
    check_destination(out, [path, facts], args.overwrite)  # before the runs, so a refused folder costs nothing
    store = run_store(out)  # the runs, kept as they finish: Ctrl-C keeps them, the same command resumes
    stores = {name: store.with_name(f"{store.name}-no-{name}") for name in ablate}
    val, prov = validate_scenario(path, args.replicates, facts, args.workers, args.steps, args.seed, args.quiet,
                                  store, overrides, args.posterior)
    for name in ablate:
        if not args.quiet:
            print(f"ablation: {name} off")
        val.ablations[name], _ = validate_scenario(path, args.replicates, facts, args.workers, args.steps, args.seed,
                                                   args.quiet, stores[name],
                                                   {**overrides, f"mechanisms.{name}": False}, args.posterior)
    prov["ablations"] = ablate
    write_validation(val, prov, out, figures=not args.no_figures, overwrite=args.overwrite)
    for kept in (store, *stores.values()):
        shutil.rmtree(kept)  # the folder holds every replicate's yearly values now
    if not args.quiet:
        for sample in ("in-sample", "out-of-sample"):
            print(f"\n{sample[0].upper() + sample[1:]} (model median and 5-95% band over {args.replicates} "
                  "replicates; ~ approximate record):")
            print(markdown(val.table, sample, sources=False))
        if prov["failures"]:
            print(f"\n{len(prov['failures'])} runs failed; see manifest.json")
        if ablate:
            from migov.experiments.validation.validate import ablation_markdown, ablation_table

            print("\nAblations (model median; * = record inside the 5-95% band):")
            print(ablation_markdown(ablation_table(val)))
        print(f"\nResults in {out}/ (validation.parquet/.md, values.parquet, annual.parquet, "
              f"{'ablations.parquet, ' if ablate else ''}figures/)")
    return 0
