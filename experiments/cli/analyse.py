"""``migov analyse``: sensitivity analysis of a finished sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from migov.experiments.cli.args import (
    OVERWRITE_HELP,
)


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
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


def cmd_analyse(args: argparse.Namespace) -> int:
    from migov.experiments.analysis.report import run_analysis

    an, out = run_analysis(args.output, args.measures, args.out, args.overwrite)  # checks --out before analysing
    if not args.quiet:
        ok = len(an.data)
        kind = an.design_type if an.method == an.design_type else f"{an.design_type} ({an.method} sample)"
        print(f"{an.experiment.get('name', args.output)}: {kind} design, {ok} runs analysed "
              f"({len(an.measures)} measures x {len(an.parameters)} parameters).")
        print(f"Summary, tables and figures in {out}/ (open {out / 'summary.md'})")
    return 0
