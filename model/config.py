"""The scenario schema: every parameter in one validated place.

A scenario is a YAML file validated by the pydantic models below. Every field has a type, a
range, a default and a one-line description (``migov`` prints them from here), and unknown keys
are errors, so a typo never silently falls back to a default.

Entities are listed by name (``organisations: {IOM: {...}}``), which is what makes dotted paths
such as ``donors.EU.scale_preference`` address one agent's attribute.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

ACTIONS: tuple[str, ...] = (
    "produce_knowledge",
    "build_global_partnership",
    "build_local_partnership",
    "bid_for_projects",
    "stretch_mandate",
    "contest_rival",
)

DEFAULT_ISSUES: list[str] = [
    "labour",
    "protection",
    "trafficking",
    "border_return",
    "development",
    "displacement",
]

MAX_STEPS = 10_000  # the longest run a scenario or experiment may ask for (2,500 years of quarters)

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
# Action values are running means of normalised payoffs (learning.py: deviations in units of the
# organisation's own payoff variability); an initial value is a prior in those units, and [-1, 1]
# keeps a prior within about one typical deviation of what learning can move it to quickly.
ActionValue = Annotated[float, Field(ge=-1.0, le=1.0)]
# Relative weights (donors' issue priorities and strategic regions): only their ratios matter, so
# 100 already means "a hundred times any other"; a bound keeps arithmetic far from overflow.
Weight = Annotated[float, Field(ge=0.0, le=100.0)]


class ScenarioError(ValueError):
    """A user mistake in a scenario: one line naming the file, the field and what was expected."""

    def __init__(self, source: str, field: str, message: str):
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}: " if field else f"{source}: "
        super().__init__(" ".join((where + message).splitlines()))  # always one line, whatever it quotes


class Strict(BaseModel):
    """Unknown keys and non-finite numbers (.inf, .nan) are errors in every schema, at any depth."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _step_number(value: Any) -> Any:
    """An event date given as a number must be a whole step in [0, MAX_STEPS]; pydantic alone would
    turn a float such as 1e300 into a 300-digit step."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if not (math.isfinite(value) and float(value).is_integer() and 0 <= value <= MAX_STEPS):
        raise ValueError(f"expected a step number in [0, {MAX_STEPS}] or a date like '2015Q4', got {value!r}")
    return int(value)


StepDate = Annotated[int | str, BeforeValidator(_step_number)]


def P(default: Any, ge: float | None, le: float | None, description: str) -> Any:
    """A parameter with its default, range and one-line description."""
    return Field(default, ge=ge, le=le, description=description)


# --------------------------------------------------------------------------- parameters
class Parameters(Strict):
    """Global behavioural parameters, grouped by the submodel that uses them (see docs/ODD.md)."""

    # Environment
    pressure_noise: float = P(0.03, 0.0, 1.0, "sd of the per-step random walk of migration pressure")
    pressure_reversion: float = P(0.05, 0.0, 1.0, "share of the gap to its baseline that pressure closes per step")
    uncertainty: float = P(0.3, 0.0, 1.0, "baseline uncertainty about future migration (0 none, 1 total)")
    uncertainty_recovery: float = P(0.1, 0.0, 1.0, "share of an uncertainty shock that fades per step")
    # Organisations' actions
    actions_per_step: int = P(2, 1, 6, "actions each organisation takes per step, drawn from its strategy")
    knowledge_rate: float = P(0.25, 0.0, 5.0, "knowledge added per produce_knowledge action on the IO's main issue (other issues in proportion)")
    knowledge_depreciation: float = P(0.02, 0.0, 1.0, "share of knowledge stock that becomes obsolete per step")
    knowledge_saturation: float = P(1.0, 0.01, 100.0, "knowledge stock at which its visibility reaches one half")
    knowledge_cost: float = P(0.4, 0.0, 100.0, "core funds spent per produce_knowledge action (millions)")
    demand_creation: float = P(0.01, 0.0, 0.5, "how far an IO's knowledge pulls donors' issue priorities toward its own issues")
    partnership_cost: float = P(0.15, 0.0, 100.0, "core funds spent per partnership formed (millions)")
    partnership_lapse: float = P(0.02, 0.0, 1.0, "probability per step that a partnership lapses")
    mandate_stretch: float = P(0.15, 0.0, 1.0, "step size of stretch_mandate toward donor demand, times malleability")
    anchor_pull: float = P(0.05, 0.0, 1.0, "per-step pull of the mandate back to its origin, times normative anchor")
    contest_strength: float = P(0.06, 0.0, 1.0, "legitimacy a contested rival loses per contest, scaled by relative standing")
    contest_cost: float = P(0.01, 0.0, 1.0, "peer legitimacy the contester loses per contest")
    scouting_bids: int = P(2, 0, 20, "extra bids an IO places in hosts without an office when it bids for projects")
    # Donors
    funding_scale: float = P(1.0, 0.0, 100.0, "multiplier on every donor's envelope (money scarce below 1, plentiful above)")
    choice_temperature: float = P(0.5, 0.01, 10.0, "temperature of donors' logit choice among bids (low = strict)")
    grants_max: int = P(12, 1, 500, "grants per step by a donor with no preference for large programmes")
    familiarity_gain: float = P(0.1, 0.0, 1.0, "how much one finished project adds to a donor's familiarity with its implementer (times outcome)")
    familiarity_decay: float = P(0.01, 0.0, 1.0, "share of a donor's familiarity with a partner forgotten per step")
    reputation_memory: float = P(0.1, 0.0, 1.0, "weight of the latest project outcome in an efficiency reputation")
    core_concentration: float = P(2.0, 0.0, 10.0, "exponent on legitimacy when donors split core money")
    core_inertia: float = P(0.98, 0.0, 1.0, "share of last step's core split a donor keeps (multi-year pledges)")
    # Crises and appeals
    pressure_per_displaced: float = P(1.0, 0.0, 100.0, "jump in migration pressure per million people displaced, spread over the hosts a crisis hits")
    appeal_mandate: float = P(0.5, 0.0, 1.0, "mandate strength on a crisis issue an organisation needs to launch an appeal")
    appeal_need: float = P(0.25, 0.0, 10.0, "pressure crises have added in a host and issue, not yet faded, above which present, mandated organisations appeal")
    appeal_response: float = P(0.5, 0.0, 10.0, "emergency money a donor adds to its envelope at full salience, as a share of the envelope")
    salience_scale: float = P(2.0, 0.01, 100.0, "appealed need, weighted by the donor's interest in the hosts, at which salience reaches 1 - 1/e")
    # Projects and hosts
    project_duration: int = P(4, 1, 40, "steps a funded project runs and spends")
    subcontract_share: float = P(0.3, 0.0, 1.0, "share of an IO project's programme money passed to local NGOs")
    consent_base: float = P(1.5, -10.0, 10.0, "baseline log-odds that a host accepts a project or office")
    consent_legitimacy: float = P(2.0, 0.0, 10.0, "log-odds weight of the IO's legitimacy with the host")
    consent_partnership: float = P(1.0, 0.0, 10.0, "log-odds weight of a partnership with the host government")
    consent_money: float = P(0.5, 0.0, 10.0, "log-odds weight of project size (log millions), times the host's want of money")
    consent_sovereignty: float = P(3.0, 0.0, 20.0, "log-odds penalty of sovereignty sensitivity times issue sensitivity")
    consent_expertise: float = P(1.0, 0.0, 10.0, "log-odds weight of the IO's visible knowledge of the issue, times the host's want of expertise")
    consent_contacts: float = P(1.0, 0.0, 10.0, "log-odds weight of the IO's partner standing (its international contacts), times the host's want of contacts")
    consent_regime: float = P(1.5, 0.0, 10.0, "log-odds penalty of the IO's normative standing (rights it monitors) times the host's authoritarian score")
    consent_rivalry: float = P(1.0, 0.0, 10.0, "log-odds penalty per agency the host has already taken for the same issue this step: hosts deal with agencies one by one")
    expulsion_rate: float = P(0.05, 0.0, 1.0, "probability per step that a fully authoritarian, fully sovereignty-minded host expels an IO it no longer finds legitimate")
    expulsion_legitimacy: float = P(0.15, 0.0, 1.0, "legitimacy with the host below which a host may expel an IO's office")
    ngo_spending_rate: float = P(0.25, 0.0, 1.0, "share of its funds an NGO spends per step")
    consent_membership: float = P(1.0, 0.0, 10.0, "log-odds weight of the host being a member of the organisation")
    # Membership of organisations
    membership_contribution: float = P(0.1, 0.0, 100.0, "assessed contribution a member host pays into the organisation's core funds per step, times its state capacity (millions)")
    membership_money_value: float = P(0.1, 0.0, 1.0, "share of an organisation's recent project spending in a host that the host credits to membership, times its want of money")
    membership_contacts_value: float = P(0.1, 0.0, 100.0, "worth to a host (millions per step) of an organisation's office and of its regional peers' membership, times its want of contacts")
    membership_exit_cost: float = P(0.5, 0.0, 1.0, "switching cost as a share of the contribution: a member leaves only when its benefit falls below (1 - this) times the contribution")
    membership_review: float = P(0.25, 0.0, 1.0, "probability per step that a host reviews its membership of an organisation")
    # Legitimacy
    legitimacy_decay: float = P(0.02, 0.0, 0.5, "share of legitimacy that fades per step without renewal")
    gain_knowledge: float = P(0.03, 0.0, 0.5, "legitimacy gain per unit of visible, relevant knowledge")
    gain_partnership: float = P(0.03, 0.0, 0.5, "legitimacy gain per unit of partner standing")
    gain_performance: float = P(0.04, 0.0, 0.5, "legitimacy gain per unit of delivered project performance")
    gain_normative: float = P(0.02, 0.0, 0.5, "legitimacy gain per unit of normative fit with the audience")
    knowledge_partnership_synergy: float = P(0.03, 0.0, 0.5, "extra gain when knowledge and partnerships occur together (0 = none)")
    uncertainty_knowledge_boost: float = P(1.5, 0.0, 10.0, "how much uncertainty multiplies knowledge's legitimacy return")
    challenge_rate: float = P(0.15, 0.0, 1.0, "probability per step that a fully authoritarian host challenges an IO present")
    challenge_loss: float = P(0.15, 0.0, 1.0, "share of legitimacy with the challenging host lost to a challenge")
    challenge_shield: float = P(0.6, 0.0, 1.0, "share of challenges a partnership with the host government averts")
    authoritarian_partner_cost: float = P(0.01, 0.0, 0.5, "legitimacy lost per step with normative donors per partnership with an authoritarian host")
    creep_cost: float = P(0.01, 0.0, 0.5, "peer legitimacy lost per stretch into others' mandates")
    # Budgets and offices
    core_spending_rate: float = P(0.5, 0.0, 1.0, "share of core funds spent per step on headquarters, staff and programmes")
    office_cost: float = P(1.0, 0.0, 100.0, "core funds an office costs per step (millions; about 4m a year for a country office)")
    office_opening_cost: float = P(1.0, 0.0, 1000.0, "core funds to open an office (millions)")
    office_grace: int = P(8, 0, 400, "steps an office survives without a running project")
    projects_per_location: float = P(2.0, 0.1, 100.0, "running projects one field location can manage: more projects in a country open more field locations there")
    location_cost: float = P(0.1, 0.0, 100.0, "cost per step of each field location beyond the country office (millions; a sub-office, about 0.4m a year)")
    office_reserve: int = P(4, 0, 400, "steps of office costs an IO keeps in reserve before opening a new office")
    # Learning
    learning_rate: float = P(0.1, 0.0, 1.0, "weight of the latest normalised payoff in an action's value estimate")
    strategy_temperature: float = P(0.5, 0.01, 10.0, "softmax temperature over action values, in units of normalised payoff (high = explore)")
    payoff_legitimacy_weight: float = P(1.0, 0.0, 100.0, "weight of the normalised legitimacy change against normalised funding growth in the payoff")
    payoff_memory: float = P(0.05, 0.001, 1.0, "weight of the latest step in the running mean and mean absolute deviation that normalise each payoff part")


# --------------------------------------------------------------------------- entities
class Simulation(Strict):
    steps: int = P(120, 1, MAX_STEPS, "number of steps to run")
    start_year: int = P(1995, 1800, 2200, "calendar year of step 0")
    steps_per_year: int = P(4, 1, 52, "steps per year (4 = quarters)")
    spin_up: int = P(0, 0, 400, "steps run before the start and dropped from the outputs, so that offices, projects and strategies start from a state the mechanisms produced rather than a hand-set one")


class Mechanisms(Strict):
    """Switches for ablations (ODD 7.10): each turns one mechanism off, to see which patterns it
    produces. All are on by default."""

    learning: bool = Field(True, description="organisations adapt their strategies from payoffs (off: strategies stay as initialised)")
    crisis_response: bool = Field(True, description="organisations appeal in crises and donors answer appeals beyond their regular envelopes")
    projectised_offices: bool = Field(True, description="offices running projects charge their cost to project money (off: every office is paid from core)")
    membership: bool = Field(True, description="host states join and leave organisations by what membership gives them (off: members stay as initialised)")


class Source(Strict):
    seed: str = Field(description="seed file name in shared/seeds or a published reference")
    passage: str = Field(description="the passage the scenario or parameter rests on")


class Organisation(Strict):
    mandate: dict[str, Unit] = Field(default_factory=dict, description="mandate strength per issue area")
    malleability: float = P(0.2, 0.0, 1.0, "how far and fast the mandate follows donor demand")
    normative_anchor: float = P(0.5, 0.0, 1.0, "strength of a protection or rights mandate binding the IO")
    overhead_rate: float = P(0.07, 0.0, 0.5, "share of each project kept as overhead in core funds")
    efficiency: float = P(0.6, 0.0, 1.0, "true efficiency of delivery (latent; donors see a reputation)")
    track_record: float = P(0.3, 0.0, 1.0, "initial efficiency reputation and donors' familiarity")
    legitimacy: float = P(0.4, 0.0, 1.0, "initial legitimacy with every audience")
    core_funds: float = P(5.0, 0.0, 1e6, "core funds at the start (millions)")
    core_weight: float = P(1.0, 0.0, 1e3, "relative weight in donors' core contributions at the start (assessed shares)")
    capacity: float = P(500.0, 0.0, 1e6, "largest single grant it can absorb (millions)")
    portfolio: float = P(0.0, 0.0, 1e6, "programme money of projects already running at the start, spread over its offices (millions)")
    knowledge: dict[str, Annotated[float, Field(ge=0.0, le=1e3)]] = Field(default_factory=dict, description="knowledge stock per issue area at the start, in [0, 1000] (issues not given: half the mandate strength)")
    offices: list[str] = Field(default_factory=list, description="host or region names with a country office at the start (a region opens one in each of its hosts)")
    partners: list[str] = Field(default_factory=list, description="organisations it is in a global-global partnership with at the start (symmetric)")
    working_groups: list[str] = Field(default_factory=list, description="hosts whose government it works with at the start (needs an office there)")
    strategy: dict[str, ActionValue] = Field(default_factory=dict, description="initial action values (default 0 for all)")
    members: list[str] = Field(default_factory=list, description="host or region names that are member states at the start ('all' for every host; default none: hosts join by the membership rule)")
    un_system: bool = Field(False, description="part of the UN system at the start (eligible for venues open only to UN organisations)")


class Weights(Strict):
    legitimacy: float = P(1.0, 0.0, 10.0, "weight on the bidder's legitimacy with this donor")
    efficiency: float = P(1.0, 0.0, 10.0, "weight on the bidder's efficiency reputation")
    fit: float = P(1.0, 0.0, 10.0, "weight on the bid's issue fit with the donor's priorities")
    familiarity: float = P(1.0, 0.0, 10.0, "weight on past cooperation")
    knowledge: float = P(0.5, 0.0, 10.0, "weight on the bidder's knowledge of the issue")
    normative: float = P(0.5, 0.0, 10.0, "weight on the bidder's normative standing")


class YearValue(Strict):
    year: float = Field(ge=1800, le=2200, description="calendar year")
    value: float = Field(ge=0.0, le=1e6, description="the figure in that year")


class Donor(Strict):
    envelope: float = P(50.0, 0.0, 1e6, "funding per step at the start (millions)")
    trend: float = P(0.03, -0.5, 0.5, "annual growth rate of the envelope")
    budget: list[YearValue] = Field(default_factory=list, description="the donor's aid budget by year (USD billion a year, e.g. net ODA), interpolated between years and held beyond them; when given, the envelope is field_share of it and envelope and trend are not used")
    field_share: float = P(0.02, 0.0, 1.0, "share of the aid budget that goes to the field of migration and displacement in a year without appeals")
    earmarking: float = P(0.6, 0.0, 1.0, "share of the envelope given as earmarked project grants")
    scale_preference: float = P(0.5, 0.0, 1.0, "preference for few large grants over many small ones")
    priorities: dict[str, Weight] = Field(default_factory=dict, description="weight per issue area")
    strategic_regions: dict[str, Weight] = Field(default_factory=dict, description="extra weight per host region (externalisation)")
    familiarity: dict[str, Unit] = Field(default_factory=dict, description="initial memory of cooperation per organisation")
    weights: Weights = Field(default_factory=Weights, description="weights of the choice rule among bids")


class Wants(Strict):
    money: float = P(0.6, 0.0, 1.0, "how much the host wants project money")
    contacts: float = P(0.3, 0.0, 1.0, "how much the host wants international contacts and partnerships")
    expertise: float = P(0.3, 0.0, 1.0, "how much the host wants expert knowledge")


class Host(Strict):
    region: str = Field(description="region name (free text; used by donors' strategic regions and events)")
    authoritarian: float = P(0.3, 0.0, 1.0, "authoritarian score of the regime")
    capacity: float = P(0.5, 0.0, 1.0, "state capacity: raises project outcomes")
    sovereignty: float = P(0.4, 0.0, 1.0, "sovereignty sensitivity: makes sensitive projects likelier to be refused")
    pressure: dict[str, Annotated[float, Field(ge=0.0, le=10.0)]] = Field(default_factory=dict, description="baseline migration pressure per issue area")
    wants: Wants = Field(default_factory=Wants, description="what the host wants from IOs")


class NGO(Strict):
    host: str = Field(description="the host country where the NGO works")
    issues: dict[str, Unit] = Field(default_factory=dict, description="issue focus (defaults to an even spread)")
    capacity: float = P(2.0, 0.0, 1e6, "largest single grant it can absorb (millions)")
    efficiency: float = P(0.6, 0.0, 1.0, "true efficiency of delivery")
    track_record: float = P(0.4, 0.0, 1.0, "initial efficiency reputation with donors")
    expertise: float = P(0.4, 0.0, 1.0, "local knowledge visible to donors")
    normative: float = P(0.6, 0.0, 1.0, "normative standing (rights-based work)")


class Venue(Strict):
    name: str = Field("Global Migration Group", description="name of the coordination venue")
    members: list[str] = Field(description="member organisations")
    start: StepDate = Field(0, description="step or 'YYYYQn' at which the venue starts")
    chair_period: int = P(2, 1, 400, "steps between chair rotations (2 = six months)")
    secretariat: bool = Field(False, description="a permanent secretariat sets the agenda and ensures continuity")
    budget: float = P(0.0, 0.0, 1e4, "venue budget per step, paid pro rata by donors (millions)")
    product_probability: float = P(0.3, 0.0, 1.0, "chance per step of a joint product without budget or secretariat")
    admission: Literal["closed", "open", "majority", "consensus"] = Field("closed", description="how the venue admits an applicant: never (closed), always (open), when most members accept (majority) or every member (consensus)")
    un_only: bool = Field(False, description="only organisations of the UN system may apply (members given at the start stay)")
    rivalry: float = P(0.5, 0.0, 1.0, "how far a member's mandate overlap with an applicant makes it refuse: it accepts with probability 1 - rivalry x overlap")
    admission_threshold: float = P(0.05, 0.0, 1.0, "worth of the venue to a non-member (product rate times mandate fit times want of standing) above which it applies")


# --------------------------------------------------------------------------- events
class _Event(Strict):
    name: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$",
                             description="identifier, unique in the scenario, by which a dotted path "
                                         "(events.eutf_2015.amount) or a claim's window (after: eutf_2015) "
                                         "addresses the event")
    at: StepDate = Field(description="step number or 'YYYYQn'")
    note: str = Field("", description="plain-language description for the event log")


class FundingShock(_Event):
    type: Literal["funding_shock"]
    donor: str = Field("all", description="donor name or 'all'")
    factor: float = P(0.5, 0.0, 100.0, "multiplier on the envelope while the shock lasts")
    duration: int = P(4, 1, 10_000, "steps the shock lasts")


class Crisis(_Event):
    type: Literal["crisis"]
    region: str | None = Field(None, description="region hit (or give hosts)")
    hosts: list[str] = Field(default_factory=list, description="hosts hit (or give a region)")
    issue: str = Field(description="issue area whose pressure jumps")
    magnitude: float = P(1.0, 0.0, 10.0, "jump in migration pressure")
    displaced: float | None = P(None, 0.0, 1000.0, "people newly displaced (millions), from data; when given, the jump per host hit is pressure_per_displaced times this over the hosts hit (at most 10), instead of magnitude")
    uncertainty: float = P(0.2, 0.0, 1.0, "jump in uncertainty about future migration")

    @model_validator(mode="after")
    def _one_size(self) -> Crisis:
        if self.displaced is not None and "magnitude" in self.model_fields_set:
            raise ValueError("give either magnitude (a pressure jump) or displaced (millions of people), not both")
        return self


class TrustFund(_Event):
    type: Literal["trust_fund"]
    donor: str = Field(description="donor that finances the fund")
    amount: float = P(100.0, 0.0, 1e6, "money per step (millions), all earmarked")
    duration: int = P(16, 1, 10_000, "steps the fund disburses")
    issues: list[str] = Field(description="issue areas the fund pays for")
    regions: list[str] = Field(default_factory=list, description="host regions the fund pays for (give regions, hosts or both)")
    hosts: list[str] = Field(default_factory=list, description="host countries the fund pays for, beside its regions")
    grants: int = P(4, 1, 200, "grants per step")


class Compact(_Event):
    """A global compact (seed 003): it designates a coordinating organisation, opens a pooled
    multi-partner trust fund paid by all donors pro rata, and sets up an indicator framework
    that makes donors weigh knowledge (data) more."""

    type: Literal["compact"]
    coordinator: str = Field(description="organisation designated to coordinate the compact")
    authority: float = P(0.3, 0.0, 1.0, "normative standing the designation adds to the coordinator")
    fund: float = P(0.0, 0.0, 1e6, "pooled trust fund per step (millions), paid by all donors pro rata")
    duration: int = P(40, 1, 10_000, "steps the pooled fund disburses")
    issues: list[str] = Field(default_factory=list, description="issue areas the pooled fund pays for (default all)")
    regions: list[str] = Field(default_factory=list, description="host regions the pooled fund pays for (default all)")
    grants: int = P(4, 1, 200, "grants per step of the pooled fund, split among donors")
    indicator_weight: float = P(0.5, 0.0, 10.0, "added to every donor's weight on knowledge by the indicator framework")


class UNSystemEntry(_Event):
    """An organisation joins the UN system (IOM, 2016). Its consequences are modelled, not its
    outcome: it becomes eligible for venues open only to UN organisations and gains normative
    standing; its budget and members are left to the mechanisms."""

    type: Literal["un_system_entry"]
    organisation: str = Field(description="organisation that joins the UN system")
    authority: float = P(0.1, 0.0, 1.0, "normative standing joining the UN system adds to the organisation")


Event = Annotated[FundingShock | Crisis | TrustFund | Compact | UNSystemEntry, Field(discriminator="type")]


# --------------------------------------------------------------------------- scenario
class Scenario(Strict):
    title: str = Field(description="short title")
    summary: str = Field("", description="one line for listings (default: the narrative's first sentence)")
    narrative: str = Field(description="the situation, the lever and what to watch, in plain language")
    watch: str = Field("", description="what an instructor should point at in the figures")
    extends: str | None = Field(None, description="base scenario this file changes (name or path, resolved when loading)")
    sources: list[Source] = Field(min_length=1, description="seed passages or published references")
    simulation: Simulation = Field(default_factory=Simulation, description="time settings")
    issues: list[str] = Field(default_factory=lambda: list(DEFAULT_ISSUES), min_length=1, description="issue areas")
    issue_sensitivity: dict[str, Unit] = Field(default_factory=dict, description="how sovereignty-sensitive projects on each issue are (default 0.3)")
    parameters: Parameters = Field(default_factory=Parameters, description="behavioural parameters")
    mechanisms: Mechanisms = Field(default_factory=Mechanisms, description="mechanisms switched on (all by default; turn one off for an ablation)")
    organisations: dict[str, Organisation] = Field(min_length=1, description="international organisations by name")
    donors: dict[str, Donor] = Field(min_length=1, description="donor states by name")
    hosts: dict[str, Host] = Field(min_length=1, description="host governments by name")
    ngos: dict[str, NGO] = Field(default_factory=dict, description="local NGOs by name")
    venue: Venue | None = Field(None, description="coordination venue, if any")
    events: list[Event] = Field(default_factory=list, description="scheduled events")

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        issues = set(self.issues)
        hosts = set(self.hosts)
        regions = {h.region for h in self.hosts.values()}
        orgs = set(self.organisations)

        def need(value: str, allowed: set[str], path: str, what: str) -> None:
            if value not in allowed:
                raise _Ref(path, f"unknown {what} '{value}'; expected one of {sorted(allowed)}")

        for key in self.issue_sensitivity:
            need(key, issues, f"issue_sensitivity.{key}", "issue")
        for name, o in self.organisations.items():
            for k in o.mandate:
                need(k, issues, f"organisations.{name}.mandate.{k}", "issue")
            for k in o.knowledge:
                need(k, issues, f"organisations.{name}.knowledge.{k}", "issue")
            for j, partner in enumerate(o.partners):
                need(partner, orgs - {name}, f"organisations.{name}.partners[{j}]", "other organisation")
            office_hosts = {h for h, r in ((h, self.hosts[h].region) for h in self.hosts)
                            if h in o.offices or r in o.offices}
            for j, h in enumerate(o.working_groups):
                need(h, office_hosts, f"organisations.{name}.working_groups[{j}]", "host where it has an office")
            for i, place in enumerate(o.offices):
                need(place, hosts | regions, f"organisations.{name}.offices[{i}]", "host or region")
            for a in o.strategy:
                need(a, set(ACTIONS), f"organisations.{name}.strategy.{a}", "action")
            for i, place in enumerate(o.members):
                need(place, hosts | regions | {"all"}, f"organisations.{name}.members[{i}]", "host, region or 'all'")
        for name, d in self.donors.items():
            both = {"envelope", "trend"} & d.model_fields_set
            if d.budget and both:
                raise _Ref(f"donors.{name}.{sorted(both)[0]}", "not used when a budget is given (the envelope is "
                           "field_share of the budget); give one or the other")
            years = [b.year for b in d.budget]
            if years != sorted(set(years)):
                raise _Ref(f"donors.{name}.budget", "expected years in increasing order, each once")
            for k in d.priorities:
                need(k, issues, f"donors.{name}.priorities.{k}", "issue")
            for r in d.strategic_regions:
                need(r, regions, f"donors.{name}.strategic_regions.{r}", "region")
            for o in d.familiarity:
                need(o, orgs | set(self.ngos), f"donors.{name}.familiarity.{o}", "organisation or NGO")
        for name, h in self.hosts.items():
            for k in h.pressure:
                need(k, issues, f"hosts.{name}.pressure.{k}", "issue")
        for name, n in self.ngos.items():
            need(n.host, hosts, f"ngos.{name}.host", "host")
            for k in n.issues:
                need(k, issues, f"ngos.{name}.issues.{k}", "issue")
        if self.venue is not None:
            for i, m in enumerate(self.venue.members):
                need(m, orgs, f"venue.members[{i}]", "organisation")
            self.step_of(self.venue.start, "venue.start")
        named: set[str] = set()
        for i, ev in enumerate(self.events):
            self.step_of(ev.at, f"events[{i}].at")
            if ev.name is not None:
                if ev.name in named:
                    raise _Ref(f"events[{i}].name", f"'{ev.name}' names another event too; names must be unique")
                named.add(ev.name)
            if isinstance(ev, FundingShock) and ev.donor != "all":
                need(ev.donor, set(self.donors), f"events[{i}].donor", "donor")
            if isinstance(ev, TrustFund):
                need(ev.donor, set(self.donors), f"events[{i}].donor", "donor")
                for j, k in enumerate(ev.issues):
                    need(k, issues, f"events[{i}].issues[{j}]", "issue")
                for j, r in enumerate(ev.regions):
                    need(r, regions, f"events[{i}].regions[{j}]", "region")
                for j, h in enumerate(ev.hosts):
                    need(h, hosts, f"events[{i}].hosts[{j}]", "host")
                if not ev.regions and not ev.hosts:
                    raise _Ref(f"events[{i}]", "a trust fund needs regions or hosts it pays for")
            if isinstance(ev, UNSystemEntry):
                need(ev.organisation, orgs, f"events[{i}].organisation", "organisation")
            if isinstance(ev, Compact):
                need(ev.coordinator, orgs, f"events[{i}].coordinator", "organisation")
                for j, k in enumerate(ev.issues):
                    need(k, issues, f"events[{i}].issues[{j}]", "issue")
                for j, r in enumerate(ev.regions):
                    need(r, regions, f"events[{i}].regions[{j}]", "region")
            if isinstance(ev, Crisis):
                need(ev.issue, issues, f"events[{i}].issue", "issue")
                if ev.region is None and not ev.hosts:
                    raise _Ref(f"events[{i}]", "a crisis needs a region or a list of hosts")
                if ev.region is not None:
                    need(ev.region, regions, f"events[{i}].region", "region")
                for j, h in enumerate(ev.hosts):
                    need(h, hosts, f"events[{i}].hosts[{j}]", "host")
        return self

    def step_of(self, at: int | str, path: str = "at") -> int:
        """Turn an event date (a step number or 'YYYYQn') into a step number."""
        if isinstance(at, int):
            if at < 0:
                raise _Ref(path, f"expected a step >= 0, got {at}")
            return at
        m = re.fullmatch(r"\s*(\d{4})(?:\s*[Qq]([1-4]))?\s*", str(at))
        if not m:
            raise _Ref(path, f"expected a step number or a date like '2015Q4', got '{at}'")
        year, quarter = int(m.group(1)), int(m.group(2) or 1)
        spy = self.simulation.steps_per_year
        step = (year - self.simulation.start_year) * spy + round((quarter - 1) * spy / 4)
        if step < 0:
            raise _Ref(path, f"'{at}' is before the start year {self.simulation.start_year}")
        return step

    @property
    def one_line(self) -> str:
        """The summary, or the narrative's first sentence."""
        if self.summary:
            return self.summary
        first = re.split(r"(?<=[.!?])\s", self.narrative.strip(), maxsplit=1)[0]
        return " ".join(first.split())

    def content_hash(self) -> str:
        """A stable hash of the validated content (not of the file's formatting)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class _Ref(ValueError):
    """A cross-reference error raised inside validation, carrying the field path."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


