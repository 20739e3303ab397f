"""The migov model: one step follows the ODD schedule (docs/ODD.md, section 3)."""

from __future__ import annotations

import difflib
import operator
import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import mesa
import numpy as np
import pandas as pd

from . import appeals, budgets, environment, funding, hosts, learning, legitimacy, membership, projects, seats
from .agents import AGENT_CLASSES, NGO, DonorState, HostGovernment, InternationalOrganisation, static_attributes
from .collect import FieldDataCollector
from .config import ACTIONS, Parameters, Scenario, ScenarioError, Simulation, load_scenario, override_scenario
from .measures import compute_measures, organisation_series, pianka_overlap
from .state import Ledger, build_state, issue_sensitivity
from .venue import CoordinationVenue

EVENT_COLUMNS = ["step", "date", "kind", "agent", "text"]
# Mesa agent_reporters by attribute name: who the agent is, then every kind's variables; an agent
# reports None for another kind's variables (Mesa's getattr default), NaN in the frames.
AGENT_REPORTERS: dict[str, str] = {
    "agent": "name",
    "type": "kind",
    **{column: attr for cls in AGENT_CLASSES for column, attr in cls.reported.items()},
}
ARGUMENTS = ("scenario", "seed", "steps", "rng", "collect_agents", "overrides")


def resolve_scenario(scenario: Scenario | str | os.PathLike, parameters: Mapping[str, Any],
                     overrides: Mapping[str, Any] | None) -> Scenario:
    """The scenario a model runs: a Scenario as given, or a library name or path loaded, with
    ``parameters`` (``uncertainty=0.8`` sets ``parameters.uncertainty``) and ``overrides`` (dotted
    paths) set through the same checks as ``--set``."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ScenarioError("MigovModel", "overrides", "expected a mapping of dotted paths to values, e.g. "
                            f"{{'donors.EU.scale_preference': 0.9}}, got {type(overrides).__name__}")
    values = dict(overrides or {})
    for name, value in parameters.items():
        if name not in Parameters.model_fields:
            close = difflib.get_close_matches(name, [*ARGUMENTS, *Parameters.model_fields], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            if name in Simulation.model_fields:
                hint = f" (it is simulation.{name}: overrides={{'simulation.{name}': ...}})"
            raise ScenarioError("MigovModel", name, f"unknown keyword argument{hint}; expected one of "
                                f"{', '.join(ARGUMENTS)} or a field of the scenario's parameters "
                                f"({', '.join(Parameters.model_fields)}); other fields go by dotted path in "
                                "overrides={'donors.EU.scale_preference': 0.9}")
        if f"parameters.{name}" in values:
            raise ScenarioError("MigovModel", name, f"given twice: as {name}= and as overrides['parameters.{name}']")
        values[f"parameters.{name}"] = value
    if isinstance(scenario, Scenario):
        return override_scenario(scenario, values, f"scenario '{scenario.title}'") if values else scenario
    if isinstance(scenario, str | os.PathLike):
        return load_scenario(scenario, overrides=values)
    raise ScenarioError("MigovModel", "scenario", "expected a scenario name (e.g. 'baseline'), a path or a "
                        f"Scenario, got {type(scenario).__name__}")


def horizon_of(steps: Any, scenario: Scenario) -> int:
    """Steps to run: ``steps`` if given (a whole number >= 0), else the scenario's."""
    if steps is None:
        return scenario.simulation.steps
    try:
        n = operator.index(steps)
    except TypeError:
        n = -1
    if isinstance(steps, bool) or n < 0:
        raise ScenarioError("MigovModel", "steps", f"expected a whole number of steps >= 0, got {steps!r}")
    return n


