"""``migov classroom``: students play agencies and donors on the real model, served until stopped."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from datetime import datetime
from pathlib import Path

from migov.experiments.cli.args import positive_int, scenario_dirs, seed_int


def register(sub) -> None:
    """Add the command to the parser's subcommands."""
    cls = sub.add_parser(
        "classroom", help="a game in the browser: students play organisations and donors, the model plays the rest",
        description="Start a classroom game and serve it on the local network until Ctrl-C: an instructor's console "
                    "and a page per seat. Each seat plays one organisation or donor for a round at a time (a year or a "
                    "quarter); the model resolves each round with its own mechanisms, and a seat that has not chosen "
                    "in time is played by its agent's rule. The game is saved on every change; --resume DIR goes on "
                    "with a stopped or crashed game. Several people may share a seat's link (a team).")
    cls.add_argument("scenario", nargs="?", default=None, help="scenario name or YAML file (not with --resume)")
    cls.add_argument("--play", default=None, metavar="A,B,...",
                     help="the agents the seats play, by name (organisations or donors), e.g. IOM,UNHCR,EU")
    cls.add_argument("--seats", type=positive_int, default=None,
                     help="number of seats when --play is not given: the scenario's organisations in order, then its "
                          "donors (default 4)")
    cls.add_argument("--teams", default=None, metavar="NAME,NAME,...", help="names for the seats, in order")
    cls.add_argument("--rounds", type=positive_int, default=None, help="rounds to play (default: 10, or fewer if the "
                                                                         "scenario is shorter)")
    cls.add_argument("--round", dest="per_round", choices=("year", "quarter"), default=None,
                     help="what a round is (default a year)")
    cls.add_argument("--seconds", type=positive_int, default=None, help="time to choose in each round (default 180)")
    cls.add_argument("--pause-between-rounds", action="store_true",
                     help="pause after each round, so the room can talk before the instructor resumes the clock")
    cls.add_argument("--from", dest="start", default=None, metavar="DATE",
                     help="start the game at DATE (e.g. 2003 or 2003Q1): the rules play the years before it")
    cls.add_argument("--seed", type=seed_int, default=None, help="random seed (default 1)")
    cls.add_argument("--out", type=Path, default=None,
                     help="the game's folder, new or empty (default results/classroom/<scenario>-<date>)")
    cls.add_argument("--resume", type=Path, default=None, metavar="DIR", help="go on with the game in DIR")
    cls.add_argument("--host", default="0.0.0.0",
                     help="address to listen on (default 0.0.0.0: the local network; localhost for this machine only)")
    cls.add_argument("--port", type=port_number, default=8766, help="port (default 8766)")
    cls.add_argument("--debrief-runs", type=positive_int, default=8,
                     help="rule-only runs the debrief compares the game with (default 8)")
    cls.add_argument("--no-serve", action="store_true", help="set the game up, print its links, and stop")
    cls.add_argument("--debrief", action="store_true",
                     help="with --resume: write the game's debrief (figures, PDF, tables) to DIR/debrief and stop")
    cls.set_defaults(func=cmd_classroom)


