"""What each claim's verdict rests on: an emergent claim must not compare only the input and
the output of one mechanism; every mechanism named exists; the registry reports by basis."""

from __future__ import annotations

import pytest
from migov.experiments.claims import basis
from migov.experiments.claims.registry import REGISTRY, Claim, load_registry

SOURCE = {"seed": "x", "passage": "y"}


def claim(measure: str, **comparison) -> Claim:
    return Claim.model_validate({"id": "t", "claim": "c", "source": SOURCE, "basis": "emergent",
                                 "mechanisms": ["legitimacy.update_legitimacy"], "measure": {"name": measure},
                                 "comparison": comparison, "expected": "positive", "fails_if": "f"})


def test_no_emergent_claim_is_one_mechanism_in_and_out():
    flagged = {c.id: basis.single_mechanism(c) for c in load_registry(REGISTRY).claims if c.basis == "emergent"}
    assert {k: v for k, v in flagged.items() if v} == {}


def test_the_analysis_finds_a_circular_claim():
    # the old form of knowledge_partnership_reinforce: two gains read by update_legitimacy, measured on the
    # donor legitimacy it writes
    circular = claim("legitimacy_donors", type="interaction",
                     factors=[{"path": "parameters.gain_knowledge", "low": 0, "high": 0.03},
                              {"path": "parameters.gain_partnership", "low": 0, "high": 0.03}])
    assert basis.varied_fields(circular) == {("parameters", "gain_knowledge"), ("parameters", "gain_partnership")}
    assert basis.measured_state(circular) == {"legit_donor"}
    assert basis.single_mechanism(circular) == "legitimacy.update_legitimacy"
    # an organisation's malleability, read by its stretch action, measured on the mandate it writes
    stretch = claim("mandate_breadth_IOM", type="contrast", a={"scenario": "rigid_mandates"},
                    b={"scenario": "malleable_iom"})
    assert basis.single_mechanism(stretch) == "agents.InternationalOrganisation.stretch_mandate"
    # a per-agent measure is traced through what the agent reports
    refusals = claim("hosts.*.refusals", type="contrast", a={}, b={"set": {"parameters.consent_base": 0.0}})
    assert basis.measured_state(refusals) == {"refusals"}
    assert basis.single_mechanism(refusals) == "projects.host_consent"


def test_a_chain_through_two_mechanisms_is_not_flagged():
    # funding_scale sets envelopes (environment); contests are chosen by organisations (agents, learning)
    chain = claim("contestations", type="contrast", a={}, b={"set": {"parameters.funding_scale": 0.5}})
    assert basis.single_mechanism(chain) is None


def test_mechanisms_must_exist():
    with pytest.raises(ValueError, match=r"not a function of migov\.model"):
        Claim.model_validate({**claim("hhi", type="threshold", threshold=0).model_dump(by_alias=True),
                              "mechanisms": ["legitimacy.no_such_thing"]})
    with pytest.raises(ValueError, match="basis"):
        Claim.model_validate({**claim("hhi", type="threshold", threshold=0).model_dump(by_alias=True),
                              "basis": "believed"})
    for c in load_registry(REGISTRY).claims:
        assert all(basis.mechanism_exists(m) for m in c.mechanisms), c.id


def test_report_groups_by_basis_and_says_what_an_assumed_verdict_shows(tmp_path):
    import numpy as np
    import pandas as pd
    from migov.experiments.claims.registry import adjust, evaluate
    from migov.experiments.claims.report import write_report

    reg = load_registry(REGISTRY)
    picked = [next(c for c in reg.claims if c.basis == b) for b in ("emergent", "assumed", "check")]
    rng = np.random.default_rng(0)
    verdicts = []
    for c in picked:
        n_arms = {"contrast": 2, "unchanged": 2, "threshold": 1, "interaction": 4}.get(c.comparison.type, 5)
        rows = [(p, r, float(rng.normal(p, 0.1))) for p in range(n_arms) for r in range(12)]
        verdicts.append(evaluate(c, pd.DataFrame(rows, columns=["point", "replicate", "value"])))
    adjust(verdicts)
    md, _ = write_report(verdicts, tmp_path / "claims", "test", 0)
    text = md.read_text(encoding="utf-8")
    assert text.index("### Basis: emergent") < text.index("### Basis: assumed") < text.index("### Basis: check")
    assert "does not show the literature is right" in text and "Holm" in text
    table = pd.read_csv(tmp_path / "claims" / "verdicts.csv")
    assert {"basis", "p", "p_holm", "q_bh", "missing", "mechanisms"} <= set(table.columns)
