"""Phase 4: projects run in host countries (ODD 7.4).

Hosts accept or refuse each grant (a logit over legitimacy, partnership, money and the
sovereignty sensitivity of the issue: Bartels on North African states refusing transit
centres). Accepted money leaves the donor: an organisation keeps its overhead in core funds,
holds the rest as earmarked money and spends it over the project's life, passing a share to a
local NGO; an NGO grant goes to the NGO's account. Finished projects produce an outcome that
feeds efficiency reputations, donors' familiarity and legitimacy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .funding import Grants

if TYPE_CHECKING:
    from .model import MigovModel

_COLUMNS = ("donor", "bidder", "host", "issue", "per_step", "steps_left")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def consent_logit(model: MigovModel, bidder: np.ndarray, host: np.ndarray, issue: np.ndarray,
                  amount: np.ndarray) -> np.ndarray:
    """Log-odds that a host accepts a project (or an office) from a bidder: what the host wants from
    it - money, expertise on the issue, international contacts - against its sovereignty on the
    issue and, for an authoritarian host, the rights the bidder stands for (Bartels: hosts use IOs
    for 'financial gains, international contacts and cooperation, or expert knowledge'; Korneev:
    authoritarian governments challenge IOs' legitimacy)."""
    p, io, hs, ng = model.p, model.io, model.hs, model.ng
    is_io = bidder < io.n
    i = np.where(is_io, bidder, 0)
    n = np.where(is_io, 0, bidder - io.n)
    legit = np.where(is_io, io.legit_host[i, host], 0.5)
    partner = np.where(is_io, io.partner_host[i, host], False)
    member = np.where(is_io, io.member[i, host], False)
    expertise = np.where(is_io, model.visibility[i, issue], ng.expertise[n] if ng.n else 0.0)
    contacts = np.where(is_io, model.partner_standing[i], 0.0)
    rights = np.where(is_io, io.standing[i], ng.normative[n] if ng.n else 0.0)
    return (
        p.consent_base
        + p.consent_legitimacy * (legit - 0.5)
        + p.consent_partnership * partner
        + p.consent_membership * member
        + p.consent_money * hs.wants[host, 0] * np.log1p(amount)
        + p.consent_expertise * hs.wants[host, 2] * expertise
        + p.consent_contacts * hs.wants[host, 1] * contacts
        - p.consent_sovereignty * hs.sovereignty[host] * model.sensitivity[issue]
        - p.consent_regime * hs.authoritarian[host] * rights
    )


def consent_probability(model: MigovModel, bidder: np.ndarray, host: np.ndarray, issue: np.ndarray,
                        amount: np.ndarray) -> np.ndarray:
    """Probability that a host accepts a project (or an office) from a bidder (``consent_logit``)."""
    return sigmoid(consent_logit(model, bidder, host, issue, amount))


@dataclass
class Portfolio:
    """Running organisation projects, one array per column."""

    cols: dict[str, np.ndarray] = field(
        default_factory=lambda: {c: np.zeros(0, dtype=float if c == "per_step" else np.int64) for c in _COLUMNS}
    )

    def __len__(self) -> int:
        return len(self.cols["bidder"])

    def add(self, grants: Grants, per_step: np.ndarray, duration: int) -> None:
        self.add_rows(grants.donor, grants.bidder, grants.host, grants.issue, per_step,
                      np.full(len(grants), duration, dtype=np.int64))

    def add_rows(self, donor, bidder, host, issue, per_step, steps_left) -> None:
        new = dict(zip(_COLUMNS, (donor, bidder, host, issue, per_step, steps_left), strict=True))
        for c in _COLUMNS:
            self.cols[c] = np.concatenate([self.cols[c], np.asarray(new[c]).astype(self.cols[c].dtype)])

    def active_cells(self, n_io: int, n_host: int) -> np.ndarray:
        """(I, H) bool: where an organisation runs at least one project."""
        return self.counts(n_io, n_host) > 0

    def counts(self, n_io: int, n_host: int) -> np.ndarray:
        """(I, H) running projects per organisation and host."""
        cells = np.zeros((n_io, n_host), dtype=np.int64)
        np.add.at(cells, (self.cols["bidder"], self.cols["host"]), 1)
        return cells


def seed_portfolio(model: MigovModel, portfolio: np.ndarray) -> None:
    """Projects already running at the start (ODD 5): each IO's ``portfolio`` is spread evenly
    over its offices, on its best-fitting issue in each host, with remaining durations staggered
    so they do not all end together, attributed to the donor that knows the IO best. The money
    sits in the IO's earmarked account and counts as initial holdings in the ledger."""
    io, dn, hs = model.io, model.dn, model.hs
    duration = model.p.project_duration
    for i in np.flatnonzero(portfolio > 0):
        hosts = np.flatnonzero(io.office[i])
        if hosts.size == 0:
            continue
        issue = (io.mandate[i][None, :] * hs.pressure[hosts]).argmax(axis=1)
        left = duration - (np.arange(hosts.size) % duration)
        per_step = portfolio[i] / hosts.size / left
        donor = int(np.argmax(dn.familiarity[:, i])) if dn.n else 0
        model.portfolio.add_rows(np.full(hosts.size, donor), np.full(hosts.size, i), hosts, issue, per_step, left)
        io.earmarked[i] += float(portfolio[i])


def host_consent(model: MigovModel, grants: Grants) -> np.ndarray:
    """Draw each host's decision; log refusals. Returns the accepted mask.

    Hosts deal with agencies one by one (seed 004: "the multiplication of actors ... is a strategy to
    preserve governments' sovereign influence"): a host takes the offers for the same issue in the
    order of what they give it,
    and each agency it has already taken for that issue this step makes the next one less welcome
    (``consent_rivalry``), so agencies compete for the host's favour rather than share the work."""
    if len(grants) == 0:
        return np.zeros(0, dtype=bool)
    x = consent_logit(model, grants.bidder, grants.host, grants.issue, grants.amount)
    draw = model.rng.random(len(grants))
    accepted = np.zeros(len(grants), dtype=bool)
    # the probability of each offer with o rivals already taken for its host and issue, for every o
    # up to the largest such cell, in one vectorised sigmoid; the walk below only counts rivals
    cells = grants.host * len(model.issues) + grants.issue
    prob = sigmoid(x[None, :] - model.p.consent_rivalry * np.arange(np.bincount(cells).max())[:, None])
    host, issue, bidder = grants.host.tolist(), grants.issue.tolist(), grants.bidder.tolist()
    taken: dict[tuple[int, int], set[int]] = {}
    for g in np.lexsort((-x, grants.issue, grants.host)).tolist():  # by host and issue, best offer first
        rivals = taken.setdefault((host[g], issue[g]), set())
        others = len(rivals) - (bidder[g] in rivals)
        if draw[g] < prob[others, g]:
            accepted[g] = True
            rivals.add(bidder[g])
    for g in np.flatnonzero(~accepted):
        h = int(grants.host[g])
        model.hs.refusals[h] += 1
        model.log(
            "refusal",
            f"{model.hs.names[h]} refuses a {model.issues[grants.issue[g]]} project of "
            f"{model.bidder_names[grants.bidder[g]]} funded by {model.dn.names[grants.donor[g]]}",
            model.hs.names[h],
        )
    return accepted


def disburse(model: MigovModel, grants: Grants) -> None:
    """Move accepted grant money out of donors and into accounts; start IO projects."""
    if len(grants) == 0:
        return
    io, ng, ledger = model.io, model.ng, model.ledger
    np.add.at(model.dn.disbursed, grants.donor, grants.amount)
    from_fund = np.array([model.calls[c].label == "fund" for c in grants.call], dtype=bool)
    np.add.at(model.fund_received, grants.bidder[from_fund], grants.amount[from_fund])
    emergency = np.array([model.calls[c].appeals_only for c in grants.call], dtype=bool)
    model.emergency_received += float(grants.amount[emergency].sum())
    ledger.donor_outflow += float(grants.amount.sum())
    is_io = grants.bidder < io.n
    model.earmarked_received += float(grants.amount.sum())

    g_io = grants.take(is_io)
    if len(g_io):
        i = g_io.bidder
        overhead = g_io.amount * io.overhead[i]
        programme = g_io.amount - overhead
        np.add.at(io.core, i, overhead)
        np.add.at(io.earmarked, i, programme)
        np.add.at(io.income, i, g_io.amount)
        ledger.overhead += float(overhead.sum())
        new_office = ~io.office[i, g_io.host]
        for oi, oh in sorted({(int(a), int(b)) for a, b in zip(i[new_office], g_io.host[new_office], strict=True)}):
            model.open_office(oi, oh, reason="to run a new project")
        model.portfolio.add(g_io, programme / model.p.project_duration, model.p.project_duration)

    g_ng = grants.take(~is_io)
    if len(g_ng):
        n = g_ng.bidder - io.n
        np.add.at(ng.funds, n, g_ng.amount)
        np.add.at(ng.income_direct, n, g_ng.amount)
        model.ngo_received += float(g_ng.amount.sum())
        # NGO projects complete at once for the purpose of reputation: small, local, short
        outcome = project_outcome(model, ng.efficiency[n], g_ng.host, ng.expertise[n])
        _learn_from_outcomes(model, g_ng.donor, g_ng.bidder, outcome)

    threshold = model.large_grant_threshold
    for g in np.flatnonzero(grants.amount >= threshold):
        model.log(
            "grant",
            f"{model.dn.names[grants.donor[g]]} funds {model.bidder_names[grants.bidder[g]]} in "
            f"{model.hs.names[grants.host[g]]} ({model.issues[grants.issue[g]]}): "
            f"{grants.amount[g]:.1f}m",
            model.dn.names[grants.donor[g]],
        )


def run_projects(model: MigovModel) -> None:
    """Spend one step of every running project; subcontract NGOs; finish projects."""
    pf = model.portfolio
    if len(pf) == 0:
        return
    io, ng, ledger = model.io, model.ng, model.ledger
    c = pf.cols
    i, h = c["bidder"], c["host"]
    # projects spend as planned unless office costs charged to them have left their IO short,
    # in which case all of that IO's projects are scaled down alike: never more than it holds
    planned = np.bincount(i, weights=c["per_step"], minlength=io.n)
    factor = np.minimum(1.0, io.earmarked / np.where(planned > 0, planned, 1.0))
    spend = c["per_step"] * factor[i]
    io.earmarked -= np.bincount(i, weights=spend, minlength=io.n)
    np.maximum(io.earmarked, 0.0, out=io.earmarked)  # rounding only
    partner = model.implementing_partner[i, h]
    sub = np.where(partner >= 0, spend * model.p.subcontract_share, 0.0)
    if (partner >= 0).any():
        np.add.at(ng.funds, partner[partner >= 0], sub[partner >= 0])
        np.add.at(ng.income_subcontract, partner[partner >= 0], sub[partner >= 0])
        model.ngo_subcontracted += float(sub.sum())
    ledger.spend("programme", float((spend - sub).sum()))
    np.add.at(model.spend_host, h, spend)  # where project money is spent this step
    np.add.at(model.spend_io_host, (i, h), spend)
    c["steps_left"] = c["steps_left"] - 1
    done = c["steps_left"] <= 0
    if done.any():
        d_i, d_h, d_k = i[done], h[done], c["issue"][done]
        outcome = project_outcome(model, io.efficiency[d_i], d_h, model.visibility[d_i, d_k])
        _learn_from_outcomes(model, c["donor"][done], d_i, outcome)
        np.add.at(model.perf_host, (d_i, d_h), outcome)
        for k in _COLUMNS:
            c[k] = c[k][~done]


def project_outcome(model: MigovModel, efficiency: np.ndarray, host: np.ndarray,
                    knowledge: np.ndarray) -> np.ndarray:
    """Delivered performance in [0, 1]: the implementer's efficiency, better with a capable
    host state and with knowledge of the issue, plus noise. Its mean is the efficiency when
    host capacity and knowledge are middling, so a reputation is a noisy estimate of it."""
    q = efficiency + 0.2 * (model.hs.capacity[host] - 0.5) + 0.2 * (knowledge - 0.5)
    return np.clip(q + model.rng.normal(0.0, 0.05, len(q)), 0.0, 1.0)


def _learn_from_outcomes(model: MigovModel, donor: np.ndarray, bidder: np.ndarray, outcome: np.ndarray) -> None:
    """Outcomes update the bidder's efficiency reputation, and add to the donor's familiarity
    with it: familiarity is accumulated experience of cooperation (it grows with every good
    project and fades without them), not an estimate of quality."""
    p, io, ng, dn = model.p, model.io, model.ng, model.dn
    rep = np.concatenate([io.reputation, ng.reputation])
    for b, q in zip(bidder, outcome, strict=True):
        rep[b] += p.reputation_memory * (q - rep[b])
    io.reputation[:] = rep[: io.n]
    ng.reputation[:] = rep[io.n :]
    for d, b, q in zip(donor, bidder, outcome, strict=True):
        dn.familiarity[d, b] += p.familiarity_gain * q * (1.0 - dn.familiarity[d, b])
    is_io = bidder < io.n
    np.add.at(model.perf_donor, (bidder[is_io], donor[is_io]), outcome[is_io])


def ngo_spending(model: MigovModel) -> None:
    ng = model.ng
    spent = ng.funds * model.p.ngo_spending_rate
    ng.funds -= spent
    model.ledger.spend("ngo", float(spent.sum()))
