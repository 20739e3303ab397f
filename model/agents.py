"""The field's actors as Mesa agents.

Each agent is a named view onto one row of the model's state arrays (see ``state.py``), so
that what an agent *does* reads in the domain's words here while the pairwise arithmetic stays
vectorised in the submodules. Organisations choose their actions themselves; donors, hosts and
NGOs act through the model's allocation, consent and subcontracting submodels, which treat them
all at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np
import pandas as pd
from pydantic import BaseModel

from .config import ACTIONS, Scenario
from .measures import mandate_breadth as breadth_of_mandates
from .state import build_state

if TYPE_CHECKING:
    from .model import MigovModel

KNOWLEDGE, GLOBAL, LOCAL, BID, STRETCH, CONTEST = range(len(ACTIONS))
# ndarray.sum() and .mean() without their Python-level wrappers (the same sums, bit for bit): the
# agent table reads these properties for every agent every step
SUM = np.add.reduce


class FieldAgent(mesa.Agent):
    """A named actor bound to row ``idx`` of its kind's arrays.

    ``reported`` maps the columns of the agent table (Mesa's ``agent_reporters``, see
    ``MigovModel``) that this kind fills to the attribute that holds each; other kinds leave them
    empty (None), as Mesa does for an attribute an agent lacks.
    """

    kind = "agent"
    reported: ClassVar[dict[str, str]] = {}

    def __init__(self, model: MigovModel, idx: int, name: str):
        super().__init__(model)
        self.idx = idx
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class InternationalOrganisation(FieldAgent):
    """An IO competing for funding and legitimacy (Korneev; Bartels; Bradley)."""

    kind = "organisation"
    reported: ClassVar[dict[str, str]] = {
        "budget": "budget",
        "core_funds": "core_funds",
        "earmarked_funds": "earmarked_funds",
        "income": "income",
        "offices": "offices",
        "countries": "countries",
        "legitimacy_donors": "legitimacy_donors",
        "legitimacy_hosts": "legitimacy_hosts",
        "legitimacy_peers": "legitimacy_peers",
        "knowledge": "knowledge_stock",
        "mandate_breadth": "mandate_breadth",
        "reputation": "reputation",
        "partners": "partner_count",
        "members": "member_count",
        **{f"p_{action}": f"p_{action}" for action in ACTIONS},
    }

    @classmethod
    def reports(cls, model: MigovModel) -> dict[str, np.ndarray]:
        """Every ``reported`` column for all agents of this kind at once, in row order, as arrays
        of their own (copies, so later steps do not change them): the values the properties give
        one agent at a time (a test holds them equal, in value and type), in bulk for the agent
        table (``collect.py``). Each kind has one; a kind without it is read agent by agent."""
        io = model.io
        out = {
            "budget": io.core + io.earmarked, "core_funds": io.core, "earmarked_funds": io.earmarked,
            "income": io.income, "offices": io.locations.sum(axis=1), "countries": io.office.sum(axis=1),
            "legitimacy_donors": io.legit_donor.sum(axis=1) / io.legit_donor.shape[1],
            "legitimacy_hosts": io.legit_host.sum(axis=1) / io.legit_host.shape[1],
            "legitimacy_peers": io.legit_peer, "knowledge": io.knowledge.sum(axis=1),
            "mandate_breadth": breadth_of_mandates(io.mandate), "reputation": io.reputation,
            "partners": io.partner_io.sum(axis=1), "members": io.member.sum(axis=1),
            **{f"p_{action}": model.probs[:, j] for j, action in enumerate(ACTIONS)},
        }
        return {k: np.array(v) for k, v in out.items()}

    # ---------------------------------------------------------------- state, read from arrays
    @property
    def mandate(self) -> np.ndarray:
        return self.model.io.mandate[self.idx]

    @property
    def knowledge(self) -> np.ndarray:
        return self.model.io.knowledge[self.idx]

    @property
    def core_funds(self) -> float:
        return float(self.model.io.core[self.idx])

    @property
    def earmarked_funds(self) -> float:
        return float(self.model.io.earmarked[self.idx])

    @property
    def budget(self) -> float:
        return self.core_funds + self.earmarked_funds

    @property
    def offices(self) -> int:
        """Field locations: country offices and the further locations its projects need."""
        return int(SUM(self.model.io.locations[self.idx]))

    @property
    def countries(self) -> int:
        """Host countries where it has an office."""
        return int(np.count_nonzero(self.model.io.office[self.idx]))

    @property
    def malleability(self) -> float:
        return float(self.model.io.malleability[self.idx])

    @property
    def efficiency(self) -> float:
        return float(self.model.io.efficiency[self.idx])

    @property
    def reputation(self) -> float:
        """Donors' estimate of its efficiency, learnt from project outcomes."""
        return float(self.model.io.reputation[self.idx])

    @property
    def partners(self) -> list[str]:
        """Organisations it is in a global-global partnership with."""
        io = self.model.io
        return [io.names[j] for j in np.flatnonzero(io.partner_io[self.idx])]

    @property
    def partner_count(self) -> int:
        return int(np.count_nonzero(self.model.io.partner_io[self.idx]))

    @property
    def member_count(self) -> int:
        """Host states that are members of it (ODD 7.7, membership)."""
        return int(np.count_nonzero(self.model.io.member[self.idx]))

    @property
    def income(self) -> float:
        """Core money and accepted grants received this step."""
        return float(self.model.io.income[self.idx])

    @property
    def knowledge_stock(self) -> float:
        """Knowledge summed over issues."""
        return float(SUM(self.model.io.knowledge[self.idx]))

    @property
    def mandate_breadth(self) -> float:
        """Inverse Simpson index of the mandate (ODD 7.9): ``measures.mandate_breadth`` for one row."""
        shares = self.model.io.mandate[self.idx] / max(SUM(self.model.io.mandate[self.idx]), 1e-12)
        return float(1.0 / max(SUM(shares * shares), 1e-12))

    @property
    def legitimacy_donors(self) -> float:
        row = self.model.io.legit_donor[self.idx]
        return float(SUM(row) / row.size)

    @property
    def legitimacy_hosts(self) -> float:
        row = self.model.io.legit_host[self.idx]
        return float(SUM(row) / row.size)

    @property
    def legitimacy_peers(self) -> float:
        return float(self.model.io.legit_peer[self.idx])

    @property
    def strategy(self) -> np.ndarray:
        """Probability of each action under the softmax rule (ODD 7.8)."""
        return self.model.strategy_probabilities()[self.idx]

    # ---------------------------------------------------------------- the step, phase 2
    def act(self, actions: np.ndarray | None = None) -> None:
        """Carry out this step's actions (drawn from the strategy if not given)."""
        if actions is None:
            actions = self.model.draw_actions()[self.idx]
        io = self.model.io
        io.chosen[self.idx] = False
        j = self.model.seated.drop.get(self.idx)
        if j is not None and io.partner_io[self.idx, j]:  # its seat ends a partnership (ODD 7.10)
            io.partner_io[self.idx, j] = io.partner_io[j, self.idx] = False
            self.model.log("partnership", f"{self.name} ends its partnership with {io.names[j]}", self.name)
        for a in sorted(actions):
            io.chosen[self.idx, a] = True
            self._ACTION_METHODS[a](self)

    def produce_knowledge(self) -> None:
        """Reports, data and training on the issues it works on; co-opts local experts.

        Knowledge is produced where the IO is present and in proportion to its mandate (Korneev:
        'knowledge-generating activities implying co-optation of ... local experts'). Donors who
        find the IO legitimate take up its framing of which issues matter (Bartels: knowledge
        'creating or sustaining demand for its own services').
        """
        m = self.model
        focus = self.mandate * m.relevance[self.idx]
        if focus.sum() <= 0 or not m.pay_from_core(self.idx, m.p.knowledge_cost, "knowledge"):
            return
        m.io.knowledge[self.idx] += m.p.knowledge_rate * focus / focus.max()
        m.create_demand(self.idx, focus / focus.sum())

    def build_global_partnership(self) -> None:
        """Seek an IO partner for mutual legitimation (Korneev: IOM-OSCE, EU-ICMPD)."""
        m = self.model
        io = m.io
        i = self.idx
        candidates = ~io.partner_io[i]
        candidates[i] = False
        if not candidates.any():
            return
        # partners are sought for their standing and for complementary, not rival, mandates
        j = m.seated.partner.get(i)
        if j is None:
            score = io.legit_peer * (1.0 - m.overlap[i]) + 1e-9
            score = np.where(candidates, score, 0.0)
            j = int(m.rng.choice(io.n, p=score / score.sum()))
        elif not candidates[j]:  # the seat's choice is a partner already
            return
        accept = np.clip(io.legit_peer[i] + 0.5 * (1.0 - m.overlap[i, j]), 0.0, 1.0)
        if m.rng.random() >= accept:
            return
        if not m.pay_from_core(i, m.p.partnership_cost, "partnerships"):
            return
        io.partner_io[i, j] = io.partner_io[j, i] = True
        m.log("partnership", f"{self.name} and {io.names[j]} form a partnership", self.name)

    def build_local_partnership(self) -> None:
        """Engage a host government (working group, consultative process) or a local NGO.

        Korneev's global-local format: 'implementing partnerships, multiplication of working
        groups or involvement of governments and NGOs in Regional Consultative Processes'.
        """
        m = self.model
        io, hs = m.io, m.hs
        i = self.idx
        present = np.flatnonzero(io.office[i])
        if present.size == 0:
            return
        h = m.seated.engage.get(i, -1)
        if h < 0 or not io.office[i, h]:  # the rule's choice, or the seat's office closed since
            h = int(m.rng.choice(present))
        if not io.partner_host[i, h]:
            accept = hs.wants[h, 1] * (1.0 - 0.5 * hs.sovereignty[h]) + 0.5 * io.legit_host[i, h]
            if m.rng.random() < min(accept, 1.0) and m.pay_from_core(i, m.p.partnership_cost, "partnerships"):
                io.partner_host[i, h] = True
                m.log("partnership", f"{self.name} opens a working group with the government of {hs.names[h]}",
                      self.name)
            return
        local = np.flatnonzero((m.ng.host == h) & ~io.partner_ngo[i])
        if local.size == 0:
            return
        n = int(local[np.argmax(m.ng.reputation[local])])
        if m.pay_from_core(i, m.p.partnership_cost, "partnerships"):
            io.partner_ngo[i, n] = True
            m.log("partnership", f"{self.name} takes {m.ng.names[n]} as implementing partner in {hs.names[h]}",
                  self.name)

    def bid_for_projects(self) -> None:
        """Develop projects beyond its offices: scouting bids where demand is (Bartels:
        offices 'constantly busy expanding their activities and developing new projects')."""
        self.model.scouting[self.idx] = True

    def stretch_mandate(self) -> None:
        """Move the mandate toward what donors fund (Bradley; Bartels on new beneficiary
        categories). Malleability sets how far: an IO can cover at most that share of the gap
        between its founding mandate and donor demand.

        Stretching into issues other IOs hold costs standing with peers (mandate creep).
        """
        m = self.model
        io = m.io
        i = self.idx
        reach = io.origin[i] + io.malleability[i] * np.clip(m.donor_demand - io.origin[i], 0.0, None)
        step = m.p.mandate_stretch * np.clip(reach - io.mandate[i], 0.0, None)
        if step.sum() <= 1e-9:
            return
        io.mandate[i] = np.clip(io.mandate[i] + step, 0.0, 1.0)
        others = np.delete(io.mandate, i, axis=0)
        intrusion = float(step @ others.max(axis=0)) if others.size else 0.0
        m.peer_loss[i] += m.p.creep_cost * intrusion
        k = int(np.argmax(step))
        if step[k] > 0.05:
            m.log("mandate", f"{self.name} stretches its mandate into {m.issues[k]}", self.name)

    def contest_rival(self) -> None:
        """Challenge the jurisdiction of the rival whose niche overlaps most with its own.

        Korneev: 'challenged and challenging IOs'; GMG: rivalry from 'overlapping fields of
        competence' and 'competition for government funding'. The contested rival loses
        standing with donors and peers in proportion to the overlap and the contester's relative
        standing; the contester pays a smaller cost with peers; a partnership between them breaks.
        """
        m = self.model
        io = m.io
        i = self.idx
        j = m.seated.rival.get(i)
        if j is None:
            score = m.overlap[i] * (m.funding_share_io + 1e-3)
            score[i] = 0.0
            if score.sum() <= 0:
                return
            j = int(m.rng.choice(io.n, p=score / score.sum()))
        relative = io.legit_peer[i] / (io.legit_peer[i] + io.legit_peer[j] + 1e-12)
        hit = m.p.contest_strength * m.overlap[i, j] * 2.0 * relative
        m.contest_hits[j] += hit
        m.peer_loss[i] += m.p.contest_cost
        m.contests += 1
        m.log("contestation", f"{self.name} contests {io.names[j]}'s jurisdiction", self.name)
        if io.partner_io[i, j]:
            io.partner_io[i, j] = io.partner_io[j, i] = False
            m.log("partnership", f"partnership between {self.name} and {io.names[j]} breaks", self.name)

    _ACTION_METHODS = (
        produce_knowledge,
        build_global_partnership,
        build_local_partnership,
        bid_for_projects,
        stretch_mandate,
        contest_rival,
    )


