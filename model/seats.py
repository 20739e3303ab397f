"""Choices made by people in an agent's seat instead of its rules (the classroom; ODD 7.10).

A seat replaces only what the agent's rule would *choose* in a step. What follows is left to
the model's own mechanisms: a sought partner may still refuse, a donor still scores bids, a
contest costs what it always costs, a host still consents or not. So human choices and agent
rules meet on equal terms, and a seat that chooses nothing is played by the rule.

An organisation's seat chooses which actions to take (at most ``actions_per_step``, the same
budget of attention as the rule), may end a partnership with another organisation, and, for
three of its actions, chooses at whom: the organisation it seeks as
partner, the rival it contests, the host government it engages; and the hosts where it bids for
projects (the rule bids wherever it has an office and, scouting, where demand looks best). Where
the scenario has a coordination venue, it may also apply to join it (or stay out), vote on who
else joins, and decline the chair when its turn comes. A
donor's seat chooses the share of its envelope it earmarks and the organisations its money may
go to: core money moves toward an even split among them (at the pace pledges move,
``core_inertia``), and its own call for projects is open only to them (and to NGOs if it names
``NGOs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .config import ACTIONS, ScenarioError

if TYPE_CHECKING:
    from .model import MigovModel

NGOS = "NGOs"  # a donor's seat names NGOs as a whole


@dataclass(frozen=True)
class OrganisationChoice:
    """One step's choice for an organisation's seat; names as in the scenario."""

    actions: tuple[str, ...] = ()
    partner: str | None = None  # the organisation ``build_global_partnership`` seeks
    rival: str | None = None  # the organisation ``contest_rival`` contests
    engage: str | None = None  # the host ``build_local_partnership`` works in (one with an office)
    bid_in: tuple[str, ...] | None = None  # hosts to bid in; None: where the rule bids
    drop: str | None = None  # a partner organisation it ends its partnership with (no cost)
    # the coordination venue (ODD 7.7), where the scenario has one
    apply_to_venue: bool | None = None  # outside it: apply at the next chair term, or not; None: the rule
    admit: tuple[str, ...] | None = None  # a member: the applicants it votes for (others against); None: the rule
    decline_chair: bool = False  # a member: decline the chair when its turn comes


@dataclass(frozen=True)
class DonorChoice:
    """One step's choice for a donor's seat."""

    earmarked: float | None = None  # share of the envelope earmarked; None: as it was
    fund: tuple[str, ...] | None = None  # organisations (and "NGOs") its money may go to; None: any


Choice = OrganisationChoice | DonorChoice


@dataclass
class Seated:
    """The choices in force this step, resolved to indices once (``MigovModel.seat``)."""

    actions: dict[int, np.ndarray] = field(default_factory=dict)  # organisation -> action indices
    partner: dict[int, int] = field(default_factory=dict)
    rival: dict[int, int] = field(default_factory=dict)
    engage: dict[int, int] = field(default_factory=dict)
    bid_in: dict[int, np.ndarray] = field(default_factory=dict)  # organisation -> host mask
    drop: dict[int, int] = field(default_factory=dict)  # organisation -> partner it leaves
    apply_venue: dict[int, bool] = field(default_factory=dict)  # organisation -> applies or stays out
    admit: dict[int, np.ndarray] = field(default_factory=dict)  # member -> organisations it votes for
    decline_chair: set[int] = field(default_factory=set)
    fund: dict[int, np.ndarray] = field(default_factory=dict)  # donor -> bidder mask (IOs, then NGOs)


def _index(names: list[str], name: str, what: str, agent: str) -> int:
    if name not in names:
        raise ScenarioError(f"seat {agent}", what, f"expected one of {', '.join(names)}, got {name!r}")
    return names.index(name)


def resolve(model: MigovModel, choices: dict[str, Choice]) -> Seated:
    """Check each choice against the model as it stands and turn names into indices; a
    choice outside the agent's means is a ScenarioError naming the seat and the field."""
    io, dn, hs = model.io, model.dn, model.hs
    seated = Seated()
    for agent, choice in choices.items():
        if isinstance(choice, OrganisationChoice):
            i = _index(io.names, agent, "organisation", agent)
            unknown = [a for a in choice.actions if a not in ACTIONS]
            if unknown:
                raise ScenarioError(f"seat {agent}", "actions", f"expected actions among {', '.join(ACTIONS)}, "
                                    f"got {unknown[0]!r}")
            if len(set(choice.actions)) > model.p.actions_per_step:
                raise ScenarioError(f"seat {agent}", "actions", f"expected at most {model.p.actions_per_step} "
                                    f"actions a step, got {len(set(choice.actions))}")
            seated.actions[i] = np.array(sorted({ACTIONS.index(a) for a in choice.actions}), dtype=np.int64)
            for what, target in (("partner", choice.partner), ("rival", choice.rival)):
                if target is not None:
                    j = _index(io.names, target, what, agent)
                    if j == i:
                        raise ScenarioError(f"seat {agent}", what, "expected another organisation, got itself")
                    getattr(seated, what)[i] = j
            if choice.drop is not None:
                j = _index(io.names, choice.drop, "drop", agent)
                if not io.partner_io[i, j]:
                    raise ScenarioError(f"seat {agent}", "drop", f"expected a partner of {agent}, got {choice.drop!r}")
                seated.drop[i] = j
            if choice.engage is not None:
                h = _index(hs.names, choice.engage, "engage", agent)
                if not io.office[i, h]:
                    raise ScenarioError(f"seat {agent}", "engage", f"expected a host where {agent} has an office, "
                                        f"got {choice.engage!r}")
                seated.engage[i] = h
            if choice.bid_in is not None:
                mask = np.zeros(hs.n, dtype=bool)
                for h in choice.bid_in:
                    mask[_index(hs.names, h, "bid_in", agent)] = True
                seated.bid_in[i] = mask
            _resolve_venue(model, agent, i, choice, seated)
        elif isinstance(choice, DonorChoice):
            d = _index(dn.names, agent, "donor", agent)
            if choice.earmarked is not None and not 0.0 <= choice.earmarked <= 1.0:
                raise ScenarioError(f"seat {agent}", "earmarked",
                                    f"expected a share in [0, 1], got {choice.earmarked!r}")
            if choice.fund is not None:
                mask = np.zeros(io.n + model.ng.n, dtype=bool)
                for name in choice.fund:
                    if name == NGOS:
                        mask[io.n:] = True
                    else:
                        mask[_index([*io.names, NGOS], name, "fund", agent)] = True
                if not mask.any():
                    raise ScenarioError(f"seat {agent}", "fund", "expected at least one organisation or NGOs")
                seated.fund[d] = mask
        else:
            raise ScenarioError(f"seat {agent}", "choice", f"expected an OrganisationChoice or a DonorChoice, "
                                f"got {type(choice).__name__}")
    return seated


