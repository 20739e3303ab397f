"""The classroom's pages: an instructor's console and a page per seat (Solara).

Started by ``migov classroom`` (``solara run`` on this module, with ``MIGOV_CLASSROOM_GAME`` set
to the game's folder). One game per server: loaded (replayed) when the module is imported, and
shared by every browser session. Links carry the game's tokens: ``/?seat=TOKEN`` for a seat,
``/?instructor=TOKEN`` for the console; a page without a valid token shows nothing of the game.

Every page follows the game live: a thread per page waits on the game's changes (and ticks once
a second for the clock), so a choice, a resolved round or a pause shows everywhere at once, and a
page that reloads or reconnects simply reads the game again: nothing is held in the browser.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from urllib.parse import parse_qs

import markdown
import solara
from migov.model import ScenarioError

from . import debrief, views
from .game import Game

GAME_FOLDER = Path(os.environ.get("MIGOV_CLASSROOM_GAME", "results/classroom/game"))
BASE_URL = os.environ.get("MIGOV_CLASSROOM_BASE", "")  # the address students use, for the seat links
KEEP = "nobody (keep them all)"
APPLY = {"let your rule decide": None, "apply": True, "stay out": False}  # the venue, from outside
APPLY_LABEL = {x: k for k, x in APPLY.items()}
VOTE = ("let your rule vote", "admit any applicant", "turn down every applicant")  # the venue, a member
DEBRIEF_RUNS = int(os.environ.get("MIGOV_CLASSROOM_DEBRIEF_RUNS", "8"))
_game: Game | None = None
_lock = threading.Lock()


def game() -> Game:
    """The game this server plays, loaded once; a thread resolves rounds whose time is up."""
    global _game
    with _lock:
        if _game is None:
            _game = Game.load(GAME_FOLDER)
            threading.Thread(target=_clock, args=(_game,), daemon=True, name="classroom-clock").start()
        return _game


def _clock(g: Game) -> None:
    """Resolve rounds whose time is up. A failure (a full disk when saving) is reported on the
    server's log and the clock goes on: a dead clock would silently stop the game."""
    while True:
        try:
            g.tick()
        except Exception:  # reported, and the room's game must go on
            logging.getLogger("migov.classroom").exception("the round clock failed to resolve a round")
        time.sleep(0.5)  # the round clock's resolution, not a wait on a guess


def use_live(g: Game, what: Callable[[], Hashable] | None = None) -> None:
    """Re-render when the game changes (only when ``what`` of it changes, if given): a room of 30
    pages re-rendering on every choice, or every second, would keep a laptop's two cores busy.
    The clock has its own component (``Clock``), which alone ticks each second."""
    _, set_seen = solara.use_state(None)

    def follow(cancel: threading.Event) -> None:
        version = g.version
        key = what() if what else version
        while not cancel.is_set():
            version = g.wait_for_change(version, timeout=1.0)
            now = what() if what else version
            if now != key:
                key = now
                set_seen(now)

    solara.use_thread(follow, dependencies=[])


@solara.component
def Clock(g: Game, state: str) -> None:
    """The round's clock, re-rendered alone once a second while it runs."""
    left, set_left = solara.use_state(round(g.remaining()))

    def tick(cancel: threading.Event) -> None:
        while not cancel.wait(1.0):
            set_left(round(g.remaining()))

    solara.use_thread(tick, dependencies=[])
    solara.Text(f"{left} s left to choose" if state == "playing" else "", classes=["migov-clock"])


def _quietly(action: Callable, *args) -> None:
    """A console or seat button whose refusal needs no message (the page already shows why)."""
    with contextlib.suppress(ScenarioError):
        action(*args)


