"""What each person in the room sees: a seat sees what its agent sees, the instructor the room.

Plain data (dicts and lists), read from the game's model under the game's lock, so the pages
only lay them out and a test can check them without a browser.
"""

from __future__ import annotations

import numpy as np
from migov.model.config import ACTIONS

from .game import Game, Seat

ACTION_WORDS = {
    "produce_knowledge": "Produce knowledge: reports, data, training (costs core funds; donors who trust you "
                         "take up your framing)",
    "build_global_partnership": "Seek a partnership with another organisation (it may refuse)",
    "build_local_partnership": "Engage a host government (working group) or take a local NGO as partner",
    "bid_for_projects": "Scout for projects beyond your offices (bid where you choose)",
    "stretch_mandate": "Stretch your mandate toward what donors fund (peers resent creep)",
    "contest_rival": "Contest a rival's jurisdiction (hurts it with donors and peers; costs you with peers)",
}


MOST = 400  # events a page lists for a round (a yearly round of the baseline has about 100)


def _round_events(game: Game, since_step: int) -> list[dict]:
    return [e for e in game.model.event_log if e["step"] > since_step]


def _last_round_start(game: Game) -> int:
    return game.rounds[-1].from_step if game.rounds else 0


def venue_view(game: Game) -> dict | None:
    """The coordination venue (a GMG), if the scenario has one: members, chair, products so far."""
    m = game.model
    v = m.venue
    if v is None:
        return None
    started = m.steps >= v.start
    return {"name": v.spec.name, "started": started, "starts": m.date_label(v.start),
            "members": [m.io.names[i] for i in v.members],
            "chair": m.io.names[v.chair] if v.chair is not None else None,
            "products": int(v.products), "own_agenda": int(v.own_agenda)}


def venue_seat(m, i: int, round_steps: int) -> dict | None:
    """What organisation ``i`` may do in the venue in the coming round: apply (outside it, if the
    venue's rules let it in; else why not), or vote and decline the chair (a member). Choices
    act only at the chair terms that begin in the round (``terms``: each with who is in line to
    chair if nobody joins first); with none, ``next_term`` says when the next one begins."""
    v = m.venue
    if v is None:
        return None
    period, io = v.spec.chair_period, m.io
    first = max(m.steps, v.start)
    first += -(first - v.start) % period  # the next step that begins a chair term
    terms = [{"date": m.date_label(t), "in_line": io.names[v.in_line(t)] if v.members.size else None}
             for t in range(first, m.steps + round_steps, period)]
    member = bool(i in v.members)
    why_not = ("you are a member" if member else f"the {v.spec.name} admits no one" if v.spec.admission == "closed"
               else f"the {v.spec.name} admits only UN organisations" if v.spec.un_only and not io.un_system[i]
               else None)
    could_apply = [io.names[j] for j in np.flatnonzero(v.may_apply(m)) if j != i]
    return {"member": member, "may_apply": why_not is None, "why_not": why_not, "terms": terms,
            "next_term": m.date_label(first), "could_apply": could_apply}


def header(game: Game) -> dict:
    m = game.model
    return {"scenario": game.scenario.title, "state": game.state, "round": min(game.round_number, game.rounds_total),
            "rounds": game.rounds_total, "date": m.date_label(m.steps), "per_round": game.spec["per_round"],
            "seconds_left": round(game.remaining()), "finished": game.state == "finished",
            "round_steps": game.round_steps}


