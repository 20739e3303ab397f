"""Phase 5b: host governments review the organisations present (ODD 7.5b).

A host admits organisations through its consent to their projects and offices (``projects``);
here it can also send one away. An authoritarian, sovereignty-minded government that no longer
finds an organisation legitimate - after challenges, or because it never delivered what the
government wanted - may close its office (Korneev: authoritarian governments 'challenge the
legitimacy of IOs'; Bartels: North African states' 'persistent refusal'). A democratic host, or
one that still finds the organisation legitimate, never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import MigovModel


def expel_unwelcome(model: MigovModel) -> None:
    io, hs, p = model.io, model.hs, model.p
    if p.expulsion_rate <= 0:
        return
    shortfall = np.clip((p.expulsion_legitimacy - io.legit_host) / max(p.expulsion_legitimacy, 1e-12), 0.0, 1.0)
    prob = p.expulsion_rate * (hs.authoritarian * hs.sovereignty)[None, :] * shortfall * io.office
    expelled = model.rng.random(prob.shape) < prob
    for i, h in zip(*np.nonzero(expelled), strict=True):
        model.log("expulsion", f"the government of {hs.names[h]} expels {io.names[i]}", hs.names[h])
        model.close_office(int(i), int(h), f"expelled by the government of {hs.names[h]}")