def Markdown(text: str, style: dict | None = None) -> None:
    """Markdown shown as HTML. Not ``solara.Markdown``: its widget loads KaTeX (for maths) through
    the server from a CDN on every page, which a classroom's offline network cannot reach; each
    failed fetch is logged and holds a server thread while it waits."""
    css = "; ".join(f"{k}: {x}" for k, x in (style or {}).items())
    solara.HTML(unsafe_innerHTML=markdown.markdown(text, extensions=["tables"]), style=css,
                classes=["solara-markdown", "rendered_html", "jp-RenderedHTMLCommon"])


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


# ---------------------------------------------------------------------------- shared pieces
@solara.component
def Header(v: dict, who: str, g: Game) -> None:
    state = {"lobby": "waiting to start", "playing": "playing", "paused": "paused", "finished": "game over"}[v["state"]]
    Markdown(f"## {who}\n**{v['scenario']}** · round {v['round']} of {v['rounds']} (a {v['per_round']}) · "
             f"{v['date']} · <span class='migov-state'>{state}</span>")
    Clock(g, v["state"])


@solara.component
def EventList(events: list[dict], title: str) -> None:
    """A round's events, newest first, in a box that scrolls (a year of the field is ~100 lines)."""
    with solara.Card(f"{title} ({len(events)})", margin=0):
        if not events:
            solara.Text("nothing")
        lines = [f"- {e['date']} · {e['text']}" for e in events[::-1]]
        Markdown("\n".join(lines), style={"max-height": "22em", "overflow-y": "auto"})


@solara.component
def VenueCard(venue: dict | None) -> None:
    if venue is None:
        return
    with solara.Card(venue["name"], margin=0, classes=["migov-venue"]):
        if not venue["started"]:
            Markdown(f"Meets from {venue['starts']}.")
            return
        Markdown(f"**Members** {', '.join(venue['members']) or 'none'} · **chair** {venue['chair'] or 'nobody'}"
                 f" · **joint products** {venue['products']} ({venue['own_agenda']} on the chair's own issue)")


# ---------------------------------------------------------------------------- a seat
def use_draft(v: dict, fresh: dict) -> tuple[dict, Callable[..., None], Callable[[], dict]]:
    """A seat's draft, kept per round: the render that first shows a new round shows its fresh
    draft (``fresh``, from the seat's choice in it), so no reset follows that a click could race,
    and an edit made on a page one render behind goes to the round it was made in. Returns the
    draft as rendered, ``edit(field=value, ...)``, and ``now()``, the draft read when called (the
    live thread re-renders the page while people click: a closure may be a render behind)."""
    store = solara.use_reactive({})
    rnd = v["round"]

    def now() -> dict:
        return store.value.get(rnd, fresh)

    def edit(**changes) -> None:
        store.value = {**store.value, rnd: {**now(), **changes}}

    return now(), edit, now


@solara.component
def SendButtons(g: Game, token: str, v: dict, draft: Callable[[], dict], hint: str = "") -> None:
    """A form's last line: send the draft (read when clicked) for the round the page shows, or
    give the round back to the agent's rule; a refusal shows until the round changes, else ``hint``."""
    refusal = solara.use_reactive((0, ""))

    def send() -> None:
        try:
            g.submit(token, draft(), v["round"])
            refusal.value = (v["round"], "")
        except ScenarioError as err:
            refusal.value = (v["round"], str(err))

    with solara.Row():
        solara.Button("Send my choice", on_click=send, color="primary", classes=["migov-send"],
                      disabled=v["state"] == "finished")
        solara.Button("Let my agent's rule decide", on_click=lambda: _quietly(g.withdraw, token),
                      classes=["migov-withdraw"], disabled=v["chosen"] is None)
    message = refusal.value[1] if refusal.value[0] == v["round"] else ""
    solara.Text(message or hint, style={"color": "#B00020"} if message else {})


