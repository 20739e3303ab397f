"""Phase 3: bids and the donors' choice among them (ODD 7.3).

Every donor scores every bid at once (a donor x bid utility matrix) and draws its grants with
the Gumbel-top-k trick, which samples *without replacement* from the multinomial logit over
bids. A donor that prefers large programmes makes fewer, larger grants; bidders that cannot
absorb a grant of that size (most NGOs) are not eligible for it, which is how a preference for
scale concentrates funding without any rule that says so (Bartels: 'more convenient to fund one
large IOM program than ... many smaller projects implemented by NGOs').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import seats

if TYPE_CHECKING:
    from .appeals import Appeals
    from .model import MigovModel


@dataclass
class Bids:
    bidder: np.ndarray  # bidder index: organisations first, then NGOs
    host: np.ndarray
    issue: np.ndarray
    appeal: np.ndarray | None = None  # bool: an organisation's appeal in a crisis (None: no appeals)

    def __post_init__(self) -> None:
        if self.appeal is None:
            self.appeal = np.zeros(len(self.bidder), dtype=bool)

    def __len__(self) -> int:
        return len(self.bidder)


@dataclass
class Grants:
    donor: np.ndarray
    bidder: np.ndarray
    host: np.ndarray
    issue: np.ndarray
    amount: np.ndarray
    call: np.ndarray  # index of the call (donor budget line or trust fund)

    def __len__(self) -> int:
        return len(self.bidder)

    def take(self, mask: np.ndarray) -> Grants:
        return Grants(*(getattr(self, f)[mask] for f in ("donor", "bidder", "host", "issue", "amount", "call")))


@dataclass
class Call:
    """One pot of earmarked money and how it is split: a donor's budget line or a trust fund."""

    donor: int
    pool: float
    grants: int
    issues: np.ndarray | None = None  # allowed issue indices, None = all
    hosts: np.ndarray | None = None  # allowed host mask, None = all
    label: str = ""
    appeals_only: bool = False  # an emergency call, open only to appeals; other calls take no appeals
    bidders: np.ndarray | None = None  # allowed bidder mask (a seated donor's choice), None = all


def assemble_bids(model: MigovModel, appeals: Appeals | None = None) -> Bids:
    """Organisations bid where they have offices, on their best-fitting issue there; an IO
    that chose ``bid_for_projects`` also scouts hosts without an office. Each NGO bids in its
    own host on its best-fitting issue. Appeals, if any, follow as bids of their own."""
    io, hs, ng = model.io, model.hs, model.ng
    fit = io.mandate[:, None, :] * hs.pressure[None, :, :]  # (I, H, K)
    best = fit.argmax(axis=2)  # (I, H)
    value = fit.max(axis=2)
    where = io.office & (value > 0)
    if model.scouting.any() and model.p.scouting_bids > 0:
        interest = value * model.dn.host_weight.mean(axis=0)[None, :]
        interest = np.where(io.office, -np.inf, interest)
        top = np.argsort(-interest, axis=1)[:, : model.p.scouting_bids]
        rows = np.repeat(np.arange(io.n), top.shape[1])
        cols = top.ravel()
        ok = model.scouting[rows] & np.isfinite(interest[rows, cols]) & (interest[rows, cols] > 0)
        where = where.copy()
        where[rows[ok], cols[ok]] = True
    for i, hosts in model.seated.bid_in.items():  # a seat bids only where it chose to
        scouted = hosts & ~io.office[i] & (value[i] > 0) if model.scouting[i] else np.zeros_like(hosts)
        if model.p.scouting_bids < scouted.sum():  # as many as scouting reaches, in the scenario's order
            scouted[np.flatnonzero(scouted)[model.p.scouting_bids:]] = False
        where[i] = (io.office[i] & hosts & (value[i] > 0)) | scouted
    i_idx, h_idx = np.nonzero(where)
    n_fit = ng.issues * hs.pressure[ng.host]
    n_issue = n_fit.argmax(axis=1)
    n_ok = n_fit.max(axis=1) > 0
    n_idx = np.flatnonzero(n_ok)
    bids = Bids(
        bidder=np.concatenate([i_idx, io.n + n_idx]).astype(np.int64),
        host=np.concatenate([h_idx, ng.host[n_idx]]).astype(np.int64),
        issue=np.concatenate([best[i_idx, h_idx], n_issue[n_idx]]).astype(np.int64),
    )
    if appeals is None or len(appeals) == 0:
        return bids
    return Bids(bidder=np.concatenate([bids.bidder, appeals.organisation]),
                host=np.concatenate([bids.host, appeals.host]),
                issue=np.concatenate([bids.issue, appeals.issue]),
                appeal=np.concatenate([bids.appeal, np.ones(len(appeals), dtype=bool)]))


