"""A game of the model with people in some agents' seats (``migov classroom``).

The game is the real model (``MigovModel``) advanced a round at a time (a year or a quarter).
Before each round, every seat's choice is put in its agent's seat (``MigovModel.seat``); a seat
that has not chosen when the round resolves is played by its agent's rule and marked. The
instructor starts, pauses and advances rounds and injects events.

The game file (``game.json`` in the game's folder) holds the scenario, the seed, the seats, and
every round's choices and injected events; it is written (atomically) on every change. Because
the same scenario, seed, choices and events give the same world, a crashed server resumes by
replaying the rounds, and the debrief replays them without the seats to ask what the rules alone
would have done in the same world.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migov.experiments.common import outdir
from migov.experiments.sweep.provenance import provenance
from migov.model import MigovModel, ScenarioError, load_scenario
from migov.model.config import ACTIONS, Crisis, find_scenario, library_dirs
from migov.model.seats import NGOS, Choice, DonorChoice, OrganisationChoice, resolve

GAME_FILE = "game.json"
KIND = "classroom"
STATES = ("lobby", "playing", "paused", "finished")


class GameError(ScenarioError):
    """A refused move (a wrong token, a choice outside the agent's means, a game that is over):
    one line for the person who made it."""

    def __init__(self, where: str, message: str):
        super().__init__(where, "", message)


@dataclass
class Seat:
    """A student or a team, playing one organisation or one donor; ``token`` is in its link."""

    agent: str
    kind: str  # "organisation" or "donor"
    token: str
    label: str = ""  # how the room calls it ("Team A"); the agent's name if not given

    @property
    def title(self) -> str:
        return self.label or self.agent


def parse_choice(kind: str, data: dict) -> Choice:
    """A choice from its JSON form (lists for tuples), for the seat's kind."""
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in (data or {}).items()}
    try:
        return (OrganisationChoice if kind == "organisation" else DonorChoice)(**data)
    except TypeError as err:
        raise GameError(f"choice of {'an' if kind == 'organisation' else 'a'} {kind}",
                        f"unexpected field ({err})") from None


def choice_data(choice: Choice) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(choice).items()}


@dataclass
class Round:
    """One resolved round: who chose what, who was played by the rules, what was injected."""

    number: int
    from_step: int
    to_step: int
    choices: dict[str, dict] = field(default_factory=dict)  # agent -> choice (JSON form)
    ruled: list[str] = field(default_factory=list)  # seated agents that did not choose in time
    injected: list[dict] = field(default_factory=list)  # events started at the round's first step


