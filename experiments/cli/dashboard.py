"""``migov dashboard``: the classroom dashboard, served until stopped."""

from __future__ import annotations

import argparse
import os
import sys

from migov.experiments.cli.args import (
    positive_int,
    scenario_dirs,
)
from migov.model import load_scenario
from migov.model.config import find_scenario


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    dash = sub.add_parser("dashboard", help="the classroom dashboard in the browser (Mesa SolaraViz)",
                          description="Start the dashboard on localhost and print its address: pick a scenario, "
                                      "move the levers, step or play, export figures and data.")
    dash.add_argument("scenario", nargs="?", default="baseline", help="scenario to open with (default baseline)")
    dash.add_argument("--port", type=positive_int, default=8765, help="port (default 8765)")
    dash.add_argument("--host", default="localhost", help="host to listen on (default localhost)")
    dash.set_defaults(func=cmd_dashboard)


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
