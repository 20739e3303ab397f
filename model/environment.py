"""Phase 1: the environment moves (ODD 7.1).

Migration pressure per (host, issue) follows a mean-reverting multiplicative random walk around
its baseline, crises add jumps, and uncertainty about future migration is a baseline plus shocks
that fade (Korneev: knowledge matters 'in conditions of uncertainty about future migration
scenarios'). Donor envelopes follow their trend and any scheduled funding shocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .config import Compact, Crisis, FundingShock, TrustFund, UNSystemEntry
from .funding import Call, grant_count

if TYPE_CHECKING:
    from .model import MigovModel


def move_pressure(model: MigovModel) -> None:
    hs, p = model.hs, model.p
    noise = model.rng.normal(0.0, p.pressure_noise, hs.pressure.shape)
    hs.pressure += p.pressure_reversion * (hs.pressure0 - hs.pressure) + noise * hs.pressure0
    np.maximum(hs.pressure, 0.0, out=hs.pressure)
    hs.crisis *= 1.0 - p.pressure_reversion  # what crises added fades at the rate pressure reverts
    model.uncertainty_shock *= 1.0 - p.uncertainty_recovery


def update_uncertainty(model: MigovModel) -> None:
    """Uncertainty this step: the baseline plus what is left of past shocks and this step's."""
    model.uncertainty = float(np.clip(model.p.uncertainty + model.uncertainty_shock, 0.0, 1.0))


def apply_events(model: MigovModel, t: int) -> None:
    """Start the events scheduled for step ``t``."""
    sc, hs = model.scenario, model.hs
    for ev in model.events_at.get(t, ()):
        if isinstance(ev, Crisis):
            hit = np.zeros(hs.n, dtype=bool)
            if ev.region is not None:
                hit |= hs.in_region(ev.region)
            for h in ev.hosts:
                hit[hs.names.index(h)] = True
            k = sc.issues.index(ev.issue)
            jump = crisis_jump(model, ev, int(hit.sum()))
            hs.pressure[hit, k] += jump
            hs.crisis[hit, k] += jump
            model.uncertainty_shock += ev.uncertainty
            where = ev.region or ", ".join(ev.hosts)
            model.log("crisis", ev.note or f"crisis: {ev.issue} pressure jumps in {where}", "environment")
        elif isinstance(ev, FundingShock):
            model.shocks.append((t + ev.duration, ev))
            who = ev.donor if ev.donor != "all" else "all donors"
            model.log("funding_shock", ev.note or f"{who}: funding x{ev.factor:g} for {ev.duration} steps", who)
        elif isinstance(ev, Compact):
            designate(model, ev, t)
        elif isinstance(ev, UNSystemEntry):
            enter_un_system(model, ev)
        elif isinstance(ev, TrustFund):
            model.trust_funds.append((t + ev.duration, ev))
            # established: offices in at least half of the fund's host countries when it opens
            region = _fund_hosts(model, ev.regions, ev.hosts)
            region = np.ones(model.hs.n, dtype=bool) if region is None else region
            model.fund_incumbent |= model.io.office[:, region].mean(axis=1) >= 0.5
            model.trust_fund_opened = True
            model.log("trust_fund", ev.note or f"{ev.donor} opens a trust fund of {ev.amount:g}m per step", ev.donor)
    model.shocks = [(end, ev) for end, ev in model.shocks if end > t]
    model.trust_funds = [(end, ev) for end, ev in model.trust_funds if end > t]


def crisis_jump(model: MigovModel, ev: Crisis, hosts_hit: int) -> float:
    """The pressure jump in each host a crisis hits: its magnitude, or for a crisis given in
    people displaced, ``pressure_per_displaced`` per million spread over the hosts hit (at most 10)."""
    if ev.displaced is None:
        return ev.magnitude
    return min(10.0, model.p.pressure_per_displaced * ev.displaced / max(hosts_hit, 1))