def port_number(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {port}")
    return port


SET_UP = ("scenario", "play", "seats", "teams", "rounds", "per_round", "seconds", "seed", "out", "start",
          "pause_between_rounds")  # what a game is set up with; --resume takes the game as it was


def choose_agents(args: argparse.Namespace, scenario) -> list[str]:
    """The agents with seats: --play, or the first --seats organisations then donors."""
    from migov.experiments.cli.args import UsageError

    if args.play is not None:
        if args.seats:
            raise UsageError("--seats goes without --play (--play names the seats)")
        return [a.strip() for a in args.play.split(",") if a.strip()]
    pool = [*scenario.organisations, *scenario.donors]
    n = args.seats or 4
    if n > len(pool):
        raise UsageError(f"--seats {n}: the scenario has {len(pool)} organisations and donors; a team can share a "
                         "seat's link, or name the agents with --play")
    return pool[:n]


def lan_address() -> str:
    """This machine's address on the local network (for the links), or localhost."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outgoing interface
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def links(game, base: str) -> list[str]:
    lines = [f"instructor: {base}/?instructor={game.spec['instructor_token']}"]
    lines += [f"{s.title} ({s.agent}): {base}/?seat={s.token}" for s in game.seats]
    return lines


def cmd_classroom(args: argparse.Namespace) -> int:
    from migov.experiments.classroom.game import Game, hold_game
    from migov.experiments.cli.args import UsageError
    from migov.experiments.common.outdir import fresh_subfolder, record_files
    from migov.experiments.common.processes import run_supervised
    from migov.model import load_scenario
    from migov.model.config import find_scenario

    held = None
    if args.resume is not None:
        given = [name for name in SET_UP if getattr(args, name) not in (None, False)]
        if given:
            options = ", ".join("a scenario" if n == "scenario" else "--" + n.replace("_", "-") for n in given)
            raise UsageError(f"--resume DIR goes on with the game as it was set up; drop {options}")
        game = Game.load(args.resume)  # a folder without a game is refused here, in one line
        held = None if args.debrief or args.no_serve else hold_game(args.resume)
        folder = args.resume
        if args.debrief:
            from migov.experiments.classroom.debrief import write_debrief

            out = write_debrief(game, args.debrief_runs)
            print(f"migov classroom: the debrief of {len(game.rounds)} rounds against {args.debrief_runs} rule runs "
                  f"is in {out} (debrief.pdf, figures, tables)")
            return 0
    else:
        if args.debrief:
            raise UsageError("--debrief goes with --resume DIR (a game that has been played)")
        if not args.scenario:
            raise UsageError("give a scenario (e.g. migov classroom baseline) or --resume DIR")
        path = find_scenario(args.scenario)
        scenario = load_scenario(path)
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        folder = args.out or fresh_subfolder(Path("results") / "classroom", f"{path.stem}-{stamp}")
        teams = [t.strip() for t in args.teams.split(",")] if args.teams else None
        agents = choose_agents(args, scenario)
        if teams is not None and len(teams) != len(agents):
            raise UsageError(f"--teams: expected {len(agents)} names, one per seat ({', '.join(agents)}), "
                             f"got {len(teams)}")
        game = Game.new(folder, str(path), agents, seed=1 if args.seed is None else args.seed, rounds=args.rounds,
                        per_round=args.per_round or "year", seconds=args.seconds or 180, labels=teams,
                        pause_between_rounds=args.pause_between_rounds, start=args.start)
    host = lan_address() if args.host in ("0.0.0.0", "") else args.host
    base = f"http://{host}:{args.port}"
    lines = links(game, base)
    (Path(folder) / "links.md").write_text("# Links of this game (each is a key: hand out one per seat)\n\n"
                                           + "\n".join(f"- {x}" for x in lines) + "\n", encoding="utf-8")
    record_files(Path(folder), ["links.md"])
    print(f"migov classroom: {game.scenario.title}; the game is saved in {folder} (links in links.md)")
    print("\n".join(lines), flush=True)
    if args.no_serve:
        return 0
    held = held or hold_game(Path(folder))  # kept open (a local of this frame) while serving: the lock
    env = dict(os.environ, MIGOV_CLASSROOM_GAME=str(Path(folder).resolve()), MIGOV_CLASSROOM_BASE=base,
               MIGOV_CLASSROOM_DEBRIEF_RUNS=str(args.debrief_runs))
    scenario_path = game.scenario_path.resolve()
    if scenario_path.parent not in [d.resolve() for d in scenario_dirs() if d.is_dir()]:
        env["MIGOV_SCENARIOS"] = str(scenario_path.parent)
    print(f"serving on {base}/  (Ctrl-C to stop; migov classroom --resume {folder} goes on later)", flush=True)
    cmd = [sys.executable, "-m", "solara", "run", "migov.experiments.classroom.app", "--host", args.host,
           "--port", str(args.port), "--no-open", "--production", "--log-level", "warning"]
    return run_supervised(cmd, env=env)
