"""``migov scenarios`` and ``migov show``: the scenario library."""

from __future__ import annotations

import argparse

from migov.experiments.cli.args import (
    scenario_dirs,
)
from migov.model.config import find_scenario


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    lst = sub.add_parser("scenarios", help="list the scenario library", description="List the scenarios.")
    lst.set_defaults(func=cmd_scenarios)

    show = sub.add_parser("show", help="a scenario's narrative, sources and what differs from its base",
                          description="Print a scenario's narrative, sources and the parameters that differ "
                                      "from its base.")
    show.add_argument("scenario", help="scenario name or path")
    show.set_defaults(func=cmd_show)


def cmd_scenarios(args: argparse.Namespace) -> int:
    from migov.experiments.common.library import list_scenarios

    print(list_scenarios(scenario_dirs()))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from migov.experiments.common.library import describe

    print(describe(find_scenario(args.scenario)))
    return 0
