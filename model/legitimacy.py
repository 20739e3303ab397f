"""Phase 5: legitimacy with each audience (ODD 7.5).

Legitimacy is cumulative with decay (Korneev: 'cumulative nature of legitimacy'). For every
organisation and audience, with gains G and losses C in [0, 1],

    L' = L + G (1 - L) - (delta + C) L

which keeps L in [0, 1] whenever G and delta + C are in [0, 1]. Gains come from visible
knowledge (amplified by uncertainty about future migration), partner standing, their
interaction (the knowledge x partnership reinforcement term), delivered performance and
normative fit; losses from contestation by rivals, authoritarian hosts' challenges, mandate
creep and partnering with authoritarian governments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel


def _update(L: np.ndarray, gain: np.ndarray, loss: np.ndarray, decay: float) -> np.ndarray:
    g = np.clip(gain, 0.0, 1.0)
    c = np.clip(decay + loss, 0.0, 1.0)
    return np.clip(L + g * (1.0 - L) - c * L, 0.0, 1.0)


def partner_standing(model: MigovModel) -> np.ndarray:
    """Standing borrowed from IO partners: 1 - exp(-sum of partners' peer legitimacy)."""
    io = model.io
    return 1.0 - np.exp(-(io.partner_io.astype(float) @ io.legit_peer))


def authoritarian_challenges(model: MigovModel) -> np.ndarray:
    """(I, H) bool: which present IOs each authoritarian host challenges this step.

    A partnership with the host government averts a share of challenges (Korneev: global-local
    partnerships as a route to legitimacy with governments)."""
    io, hs, p = model.io, model.hs, model.p
    prob = p.challenge_rate * hs.authoritarian[None, :] * io.office
    prob = prob * (1.0 - p.challenge_shield * io.partner_host)
    challenged = model.rng.random(prob.shape) < prob
    for i, h in zip(*np.nonzero(challenged), strict=True):
        model.log("challenge", f"the government of {hs.names[h]} challenges {io.names[i]}'s role", hs.names[h])
    return challenged


def update_legitimacy(model: MigovModel) -> None:
    io, dn, hs, p = model.io, model.dn, model.hs, model.p
    V = model.visibility  # (I, K) visible knowledge in [0, 1)
    amplify = 1.0 + p.uncertainty_knowledge_boost * model.uncertainty
    S = partner_standing(model)  # (I,)
    w = dn.weights / dn.weights.max(axis=1, keepdims=True).clip(min=1e-12)  # (D, 6) relative

    # donors: knowledge on the donor's priority issues; legitimacy, normative weights
    K_d = V @ dn.priorities.T  # (I, D)
    gain_d = (
        p.gain_knowledge * amplify * K_d * w[:, 4][None, :]
        + p.gain_partnership * S[:, None]
        + p.knowledge_partnership_synergy * amplify * K_d * S[:, None]
        + p.gain_performance * np.tanh(model.perf_donor)
        + p.gain_normative * io.standing[:, None] * w[:, 5][None, :]
    )
    auth_partners = io.partner_host.astype(float) @ hs.authoritarian  # (I,)
    loss_d = (
        model.contest_hits[:, None]
        + p.authoritarian_partner_cost * auth_partners[:, None] * w[:, 5][None, :]
    )
    io.legit_donor[:] = _update(io.legit_donor, gain_d, loss_d, p.legitimacy_decay)

    # hosts: expertise on the host's own pressures, contacts, money delivered; presence matters
    share = hs.pressure / hs.pressure.sum(axis=1, keepdims=True).clip(min=1e-12)  # (H, K)
    K_h = V @ share.T  # (I, H)
    presence = 0.3 + 0.7 * io.office
    local = io.partner_host + model.ngo_partner_in_host
    gain_h = presence * (
        p.gain_knowledge * amplify * K_h * hs.wants[:, 2][None, :]
        + p.gain_partnership * hs.wants[:, 1][None, :] * np.clip(S[:, None] + 0.5 * local, 0.0, 1.0)
        + p.knowledge_partnership_synergy * amplify * K_h * np.clip(S[:, None] + 0.5 * local, 0.0, 1.0)
    ) + p.gain_performance * hs.wants[:, 0][None, :] * np.tanh(model.perf_host)
    model.challenged = authoritarian_challenges(model)
    loss_h = p.challenge_loss * model.challenged
    io.legit_host[:] = _update(io.legit_host, gain_h, loss_h, p.legitimacy_decay)

    # peers: knowledge across the IO's own mandate, partner standing, normative standing
    mw = io.mandate / io.mandate.sum(axis=1, keepdims=True).clip(min=1e-12)
    K_p = (V * mw).sum(axis=1)
    gain_p = (
        p.gain_knowledge * amplify * K_p
        + p.gain_partnership * S
        + p.knowledge_partnership_synergy * amplify * K_p * S
        + p.gain_normative * io.standing
        + p.gain_partnership * model.venue_visibility
    )
    loss_p = model.contest_hits + model.peer_loss
    io.legit_peer[:] = _update(io.legit_peer, gain_p, loss_p, p.legitimacy_decay)