# --------------------------------------------------------------------------- loading
def _format_pydantic(err: ValidationError) -> tuple[str, str]:
    e = err.errors()[0]
    ctx = e.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _Ref):
        return inner.path, inner.message
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in _field_loc(e["loc"]))
    loc = loc.replace(".[", "[")
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see docs/ODD.md for the fields)"
    elif e["type"] == "missing":
        msg = "required field is missing"
    elif e["type"] == "int_parsing_size":  # pydantic's words for a float such as 1e300 given as a whole number
        msg = f"far too large (got {e['input']!r}); expected a whole number within the field's range (docs/ODD.md)"
    elif "input" in e and e["type"] not in ("model_type", "dict_type"):
        msg = f"{msg} (got {e['input']!r})"
    more = len(err.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return loc, msg


_UNION_TAGS = {"int", "float", "str", "bool", "none"}
_EVENT_TAGS = {"funding_shock", "crisis", "trust_fund", "compact", "un_system_entry"}


def _field_loc(loc: tuple) -> list:
    """An error location without pydantic's union-member tags (``at.constrained-int``,
    ``events.0.crisis.magnitude``), which are not fields the user could look up."""
    out: list = []
    for k, part in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(part, str) and (("-" in part or "[" in part) or (last and part in _UNION_TAGS and out)):
            continue
        if isinstance(part, str) and part in _EVENT_TAGS and len(out) == 2 and out[0] == "events":
            continue
        out.append(part)
    return out


def validate_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping; raise ScenarioError with the field path on failure."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "", f"expected a mapping of scenario fields, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(source, loc, msg) from None


def read_text(path: str | Path) -> str:
    """A user's text file (scenario, experiment, claims, design CSV) as UTF-8, or one clear error:
    a wrong encoding names the line and byte instead of a UnicodeDecodeError."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(p), "", "file not found")
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ScenarioError(str(p), "", f"cannot read the file ({err.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        utf16 = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        line = raw[: err.start].count(b"\n") + 1
        raise ScenarioError(str(p), "", f"not UTF-8 text{utf16}: byte {err.start} (0x{raw[err.start]:02x}, line "
                            f"{line}) cannot be decoded; expected a file saved as UTF-8") from None


MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it
    """PyYAML's safe loader that refuses a key given twice in one mapping (PyYAML would keep the
    last silently), naming the key's dotted path and line. ``field_source`` and ``field_prefix``
    say which file, and which field the document is, for the message. It parses with libyaml
    when PyYAML was built with it (its wheels are): the history scenario's data made the pure-Python
    parser most of the time a claim's arms took to check."""

    field_source = "<yaml>"
    field_prefix = ""

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_duplicates(self, node, self.field_prefix, self.field_source, set())
        return super().construct_document(node)