class Game:
    """The shared state of one classroom game; every method is safe to call from any thread."""

    def __init__(self, folder: Path, spec: dict):
        self.folder = Path(folder)
        self.spec = spec
        self.scenario_path = find_scenario(spec["scenario"])
        self.scenario = load_scenario(self.scenario_path)
        self.seats = [Seat(**s) for s in spec["seats"]]
        for s in self.seats:
            known = self.scenario.organisations if s.kind == "organisation" else self.scenario.donors
            if s.agent not in known:
                raise GameError(f"{GAME_FILE}: seats",
                                f"expected {s.kind}s of {self.scenario_path.stem}, got {s.agent!r}")
        self.rounds: list[Round] = [Round(**r) for r in spec.get("rounds", [])]
        self.pending: dict[str, dict] = dict(spec.get("pending", {}))
        self.injections: list[dict] = list(spec.get("injections", []))  # for the next round
        self.state: str = spec.get("state", "lobby")
        self.seconds_left: float = float(spec.get("seconds_left", spec["seconds"]))
        self.deadline: float | None = None
        self.version = 0
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.model = self.fresh_model(spec["seed"])
        for r in self.rounds:
            self.play_round(r)

    # ------------------------------------------------------------------ making and loading
    @classmethod
    def new(cls, folder: Path, scenario: str, agents: list[str], *, seed: int = 1, rounds: int | None = None,
            per_round: str = "year", seconds: float = 180.0, labels: list[str] | None = None,
            auto_advance: bool = True, pause_between_rounds: bool = False, start: str | int | None = None) -> Game:
        """A new game in ``folder`` (new, empty, or an earlier game of migov's) with a seat for
        each of ``agents`` (organisation or donor names). ``start`` (a date like '2003' or
        '2003Q1', or a step) lets the rules play the years before it, so a lesson begins where
        its story does."""
        path = find_scenario(scenario)
        sc = load_scenario(path)
        if per_round not in ("year", "quarter"):
            raise GameError("--round", f"expected year or quarter, got {per_round!r}")
        round_steps = sc.simulation.steps_per_year if per_round == "year" else 1
        try:
            start_step = 0 if start is None else sc.step_of(start, "--from")
        except ValueError as err:  # the schema's own message: a date like 2003Q1
            raise GameError("--from", getattr(err, "message", str(err))) from None
        most = (sc.simulation.steps - start_step) // round_steps
        if most < 1:
            raise GameError("--from", f"expected a date at least a {per_round} before the scenario's end "
                            f"({sc.simulation.steps} steps from {sc.simulation.start_year}), got {start!r}")
        if rounds is not None and not 1 <= rounds <= most:
            raise GameError("--rounds", f"expected 1 to {most} rounds of a {per_round} for {path.stem} "
                            f"({sc.simulation.steps} steps), got {rounds}")
        if not agents:
            raise GameError("--play", "expected at least one organisation or donor to seat")
        seats = []
        for k, agent in enumerate(agents):
            kind = "organisation" if agent in sc.organisations else "donor" if agent in sc.donors else None
            if kind is None:
                raise GameError("--play", f"expected organisations or donors of {path.stem} "
                                f"({', '.join([*sc.organisations, *sc.donors])}), got {agent!r}")
            if agent in [s["agent"] for s in seats]:
                raise GameError("--play", f"{agent} has two seats; expected each agent once")
            label = labels[k] if labels and k < len(labels) else ""
            seats.append({"agent": agent, "kind": kind, "token": secrets.token_urlsafe(9), "label": label})
        if outdir.recognise(Path(folder)) is not None and (Path(folder) / GAME_FILE).exists():
            raise GameError(str(folder), f"holds a game already; resume it with migov classroom --resume {folder}")
        outdir.open_accumulating(Path(folder), KIND, [path])
        in_library = path.resolve().parent in [d.resolve() for d in library_dirs()]
        spec = {
            "scenario": path.stem if in_library else str(path.resolve()),
            "seed": seed, "round_steps": round_steps, "per_round": per_round, "start_step": start_step,
            "rounds_total": rounds or min(most, 10), "seconds": float(seconds),
            "instructor_token": secrets.token_urlsafe(12), "seats": seats, "rounds": [], "pending": {},
            "injections": [], "state": "lobby", "auto_advance": auto_advance,
            "pause_between_rounds": pause_between_rounds,
            "provenance": provenance(sc.content_hash(), seed),
        }
        game = cls(folder, spec)
        game.save()
        return game

    @classmethod
    def load(cls, folder: Path) -> Game:
        """The game in ``folder``, replayed to where it stood; a game that was playing resumes
        paused, so the room restarts the clock when it is ready."""
        path = Path(folder) / GAME_FILE
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GameError(str(folder), f"no {GAME_FILE} here; expected a migov classroom game's folder") from None
        except ValueError as err:
            raise GameError(str(path), f"not a readable game file ({err})") from None
        _check_spec(spec, path)
        made = (spec.get("provenance") or {}).get("code_hash")
        now = provenance(None, None)["code_hash"]
        if made != now:
            raise GameError(f"{path}: provenance.code_hash", f"the game was played with model code {made}, this is "
                            f"{now}; a replay would not give the same world, so it is not resumed")
        if spec.get("state") == "playing":
            spec["state"] = "paused"
        try:
            return cls(folder, spec)
        except GameError:
            raise
        except ScenarioError as err:
            raise GameError(f"{path}: rounds", f"a recorded round does not replay ({err})") from None
        except (KeyError, TypeError, ValueError) as err:
            raise GameError(str(path), f"not a game file migov wrote ({type(err).__name__}: {err})") from None

    def save(self) -> None:
        """Write the game file atomically (a crash leaves the previous one whole)."""
        with self.lock:
            spec = {**self.spec, "seats": [asdict(s) for s in self.seats], "rounds": [asdict(r) for r in self.rounds],
                    "pending": self.pending, "injections": self.injections, "state": self.state,
                    "seconds_left": self.remaining()}
            tmp = self.folder / f".{GAME_FILE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.folder / GAME_FILE)
            _list_once(self.folder, GAME_FILE, {"provenance": self.spec["provenance"]})

    # ------------------------------------------------------------------ the world
    def fresh_model(self, seed: int) -> MigovModel:
        """The game's world at its first round (the rules having played the years before
        ``--from``), with chance from ``seed``: the game's own, or a rule run's in the debrief."""
        start = self.spec.get("start_step", 0)
        model = MigovModel(self.scenario, seed=seed, steps=start + self.rounds_total * self.round_steps)
        while model.steps < start:
            model.step()
        return model

    def play_round(self, r: Round, model: MigovModel | None = None, seated: bool = True) -> None:
        """Resolve round ``r`` on ``model`` (the game's own by default): its events start, the
        seats' choices sit in their agents' seats for its steps, then every agent is its own again."""
        model = model or self.model
        for ev in r.injected:
            model.inject(self._event(ev))
        kinds = {s.agent: s.kind for s in self.seats}
        model.seat({a: parse_choice(kinds[a], c) for a, c in r.choices.items()} if seated else {})
        while model.steps < r.to_step:
            model.step()
        model.seat({})

    def _event(self, ev: dict) -> Any:
        if "scenario_event" in ev:
            return self.scenario.events[ev["scenario_event"]]
        return Crisis(type="crisis", at=0, **ev["crisis"])  # ``at`` unused: injected events start now

    @property
    def regions(self) -> list[str]:
        """The scenario's host regions, where the instructor may start a crisis."""
        return sorted({h.region for h in self.scenario.hosts.values()})

    @property
    def round_steps(self) -> int:
        return self.spec["round_steps"]

    @property
    def rounds_total(self) -> int:
        return self.spec["rounds_total"]

    @property
    def round_number(self) -> int:
        """The round being chosen now (1-based); rounds_total + 1 when the game is over."""
        return len(self.rounds) + 1

    # ------------------------------------------------------------------ seats
    def seat_of(self, token: str) -> Seat:
        for s in self.seats:
            if _same(s.token, token):
                return s
        raise GameError("seat link", "not a seat of this game; ask the instructor for your link")

    def has_seat(self, token: str) -> bool:
        return any(_same(s.token, token) for s in self.seats)

    def is_instructor(self, token: str) -> bool:
        return _same(self.spec["instructor_token"], token)

    def submit(self, token: str, data: dict, round_number: int | None = None) -> Choice:
        """A seat's choice for this round; it may change it until the round resolves. Given
        ``round_number`` (the round the page showed), a choice that arrives after that round has
        resolved is refused rather than carried into the next one."""
        with self.lock:
            seat = self.seat_of(token)
            if self.state == "finished":
                raise GameError(seat.title, "the game is over")
            if round_number is not None and round_number != self.round_number:
                raise GameError(seat.title, f"round {round_number} ended before your choice arrived; this is round "
                                f"{self.round_number}: choose again")
            choice = parse_choice(seat.kind, data)
            try:
                resolve(self.model, {seat.agent: choice})  # outside the agent's means: one line
            except ScenarioError:
                raise
            except (TypeError, ValueError) as err:
                raise GameError(seat.title, f"a choice of the wrong type ({err})") from None
            self.pending[seat.agent] = choice_data(choice)
            self._touch()
            if self.state == "playing" and self.spec.get("auto_advance", True) and self.all_chosen():
                self.advance()
            return choice

    def withdraw(self, token: str) -> None:
        """Take back a seat's choice: its agent's rule plays the round."""
        with self.lock:
            seat = self.seat_of(token)
            if self.state == "finished":
                raise GameError(seat.title, "the game is over")
            self.pending.pop(seat.agent, None)
            self._touch()

    def all_chosen(self) -> bool:
        return all(s.agent in self.pending for s in self.seats)

    # ------------------------------------------------------------------ the instructor
    def start(self) -> None:
        with self.lock:
            if self.state in ("lobby", "paused"):
                self.state = "playing"
                self.deadline = time.monotonic() + self.seconds_left
                self._touch()
                if self.spec.get("auto_advance", True) and self.all_chosen():  # chosen in the lobby or the pause
                    self.advance()

    def pause(self) -> None:
        with self.lock:
            if self.state == "playing":
                self.seconds_left = self.remaining()
                self.state, self.deadline = "paused", None
                self._touch()

    def inject(self, event: dict) -> str:
        """Queue an event for the next round: ``{"scenario_event": k}`` (the scenario's k-th
        event, brought forward) or ``{"crisis": {"issue": ..., "region": ..., "magnitude": ...}}``."""
        with self.lock:
            if self.state == "finished":
                raise GameError("inject", "the game is over")
            if not isinstance(event, dict):
                raise GameError("inject", "expected a scenario event or a crisis")
            if "scenario_event" in event:
                k = event["scenario_event"]
                if not (isinstance(k, int) and 0 <= k < len(self.scenario.events)):
                    raise GameError("inject", f"expected an event number 0 to {len(self.scenario.events) - 1}")
            elif "crisis" in event and isinstance(event["crisis"], dict):
                c = event["crisis"]
                if c.get("issue") not in self.scenario.issues:
                    raise GameError("inject", f"expected an issue among {', '.join(self.scenario.issues)}")
                if c.get("region") not in self.regions:
                    raise GameError("inject", f"expected a region among {', '.join(self.regions)}")
                try:
                    Crisis(type="crisis", at=0, **c)  # its own bounds (magnitude 0-10)
                except (ValueError, TypeError) as err:
                    msg = err.errors()[0]["msg"] if hasattr(err, "errors") else str(err)
                    raise GameError("inject", f"a crisis: {msg}") from None
            else:
                raise GameError("inject", "expected a scenario event or a crisis")
            self.injections.append(event)
            self._touch()
            return self.describe_event(event)

    def describe_event(self, event: dict) -> str:
        if "scenario_event" in event:
            ev = self.scenario.events[event["scenario_event"]]
            return ev.note or f"{ev.type} ({ev.name or 'scheduled ' + str(ev.at)})"
        c = event["crisis"]
        return f"a crisis: {c['issue']} pressure jumps in {c['region']} (magnitude {c.get('magnitude', 1.0):g})"

    def advance(self) -> Round | None:
        """Resolve this round now: seats that chose play their choice, the others their rule."""
        with self.lock:
            if self.state == "finished":
                return None
            start = self.model.steps
            r = Round(number=self.round_number, from_step=start,
                      to_step=min(start + self.round_steps, self.model.horizon),
                      choices={s.agent: self.pending[s.agent] for s in self.seats if s.agent in self.pending},
                      ruled=[s.agent for s in self.seats if s.agent not in self.pending],
                      injected=list(self.injections))
            self.play_round(r)
            self.rounds.append(r)
            self.pending, self.injections = {}, []
            self.seconds_left = self.spec["seconds"]
            if len(self.rounds) >= self.rounds_total or self.model.steps >= self.model.horizon:
                self.state, self.deadline = "finished", None
            elif self.spec.get("pause_between_rounds") and self.state == "playing":
                self.state, self.deadline = "paused", None  # the room talks; the instructor resumes
            elif self.state == "playing":
                self.deadline = time.monotonic() + self.seconds_left
            self._touch()
            return r

    def tick(self) -> None:
        """Called now and then by the server: a round whose time is up resolves."""
        with self.lock:
            if self.state == "playing" and self.deadline is not None and time.monotonic() >= self.deadline:
                self.advance()

    def remaining(self) -> float:
        if self.state == "playing" and self.deadline is not None:
            return max(0.0, self.deadline - time.monotonic())
        return self.seconds_left

    # ------------------------------------------------------------------ change notification
    def _touch(self) -> None:
        self.version += 1
        self.save()
        self._changed.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the game's version passes ``seen`` (or ``timeout`` seconds); the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout)
            return self.version

    # ------------------------------------------------------------------ what people can pick
    def options(self, seat: Seat) -> dict[str, list[str]]:
        """What a seat may choose from now (the UI's menus)."""
        io, hs = self.model.io, self.model.hs
        if seat.kind == "donor":
            return {"fund": [*io.names, NGOS]}
        i = io.names.index(seat.agent)
        others = [n for n in io.names if n != seat.agent]
        return {"actions": list(ACTIONS), "partner": others, "rival": list(others),
                "engage": [hs.names[h] for h in range(hs.n) if io.office[i, h]], "bid_in": list(hs.names),
                "drop": [io.names[j] for j in range(io.n) if io.partner_io[i, j]]}