def _action_probability(j: int) -> property:
    def probability(self: InternationalOrganisation) -> float:
        return float(self.model.probs[self.idx, j])

    return property(probability, doc=f"Probability of {ACTIONS[j]} in the strategy as of the last step.")


# one property per action (p_produce_knowledge, ...), named like the agent table's columns
for _j, _action in enumerate(ACTIONS):
    setattr(InternationalOrganisation, f"p_{_action}", _action_probability(_j))


class DonorState(FieldAgent):
    """A donor: funding envelope, priorities, memory of partners (Bartels: 'donors are often
    already aware of the IOM's work as a result of previous cooperation')."""

    kind = "donor"
    reported: ClassVar[dict[str, str]] = {"envelope": "envelope", "disbursed": "disbursed"}

    @classmethod
    def reports(cls, model: MigovModel) -> dict[str, np.ndarray]:
        return {"envelope": model.dn.envelope.copy(), "disbursed": model.dn.disbursed.copy()}

    @property
    def envelope(self) -> float:
        return float(self.model.dn.envelope[self.idx])

    @property
    def disbursed(self) -> float:
        return float(self.model.dn.disbursed[self.idx])

    @property
    def priorities(self) -> np.ndarray:
        return self.model.dn.priorities[self.idx]

    def familiarity_with(self, bidder: str) -> float:
        return float(self.model.dn.familiarity[self.idx, self.model.bidder_names.index(bidder)])