def _refuse_duplicates(loader: UniqueKeyLoader, node: yaml.Node, path: str, source: str, seen: set[int]) -> None:
    """Walk the composed document (each node once, so aliases cost nothing) and raise a
    ScenarioError naming the dotted path and line of the first key given twice."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(loader, item, f"{path}[{i}]", source, seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                _refuse_duplicates(loader, value_node, path, source, seen)
                continue
            key = loader.construct_object(key_node, deep=True)
            label = f"{path}.{key}" if path else str(key)
            line = key_node.start_mark.line + 1
            try:
                if key in first:
                    raise ScenarioError(source, label, f"duplicate key (line {line}; first given at line "
                                                       f"{first[key]}); expected each key once")
                first[key] = line
            except TypeError:  # an unhashable key: the constructor reports it below
                pass
            _refuse_duplicates(loader, value_node, label, source, seen)


def load_yaml(text: str, source: str, path: str = "") -> Any:
    """Parse YAML text safely, refusing duplicate keys; ``path`` prefixes the reported field."""
    loader = UniqueKeyLoader(text)
    loader.field_source, loader.field_prefix = source, path
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with safe loading; raise ScenarioError for a missing, undecodable or
    malformed file, or a key given twice."""
    p = Path(path)
    text = read_text(p)
    try:
        return load_yaml(text, str(p))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ScenarioError(str(p), "", f"invalid YAML: {where}{problem}") from None
    except RecursionError:
        raise ScenarioError(str(p), "", "invalid YAML: nested too deeply; expected a scenario-sized document") from None


