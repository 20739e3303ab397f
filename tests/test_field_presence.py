"""Field presence follows projects and the spin-up removes the start-up transient (#12 item 3)."""

from __future__ import annotations

import numpy as np
from migov.model.model import MigovModel
from strategies import make_scenario


def _funded(envelope: float, **parameters) -> MigovModel:
    """One organisation with an office in H1 and a donor who funds labour projects there."""
    sc = make_scenario(
        organisations={"A": {"mandate": {"labour": 1}, "offices": ["H1"], "core_funds": 20}},
        donors={"D": {"envelope": envelope, "earmarking": 1.0, "scale_preference": 0.0, "priorities": {"labour": 1}}},
        parameters={"consent_base": 10.0, "project_duration": 8, **parameters},
    )
    return MigovModel(sc, seed=4)


def test_more_projects_open_more_field_locations():
    m = _funded(200.0, projects_per_location=2.0)
    for _ in range(6):
        m.step()
    running = m.portfolio.counts(m.io.n, m.hs.n)[0, 0]
    assert running >= 5
    # one location per two running projects (the ceiling), the country office included
    assert m.io.locations[0, 0] == int(np.ceil(running / 2.0))
    assert m.measures["offices"] == float(m.io.locations.sum()) > m.measures["countries_present"] == 1.0


def test_surplus_locations_close_after_the_grace_period_when_money_stops():
    m = _funded(200.0, projects_per_location=1.0, office_grace=3)
    for _ in range(6):
        m.step()
    peak = int(m.io.locations[0, 0])
    assert peak > 2
    m.dn.envelope0[:] = 0.0  # the donor stops funding: projects end, locations become surplus
    for _ in range(4 + 3 + peak + 1):
        m.step()
        assert m.io.locations[0, 0] <= peak
    assert m.io.locations[0, 0] < peak


def test_projectised_offices_pay_from_project_money():
    """With projectised offices the running cost of a busy office comes out of project money;
    switched off, every office is paid from core, so core funds end lower."""
    cores = {}
    for on in (True, False):
        m = _funded(100.0, projects_per_location=1.0)
        m.scenario.mechanisms.projectised_offices = on
        spent_core = 0.0
        for _ in range(8):
            before = m.io.core.copy()
            m.step()
            spent_core += float(before[0] - m.io.core[0])
        cores[on] = m.io.core[0]
        assert m.ledger_error() < 1e-9
    assert cores[True] > cores[False]


def test_spin_up_is_dropped_from_the_outputs():
    plain = MigovModel("baseline", seed=3, steps=4, collect_agents=False)
    spun = MigovModel("baseline", seed=3, steps=4, collect_agents=False, overrides={"simulation.spin_up": 6})
    again = MigovModel("baseline", seed=3, steps=4, collect_agents=False, overrides={"simulation.spin_up": 6})
    for m in (plain, spun, again):
        m.run_model()
    a, b, c = (m.model_frame() for m in (plain, spun, again))
    assert list(b["step"]) == list(a["step"]) == [0, 1, 2, 3, 4]
    assert list(b["quarter"]) == list(a["quarter"])
    assert not a.drop(columns=["step", "year", "quarter"]).equals(b.drop(columns=["step", "year", "quarter"]))
    assert b.equals(c)  # reproducible
    assert spun.events_frame()["step"].min() >= 1  # nothing logged before the start
    assert spun.ledger_error() < 1e-9


def test_spin_up_removes_the_start_up_transient():
    """Without a spin-up the baseline's projectised IOM closes most of its initial offices in the
    first two years once its seeded projects end; after a spin-up the recorded start is a state the
    mechanisms keep, so the first two years lose far fewer offices."""
    def drop(spin: int) -> float:
        losses = []
        for seed in (1, 2, 3):
            m = MigovModel("baseline", seed=seed, steps=8, collect_agents=False,
                           overrides={"simulation.spin_up": spin})
            iom = m.io.names.index("IOM")
            first = int(m.io.office[iom].sum())
            low = first
            for _ in range(8):
                m.step()
                low = min(low, int(m.io.office[iom].sum()))
            losses.append(first - low)
        return float(np.mean(losses))
    # offices lost in the first two years, mean over seeds 1-3: 4 without a spin-up (11 -> 3, 11,
    # 11 -> 7), under 1 with it (a spun-up IOM holds few offices, so shares of them are noisy)
    assert drop(0) >= 3
    assert drop(20) <= drop(0) / 3