class HostGovernment(FieldAgent):
    """A host government that lets offices open, accepts or refuses projects, joins working
    groups, and if authoritarian challenges IOs' legitimacy (Korneev; Bartels)."""

    kind = "host"
    reported: ClassVar[dict[str, str]] = {"pressure": "pressure", "refusals": "refusals", "grants": "grants",
                                          "foreign_money": "foreign_money", "offices_hosted": "offices_hosted"}

    @classmethod
    def reports(cls, model: MigovModel) -> dict[str, np.ndarray]:
        hs = model.hs
        return {"pressure": hs.pressure.sum(axis=1), "refusals": hs.refusals.astype(np.int64),
                "grants": model.grants_host.astype(np.int64), "foreign_money": model.spend_host.copy(),
                "offices_hosted": model.io.office.sum(axis=0)}

    @property
    def region(self) -> str:
        return self.model.hs.region[self.idx]

    @property
    def pressure(self) -> float:
        return float(SUM(self.model.hs.pressure[self.idx]))

    @property
    def refusals(self) -> int:
        return int(self.model.hs.refusals[self.idx])

    @property
    def grants(self) -> int:
        """Grants it consented to this step (from any donor, to any recipient)."""
        return int(self.model.grants_host[self.idx])

    @property
    def foreign_money(self) -> float:
        """Organisations' project money spent in the country this step (millions), the share they
        subcontract to local NGOs included; NGOs' own direct grants are not counted."""
        return float(self.model.spend_host[self.idx])

    @property
    def offices_hosted(self) -> int:
        """Organisations with a country office here."""
        return int(self.model.io.office[:, self.idx].sum())

    @property
    def authoritarian(self) -> float:
        return float(self.model.hs.authoritarian[self.idx])