APPENDED_LISTS = ("events",)


def merge(base: dict, child: dict) -> dict:
    """A child scenario over its base: mappings merge key by key, ``events`` are appended to the
    base's events, and every other value (lists included) replaces the base's."""
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif key in APPENDED_LISTS and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = [*out[key], *value]
        else:
            out[key] = value
    return out


def repo_scenarios() -> Path:
    """The scenario library shipped with the package (``scenarios/`` next to ``model/``)."""
    return Path(__file__).resolve().parents[1] / "scenarios"


def library_dirs() -> list[Path]:
    """Where scenario names are looked up, first match wins: $MIGOV_SCENARIOS, ./scenarios, then
    the package's own library."""
    dirs = [Path(os.environ["MIGOV_SCENARIOS"])] if os.environ.get("MIGOV_SCENARIOS") else []
    return [*dirs, Path.cwd() / "scenarios", repo_scenarios()]


def find_scenario(name: str | Path) -> Path:
    """A scenario by path, or by name among the library folders (``baseline``)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists() or os.sep in str(name):
        return p
    for d in library_dirs():
        for ext in (".yaml", ".yml"):
            if (d / f"{name}{ext}").is_file():
                return d / f"{name}{ext}"
    known = sorted({f.stem for d in library_dirs() if d.is_dir() for f in d.glob("*.y*ml")})
    raise ScenarioError(str(name), "", f"no such scenario file or name; known scenarios: {', '.join(known) or 'none'}")


def base_candidates(ref: str, folder: Path) -> list[Path]:
    """Where ``extends: ref`` may point, in order: a path with a .yaml/.yml suffix is relative to
    the extending file's folder; a bare name is looked for there, then in the library folders."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        return [p if p.is_absolute() else folder / p]
    return [d / f"{ref}{ext}" for d in [folder, *library_dirs()] for ext in (".yaml", ".yml")]


