"""Initial conditions as levers (issue 12 item 6): an organisation's knowledge stock, offices and
partnerships at the start are set by dotted path like any other field, checked, and change the
initial state the model builds. (Membership of IOs is not in the schema: there is no lever.)"""

from __future__ import annotations

import numpy as np
import pytest
from migov.model import MigovModel
from migov.model.config import ScenarioError, load_scenario


def _initial(overrides: list[str]) -> MigovModel:
    """The state the levers set: the baseline without its spin-up, which would move it on."""
    sc = load_scenario("baseline", overrides=[*overrides, "simulation.spin_up=0"])
    return MigovModel(sc, seed=0, steps=0, collect_agents=False)


def test_knowledge_stock_is_a_lever():
    default = _initial([])
    io = default.io
    i, k = io.names.index("IOM"), default.issues.index("labour")
    np.testing.assert_allclose(io.knowledge, 0.5 * io.mandate)  # the default: half the mandate
    m = _initial(["organisations.IOM.knowledge.labour=7.5"])
    assert m.io.knowledge[i, k] == 7.5
    changed = np.zeros_like(io.knowledge, dtype=bool)
    changed[i, k] = True
    np.testing.assert_array_equal(m.io.knowledge[~changed], io.knowledge[~changed])
    # a whole mapping, and every organisation at once
    m = _initial(["organisations.*.knowledge={labour: 2, protection: 0}"])
    assert np.all(m.io.knowledge[:, k] == 2.0) and np.all(m.io.knowledge[:, default.issues.index("protection")] == 0)
    # visible knowledge, which legitimacy and bids read, follows at once
    assert m.visibility[i, k] == pytest.approx(2.0 / (2.0 + m.p.knowledge_saturation))


def test_offices_are_a_lever():
    m = _initial(["organisations.IOM.offices=[Libya, Central Asia]"])
    io, hs = m.io, m.hs
    i = io.names.index("IOM")
    expected = {"Libya", *(h for h, r in zip(hs.names, hs.region, strict=True) if r == "Central Asia")}
    assert {hs.names[h] for h in np.flatnonzero(io.office[i])} == expected
    assert len(expected) > 1
    m = _initial(["organisations.IOM.offices=[]"])
    assert not m.io.office[i].any()


def test_partnerships_are_a_lever():
    m = _initial(["organisations.IOM.partners=[UNHCR, ILO]", "organisations.IOM.offices=[Libya]",
                  "organisations.IOM.working_groups=[Libya]"])
    io = m.io
    i, j, k = (io.names.index(n) for n in ("IOM", "UNHCR", "ILO"))
    assert io.partner_io[i, j] and io.partner_io[j, i] and io.partner_io[i, k] and io.partner_io[k, i]
    assert io.partner_io.sum() == 4  # nobody else partners in the baseline
    assert io.partner_host[i, m.hs.names.index("Libya")] and io.partner_host.sum() == 1


@pytest.mark.parametrize(("override", "field", "words"), [
    ("organisations.IOM.knowledge.labour=-1", "organisations.IOM.knowledge.labour", "greater than or equal to 0"),
    ("organisations.IOM.knowledge.labour=5000", "organisations.IOM.knowledge.labour", "less than or equal to 1000"),
    ("organisations.IOM.knowledge.labour=lots", "organisations.IOM.knowledge.labour", "valid number"),
    ("organisations.IOM.knowledge.fishing=1", "organisations.IOM.knowledge.fishing", "unknown issue"),
    ("organisations.IOM.offices=[Atlantis]", "organisations.IOM.offices[0]", "unknown host or region"),
    ("organisations.IOM.partners=[IOM]", "organisations.IOM.partners[0]", "unknown other organisation"),
    ("organisations.IOM.partners=[Nobody]", "organisations.IOM.partners[0]", "unknown other organisation"),
    ("organisations.IOM.working_groups=[Morocco]", "organisations.IOM.working_groups[0]", "where it has an office"),
    ("organisations.IOM.members=10", "organisations.IOM.members", "valid list"),
    ("organisations.IOM.members=[Atlantis]", "organisations.IOM.members[0]", "unknown host, region or 'all'"),
])
def test_bad_initial_conditions_are_one_line_errors(override, field, words):
    with pytest.raises(ScenarioError) as err:
        load_scenario("baseline", overrides=[override])
    assert err.value.field == field
    assert words in err.value.message
    assert "\n" not in str(err.value)
