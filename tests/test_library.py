"""Scenario variants (extends), the library commands, and scenario comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.analysis.compare import bootstrap_difference
from migov.experiments.analysis.comparison import compare_scenarios, comparison_experiment
from migov.experiments.common.library import differences_from_base
from migov.experiments.sweep.design import run_table
from migov.model import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    write(tmp_path, "base", BASELINE.read_text(encoding="utf-8"))
    return tmp_path


def test_extends_merges_mappings_appends_events_and_replaces_lists(lib: Path):
    child = write(lib, "child", """
extends: base
title: child
narrative: a variant
sources: [{seed: x, passage: y}]
donors: {EU: {scale_preference: 0.95}}
organisations: {IOM: {offices: [Egypt]}}
events:
  - {type: crisis, at: 2020Q1, region: Sahel, issue: displacement, magnitude: 1}
""")
    base, sc = load_scenario(lib / "base.yaml"), load_scenario(child)
    assert sc.extends == "base"
    assert sc.donors["EU"].scale_preference == 0.95
    assert sc.donors["EU"].envelope == base.donors["EU"].envelope  # merged, not replaced
    assert sc.donors["USA"] == base.donors["USA"]
    assert sc.organisations["IOM"].offices == ["Egypt"]  # lists replace
    assert len(sc.events) == len(base.events) + 1  # events append
    assert sc.events[-1].type == "crisis"


def test_extends_chain_and_show_lists_only_what_differs(lib: Path):
    write(lib, "mid", "extends: base\ntitle: mid\nnarrative: m\nsources: [{seed: x, passage: y}]\n"
                      "parameters: {uncertainty: 0.8}\n")
    leaf = write(lib, "leaf", "extends: mid\ntitle: leaf\nnarrative: l\nsources: [{seed: x, passage: y}]\n"
                              "organisations: {IOM: {malleability: 0.95}}\n")
    sc = load_scenario(leaf)
    assert sc.parameters.uncertainty == 0.8 and sc.organisations["IOM"].malleability == 0.95
    base, diffs = differences_from_base(leaf)
    assert base == "mid"
    assert [d[0] for d in diffs] == ["organisations.IOM.malleability"]


def test_extends_cycle_missing_base_and_errors_in_a_base(lib: Path):
    a = write(lib, "a", "extends: b\ntitle: a\nnarrative: n\nsources: [{seed: x, passage: y}]\n")
    write(lib, "b", "extends: a\ntitle: b\nnarrative: n\nsources: [{seed: x, passage: y}]\n")
    with pytest.raises(ScenarioError, match=r"a.yaml: extends: cycle of extends: a -> b -> a"):
        load_scenario(a)
    missing = write(lib, "m", "extends: nowhere\ntitle: m\nnarrative: n\nsources: [{seed: x, passage: y}]\n")
    with pytest.raises(ScenarioError, match=r"m.yaml: extends: base scenario 'nowhere' not found"):
        load_scenario(missing)
    write(lib, "broken", BASELINE.read_text(encoding="utf-8").replace("envelope: 90", "envelope: -5", 1))
    child = write(lib, "c", "extends: broken\ntitle: c\nnarrative: n\nsources: [{seed: x, passage: y}]\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    assert err.value.source.endswith("broken.yaml") and err.value.field == "donors.EU.envelope"


def test_scenarios_and_show_commands(capsys):
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "title" in out
    assert cli.main(["show", "baseline"]) == 0
    out = capsys.readouterr().out
    assert "Sources:" in out and "No base scenario" in out
    assert cli.main(["show", "no_such"]) == 2


def replicate_seeds(base_seed: int, replicates: int) -> list[int]:
    """The seeds migov compare gives each replicate (the same in every scenario)."""
    exp = comparison_experiment([BASELINE, BASELINE.with_name("eutf_2015.yaml")], replicates, 4, base_seed,
                                Path("/nowhere/runs")).exp
    table = run_table(exp, pd.DataFrame({"scenario": ["a", "b"]}))
    assert (table.groupby("replicate")["seed"].nunique() == 1).all()  # common random numbers
    return table.loc[table["point"] == 0, "seed"].tolist()


def test_replicate_seeds_are_spawned_and_stable():
    s = replicate_seeds(0, 5)
    assert s == replicate_seeds(0, 5) and len(set(s)) == 5
    assert replicate_seeds(1, 5) != s
    assert replicate_seeds(0, 8)[:5] == s  # adding replicates keeps the earlier ones


def test_bootstrap_interval_covers_a_known_difference():
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 200), rng.normal(1, 1, 200)
    d, lo, hi = bootstrap_difference(a, b, np.random.default_rng(1))
    assert lo < 1.0 < hi and lo > 0.5
    d, lo, hi = bootstrap_difference(a, a.copy(), np.random.default_rng(1))
    assert d == 0 and lo < 0 < hi


def test_compare_is_the_same_serial_and_parallel(lib: Path):
    variant = write(lib, "v", "extends: base\ntitle: v\nnarrative: n\nsources: [{seed: x, passage: y}]\n"
                              "donors: {EU: {scale_preference: 1.0}, USA: {scale_preference: 1.0}}\n")
    paths = [lib / "base.yaml", variant]
    serial, prov = compare_scenarios(paths, replicates=3, workers=1, steps=6, quiet=True)
    parallel, _ = compare_scenarios(paths, replicates=3, workers=2, steps=6, quiet=True)
    pd.testing.assert_frame_equal(serial.runs, parallel.runs)
    assert set(serial.runs["scenario"]) == {"base", "v"}
    assert serial.runs.groupby("scenario")["seed"].unique().map(tuple).nunique() == 1  # common seeds
    assert prov["failures"] == []
    assert {"measure", "difference", "ci_low", "ci_high"} <= set(serial.differences.columns)


def test_compare_command_writes_everything(tmp_path: Path, capsys):
    out = tmp_path / "cmp"
    variant = write(tmp_path, "consolidated", "extends: " + str(BASELINE) + "\ntitle: v\nnarrative: n\n"
                    "sources: [{seed: x, passage: y}]\ndonors: {EU: {scale_preference: 1.0}}\n")
    assert cli.main(["compare", "baseline", str(variant), "-n", "2", "--steps", "5", "--out", str(out),
                     "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| hhi |" in printed
    for f in ("runs.parquet", "final.parquet", "differences.parquet", "differences.csv", "means.md",
              "figures/measures.png", "figures/funding_shares.png", "figures/differences.png", "manifest.json"):
        assert (out / f).is_file(), f
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["scenarios"]) == {"baseline", "consolidated"} and man["replicates"] == 2
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2 * 2 * 6
    assert not (tmp_path / ".cmp.runs").exists(), "the run store outlived a finished comparison"


def test_compare_needs_two_scenarios(capsys):
    assert cli.main(["compare", "baseline", "-n", "2"]) == 2
    assert "at least two" in capsys.readouterr().err
