"""Phase 6b: host states' membership of organisations (ODD 7.6b).

A host joins an organisation when what membership gives it outweighs what it costs, and leaves
when the benefit has fallen well below the cost (Bartels on IOM: states use the organisation for
their own ends). What it gives: access to the organisation's projects (a share of the money it
has recently spent in the host, valued by the host's want of money) and contacts (its office in
the host and the membership of the host's regional peers, valued by the want of contacts), both
discounted by sovereignty sensitivity. What it costs: an assessed contribution in proportion to
the host's state capacity, paid each step into the organisation's core funds. Membership then
makes the host likelier to consent to the organisation's projects and offices (7.4). Nothing
here rewards an organisation for having members as such: one whose projects dry up loses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel

MONEY_MEMORY = 0.1  # weight of this step's project spending in its moving average (about 10 steps)


def regional_standing(member: np.ndarray, region: np.ndarray) -> np.ndarray:
    """(I, H) share of each host's regional peers (the other hosts of its region; ``region``:
    each host's region as a number) that are members of each organisation; 0 for a host alone in
    its region. Counted per region, so the cost grows with hosts, not with their square."""
    n_regions = int(region.max()) + 1 if region.size else 0
    in_region = np.zeros((member.shape[0], n_regions))
    np.add.at(in_region, (slice(None), region), member)  # members of each organisation per region
    peers = np.bincount(region, minlength=n_regions)[region] - 1  # (H,) other hosts of its region
    return (in_region[:, region] - member) / np.maximum(peers, 1)[None, :]


def membership_benefit(model: MigovModel) -> np.ndarray:
    """(I, H) what membership of organisation i is worth to host h per step (millions)."""
    io, hs, p = model.io, model.hs, model.p
    money = p.membership_money_value * hs.wants[:, 0][None, :] * io.project_money_avg
    contacts = p.membership_contacts_value * hs.wants[:, 1][None, :] * 0.5 * (
        io.office + regional_standing(io.member, hs.region_index))
    return (1.0 - hs.sovereignty)[None, :] * (money + contacts)


def assessed_contribution(model: MigovModel) -> np.ndarray:
    """(H,) what a member host pays an organisation per step: in proportion to state capacity."""
    return model.p.membership_contribution * model.hs.capacity


def update_membership(model: MigovModel) -> None:
    """Members pay their contributions into core funds; then, if the mechanism is on, hosts that
    review their membership this step join or leave (one uniform draw per pair)."""
    io, hs, p = model.io, model.hs, model.p
    io.project_money_avg += MONEY_MEMORY * (model.spend_io_host - io.project_money_avg)
    cost = assessed_contribution(model)
    paid = io.member.astype(float) @ cost  # (I,)
    io.core += paid
    io.income += paid
    model.ledger.contributions += float(paid.sum())
    if not model.scenario.mechanisms.membership:
        return
    benefit = membership_benefit(model)
    would_join = ~io.member & (benefit > cost[None, :])
    would_leave = io.member & (benefit < (1.0 - p.membership_exit_cost) * cost[None, :])
    # a review draw only for the pairs whose review would change something (in order of the
    # flattened (I, H) array): the same hazard, and a field where nobody wants to change draws nothing
    pending = np.flatnonzero(would_join | would_leave)
    changes = np.zeros(io.member.size, dtype=bool)
    changes[pending] = model.rng.random(pending.size) < p.membership_review
    changes = changes.reshape(io.member.shape)
    joins, leaves = changes & would_join, changes & would_leave
    io.member[:] = (io.member | joins) & ~leaves
    for i, h in zip(*np.nonzero(joins | leaves), strict=True):
        verb = "joins" if joins[i, h] else "leaves"
        model.log("membership", f"{hs.names[h]} {verb} {io.names[i]}", hs.names[h])