@solara.component
def OrganisationForm(g: Game, token: str, v: dict) -> None:
    chosen = v["chosen"] or {}
    admit = chosen.get("admit")
    d, edit, now = use_draft(v, {"actions": list(chosen.get("actions") or []), "partner": chosen.get("partner"),
                                 "rival": chosen.get("rival"), "engage": chosen.get("engage"),
                                 "bid_in": list(chosen.get("bid_in") or []), "drop": chosen.get("drop"),
                                 "apply_to_venue": chosen.get("apply_to_venue"),
                                 "vote": VOTE[0] if admit is None else VOTE[1] if admit else VOTE[2],
                                 "decline_chair": bool(chosen.get("decline_chair"))})
    opts, most, acts = v["options"], v["max_actions"], d["actions"]
    every = f", taken in each of the round's {v['round_steps']} steps" if v["round_steps"] > 1 else ""
    with solara.Card(f"Your choice for this round (up to {most} actions{every})", margin=0, classes=["migov-choice"]):
        for a, words in v["action_words"].items():
            def toggle(on: bool, a: str = a) -> None:
                edit(actions=[x for x in now()["actions"] if x != a] + ([a] if on else []))

            solara.Checkbox(label=words, value=a in acts, on_value=toggle,
                            disabled=a not in acts and len(acts) >= most)
        # always there (disabled until the action is ticked): a form whose widgets come and go
        # would lose a click that lands while the page re-renders
        solara.Select("partner to seek (empty: the rule picks)", values=opts["partner"], value=d["partner"],
                      on_value=lambda x: edit(partner=x), disabled="build_global_partnership" not in acts)
        solara.Select("rival to contest (empty: the rule picks)", values=opts["rival"], value=d["rival"],
                      on_value=lambda x: edit(rival=x), disabled="contest_rival" not in acts)
        solara.Select("host government to engage (empty: the rule picks)", values=opts["engage"], value=d["engage"],
                      on_value=lambda x: edit(engage=x),
                      disabled="build_local_partnership" not in acts or not opts["engage"])
        solara.SelectMultiple("bid for projects only in (empty: wherever you are present)", values=d["bid_in"],
                              all_values=opts["bid_in"], on_value=lambda x: edit(bid_in=list(x)))
        solara.Select("end the partnership with (free; not one of your actions)", values=[KEEP, *opts["drop"]],
                      value=d["drop"] or KEEP, on_value=lambda x: edit(drop=None if x == KEEP else x),
                      disabled=not opts["drop"])
        if v["venue_seat"] is not None:
            VenueChoices(v, d, edit)

        def draft() -> dict:
            x = now()
            chose = x["actions"]
            vs = v["venue_seat"]
            venue = {} if vs is None else {
                "apply_to_venue": x["apply_to_venue"], "decline_chair": x["decline_chair"],
                "admit": None if x["vote"] == VOTE[0] else vs["could_apply"] if x["vote"] == VOTE[1] else []}
            return {"actions": chose,
                    "partner": x["partner"] if "build_global_partnership" in chose else None,
                    "rival": x["rival"] if "contest_rival" in chose else None,
                    "engage": x["engage"] if "build_local_partnership" in chose else None,
                    "bid_in": x["bid_in"] or None, "drop": x["drop"], **venue}

        hint = "Ticking nothing and sending means doing nothing this round." if v["chosen"] is None else ""
        SendButtons(g, token, v, draft, hint)