def _same(secret: str, given: object) -> bool:
    """Constant-time comparison of a token with what a link gave (any text, bytes compared)."""
    return secrets.compare_digest(str(secret).encode(), str(given).encode())


def _check_spec(spec: object, path: Path) -> None:
    """A game file's shape, before anything is replayed: one line naming the field otherwise."""
    def bad(field: str, expected: str) -> GameError:
        return GameError(f"{path}: {field}", f"expected {expected}")

    if not isinstance(spec, dict):
        raise bad("(top level)", "a mapping (the game file migov writes)")
    for key, kind in (("scenario", str), ("seed", int), ("round_steps", int), ("rounds_total", int),
                      ("instructor_token", str), ("seats", list), ("seconds", (int, float))):
        if not isinstance(spec.get(key), kind) or isinstance(spec.get(key), bool):
            raise bad(key, f"a {kind.__name__ if isinstance(kind, type) else 'number'}")
    if spec.get("state", "lobby") not in STATES:
        raise bad("state", f"one of {', '.join(STATES)}")
    for k, seat in enumerate(spec["seats"]):
        if not isinstance(seat, dict) or not {"agent", "kind", "token"} <= set(seat) \
                or seat["kind"] not in ("organisation", "donor"):
            raise bad(f"seats[{k}]", "agent, kind (organisation or donor) and token")
    if not isinstance(spec.get("rounds", []), list):
        raise bad("rounds", "a list")


LOCK_FILE = ".serving.lock"


def hold_game(folder: Path):
    """Claim the game in ``folder`` for one server: an open file holding an exclusive lock
    (released when it is closed or the process ends, however it ends). Two servers on one game
    would each save their own rounds over the other's."""
    import fcntl

    path = Path(folder) / LOCK_FILE
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise GameError(str(folder), "another migov classroom is serving this game; stop it first") from None
    _list_once(Path(folder), LOCK_FILE)
    return handle


def _list_once(folder: Path, name: str, update: dict | None = None) -> None:
    """List ``name`` among the files migov wrote in the game's folder, if it is not yet."""
    if name not in (outdir.read_manifest(folder) or {}).get("files", []):
        outdir.record_files(folder, [name], update)

