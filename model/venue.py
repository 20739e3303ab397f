"""Phase 7: the coordination venue (ODD 7.7), after the Global Migration Group (seed 004).

The chair rotates among members every ``chair_period`` steps ('a new agency taking over the
chairmanship every six months'). Without a budget a member may decline to chair for lack of
resources ('members cannot be forced to chair and may decline'). A joint product (a report, a
joint statement) appears with some probability; its agenda is the chair's own strongest issue
('chairing members tend to use the group to pursue their own mandate') unless a permanent
secretariat sets a common agenda. Products add knowledge on the agenda issue to every member,
visibility with peers, and may tie two members in a partnership (working-level
relationships). A budget, paid pro rata by donors, pays for products and makes them likelier.

The venue grows by its own admission rule (ODD 7.7): at the start of each chair term a
non-member applies when the venue is worth it (its record of products, times how far its mandate
fits the members' common agenda, times its want of standing among peers), and the members
admit it under the rule: never (closed), always (open), by majority or by consensus, each member
less likely to accept a candidate the closer its mandate is to its own (a rival: 'overlapping
fields of competence'). Membership decides who chairs, who gains from products, who is tied.
In the classroom, people in organisations' seats may apply or stay out, vote, and decline the
chair in place of these rules (``seats.py``, ODD 7.10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel

SECRETARIAT_BONUS = 0.4
BUDGET_BONUS = 0.3


class CoordinationVenue:
    def __init__(self, model: MigovModel):
        spec = model.scenario.venue
        assert spec is not None
        self.spec = spec
        self.members = np.array([model.io.names.index(m) for m in spec.members], dtype=np.int64)  # in order of joining
        self.start = model.scenario.step_of(spec.start, "venue.start")
        self.account = 0.0
        self.chair: int | None = None
        self.products = 0
        self.own_agenda = 0  # products whose agenda is the chair's own strongest issue

    def levy(self, step: int) -> float:
        """The venue budget donors pay this step."""
        return self.spec.budget if step >= self.start else 0.0

    def worth(self, model: MigovModel, t: int) -> np.ndarray:
        """(I,) what joining is worth to each organisation: the venue's record of products per
        step (the schema's product probability counts as one step's record before any), times
        the fit of its mandate with the members' common agenda (cosine), times its want of peer
        standing (1 - L^P)."""
        io = model.io
        rate = (self.products + self.spec.product_probability) / (t - self.start + 1)
        agenda = io.mandate[self.members].mean(axis=0)
        norm = np.linalg.norm(io.mandate, axis=1) * np.linalg.norm(agenda)
        fit = np.divide(io.mandate @ agenda, norm, out=np.zeros(io.n), where=norm > 0)
        return rate * fit * (1.0 - io.legit_peer)

    def may_apply(self, model: MigovModel) -> np.ndarray:
        """(I,) who may apply now: not a member, of the UN system if the venue admits only
        those; nobody if it is closed."""
        io = model.io
        mask = np.full(io.n, self.spec.admission != "closed")
        mask[self.members] = False
        return mask & io.un_system if self.spec.un_only else mask

    def in_line(self, t: int) -> int:
        """The member in line to chair the term that step ``t`` falls in (rotation in order of joining)."""
        return int(self.members[((t - self.start) // self.spec.chair_period) % self.members.size])

    def admit(self, model: MigovModel, t: int) -> None:
        """Applications at the start of a chair term, the most eager applicant first; each
        admitted member votes on the next. A seat that stays out where its rule would apply still
        has its votes drawn (and ignored), and one that applies where its rule would not comes
        after the rule's applicants, so the rule's applicants meet the same draws either way."""
        rule = self.spec.admission
        if rule == "closed":
            return
        io, chose = model.io, model.seated.apply_venue
        worth = self.worth(model, t)
        eligible = np.flatnonzero(self.may_apply(model))
        eligible = eligible[np.argsort(-worth[eligible], kind="stable")]  # the most eager first
        by_rule = worth[eligible] > self.spec.admission_threshold
        by_seat = np.array([bool(chose.get(int(i))) for i in eligible], dtype=bool) & ~by_rule
        for i in [*eligible[by_rule], *eligible[by_seat]]:
            # a member is less likely to accept a rival: probability 1 - rivalry x mandate overlap
            accept = model.rng.random(self.members.size) >= self.spec.rivalry * model.overlap[self.members, i]
            if chose.get(int(i)) is False:
                continue  # its seat stays out
            for k, member in enumerate(self.members):  # a seated member votes as it chose
                votes_for = model.seated.admit.get(int(member))
                if votes_for is not None:
                    accept[k] = votes_for[i]
            admitted = (rule == "open" or (rule == "majority" and 2 * accept.sum() > accept.size)
                        or (rule == "consensus" and accept.all()))
            name = io.names[i]
            if admitted:
                self.members = np.append(self.members, i)
                model.log("venue", f"the {self.spec.name} admits {name}", name)
            else:
                model.log("venue", f"the {self.spec.name} turns down {name}'s application", name)

    def meet(self, model: MigovModel) -> None:
        t = model.steps - 1
        model.venue_visibility[:] = 0.0  # this meeting's visibility feeds next step's legitimacy
        if t < self.start or self.members.size == 0:
            return
        io, spec = model.io, self.spec
        new_term = (t - self.start) % spec.chair_period == 0
        if new_term:
            self.admit(model, t)
            candidate = self.in_line(t)
            cost = model.p.knowledge_cost
            funded = spec.secretariat or self.account >= cost
            short = not funded and model.rng.random() > min(1.0, io.core[candidate] / (4 * cost + 1e-12))
            if short or candidate in model.seated.decline_chair:  # for lack of resources, or a seat's choice
                self.chair = None
                model.log("venue", f"{io.names[candidate]} declines to chair the {spec.name}", io.names[candidate])
            else:
                self.chair = candidate
                model.log("venue", f"{io.names[candidate]} takes the chair of the {spec.name}", io.names[candidate])
        if self.chair is not None:
            model.venue_visibility[self.chair] += 0.5
        prob = spec.product_probability
        if spec.secretariat:
            prob += SECRETARIAT_BONUS
        cost = model.p.knowledge_cost
        if self.account > 0 and self.account >= cost:
            prob += BUDGET_BONUS
        if self.chair is None and not spec.secretariat:
            prob = 0.0
        if model.rng.random() >= min(prob, 1.0):
            return
        if spec.secretariat:
            agenda = int(np.argmax(io.mandate[self.members].mean(axis=0)))
        else:
            agenda = int(np.argmax(io.mandate[self.chair]))
        if self.account > 0 and self.account >= cost:
            self.account -= cost
            model.ledger.spend("venue", cost)
        if self.chair is not None and agenda == int(np.argmax(io.mandate[self.chair])):
            self.own_agenda += 1
        io.knowledge[self.members, agenda] += 0.5 * model.p.knowledge_rate
        model.venue_visibility[self.members] += 0.2
        self.products += 1
        a, b = model.rng.choice(self.members, size=2, replace=False) if self.members.size > 1 else (0, 0)
        if a != b and not io.partner_io[a, b]:
            io.partner_io[a, b] = io.partner_io[b, a] = True
            text = f"{io.names[a]} and {io.names[b]} start working together in the {spec.name}"
            model.log("partnership", text, spec.name)
        model.log("venue", f"the {spec.name} issues a joint product on {model.issues[agenda]}", spec.name)