@solara.component
def VenueChoices(v: dict, d: dict, edit: Callable[..., None]) -> None:
    """An organisation's moves in the coordination venue (ODD 7.7): outside it, apply or stay out;
    a member, vote on applicants and decline the chair. They act at the chair terms that begin in
    the round; a round without one offers none of them."""
    vs, name = v["venue_seat"], v["venue"]["name"]
    terms = vs["terms"]
    # always there (empty when a term comes): widgets that come and go are rebuilt, and lose clicks
    solara.Text("" if terms else f"The {name}: no chair term begins this round (the next: {vs['next_term']}), "
                "so there is nothing to apply for, vote on or chair.", classes=["migov-venue-quiet"])
    when = ", ".join(t["date"] for t in terms)
    solara.Select(f"the {name}: apply to join when a chair term begins ({when or 'none this round'})",
                  values=list(APPLY), value=APPLY_LABEL[d["apply_to_venue"]],
                  on_value=lambda x: edit(apply_to_venue=APPLY[x]), disabled=not (vs["may_apply"] and terms))
    solara.Text(f"You cannot apply: {vs['why_not']}." if vs["why_not"] and not vs["member"] else "",
                style={"font-size": "85%", "color": "#555"})
    solara.Select(f"your vote on organisations applying to the {name}", values=list(VOTE), value=d["vote"],
                  on_value=lambda x: edit(vote=x), disabled=not (vs["member"] and terms))
    line = ", ".join(f"{t['date']} {'you' if t['in_line'] == v['agent'] else t['in_line']}" for t in terms)
    solara.Checkbox(label=f"decline to chair the {name} if your turn comes (in line, if nobody joins first: "
                          f"{line or 'no term this round'})", value=d["decline_chair"],
                    on_value=lambda x: edit(decline_chair=bool(x)), disabled=not (vs["member"] and terms))


@solara.component
def DonorForm(g: Game, token: str, v: dict) -> None:
    chosen = v["chosen"] or {}
    earmarked = chosen["earmarked"] if chosen.get("earmarked") is not None else v["budget"]["earmarked_share"]
    d, edit, now = use_draft(v, {"earmarked": float(earmarked), "fund": list(chosen.get("fund") or [])})
    with solara.Card("Your choice for this round", margin=0, classes=["migov-choice"]):
        solara.SliderFloat("share of your envelope given as earmarked project grants", value=d["earmarked"],
                           on_value=lambda x: edit(earmarked=float(x)), min=0.0, max=1.0, step=0.05)
        solara.SelectMultiple("fund only (empty: whoever the calls pick)", values=d["fund"],
                              all_values=v["options"]["fund"], on_value=lambda x: edit(fund=list(x)))

        SendButtons(g, token, v, lambda: {"earmarked": now()["earmarked"], "fund": now()["fund"] or None})


@solara.component
def SeatStatus(v: dict) -> None:
    b = v["budget"]
    if v["kind"] == "organisation":
        legit = v["legitimacy"]
        rows = [f"**Budget** {fmt(b['core'] + b['earmarked'])}m (core {fmt(b['core'])}m, earmarked "
                f"{fmt(b['earmarked'])}m) · last step's income {fmt(b['income_last_step'])}m · "
                f"share of funding {b['funding_share']:.0%}",
                f"**Legitimacy** with donors {legit['donors']:.2f} · with hosts {legit['hosts']:.2f} · "
                f"with peers {legit['peers']:.2f}",
                "**By donor** " + " · ".join(f"{d} {x:.2f}" for d, x in v["legitimacy_by_donor"].items()),
                f"**Offices** in {len(v['offices'])} countries: {', '.join(v['offices']) or 'none'}",
                f"**Partners** {', '.join(v['partners']) or 'none'}",
                "**Mandate** " + ", ".join(f"{k} {x:.2f}" for k, x in v["mandate"])]
        table = ["| rival | share of funding | standing with peers | overlap with you |", "|---|---|---|---|"]
        table += [f"| {r['name']} | {r['funding_share']:.0%} | {r['peers']:.2f} | {r['overlap']:.2f} |"
                  for r in v["rivals"]]
    else:
        rows = [f"**Envelope** {fmt(b['envelope'])}m a step · earmarked {b['earmarked_share']:.0%} · "
                f"paid out last step {fmt(b['disbursed_last_step'])}m ({b['disbursed_share']:.0%} of the envelope; "
                "money no chosen recipient can take stays unspent)",
                "**Core money goes to** " + ", ".join(f"{k} {x:.0%}" for k, x in v["core_split"].items() if x >= 0.01),
                "**Your priorities** " + ", ".join(f"{k} {x:.2f}" for k, x in v["priorities"] if x > 0)]
        table = ["| organisation | legitimacy with you | reputation | share of funding |", "|---|---|---|---|"]
        table += [f"| {o['name']} | {o['legitimacy_with_you']:.2f} | {o['reputation']:.2f} | {o['funding_share']:.0%} |"
                  for o in v["organisations"]]
    with solara.Card("Where you stand", margin=0, classes=["migov-status"]):
        Markdown("\n\n".join(rows))
        Markdown("\n".join(table))
    calls = ["| call | money | grants |", "|---|---|---|"] + [f"| {c['donor']} | {fmt(c['pool'])}m | {c['grants']} |"
                                                             for c in v["calls"]]
    with solara.Card("Calls for projects last step", margin=0):
        Markdown("\n".join(calls))