def bid_features(model: MigovModel, bids: Bids) -> np.ndarray:
    """Features of the choice rule, shape (6, D, B), each scaled to [0, 1]:
    legitimacy with the donor, efficiency reputation, issue fit, familiarity, knowledge of the
    issue, normative standing."""
    io, dn, hs, ng = model.io, model.dn, model.hs, model.ng
    D, B, K = dn.n, len(bids), hs.pressure.shape[1]
    b = bids.bidder
    # per-bidder columns: organisations first, then NGOs (whose legitimacy with donors is their
    # normative standing and expertise, and whose knowledge is their local expertise)
    legit = np.hstack([io.legit_donor.T, np.broadcast_to(0.5 * (ng.normative + ng.expertise), (D, ng.n))])[:, b]
    rep = np.concatenate([io.reputation, ng.reputation])[b]
    prio = dn.priorities / dn.priorities.max(axis=1, keepdims=True)
    pr = hs.pressure[bids.host, bids.issue]
    fit = prio[:, bids.issue] * dn.host_weight[:, bids.host] * (pr / (pr + 1.0))[None, :]
    fam = dn.familiarity[:, b]
    know = np.vstack([model.visibility, np.broadcast_to(ng.expertise[:, None], (ng.n, K))])[b, bids.issue]
    norm = np.concatenate([io.standing, ng.normative])[b]
    feats = np.empty((6, D, B))
    feats[0] = legit
    feats[1] = rep[None, :]
    feats[2] = fit
    feats[3] = fam
    feats[4] = know[None, :]
    feats[5] = norm[None, :]
    return feats


def grant_count(grants_max: int, scale_preference: float) -> int:
    """Grants a donor makes per step: many small ones at preference 0, one at preference 1."""
    return max(1, int(np.floor(1.5 + (grants_max - 1) * (1.0 - scale_preference))))


def choose_grants(model: MigovModel, bids: Bids, calls: list[Call]) -> Grants:
    """Each call ranks eligible bids by a draw from the logit over them (Gumbel-top-k) and
    fills its grant slots in that order.

    A call has as many slots as the donor is willing to administer (few for a donor that
    prefers large programmes). Each slot gets an even share of the money left, capped by what
    the winner can absorb, so a small NGO winning a slot leaves more for the slots after it."""
    empty = Grants(*(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int64, np.int64, float, np.int64)))
    if len(bids) == 0 or not calls:
        return empty
    dn = model.dn
    feats = bid_features(model, bids)
    utility = np.einsum("fdb,df->db", feats, dn.weights)
    capacity = np.concatenate([model.io.capacity, model.ng.capacity])[bids.bidder]
    size = np.log1p(capacity) / np.log1p(capacity.max() + 1e-12)
    utility = utility + dn.scale[:, None] * size[None, :]
    rows = np.array([c.donor for c in calls])
    u = utility[rows] / model.p.choice_temperature
    keys = u - np.log(-np.log(model.rng.uniform(1e-12, 1.0, size=u.shape)))  # + Gumbel noise
    out = {k: [] for k in ("donor", "bidder", "host", "issue", "amount", "call")}
    not_appeal = ~bids.appeal
    allowed = np.zeros(model.hs.pressure.shape[1], dtype=bool)  # a call's issues, as a mask over issues
    for c_idx, call in enumerate(calls):
        if call.pool <= 0:
            continue
        ok = bids.appeal.copy() if call.appeals_only else not_appeal.copy()
        if call.issues is not None:
            allowed[:] = False
            allowed[call.issues] = True
            ok &= allowed[bids.issue]
        if call.hosts is not None:
            ok &= call.hosts[bids.host]
        if call.bidders is not None:
            ok &= call.bidders[bids.bidder]
        if not ok.any():
            continue
        ranked = np.flatnonzero(ok)[np.argsort(-keys[c_idx, ok], kind="stable")][: call.grants]
        amounts = _fill_slots(call.pool, call.grants, capacity[ranked])
        keep = amounts > 0
        winners = ranked[keep]
        out["donor"].append(np.full(len(winners), call.donor))
        out["bidder"].append(bids.bidder[winners])
        out["host"].append(bids.host[winners])
        out["issue"].append(bids.issue[winners])
        out["amount"].append(amounts[keep])
        out["call"].append(np.full(len(winners), c_idx))
    if not out["bidder"]:
        return empty
    return Grants(**{k: np.concatenate(v) for k, v in out.items()})


def _fill_slots(pool: float, slots: int, capacity: np.ndarray) -> np.ndarray:
    """Walk down the ranked winners: each gets an even share of what is left over the slots
    left, capped by what it can absorb. Money no winner can absorb stays with the donor."""
    amounts = np.zeros(len(capacity))
    left = pool
    for r, cap in enumerate(capacity):
        share = left / (slots - r)
        amounts[r] = min(share, cap)
        left -= amounts[r]
    return amounts


def core_target(model: MigovModel) -> np.ndarray:
    """Where each donor would put its core (unearmarked) money now, shape (D, I): in
    proportion to legitimacy with the donor (raised to ``core_concentration``) and mandate fit."""
    io, dn = model.io, model.dn
    fit = dn.priorities @ io.mandate.T  # (D, I)
    fit = fit / (fit.max(axis=1, keepdims=True) + 1e-12)
    return _rows_to_shares(io.legit_donor.T ** model.p.core_concentration * (0.5 + fit))


def update_core_shares(model: MigovModel) -> np.ndarray:
    """Core contributions are sticky (multi-year pledges, assessed shares): each step a donor
    keeps ``core_inertia`` of last step's split and moves the rest toward its current target."""
    a = model.p.core_inertia
    target = core_target(model)
    if model.seated.fund:
        target = seats.core_targets(model, target)
    model.core_split = a * model.core_split + (1.0 - a) * target
    return model.core_split


def _rows_to_shares(w: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    return np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / w.shape[1])