def _resolve_venue(model: MigovModel, agent: str, i: int, choice: OrganisationChoice, seated: Seated) -> None:
    """The venue choices: applying (or staying out), votes on applicants, declining the chair."""
    asked = [f for f in ("apply_to_venue", "admit") if getattr(choice, f) is not None]
    asked += ["decline_chair"] if choice.decline_chair else []
    if not asked:
        return
    venue = model.venue
    if venue is None:
        raise ScenarioError(f"seat {agent}", asked[0], "expected a scenario with a coordination venue (it has none)")
    for what in ("apply_to_venue", "decline_chair"):
        if not isinstance(getattr(choice, what), bool | None):
            raise ScenarioError(f"seat {agent}", what, f"expected true or false, got {getattr(choice, what)!r}")
    if choice.apply_to_venue is not None:
        if choice.apply_to_venue and venue.spec.admission == "closed":
            raise ScenarioError(f"seat {agent}", "apply_to_venue", f"expected a venue that admits members "
                                f"(the {venue.spec.name} is closed)")
        if choice.apply_to_venue and venue.spec.un_only and not model.io.un_system[i]:
            raise ScenarioError(f"seat {agent}", "apply_to_venue", f"expected an organisation of the UN system "
                                f"(the {venue.spec.name} admits only those)")
        seated.apply_venue[i] = bool(choice.apply_to_venue)
    if choice.admit is not None:
        if isinstance(choice.admit, str) or not isinstance(choice.admit, tuple | list):
            raise ScenarioError(f"seat {agent}", "admit", f"expected a list of organisations, got {choice.admit!r}")
        mask = np.zeros(model.io.n, dtype=bool)
        for name in choice.admit:
            mask[_index(model.io.names, name, "admit", agent)] = True
        seated.admit[i] = mask
    if choice.decline_chair:
        seated.decline_chair.add(i)


def apply_donor_policies(model: MigovModel, choices: dict[str, Choice]) -> None:
    """A donor's earmarking share is its policy: it stays as the seat set it until changed."""
    for agent, choice in choices.items():
        if isinstance(choice, DonorChoice) and choice.earmarked is not None:
            model.dn.earmarking[model.dn.names.index(agent)] = choice.earmarked


def restrict_calls(model: MigovModel, calls: list) -> None:
    """A seated donor's own calls (its budget line, its answer to appeals) open only to the
    recipients it chose; trust funds and pooled funds keep their own rules."""
    for call in calls:
        mask = model.seated.fund.get(call.donor)
        if mask is not None and call.label != "fund":
            call.bidders = mask


def core_targets(model: MigovModel, target: np.ndarray) -> np.ndarray:
    """Rule targets for core money (D, I), with a seated donor's row replaced by an even split
    over the organisations it chose (its row left to the rule if it chose none)."""
    io_n = model.io.n
    for d, mask in model.seated.fund.items():
        chosen = mask[:io_n]
        if chosen.any():
            target[d] = chosen / chosen.sum()
    return target