def seat_view(game: Game, seat: Seat) -> dict:
    """The seat's agent as it sees itself and its field now."""
    with game.lock:
        m = game.model
        io, dn = m.io, m.dn
        out = {**header(game), "seat": seat.title, "agent": seat.agent, "kind": seat.kind,
               "chosen": game.pending.get(seat.agent), "options": game.options(seat),
               "ruled_last_round": bool(game.rounds) and seat.agent in game.rounds[-1].ruled}
        since = _last_round_start(game)
        events = _round_events(game, since)
        # what touches the seat's agent first (a rival contesting it, a donor funding it), then the rest
        about = [e for e in events if e["agent"] != seat.agent and seat.agent in e["text"]]
        rest = [e for e in events if e["agent"] != seat.agent and seat.agent not in e["text"]]
        out["about_you"], out["moves"] = about[-MOST:], rest[-MOST:]
        out["own_moves"] = [e for e in events if e["agent"] == seat.agent][-MOST:]
        out["venue"] = venue_view(game)
        out["calls"] = [{"donor": c.label if c.label != "fund" else f"fund ({dn.names[c.donor]})",
                         "pool": round(c.pool, 1), "grants": c.grants} for c in m.calls if c.pool > 0]
        if seat.kind == "organisation":
            i = io.names.index(seat.agent)
            out["budget"] = {"core": float(io.core[i]), "earmarked": float(io.earmarked[i]),
                             "income_last_step": float(io.income[i]),
                             "funding_share": float(m.funding_share_io[i])}
            out["legitimacy"] = {"donors": float(io.legit_donor[i].mean()), "hosts": float(io.legit_host[i].mean()),
                                 "peers": float(io.legit_peer[i])}
            out["legitimacy_by_donor"] = dict(zip(dn.names, io.legit_donor[i].round(3).tolist(), strict=True))
            out["offices"] = [m.hs.names[h] for h in np.flatnonzero(io.office[i])]
            out["partners"] = [io.names[j] for j in np.flatnonzero(io.partner_io[i])]
            order = np.argsort(-io.mandate[i])
            out["mandate"] = [(m.issues[k], round(float(io.mandate[i, k]), 2)) for k in order
                              if io.mandate[i, k] > 0.01]
            out["venue_seat"] = venue_seat(m, i, game.round_steps)
            out["max_actions"] = int(m.p.actions_per_step)
            out["action_words"] = {a: ACTION_WORDS[a] for a in ACTIONS}
            out["rivals"] = [{"name": io.names[j], "funding_share": round(float(m.funding_share_io[j]), 3),
                              "peers": round(float(io.legit_peer[j]), 2), "overlap": round(float(m.overlap[i, j]), 2)}
                             for j in range(io.n) if j != i]
        else:
            d = dn.names.index(seat.agent)
            out["budget"] = {"envelope": float(dn.envelope[d]), "earmarked_share": float(dn.earmarking[d]),
                             "disbursed_last_step": float(dn.disbursed[d]),
                             "disbursed_share": float(dn.disbursed[d] / dn.envelope[d]) if dn.envelope[d] > 0 else 0.0}
            out["core_split"] = dict(zip(io.names, m.core_split[d].round(3).tolist(), strict=True))
            out["organisations"] = [{"name": io.names[j], "legitimacy_with_you": round(float(io.legit_donor[j, d]), 2),
                                     "reputation": round(float(io.reputation[j]), 2),
                                     "funding_share": round(float(m.funding_share_io[j]), 3)} for j in range(io.n)]
            out["priorities"] = sorted(zip(m.issues, dn.priorities[d].round(2).tolist(), strict=True),
                                       key=lambda x: -x[1])
        return out


def instructor_view(game: Game) -> dict:
    """The room: every seat's status, the round, and what can be injected."""
    with game.lock:
        last = game.rounds[-1] if game.rounds else None
        seats = [{"seat": s.title, "agent": s.agent, "kind": s.kind, "chosen": s.agent in game.pending,
                  "ruled_last_round": bool(last) and s.agent in last.ruled, "token": s.token} for s in game.seats]
        events = [{"index": k, "label": game.describe_event({"scenario_event": k}),
                   "scheduled": str(ev.at)} for k, ev in enumerate(game.scenario.events)]
        return {**header(game), "seats": seats, "events": events, "regions": game.regions,
                "issues": list(game.scenario.issues),
                "queued": [game.describe_event(e) for e in game.injections],
                "recent": _round_events(game, _last_round_start(game))[-MOST:], "venue": venue_view(game)}