def designate(model: MigovModel, ev: Compact, t: int) -> None:
    """A compact designates a coordinator (moral authority: seed 003, IOM and the GCM), opens a
    pooled fund, and its indicator framework makes every donor weigh knowledge more."""
    i = model.io.names.index(ev.coordinator)
    model.io.authority[i] = min(1.0, model.io.authority[i] + ev.authority)
    model.dn.weights[:, 4] += ev.indicator_weight
    if ev.fund > 0:
        model.trust_funds.append((t + ev.duration, ev))
    text = ev.note or (f"a compact designates {ev.coordinator} as coordinator"
                       + (f" and opens a pooled fund of {ev.fund:g}m per step" if ev.fund > 0 else ""))
    model.log("compact", text, ev.coordinator)


def enter_un_system(model: MigovModel, ev: UNSystemEntry) -> None:
    """An organisation joins the UN system: it becomes eligible where only UN organisations may
    apply (a venue's ``un_only`` rule) and gains normative standing. Nothing else is set: what
    follows for its funding and members is left to donors and hosts."""
    io = model.io
    i = io.names.index(ev.organisation)
    io.un_system[i] = True
    io.authority[i] = min(1.0, io.authority[i] + ev.authority)
    model.log("un_system_entry", ev.note or f"{ev.organisation} joins the UN system", ev.organisation)


def _fund_hosts(model: MigovModel, regions: list[str], names: list[str] = ()) -> np.ndarray | None:
    """The hosts a fund pays for: those in its regions and those it names (None: every host)."""
    if not regions and not names:
        return None
    hosts = np.zeros(model.hs.n, dtype=bool)
    for r in regions:
        hosts |= model.hs.in_region(r)
    for h in names:
        hosts[model.hs.names.index(h)] = True
    return hosts


def set_envelopes(model: MigovModel, t: int) -> None:
    """This step's envelopes: the donor's aid budget from data (field_share of it, interpolated
    between the years given) or, without a budget, its starting envelope grown by its trend;
    times the funding scale and any funding shock."""
    dn, sim = model.dn, model.scenario.simulation
    years = t / sim.steps_per_year
    dn.envelope[:] = model.p.funding_scale * dn.envelope0 * (1.0 + dn.trend) ** years
    for d, (y, v) in enumerate(zip(dn.budget_years, dn.budget_per_step, strict=True)):
        if y.size:
            dn.envelope[d] = model.p.funding_scale * np.interp(sim.start_year + years, y, v)
    for _, ev in model.shocks:
        if ev.donor == "all":
            dn.envelope *= ev.factor
        else:
            dn.envelope[dn.names.index(ev.donor)] *= ev.factor


def funding_calls(model: MigovModel, budget_for_venue: float) -> tuple[list[Call], np.ndarray, np.ndarray]:
    """This step's earmarked calls (donor lines and trust funds), core money and venue levy
    per donor."""
    dn, p, sc = model.dn, model.p, model.scenario
    total = dn.envelope.sum()
    levy = budget_for_venue * dn.envelope / total if total > 0 else np.zeros(dn.n)
    levy = np.minimum(levy, dn.envelope)
    available = dn.envelope - levy
    calls = [
        Call(donor=d, pool=float(dn.earmarking[d] * available[d]),
             grants=grant_count(p.grants_max, float(dn.scale[d])), label=dn.names[d])
        for d in range(dn.n)
    ]
    share = dn.envelope / total if total > 0 else np.full(dn.n, 1.0 / dn.n)
    for _, ev in model.trust_funds:
        hosts = _fund_hosts(model, ev.regions, ev.hosts if isinstance(ev, TrustFund) else ())
        issues = np.array([sc.issues.index(k) for k in ev.issues]) if ev.issues else None
        if isinstance(ev, TrustFund):
            calls.append(Call(donor=dn.names.index(ev.donor), pool=ev.amount, grants=ev.grants,
                              issues=issues, hosts=hosts, label="fund"))
        else:  # a compact's pooled fund: every donor pays its share and scores bids itself
            calls += [Call(donor=d, pool=ev.fund * share[d], grants=max(1, round(ev.grants * share[d])),
                           issues=issues, hosts=hosts, label="fund") for d in range(dn.n) if share[d] > 0]
    core = (1.0 - dn.earmarking) * available
    return calls, core, levy

