"""``migov design``: an experiment's parameter space for other tools (a SALib problem file)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from migov.experiments.cli.args import UsageError


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    de = sub.add_parser("design", help="export an experiment's parameter space (a SALib problem file)",
                        description="Write an experiment's parameters as a SALib problem file (names are the dotted "
                                    "parameter paths, bounds their ranges), for SALib's command-line sampler: "
                                    "salib sample sobol -p FILE -n 64 -o sample.txt. The sample is read back as a "
                                    "csv design with a 'salib' block naming the problem and the method.")
    de.add_argument("experiment", help="experiment file (YAML), or the name of a shipped one (sobol_small)")
    de.add_argument("--salib-problem", required=True, metavar="FILE",
                    help="where to write the SALib problem file ('-' for standard output)")
    de.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    de.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    de.set_defaults(func=cmd_design)


def cmd_design(args: argparse.Namespace) -> int:
    from migov.experiments.sweep.design import problem_text
    from migov.experiments.sweep.loaded import load_experiment

    loaded = load_experiment(args.experiment, allow_large=True)  # the design's size does not matter here
    text = problem_text(loaded.exp, str(loaded.path))
    if args.salib_problem == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.salib_problem)
    write_new(out, text, args.overwrite, "--salib-problem")
    if not args.quiet:
        n = len(loaded.exp.parameters)
        print(f"{loaded.exp.name}: SALib problem of {n} parameter{'s' * (n != 1)} in {out}. Sample it, e.g.\n"
              f"  salib sample sobol -p {out} -n 64 -o sample.txt\n"
              "and read the sample back with an experiment whose design is\n"
              f"  design: {{type: csv, file: sample.txt, salib: {{problem: {out.name}, method: sobol}}, "
              "second_order: true}\n"
              "(second_order as the sampler's --max-order, 2 by default; for salib sample morris: method: morris, "
              "and levels as its -l).")
    return 0


def write_new(path: Path, text: str, overwrite: bool, option: str) -> None:
    """Write a small file whole (a temporary sibling renamed into place); an existing file is
    replaced only with ``overwrite``, and a folder never."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; expected a file name")
    if path.exists() and not overwrite:
        raise UsageError(f"{option} {path}: exists; expected a new file (add --overwrite to replace it)")
    if not path.parent.is_dir():
        raise UsageError(f"{option} {path}: no such folder {path.parent}")
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{option} {path}: cannot be written ({err.strerror or err})") from None
