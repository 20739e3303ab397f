"""The ``migov`` command line: one module per command (``run``, ``scenarios``, ``compare``,
``sweep``, ``design``, ``analyse``, ``dashboard``, ``claims``, ``validate``, ``calibrate``,
``explore``), each adding its parser with ``register`` and doing its work in ``cmd_*``; this
module assembles them and turns errors into exit statuses.

User mistakes (a missing or malformed scenario, an unknown ``--set`` key, a bad option) print
one line naming the file, the field and what was expected, and exit with status 2; no
traceback, and nothing half-written in the output folder.
"""

from __future__ import annotations

import argparse
import sys

from migov.experiments import __version__
from migov.experiments.cli import (
    analyse,
    calibrate,
    claims,
    classroom,
    compare,
    dashboard,
    design,
    explore,
    run,
    scenarios,
    sweep,
    validate,
)
from migov.experiments.cli.args import EXIT_FAILED_RUNS, EXIT_INTERRUPTED, EXIT_USAGE, UsageError  # noqa: F401
from migov.experiments.sweep.engine import SweepError, SweepInterrupted
from migov.model import ScenarioError

COMMANDS = (run, scenarios, compare, sweep, design, analyse, dashboard, classroom, claims, validate, calibrate, explore)


class OneLineParser(argparse.ArgumentParser):
    """argparse's own errors (a wrong number, an unknown flag) in one line, like every other user
    mistake, naming the command and pointing at its --help; exit status 2."""

    def error(self, message: str):
        command = self.prog.removeprefix("migov").strip()
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"migov: error: {where}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="migov",
        description="Agent-based model of international organisations competing to govern migration.",
    )
    parser.add_argument("--version", action="version", version=f"migov {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as given, for commands that state or resume it
    try:
        return args.func(args)
    except (ScenarioError, UsageError, SweepError) as err:
        print(f"migov: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:  # a design or a run past the limits, let through with --allow-large
        print(f"migov: error: {args.command}: not enough memory for what was asked (a design or a run this large "
              "was let through by --allow-large); ask for fewer runs or steps", file=sys.stderr)
        return EXIT_USAGE
    except SweepInterrupted as stop:
        print(f"migov: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # run and compare write their folder whole at the end
        print("migov: interrupted before the results were written; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
