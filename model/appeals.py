"""Phase 3a: crises, appeals and donors' emergency money (ODD 7.3a).

A crisis raises migration pressure in the hosts it hits (phase 1). Where what crises have added to
pressure on an issue, and not yet faded, exceeds ``appeal_need``, every organisation present in that host
(an office there) whose mandate on the issue is at least ``appeal_mandate`` launches an appeal:
humanitarian appeals are made by the agencies on the ground for the needs of their mandate.
Donors answer appeals beyond their regular envelopes, as far as a crisis is salient to them:
salience grows with the appealed need, weighted by the donor's own interest in the hosts, and
the emergency money is ``appeal_response`` times the envelope at full salience. That money goes
out in calls open only to appeals, chosen among by the donors' usual rule (legitimacy,
reputation, fit, familiarity, knowledge, standing, and taste for scale), so money follows
presence (only organisations on the ground can appeal, and those there first appeal first),
reputation and donors' interests; no organisation is favoured by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .funding import Call, grant_count

if TYPE_CHECKING:
    from .model import MigovModel


@dataclass
class Appeals:
    organisation: np.ndarray  # index of the appealing organisation
    host: np.ndarray
    issue: np.ndarray
    need: np.ndarray  # pressure above baseline on that host and issue

    def __len__(self) -> int:
        return len(self.organisation)


def unmet_need(model: MigovModel) -> np.ndarray:
    """(H, K) what crises have added to migration pressure and not yet faded (it fades at the rate
    pressure reverts); the pressure walk's own noise is not a crisis and raises no appeal."""
    return model.hs.crisis


def launch_appeals(model: MigovModel) -> Appeals:
    """Every present, mandated organisation appeals for every host and issue in need; an
    appeal that is new this step is logged."""
    io, p = model.io, model.p
    need = unmet_need(model)
    crisis = need > p.appeal_need  # (H, K)
    mandated = io.mandate >= p.appeal_mandate  # (I, K)
    cells = io.office[:, :, None] & mandated[:, None, :] & crisis[None, :, :]  # (I, H, K)
    if not model.scenario.mechanisms.crisis_response:
        cells[:] = False
    for i, h, k in zip(*np.nonzero(cells & ~model.appealing), strict=True):
        model.log("appeal", f"{io.names[i]} appeals for {model.issues[k]} in {model.hs.names[h]}", io.names[i])
    model.appealing = cells
    i, h, k = np.nonzero(cells)
    return Appeals(i.astype(np.int64), h.astype(np.int64), k.astype(np.int64), need[h, k])


def salience(model: MigovModel, appeals: Appeals) -> np.ndarray:
    """(D,) how salient the appealed crises are to each donor, in [0, 1): the need appealed for
    in each host and issue (counted once however many agencies appeal), weighted by the donor's
    strategic interest in the host and its priority on the issue, saturating."""
    dn = model.dn
    if len(appeals) == 0:
        return np.zeros(dn.n)
    cells = np.unique(np.column_stack([appeals.host, appeals.issue]), axis=0)
    h, k = cells[:, 0], cells[:, 1]
    need = unmet_need(model)[h, k]
    prio = dn.priorities / dn.priorities.max(axis=1, keepdims=True).clip(min=1e-12)
    weighted = (dn.host_weight[:, h] * prio[:, k]) @ need
    return 1.0 - np.exp(-weighted / model.p.salience_scale)


def emergency_calls(model: MigovModel, appeals: Appeals) -> tuple[list[Call], np.ndarray]:
    """Each donor's answer to the appeals: one call open only to appeals, of
    ``appeal_response`` x salience x its envelope, with its usual number of grants."""
    dn, p = model.dn, model.p
    money = p.appeal_response * salience(model, appeals) * dn.envelope
    calls = [Call(donor=d, pool=float(money[d]), grants=grant_count(p.grants_max, float(dn.scale[d])),
                  label="appeal", appeals_only=True)
             for d in range(dn.n) if money[d] > 0]
    return calls, money