class NGO(FieldAgent):
    """A local implementing partner: bids for donor money and is subcontracted by IOs."""

    kind = "ngo"
    reported: ClassVar[dict[str, str]] = {
        "funds": "funds",
        "income_direct": "income_direct",
        "income_subcontract": "income_subcontract",
    }

    @classmethod
    def reports(cls, model: MigovModel) -> dict[str, np.ndarray]:
        ng = model.ng
        return {"funds": ng.funds.copy(), "income_direct": ng.income_direct.copy(),
                "income_subcontract": ng.income_subcontract.copy()}

    @property
    def funds(self) -> float:
        return float(self.model.ng.funds[self.idx])

    @property
    def income_direct(self) -> float:
        return float(self.model.ng.income_direct[self.idx])

    @property
    def income_subcontract(self) -> float:
        return float(self.model.ng.income_subcontract[self.idx])


# ---------------------------------------------------------------------------- static attributes
# every kind of agent, in the order the agent tables list them
AGENT_CLASSES = (InternationalOrganisation, DonorState, HostGovernment, NGO)


def static_attributes(sc: Scenario) -> pd.DataFrame:
    """What the scenario fixes for each agent, one row per agent, so an analysis joins it to the
    agent table (on ``agent`` and ``type``) instead of re-reading YAML.

    Each column is a field of the agent's scenario entry, defaults filled: numbers and names as
    given, a group of fields flattened (a host's ``wants_money``, a donor's ``weights_fit``), and
    the per-issue profile (``mandate``, ``priorities``, ``pressure``, an NGO's ``issues``) as a
    struct over the scenario's issues, read as the model reads it at the start (an issue not given
    is 0; priorities and NGO focus are shares). An NGO's ``region`` is its host's. A column is
    null for types that lack the field; one name can mean different things by type (an
    organisation's ``capacity`` is a grant size, a host's its state capacity: see config.py).
    Relations (offices, partners, working groups, familiarity, strategic regions) and initial
    action values are left to scenario.yaml: they are not attributes of one agent.
    """
    io, dn, hs, ng = build_state(sc)
    entries = {"organisation": (sc.organisations, "mandate", io.origin),
               "donor": (sc.donors, "priorities", dn.priorities),
               "host": (sc.hosts, "pressure", hs.pressure0),
               "ngo": (sc.ngos, "issues", ng.issues)}
    rows = []
    for cls in AGENT_CLASSES:
        specs, profile, values = entries[cls.kind]
        for idx, (name, spec) in enumerate(specs.items()):
            row: dict = {"agent": name, "type": cls.kind}
            if cls is NGO:
                row["region"] = sc.hosts[spec.host].region
            for key, value in spec:
                if key == profile:
                    row[key] = dict(zip(sc.issues, values[idx].tolist(), strict=True))
                elif isinstance(value, BaseModel):
                    row.update({f"{key}_{sub}": v for sub, v in value})
                elif isinstance(value, str | int | float):
                    row[key] = value
            rows.append(row)
    table = pd.DataFrame(rows)
    first = [c for c in ("agent", "type", "region", "host") if c in table]
    return table[[*first, *(c for c in table.columns if c not in first)]]
