"""Every scenario in the library loads, runs and keeps the invariants; each variant pair differs
in exactly the parameters that define it (so a copy-paste that makes two variants identical, or
lets one drift in other ways, fails)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
import pytest
from migov.experiments.common.library import TEXT_FIELDS, flatten
from migov.model import MigovModel, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
REQUIRED = {"baseline", "eutf_2015", "central_asia", "global_compact_2018", "gmg_rotating_chair",
            "gmg_secretariat", "mixed_migration_cooperate", "mixed_migration_expand", "donor_consolidation",
            "ngo_friendly_donors", "rigid_mandates", "malleable_iom"}

# variant pairs: the parameters (glob patterns over dotted paths) they may differ in, and those
# they must differ in
PAIRS = {
    ("gmg_rotating_chair", "gmg_secretariat"): (["venue.secretariat", "venue.budget"],
                                                ["venue.secretariat", "venue.budget"]),
    ("mixed_migration_cooperate", "mixed_migration_expand"): (
        ["organisations.IOM.*", "organisations.UNHCR.*"],
        ["organisations.IOM.partners", "organisations.UNHCR.partners", "organisations.IOM.strategy.contest_rival",
         "organisations.UNHCR.strategy.contest_rival"]),
    ("donor_consolidation", "ngo_friendly_donors"): (["donors.*"], [f"donors.{d}.scale_preference" for d in
                                                                    ("USA", "EU", "Germany", "UK", "Nordics",
                                                                     "Japan", "Switzerland")]),
    ("rigid_mandates", "malleable_iom"): (["organisations.IOM.malleability"], ["organisations.IOM.malleability"]),
    ("baseline", "eutf_2015"): (["events"], ["events"]),
    ("baseline", "global_compact_2018"): (["events"], ["events"]),
}


def settings_of(name: str) -> dict:
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return {k: v for k, v in flatten(sc.model_dump(mode="json")).items() if k.split(".")[0] not in TEXT_FIELDS}


def test_the_library_is_complete():
    assert {p.stem for p in SCENARIOS} >= REQUIRED


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_loads_runs_and_keeps_invariants(path: Path):
    sc = load_scenario(path)
    assert sc.title and sc.narrative and sc.sources and sc.one_line
    m = MigovModel(sc, seed=3)
    for _ in range(12):
        m.step()
        assert m.ledger_error() <= 1e-9
        io = m.io
        for L in (io.legit_donor, io.legit_host, io.legit_peer):
            assert np.all((L >= 0) & (L <= 1))
        assert (io.core >= 0).all() and (io.earmarked >= 0).all() and (m.ng.funds >= 0).all()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_sources_are_verbatim(path: Path, seeds_dir):
    sc = load_scenario(path)
    norm = {}
    for s in sc.sources:
        seed = seeds_dir / s.seed
        if not seed.is_file():
            continue  # a published reference rather than a seed file
        text = norm.setdefault(s.seed, " ".join(seed.read_text(encoding="utf-8").split()))
        assert " ".join(s.passage.split()) in text, f"{path.stem}: {s.passage[:60]!r}"


@pytest.mark.parametrize("pair", list(PAIRS), ids=lambda p: f"{p[0]}-vs-{p[1]}")
def test_variant_pairs_differ_in_what_defines_them_and_nothing_else(pair):
    allowed, required = PAIRS[pair]
    a, b = settings_of(pair[0]), settings_of(pair[1])
    differing = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert differing, f"{pair} are identical"
    stray = [k for k in differing if not any(fnmatch.fnmatch(k, pat) for pat in allowed)]
    assert not stray, f"{pair} also differ in {stray}"
    missing = [k for k in required if a.get(k) == b.get(k)]
    assert not missing, f"{pair} should differ in {missing}"


def test_event_scenarios_carry_their_event():
    assert any(ev.type == "trust_fund" and ev.donor == "EU" for ev in load_scenario(
        ROOT / "scenarios" / "eutf_2015.yaml").events)
    assert any(ev.type == "compact" and ev.coordinator == "IOM" for ev in load_scenario(
        ROOT / "scenarios" / "global_compact_2018.yaml").events)