class MigovModel(mesa.Model):
    """International organisations competing and cooperating to govern migration.

    ``MigovModel()`` is the library's baseline; ``MigovModel("central_asia", seed=3, steps=40,
    uncertainty=0.8, overrides={"donors.EU.scale_preference": 0.9})`` changes it by name, so Mesa's
    ``batch_run`` can vary migov's parameters directly. (``batch_run`` merges each row's
    parameters, measures and agent variables by name, later ones winning: its ``uncertainty`` is
    the measure, the parameter plus what is left of crisis shocks.)

    Args:
        scenario: a library name (``"baseline"``), a scenario file, or a loaded
            :class:`~model.config.Scenario`.
        seed: seed for both of Mesa's random streams (``random`` and ``rng``); the same scenario
            and seed give identical results. Or pass Mesa's ``rng`` instead, not both.
        steps: the horizon: ``running`` turns False after this many steps (default: the
            scenario's ``simulation.steps``), which ends ``run_model()`` and ``batch_run``.
            ``step()`` itself still runs past it. Mesa 3.3's ``batch_run`` reports the state
            one step before a model stops itself (mesa#2514): to end it at step N, pass
            ``max_steps=N`` (it runs one step more and reports step N).
        collect_agents: collect the per-agent series through Mesa's ``agent_reporters``
            (``datacollector.get_agent_vars_dataframe()``; long form in ``agent_frame()``). It is
            recorded in bulk (``collect.py``: a few percent of a run's time) but keeps one row per
            agent per step, so sweeps and comparisons turn it off; with it on, ``batch_run``
            returns one row per agent.
        overrides: dotted paths to values (``{"donors.*.trend": 0.0}``), checked like ``--set``.
        **parameters: fields of the scenario's ``parameters`` by name (``uncertainty=0.8``). Any
            other keyword is a ScenarioError naming it.
    """

    def __init__(self, scenario: Scenario | str | os.PathLike = "baseline", seed: int | None = None,
                 steps: int | None = None, *, rng: Any = None, collect_agents: bool = True,
                 overrides: Mapping[str, Any] | None = None, **parameters: Any):
        scenario = resolve_scenario(scenario, parameters, overrides)
        horizon = horizon_of(steps, scenario)
        super().__init__(seed=seed, rng=rng)
        self.horizon = horizon
        self.running = horizon > 0
        self.collect_agents = collect_agents
        self.scenario = scenario
        self.p = scenario.parameters
        self.issues = list(scenario.issues)
        self.io, self.dn, self.hs, self.ng = build_state(scenario)
        self.sensitivity = issue_sensitivity(scenario)
        self.bidder_names = self.io.names + self.ng.names
        self.ledger = Ledger()
        self.uncertainty = self.p.uncertainty
        self.uncertainty_shock = 0.0
        self.shocks: list = []
        self.trust_funds: list = []
        self.events_at: dict[int, list] = defaultdict(list)
        for ev in scenario.events:
            self.events_at[scenario.step_of(ev.at)].append(ev)
        self.venue = CoordinationVenue(self) if scenario.venue is not None else None
        self.portfolio = projects.Portfolio()
        self.venue_visibility = np.zeros(len(scenario.organisations))  # set by the venue, read next step
        self.event_log: list[dict] = []
        self._logged_label: tuple[int | None, str] = (None, "")
        self.calls: list = []
        self.appealing = np.zeros((len(scenario.organisations), len(scenario.hosts), len(self.issues)), dtype=bool)
        self.emergency = np.zeros(len(scenario.donors))  # donors' answer to appeals this step
        self.fund_received = np.zeros(len(scenario.organisations) + len(scenario.ngos))  # cumulative
        # established where a trust fund opened: offices in at least half of its host countries
        self.fund_incumbent = np.zeros(len(scenario.organisations), dtype=bool)
        self.trust_fund_opened = False
        self.has_funds = any(getattr(ev, "fund", 0) > 0 or ev.type == "trust_fund" for ev in scenario.events)
        self.choices: dict[str, seats.Choice] = {}  # what people in agents' seats chose (``seat``)
        self.seated = seats.Seated()

        self.organisations = [InternationalOrganisation(self, i, n) for i, n in enumerate(self.io.names)]
        self.donors = [DonorState(self, d, n) for d, n in enumerate(self.dn.names)]
        self.hosts = [HostGovernment(self, h, n) for h, n in enumerate(self.hs.names)]
        self.ngos = [NGO(self, n, name) for n, name in enumerate(self.ng.names)]

        projects.seed_portfolio(self, np.array([o.portfolio for o in scenario.organisations.values()]))
        self.ledger.initial_holdings = self.holdings()
        self._reset_tallies()
        self._refresh_views()
        self.funding_share_io = np.full(self.io.n, 1.0 / self.io.n)
        self.challenged = np.zeros((self.io.n, self.hs.n), dtype=bool)
        weight = np.array([o.core_weight for o in scenario.organisations.values()])
        self.core_split = funding._rows_to_shares(funding.core_target(self) * weight[None, :])
        self.spin_up(scenario.simulation.spin_up)
        self.measures = compute_measures(self)
        self.probs = self.strategy_probabilities()
        self.datacollector = self._make_datacollector(collect_agents)
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ the schedule
    def step(self) -> None:
        self.advance(self.steps - 1)
        if self.steps >= self.horizon:
            self.running = False

    def spin_up(self, steps: int) -> None:
        """Run the schedule ``steps`` times before the start (steps -n..-1, before any scheduled
        event), then forget the log: the first recorded state is one the mechanisms produced
        (offices with projects, learnt strategies), not the hand-set initial one (ODD 5)."""
        for t in range(-steps, 0):
            self.advance(t)
        self.event_log.clear()

    def advance(self, t: int) -> None:
        """One pass of the ODD schedule for the step with index ``t`` (negative in the spin-up)."""
        self._reset_tallies()
        legitimacy_before = learning.mean_legitimacy(self)
        self.update_environment(t)  # 1
        self.organisations_act()  # 2
        grants = self.donors_allocate(t)  # 3
        self.run_projects(grants)  # 4
        legitimacy.update_legitimacy(self)  # 5
        hosts.expel_unwelcome(self)  # 5b
        budgets.settle_budgets(self)  # 6
        membership.update_membership(self)  # 6b
        if self.venue is not None:  # 7
            self.venue.meet(self)
        learning.adapt_strategies(self, legitimacy_before)  # 8
        self.measures = compute_measures(self)
        self.probs = self.strategy_probabilities()
        if t >= 0:
            self.datacollector.collect(self)

    def update_environment(self, t: int) -> None:
        """Phase 1: pressure, uncertainty, scheduled events, donor envelopes; knowledge becomes
        obsolete and donors' memories fade."""
        environment.move_pressure(self)
        environment.apply_events(self, t)
        environment.update_uncertainty(self)
        environment.set_envelopes(self, t)
        self.dn.familiarity *= 1.0 - self.p.familiarity_decay
        self.io.knowledge *= 1.0 - self.p.knowledge_depreciation
        self._refresh_views()

    def organisations_act(self) -> None:
        """Phase 2: the normative anchor pulls mandates home, partnerships lapse, and each IO
        acts, in random order."""
        io = self.io
        io.mandate += -self.p.anchor_pull * io.anchor[:, None] * (io.mandate - io.origin)
        self.lapse_partnerships()
        actions = self.draw_actions()
        for i in self.random.sample(range(io.n), io.n):
            self.organisations[i].act(self.seated.actions.get(i, actions[i]))
        self._refresh_views()

    def lapse_partnerships(self) -> None:
        """Partnerships that are not renewed lapse at a constant rate."""
        io, q = self.io, self.p.partnership_lapse
        if q <= 0:
            return
        upper = np.triu(io.partner_io, 1) & (self.rng.random(io.partner_io.shape) < q)
        for i, j in zip(*np.nonzero(upper), strict=True):
            self.log("partnership", f"the partnership between {io.names[i]} and {io.names[j]} lapses", io.names[i])
        io.partner_io &= ~(upper | upper.T)
        io.partner_host &= self.rng.random(io.partner_host.shape) >= q
        io.partner_ngo &= self.rng.random(io.partner_ngo.shape) >= q

    def donors_allocate(self, t: int) -> funding.Grants:
        """Phase 3: organisations on the ground appeal in crises; core money to IOs; earmarked
        calls, and donors' emergency calls answering the appeals, choose among bids."""
        levy_total = self.venue.levy(t) if self.venue is not None else 0.0
        calls, core, levy = environment.funding_calls(self, levy_total)
        appealed = appeals.launch_appeals(self)
        emergency, self.emergency = appeals.emergency_calls(self, appealed)
        calls = calls + emergency
        if self.seated.fund:
            seats.restrict_calls(self, calls)
        if levy.sum() > 0:
            self.venue.account += float(levy.sum())
            self.dn.disbursed += levy
            self.ledger.donor_outflow += float(levy.sum())
        core_split = core[:, None] * funding.update_core_shares(self)  # (D, I)
        self.io.core += core_split.sum(axis=0)
        self.io.income += core_split.sum(axis=0)
        self.dn.disbursed += core
        self.ledger.donor_outflow += float(core.sum())
        self.large_grant_threshold = 0.05 * float(self.dn.envelope.sum())
        self.calls = calls
        bids = funding.assemble_bids(self, appealed)
        return funding.choose_grants(self, bids, calls)

    def run_projects(self, grants: funding.Grants) -> None:
        """Phase 4: hosts consent, money moves, projects spend and finish, NGOs spend."""
        accepted = projects.host_consent(self, grants)
        np.add.at(self.grants_host, grants.host[accepted], 1)
        self.grants_offered, self.grants_accepted = len(grants), int(accepted.sum())
        projects.disburse(self, grants.take(accepted))
        projects.run_projects(self)
        projects.ngo_spending(self)

    # ------------------------------------------------------------------ people in seats
    def seat(self, choices: Mapping[str, seats.Choice]) -> None:
        """Put people's choices in agents' seats for the steps that follow, until the next call
        (``seat({})`` gives every agent back to its rules). Keys are agent names; a choice
        outside the agent's means is a ScenarioError naming the seat and the field, and changes
        nothing. A donor's earmarking share is its policy and stays after its seat is left."""
        choices = dict(choices)
        seated = seats.resolve(self, choices)
        self.choices, self.seated = choices, seated
        seats.apply_donor_policies(self, choices)

    def inject(self, event: Any) -> None:
        """Start a scenario event (a crisis, a trust fund, a compact...) in the next step, as an
        instructor does in class. If the scenario has it scheduled later, it happens now instead."""
        for evs in self.events_at.values():
            for k in [k for k, ev in enumerate(evs) if ev is event][::-1]:
                del evs[k]
        self.events_at[self.steps].append(event)

    # ------------------------------------------------------------------ services for agents
    def pay_from_core(self, i: int, amount: float, kind: str) -> bool:
        """Pay ``amount`` from IO ``i``'s core funds if it can; the money is spent."""
        if self.io.core[i] < amount:
            return False
        self.io.core[i] -= amount
        self.ledger.spend(kind, amount)
        return True

    def create_demand(self, i: int, focus: np.ndarray) -> None:
        """Donors who find IO ``i`` legitimate shift their priorities toward its issues."""
        c = self.p.demand_creation * self.io.legit_donor[i][:, None]
        self.dn.priorities[:] = (1.0 - c) * self.dn.priorities + c * focus[None, :]

    def open_office(self, i: int, h: int, reason: str) -> None:
        io = self.io
        cost = self.p.office_opening_cost
        from_core = min(cost, float(io.core[i]))
        from_projects = min(cost - from_core, float(io.earmarked[i]))
        io.core[i] -= from_core
        io.earmarked[i] -= from_projects
        self.ledger.spend("offices", from_core + from_projects)
        io.office[i, h] = True
        io.office_idle[i, h] = 0
        io.locations[i, h] = max(1, int(io.locations[i, h]))
        self.log("office", f"{io.names[i]} opens an office in {self.hs.names[h]} {reason}", io.names[i])

    def close_office(self, i: int, h: int, reason: str) -> None:
        io = self.io
        io.office[i, h] = False
        io.office_idle[i, h] = 0
        io.locations[i, h] = 0
        io.surplus_idle[i, h] = 0
        self.closed_now[i, h] = True
        io.partner_host[i, h] = False
        io.partner_ngo[i, self.ng.host == h] = False
        self.log("office", f"{io.names[i]} closes its office in {self.hs.names[h]}: {reason}", io.names[i])

    def log(self, kind: str, text: str, agent: str) -> None:
        if self._logged_label[0] != self.steps:  # one label a step, however many events
            self._logged_label = (self.steps, self.step_label(self.steps))
        row = {"step": self.steps, "date": self._logged_label[1], "kind": kind, "agent": agent, "text": text}
        self.event_log.append(row)

    def step_label(self, step: int) -> str:
        """Label of the state after ``step`` steps: the quarter that step simulated ('1995Q1' for
        step 1), as in the event log and the model table's ``quarter``. Step 0, the initial
        state, takes the quarter before the start ('1994Q4'), so labels stay unique and ordered."""
        return self.date_label(step - 1)

    def date_label(self, t: int) -> str:
        """Calendar label of the step with index ``t`` (e.g. '2015Q4' for quarters)."""
        sim = self.scenario.simulation
        year, sub = divmod(t, sim.steps_per_year)
        if sim.steps_per_year == 4:
            return f"{sim.start_year + year}Q{sub + 1}"
        if sim.steps_per_year == 1:
            return str(sim.start_year + year)
        return f"{sim.start_year + year}.{sub + 1:02d}"

    def draw_actions(self) -> np.ndarray:
        """(I, n) actions per organisation, drawn without replacement from each strategy
        (Gumbel-top-k over log probabilities: one vectorised draw for all organisations)."""
        n = min(self.p.actions_per_step, len(ACTIONS))
        logp = np.log(self.strategy_probabilities().clip(min=1e-300))
        keys = logp - np.log(-np.log(self.rng.uniform(1e-12, 1.0, size=logp.shape)))
        return np.argsort(-keys, axis=1)[:, :n]

    def strategy_probabilities(self) -> np.ndarray:
        return learning.softmax(self.io.values, self.p.strategy_temperature)

    # ------------------------------------------------------------------ book-keeping
    def holdings(self) -> float:
        venue = self.venue.account if self.venue is not None else 0.0
        return float(self.io.core.sum() + self.io.earmarked.sum() + self.ng.funds.sum() + venue)

    def ledger_error(self) -> float:
        """Relative gap between money held and money received minus money spent."""
        lg = self.ledger
        expected = lg.initial_holdings + lg.donor_outflow + lg.contributions - sum(lg.spent.values())
        scale = max(1.0, lg.initial_holdings + lg.donor_outflow + lg.contributions)
        return abs(self.holdings() - expected) / scale

    def _reset_tallies(self) -> None:
        """Zero this step's tallies; last step's income becomes the funding shares that contests
        read (an even split before any income)."""
        io = self.io
        self.contest_hits = np.zeros(io.n)
        self.peer_loss = np.zeros(io.n)
        self.scouting = np.zeros(io.n, dtype=bool)
        self.perf_donor = np.zeros((io.n, self.dn.n))
        self.perf_host = np.zeros((io.n, self.hs.n))
        self.contests = 0
        self.spend_host = np.zeros(self.hs.n)
        self.grants_host = np.zeros(self.hs.n, dtype=np.int64)
        self.grants_offered = self.grants_accepted = 0
        self.spend_io_host = np.zeros((io.n, self.hs.n))
        self.emergency_received = 0.0
        self.closed_now = np.zeros((io.n, self.hs.n), dtype=bool)
        total = io.income.sum()
        self.funding_share_io = io.income / total if total > 0 else np.full(io.n, 1.0 / io.n)
        io.income[:] = 0.0
        self.dn.disbursed[:] = 0.0
        self.hs.refusals[:] = 0.0
        self.ng.income_direct[:] = 0.0
        self.ng.income_subcontract[:] = 0.0
        self.earmarked_received = 0.0
        self.ngo_received = 0.0
        self.ngo_subcontracted = 0.0

    def _refresh_views(self) -> None:
        """Derived quantities every submodel reads; recomputed when their inputs change."""
        io, hs, dn, ng = self.io, self.hs, self.dn, self.ng
        self.overlap = pianka_overlap(io.mandate)
        self.visibility = io.knowledge / (io.knowledge + self.p.knowledge_saturation)
        self.partner_standing = legitimacy.partner_standing(self)
        local = io.office.astype(float) @ hs.pressure  # (I, K)
        fallback = hs.pressure.mean(axis=0)[None, :]
        local = np.where(io.office.any(axis=1)[:, None], local, fallback)
        self.relevance = local / local.mean(axis=1, keepdims=True).clip(min=1e-12)
        demand = dn.envelope @ dn.priorities
        self.donor_demand = demand / demand.max() if demand.max() > 0 else demand
        # each IO's implementing partner per host: its partner NGO there with the best
        # reputation, else the best-reputed NGO in the host, else none (-1); ties go to the
        # first NGO listed. NGOs are sorted by host, then by score (at least 1), per organisation.
        rows, cols = np.nonzero(io.partner_ngo)
        self.ngo_partner_in_host = np.zeros((io.n, hs.n), dtype=bool)
        self.ngo_partner_in_host[rows, ng.host[cols]] = True
        self.implementing_partner = np.full((io.n, hs.n), -1, dtype=np.int64)
        if ng.n == 0:
            return
        score = 1.0 + ng.reputation[None, :] + 2.0 * io.partner_ngo  # (I, N)
        order = np.lexsort((-score, np.broadcast_to(ng.host, score.shape)), axis=-1)  # stable: ties by row
        host_sorted = ng.host[order]
        first = np.ones(order.shape, dtype=bool)
        first[:, 1:] = host_sorted[:, 1:] != host_sorted[:, :-1]
        who, at = np.nonzero(first)
        self.implementing_partner[who, host_sorted[who, at]] = order[who, at]

    # ------------------------------------------------------------------ observation
    def _make_datacollector(self, collect_agents: bool) -> mesa.DataCollector:
        """Mesa's DataCollector: each step's quarter label and measures, and with
        ``collect_agents`` every agent's variables (``AGENT_REPORTERS``)."""
        return FieldDataCollector({"quarter": lambda m: m.step_label(m.steps)}, list(self.measures),
                                  AGENT_REPORTERS if collect_agents else None, AGENT_CLASSES)

    def release(self) -> None:
        """Let go of this model once its data have been read.

        Mesa 3.3's ``Agent._ids`` is a class-level dict keyed by model, so every model ever
        created stays referenced and memory grows with every run of a long sweep. This drops
        the entry (the frames read before stay valid)."""
        mesa.Agent._ids.pop(self, None)

    def model_frame(self) -> pd.DataFrame:
        """One row per recorded step: ``step``, ``year`` (the time the state is at: start_year +
        step/steps_per_year), ``quarter`` (the label of the quarter simulated, as in the event
        log), then the measures."""
        df = self.datacollector.get_model_vars_dataframe()
        df.index.name = "step"
        df = df.reset_index()
        sim = self.scenario.simulation
        df.insert(1, "year", sim.start_year + df["step"] / sim.steps_per_year)
        return df

    def organisation_frame(self) -> pd.DataFrame:
        """The per-organisation measures in long form: one row per recorded step and organisation
        (step, year, quarter, organisation, then each measure), the model table's wide
        ``funding_share_IOM``-style columns reshaped (``measures.organisation_series``)."""
        return organisation_series(self.model_frame(), self.io.names)

    def static_frame(self) -> pd.DataFrame:
        """Each agent's static attributes from the scenario, one row per agent, joinable to
        ``agent_frame()`` on agent and type (``agents.static_attributes``)."""
        return static_attributes(self.scenario)

    def agent_frame(self) -> pd.DataFrame:
        """Per-agent series in long form: step, agent, type, then each variable (NaN where a
        variable does not apply to that type); the rows of one type after another, like
        ``agents.parquet`` has always been; the columns of types absent here are left out."""
        if not self.datacollector.agent_reporters:
            return pd.DataFrame(columns=["step", "agent", "type"])
        df = self.datacollector.get_agent_vars_dataframe().reset_index(level="Step")
        df = df.rename(columns={"Step": "step"}).reset_index(drop=True)
        present = [cls for cls in AGENT_CLASSES if cls in self.agents_by_type]
        rank = {cls.kind: r for r, cls in enumerate(present)}
        df = df.iloc[np.argsort(df["type"].map(rank).to_numpy(), kind="stable")]
        absent = [column for cls in AGENT_CLASSES if cls not in present for column in cls.reported]
        return df.drop(columns=absent).reset_index(drop=True)

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.event_log, columns=EVENT_COLUMNS)