@solara.component
def SeatPage(g: Game, token: str) -> None:
    seat = g.seat_of(token)
    use_live(g, lambda: (len(g.rounds), g.state, str(g.pending.get(seat.agent)), len(g.injections)))
    v = views.seat_view(g, seat)
    Header(v, f"You play {seat.agent}" + (f" ({seat.label})" if seat.label else ""), g)
    with solara.Column():  # notices come and go inside one box, so the form below keeps its state
        if v["ruled_last_round"]:
            solara.Warning("You did not choose in time last round: your agent's own rule played it.")
        if v["state"] == "lobby":
            solara.Info("Waiting for the instructor to start the game. Look around: this is where you stand.")
        elif v["state"] == "paused":
            solara.Info("The instructor has paused the game; the clock stands still.")
        if v["state"] == "finished":
            solara.Info("The game is over. The debrief is on the instructor's screen.")
        elif v["chosen"] is not None:
            solara.Success("Your choice is in. You can change it until the round ends.", classes=["migov-chosen"])
    with solara.Columns([3, 2]):
        with solara.Column():
            SeatStatus(v)
        with solara.Column():
            if v["state"] != "finished":
                (OrganisationForm if v["kind"] == "organisation" else DonorForm)(g, token, v)
            VenueCard(v["venue"])
            EventList(v["about_you"], "Last round, about you")
            EventList(v["own_moves"], "Last round, your own moves")
            EventList(v["moves"], "Last round, the rest of the field")


# ---------------------------------------------------------------------------- the instructor
@solara.component
def InjectPanel(g: Game, v: dict) -> None:
    event, set_event = solara.use_state(None)
    region, set_region = solara.use_state(v["regions"][0] if v["regions"] else None)
    issue, set_issue = solara.use_state(v["issues"][0])
    size, set_size = solara.use_state(3.0)
    message, set_message = solara.use_state("")
    labels = {f"{e['label']} (scheduled {e['scheduled']})": e["index"] for e in v["events"]}

    def queue(ev: dict) -> None:
        try:
            set_message("queued for the next round: " + g.inject(ev))
        except ScenarioError as err:
            set_message(str(err))

    if v["state"] == "finished":
        with solara.Card("Inject an event", margin=0):
            solara.Text("the game is over")
        return
    with solara.Card("Inject an event into the next round", margin=0):
        if labels:
            solara.Select("one of the scenario's events, now", values=list(labels), value=event, on_value=set_event)
            solara.Button("Queue this event", disabled=event is None,
                          on_click=lambda: queue({"scenario_event": labels[event]}))
        solara.Select("a crisis in", values=v["regions"], value=region, on_value=set_region)
        solara.Select("pressure on", values=v["issues"], value=issue, on_value=set_issue)
        solara.SliderFloat("size of the jump", value=size, min=0.5, max=10.0, step=0.5, on_value=set_size)
        solara.Button("Queue this crisis", classes=["migov-crisis"],
                      on_click=lambda: queue({"crisis": {"region": region, "issue": issue, "magnitude": size}}))
        if v["queued"]:
            Markdown("Queued: " + "; ".join(v["queued"]))
        if message:
            solara.Text(message)