def base_path(ref: str, folder: Path, own: Path | None = None) -> Path:
    """The file ``extends: ref`` names (the first candidate that exists and is not the extending
    file ``own`` itself: ``baseline.yaml`` saying ``extends: baseline`` means the library's), or
    the first candidate if none exists."""
    found = base_candidates(ref, folder)
    me = own.resolve() if own is not None else None
    for c in found:
        if c.is_file() and c.resolve() != me:
            return c
    return found[0]


def _looked_in(ref: str, folder: Path) -> str:
    if Path(ref).suffix in (".yaml", ".yml"):
        return f"looked for {base_candidates(ref, folder)[0]}"
    places = dict.fromkeys(str(d) for d in [folder.resolve(), *library_dirs()])
    return f"looked for {ref}.yaml in {', '.join(places)}"


def copy_data(data: Any) -> Any:
    """A deep copy of plain scenario data (the dicts, lists and scalars read from YAML), made by
    pickling: the same as ``copy.deepcopy`` for such data, about three times faster (experiments
    copy a scenario for every value they check and every run)."""
    return pickle.loads(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def read_resolved(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """A scenario file's data with its ``extends`` chain resolved (not yet validated).

    Each base is validated on its own first, so a mistake in a base file is reported against
    that file. A missing base or a cycle is an error naming the file and its ``extends`` field.
    """
    p = Path(path)
    key = p.resolve()
    if key in _chain:
        names = " -> ".join(c.stem for c in (*_chain, key))
        raise ScenarioError(str(path), "extends", f"cycle of extends: {names}")
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "", f"expected a mapping of scenario fields, got {type(data).__name__}")
    ref = data.get("extends")
    if ref is None:
        return data
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError(str(path), "extends", f"expected the name or path of a base scenario, got {ref!r}")
    bp = base_path(ref, p.parent, own=p)
    if not bp.is_file():
        raise ScenarioError(str(path), "extends", f"base scenario '{ref}' not found ({_looked_in(ref, p.parent)})")
    base = read_resolved(bp, (*_chain, key))
    validate_scenario(base, str(bp))
    return merge(base, data)


def load_scenario(path: str | Path, overrides: list[str] | Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario by library name (``"baseline"``) or file path (resolving
    ``extends``), applying overrides first: ``key=value`` strings as ``--set`` takes them, or a
    mapping of dotted paths to values (``{"donors.EU.scale_preference": 0.9}``) as Python passes them."""
    path = find_scenario(path)
    data = read_resolved(path)
    if not overrides:
        return validate_scenario(data, str(path))
    if isinstance(overrides, Mapping):
        return override_scenario(data, overrides, str(path))
    data = apply_overrides(data, overrides, str(path))
    return _validate_overridden(data, str(path), [o.partition("=")[0].strip() for o in overrides], "--set")


def override_scenario(data: dict | Scenario, values: Mapping[str, Any], source: str) -> Scenario:
    """A scenario with ``values`` (dotted path -> value, ``*`` over names) set, checked like
    ``--set``: a misspelt path or a bad value is a one-line ScenarioError naming the override.
    A Scenario is left as it is; raw ``data`` (a fresh ``read_resolved`` result) is changed in place."""
    if isinstance(data, Scenario):
        data = data.model_dump()
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            raise ScenarioError("overrides", repr(key), "expected a dotted path such as 'parameters.uncertainty'")
        set_paths(data, key.strip(), value, source="overrides")
    return _validate_overridden(data, source, [k.strip() for k in values], "override")


def _validate_overridden(data: dict, source: str, keys: list[str], label: str) -> Scenario:
    """Validate overridden data; an error in an overridden field is blamed on its override."""
    try:
        return validate_scenario(data, source)
    except ScenarioError as err:
        hit = [k for k in keys if err.field == k or err.field.startswith(k + ".") or err.field.startswith(k + "[")]
        if hit:
            raise ScenarioError(f"{source} with {label} {hit[-1]}", err.field, err.message) from None
        raise


# --------------------------------------------------------------------------- overrides
def _field_model(model: type[BaseModel], name: str) -> Any:
    f = model.model_fields.get(name)
    return None if f is None else f.annotation


def _inner_model(annotation: Any) -> Any:
    """The BaseModel class in an annotation like ``X | None`` or ``dict[str, X]``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _event_entry(events: list, key: str, path: str, source: str) -> tuple[dict, type[BaseModel]]:
    """The raw entry of one event and its schema class: by its name, by its index in the list, or
    by its type when the scenario has exactly one event of that type."""
    entries = [e for e in events if isinstance(e, dict)]
    named = [e for e in entries if e.get("name") == key]
    if not named and key.isdigit() and int(key) < len(entries):
        named = [entries[int(key)]]
    if not named:
        named = [e for e in entries if e.get("type") == key]
        if len(named) > 1:
            raise ScenarioError(source, f"{path}.{key}", f"{len(named)} events are of type '{key}'; give the "
                                "event a name (name: ...) or address it by index")
    if not named:
        names = [e.get("name") or f"{i} ({e.get('type')})" for i, e in enumerate(entries)]
        raise ScenarioError(source, f"{path}.{key}", "no such event; expected an event's name, index or type, "
                            f"one of: {', '.join(map(str, names)) or 'none (the scenario has no events)'}")
    kind = named[0].get("type")
    classes = {c.model_fields["type"].annotation.__args__[0]: c
               for c in (FundingShock, Crisis, TrustFund, Compact, UNSystemEntry)}
    if kind not in classes:
        raise ScenarioError(source, f"{path}.{key}", f"unknown event type '{kind}'")
    return named[0], classes[kind]


def set_path(data: dict, dotted: str, value: Any, source: str = "--set") -> dict:
    """Set ``dotted`` (e.g. ``donors.EU.scale_preference``) in raw scenario data.

    The path is checked against the schema, so a misspelt key is an error rather than a new key.
    Entities are addressed by name; their fields may be set even when the file leaves them at
    the default. An event is addressed by its name, index or (when unique) type:
    ``events.eutf_2015.amount``.
    """
    parts = dotted.split(".")
    model: Any = Scenario
    node: Any = data
    depth = 0
    while depth < len(parts):
        part = parts[depth]
        last = depth == len(parts) - 1
        path = ".".join(parts[: depth + 1])
        if isinstance(model, type) and issubclass(model, BaseModel):
            ann = _field_model(model, part)
            if ann is None:
                raise ScenarioError(source, path, f"unknown key; expected one of {sorted(model.model_fields)}")
            origin = getattr(ann, "__origin__", None)
            if model is Scenario and part == "events":
                if depth + 2 >= len(parts) or not isinstance(node.get(part), list):
                    raise ScenarioError(source, path, "set one field of one event: events.<name, index or "
                                        "type>.<field>")
                node, model = _event_entry(node[part], parts[depth + 1], path, source)
                depth += 2
                continue
            if last:
                node[part] = value
                return data
            sub = node.get(part)
            if sub is None:
                sub = node[part] = {}
            if not isinstance(sub, dict):
                raise ScenarioError(source, path, "is not a mapping and has no sub-fields")
            node = sub
            model = ("dict", _inner_model(ann)) if origin is dict else _inner_model(ann)
            if model is None and not last:
                # a plain mapping such as mandate or priorities: the next part is its key
                model = ("free", None)
        elif isinstance(model, tuple) and model[0] == "dict" and model[1] is not None:
            if part not in node:
                raise ScenarioError(source, path, f"unknown name; expected one of {sorted(node)}")
            if last:
                raise ScenarioError(source, path, "cannot replace a whole entity; set one of its fields")
            node = node[part]
            model = model[1]
        else:  # a free mapping, e.g. mandate.labour or priorities.border_return
            if not last:
                raise ScenarioError(source, path, "too many parts in the key")
            node[part] = value
            return data
        depth += 1
    return data


def expand_path(data: dict, dotted: str, source: str = "--set") -> list[str]:
    """Expand ``*`` in a dotted path over the names present at that level (``donors.*.trend``
    is every donor's trend)."""
    parts = dotted.split(".")
    if "*" not in parts:
        return [dotted]
    k = parts.index("*")
    node: Any = data
    for part in parts[:k]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not node:
        raise ScenarioError(source, ".".join(parts[: k + 1]), "'*' needs a mapping of named entities here")
    out: list[str] = []
    for name in node:
        out += expand_path(data, ".".join([*parts[:k], name, *parts[k + 1 :]]), source)
    return out


def set_paths(data: dict, dotted: str, value: Any, source: str = "--set") -> dict:
    """``set_path`` for every path ``dotted`` expands to (see ``expand_path``)."""
    for path in expand_path(data, dotted, source):
        set_path(data, path, value, source)
    return data


def parse_value(text: str, source: str = "--set", path: str = "") -> Any:
    """Parse the right-hand side of ``--set key=value`` as YAML (numbers, booleans, lists);
    text that is not YAML stays a string, but a key given twice is an error."""
    try:
        return load_yaml(text, source, path)
    except (yaml.YAMLError, RecursionError):
        return text


def apply_overrides(data: Any, overrides: list[str], source: str) -> dict:
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "expected a mapping of scenario fields")
    for item in overrides:
        if "=" not in item:
            raise ScenarioError("--set", item, "expected key=value")
        key, _, raw = item.partition("=")
        set_paths(data, key.strip(), parse_value(raw, "--set", key.strip()), source="--set")
    return data
