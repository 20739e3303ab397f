"""``migov explore``: which combinations of output patterns the model can produce at all (PSE)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from migov.experiments.cli.args import positive_int


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cmd = sub.add_parser("explore", help="map which combinations of output patterns the model can produce "
                                         "(pattern-space exploration)",
                         description="Pattern-space exploration (as OpenMOLE's PSE): a novelty search over a grid "
                                     "of two or three output patterns (e.g. IOM/UNHCR income ratio in 2014, IOM "
                                     "members in 2014, earmarked share in 2011), breeding parameter sets that reach "
                                     "rare cells (DEAP's crossover and mutation). Writes the reached cells with one "
                                     "parameter set each, the coverage per generation and a figure. Every finished "
                                     "generation is kept: the same command resumes.")
    cmd.add_argument("exploration", metavar="FILE", help="exploration file (YAML), or the name of a shipped one "
                                                         "(history)")
    cmd.add_argument("--out", type=Path, default=None, help="output folder (default results/explore/NAME, or "
                                                            "NAME-quick with --quick)")
    cmd.add_argument("--quick", action="store_true", help="the file's small 'quick' search")
    cmd.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    cmd.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")
    cmd.set_defaults(func=cmd_explore)


def cmd_explore(args: argparse.Namespace) -> int:
    import pandas as pd
    from migov.experiments.calibration.explore import (
        EVALS,
        archive_of,
        coverage,
        explore,
        figure,
        load_exploration,
        record_cell_reached,
    )
    from migov.experiments.common.outdir import OutputError, open_accumulating, read_manifest, record_files
    from migov.experiments.common.storage import write_parquet
    from migov.experiments.sweep.parallel import default_workers
    from migov.experiments.sweep.provenance import provenance
    from migov.experiments.sweep.runner import package_versions

    loaded = load_exploration(args.exploration)
    exp = loaded.exp
    out = args.out or Path("results") / "explore" / (exp.name + ("-quick" if args.quick else ""))
    identity = loaded.identity(args.quick)
    open_accumulating(out, "explore", [loaded.path, loaded.scenario_path])
    old = (read_manifest(out) or {}).get("identity")
    if old is not None and old != identity and (out / EVALS).exists():
        changed = next(k for k in identity if old.get(k) != identity[k])
        raise OutputError(out, f"holds an exploration made under other settings ({changed} differs); an exploration "
                               "cannot mix them: choose another --out")
    prov = {**provenance(identity["scenario_hash"], exp.seed), "command": "explore", "exploration": exp.name,
            "exploration_file": str(loaded.path), "identity": identity, "versions": package_versions()}
    record_files(out, [f"{EVALS}/"], {"identity": identity})

    def write(block: pd.DataFrame, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        write_parquet(block, tmp, prov)
        os.replace(tmp, path)  # a generation is on disk whole or not at all

    try:
        evals = explore(loaded, out, args.quick, args.workers or default_workers(), args.quiet, write)
    except KeyboardInterrupt:
        from migov.experiments.sweep.engine import SweepInterrupted

        raise SweepInterrupted(f"interrupted; every finished generation is kept in {out / EVALS}; run the same "
                               "command again to continue") from None
    archive = archive_of(evals, exp.patterns)
    cells = archive.copy()
    for k, name in enumerate(exp.patterns):
        cells[f"cell:{name}"] = [c[k] for c in cells["cell"]]
    cells = cells.drop(columns=["cell"])
    write_parquet(cells, out / "cells.parquet", prov)
    cov = coverage(evals, exp.patterns)
    cov.to_csv(out / "coverage.csv", index=False)
    import matplotlib

    matplotlib.use("Agg")
    from migov.experiments.analysis.figures import save_figures

    (out / "figures").mkdir(exist_ok=True)
    names = save_figures({"patterns": figure(archive, exp.patterns, f"{exp.name}: cells the model reached "
                                                                   f"({len(evals)} runs)")}, out / "figures", prov)
    total = 1
    for p in exp.patterns.values():
        total *= p.cells
    reached = record_cell_reached(archive, exp.patterns)
    lines = [f"# Pattern-space exploration `{exp.name}` of `{loaded.scenario_path.stem}`", "",
             exp.description.strip(), "",
             f"{len(evals)} runs over {int(evals['generation'].max()) + 1} generations reached {len(archive)} of "
             f"{total} cells of the pattern grid.", ""]
    if reached == "outside":
        lines += ["The record lies outside the grid of at least one pattern; widen its range to ask whether the "
                  "model reaches it (values beyond a range fall in its edge cells).", ""]
    elif reached is not None:
        on = [n for n, p in exp.patterns.items() if p.record is not None]
        lines += [f"The record's cell (on {', '.join(on)}) was {'reached' if reached else '**not reached**'}.", ""]
    lines += ["| pattern | measure | year | range | cells | record |", "|---|---|---|---|---|---|"]
    for name, p in exp.patterns.items():
        what = (f"{p.quantity} {p.organisations[0]} / {p.organisations[1]}" if p.organisations
                else f"{p.quantity} {p.organisation or ''}".strip())
        lines.append(f"| {name} | {what} | {p.year} | {p.low:g} - {p.high:g} | {p.cells} | "
                     f"{'-' if p.record is None else f'{p.record:g}'} |")
    lines += ["", "## Coverage per generation", "", "| generation | runs | cells reached |", "|---|---|---|"]
    lines += [f"| {r.generation} | {r.runs} | {r.cells_reached} |" for r in cov.itertuples()]
    lines += ["", "![patterns](figures/patterns.png)", "",
              "`cells.parquet`: one row per reached cell (its indices `cell:<pattern>`, the pattern values, the "
              "first parameter set that reached it, and how many runs fell in it); `evaluations/`: every run, "
              "by generation.", ""]
    (out / "explore.md").write_text("\n".join(lines), encoding="utf-8")
    record_files(out, ["cells.parquet", "coverage.csv", "explore.md", *[f"figures/{n}" for n in names]],
                 {"provenance": prov})
    if not args.quiet:
        said = {None: "", "outside": "; the record lies outside the grid", True: "; the record's cell was reached",
                False: "; the record's cell was NOT reached"}[reached]
        print(f"{len(archive)} of {total} cells reached in {len(evals)} runs{said}")
        print(f"Results in {out}/ (explore.md, cells.parquet, coverage.csv, figures/patterns.png)")
    return 0