@solara.component
def DebriefPanel(g: Game, state: str, rounds: int) -> None:
    made, set_made = solara.use_state(None)
    busy, set_busy = solara.use_state(False)
    failed, set_failed = solara.use_state("")
    ready = rounds > 0 and state in ("paused", "finished")  # props, so the panel follows the game

    def make() -> None:
        set_busy(True)
        try:
            set_made(str(debrief.write_debrief(g, DEBRIEF_RUNS)))
            set_failed("")
        except ScenarioError as err:
            set_failed(str(err))
        finally:
            set_busy(False)

    with solara.Card("Debrief", margin=0, classes=["migov-debrief"]):
        solara.Button("Make the debrief (the game against the rules)", on_click=make, disabled=busy or not ready,
                      classes=["migov-make-debrief"])
        solara.Text("" if ready else "after at least one round, with the game paused or over")
        if failed:
            solara.Error(failed)
        if busy:
            solara.ProgressLinear(True)
            solara.Text("replaying the game's world with the rules alone...")
        if made:
            folder = Path(made)
            Markdown(f"Written to `{folder}`: `debrief.pdf`, the figures as PNG, and the tables as CSV.",
                     style={"font-size": "90%"})
            Markdown((folder / "debrief.md").read_text(encoding="utf-8"))
            for name in ("against_rules", "outcomes", "funding_shares", "legitimacy", "mandates"):
                solara.Image(folder / f"{name}.png", width="100%")


@solara.component
def InstructorPage(g: Game) -> None:
    use_live(g)
    v = views.instructor_view(g)
    Header(v, "Instructor", g)
    with solara.Row():
        solara.Button("Start" if v["state"] == "lobby" else "Resume", on_click=g.start, color="primary",
                      disabled=v["state"] not in ("lobby", "paused"), classes=["migov-start"])
        solara.Button("Pause", on_click=g.pause, disabled=v["state"] != "playing", classes=["migov-pause"])
        solara.Button("End the round now", on_click=g.advance, disabled=v["state"] in ("lobby", "finished"),
                      classes=["migov-advance"])
    # the console is projected: seat links (keys to the agencies) only on request, not on the wall
    show_links = solara.use_reactive(False)
    base = BASE_URL or solara.use_router().root_path or ""
    rows = ["| seat | plays | this round | last round |" + (" link |" if show_links.value else ""),
            "|---|---|---|---|" + ("---|" if show_links.value else "")]
    for s in v["seats"]:
        status = "<span class='migov-has-chosen'>chosen</span>" if s["chosen"] else "waiting"
        link = f" `{base}/?seat={s['token']}` |" if show_links.value else ""
        rows.append(f"| {s['seat']} | {s['agent']} ({s['kind']}) | {status} | "
                    f"{'timed out: played by its rule' if s['ruled_last_round'] else ''} |{link}")
    chosen = sum(s["chosen"] for s in v["seats"])
    with solara.Card(f"Seats: {chosen} of {len(v['seats'])} have chosen", margin=0, classes=["migov-seats"]):
        Markdown("\n".join(rows))
        solara.Checkbox(label="show the seat links (not while projecting: each is the key to an agency; "
                              "they are also in links.md)", value=show_links)
    VenueCard(v["venue"])
    with solara.Columns([1, 1]):
        InjectPanel(g, v)
        EventList(v["recent"], "Last round in the field")
    DebriefPanel(g, v["state"], len(g.rounds))


@solara.component
def Page() -> None:
    router = solara.use_router()
    query = parse_qs(router.search or "")
    try:
        g = game()
    except ScenarioError as err:
        solara.Error(str(err))
        return
    seat, instructor = query.get("seat", [""])[0], query.get("instructor", [""])[0]
    if instructor and g.is_instructor(instructor):
        InstructorPage(g)
    elif seat and g.has_seat(seat):
        SeatPage(g, seat)
    else:
        Markdown("## migov classroom\nThis link is not a seat of this game. Ask the instructor for yours.")
