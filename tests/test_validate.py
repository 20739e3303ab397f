"""``migov validate``: the facts file, the table beside the record, the 2014 split, the model's
numbers recomputed by hand from the stored runs, unmeasured facts, bad input and the figures.

Runs are short (24 steps: 1995-2000) and few; the baseline's own numbers are in docs/validation.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from migov.experiments import cli
from migov.experiments.sweep.engine import load_results
from migov.experiments.validation.facts import FACTS, LAST_IN_SAMPLE_YEAR, load_facts
from migov.experiments.validation.validate import validate_scenario, write_validation

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SHARED = ROOT.parent / "shared" / "data"  # where the figures were copied from (only read by this test)
STEPS = 24  # 1995Q1-2000Q4

# a facts file whose every comparison falls inside 1995-2000, so each can be recomputed by hand
HAND_FACTS = {"facts": [
    {"id": "iom_level", "description": "IOM income", "units": "USD million per year", "comparison": "level",
     "measure": {"quantity": "income", "organisation": "IOM"}, "sample": "in",
     "points": [{"year": 1998, "value": 242.2, "approx": False, "source": "IOM key indicators", "from": "stylised"}]},
    {"id": "iom_growth", "description": "IOM growth", "units": "ratio", "comparison": "ratio_of_years",
     "measure": {"quantity": "income", "organisation": "IOM"}, "sample": "in",
     "points": [{"year": 1996, "value": 1, "approx": True, "source": "test", "from": "field"},
                {"year": 1999, "value": 2, "approx": True, "source": "test", "from": "field"}]},
    {"id": "ratio", "description": "IOM over UNHCR", "units": "ratio", "comparison": "ratio_of_organisations",
     "measure": {"quantity": "income", "organisations": ["IOM", "UNHCR"]}, "sample": "in",
     "points": [{"year": 1997, "organisation": "IOM", "value": 1, "approx": False, "source": "a", "from": "field"},
                {"year": 1997, "organisation": "UNHCR", "value": 4, "approx": False, "source": "b", "from": "field"}]},
    {"id": "offices", "description": "IOM offices", "units": "offices", "comparison": "level",
     "measure": {"quantity": "offices", "organisation": "IOM"}, "sample": "in",
     "points": [{"year": 1999, "value": 119, "approx": False, "source": "c", "from": "field"}]},
    {"id": "direct", "description": "NGO direct share", "units": "percent", "comparison": "share",
     "measure": {"quantity": "ngo_direct_share"}, "sample": "in",
     "points": [{"year": 2000, "role": "part", "value": 1, "approx": False, "source": "d", "from": "field"},
                {"year": 2000, "role": "whole", "value": 50, "approx": False, "source": "d", "from": "field"}]},
    {"id": "members", "description": "members", "units": "states", "comparison": "level",
     "measure": {"quantity": "none", "reason": "fixed in the model"}, "sample": "in",
     "points": [{"year": 1998, "value": 67, "approx": False, "source": "e", "from": "stylised"}]},
]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The command on the baseline with the project's facts."""
    out = tmp_path_factory.mktemp("validate") / "baseline"
    assert cli.main(["validate", "baseline", "-n", "3", "--steps", str(STEPS), "--workers", "1", "-q",
                     "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def by_hand(tmp_path_factory):
    """A validation against HAND_FACTS whose runs are kept, to recompute from."""
    tmp = tmp_path_factory.mktemp("hand")
    facts = tmp / "facts.yaml"
    facts.write_text(yaml.safe_dump(HAND_FACTS), encoding="utf-8")
    store = tmp / "store"
    val, prov = validate_scenario(BASELINE, 3, facts, workers=1, steps=STEPS, base_seed=5, quiet=True, store=store)
    write_validation(val, prov, tmp / "out", figures=False)
    return val, load_results(store, agents=True), tmp / "out"


def test_table_has_every_fact_and_every_point(folder):
    table = pd.read_parquet(folder / "validation.parquet")
    facts = load_facts()
    assert list(dict.fromkeys(table["fact"])) == [f.id for f in facts.facts]
    assert len(table) == sum(len(f.record()) for f in facts.facts)
    for f in facts.facts:
        rows = table[table["fact"] == f.id]
        assert np.allclose(rows["record"], [r[2] for r in f.record()])
    assert (table["source"].str.len() > 0).all()
    iom = table[(table["fact"] == "iom_expenditure") & (table["years"] == "1998")].iloc[0]
    assert iom["inside_band"] in ("yes", "no") and iom["model_p05"] <= iom["model_median"] <= iom["model_p95"]
    assert iom["replicates"] == 3
    late = table[(table["fact"] == "iom_expenditure") & (table["years"] == "2014")].iloc[0]
    assert late["inside_band"] == "not simulated" and np.isnan(late["model_median"])  # a 24-step run ends in 2000


def test_in_and_out_of_sample_follow_the_2014_rule(folder, capsys):
    table = pd.read_parquet(folder / "validation.parquet")
    for fact, rows in table.groupby("fact"):
        late = (rows["last_year"] > LAST_IN_SAMPLE_YEAR).any()
        assert set(rows["sample"]) == {"out-of-sample" if late else "in-sample"}, fact
    assert set(table["sample"]) == {"in-sample", "out-of-sample"}
    md = (folder / "validation.md").read_text(encoding="utf-8")
    inside, outside = md.split("## In-sample")[1].split("## Out-of-sample")
    assert "| ngo_indirect_share |" in outside and "| ngo_indirect_share |" not in inside
    assert "| iom_expenditure | 1998 |" in inside and "| iom_expenditure_2022 |" not in inside


def test_the_schema_holds_each_fact_to_the_rule(tmp_path, capsys):
    data = yaml.safe_load(FACTS.read_text(encoding="utf-8"))
    data["facts"][0]["points"].append({"year": 2016, "value": 1, "approx": False, "source": "x", "from": "field"})
    bad = tmp_path / "facts.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert cli.main(["validate", "baseline", "--facts", str(bad), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "facts[0]" in err and "2016" in err and "sample: out" in err
    assert not (tmp_path / "o").exists()


def test_model_values_recomputed_by_hand_from_the_stored_runs(by_hand):
    _val, res, out = by_hand
    ok = res.runs[res.runs["status"] == "ok"]
    assert len(ok) == 3
    agents = res.agents[res.agents["type"] == "organisation"]
    series = res.series

    def year_steps(year: int) -> list[int]:  # step 1 simulates 1995Q1
        return [4 * (year - 1995) + q for q in range(1, 5)]

    def income(run: int, org: str, year: int) -> float:
        a = agents[(agents["run_id"] == run) & (agents["agent"] == org) & agents["step"].isin(year_steps(year))]
        assert len(a) == 4
        return float(a["income"].sum())

    runs = list(ok["run_id"])
    expected = {
        "iom_level": [income(r, "IOM", 1998) for r in runs],
        "iom_growth": [income(r, "IOM", 1999) / income(r, "IOM", 1996) for r in runs],
        "ratio": [income(r, "IOM", 1997) / income(r, "UNHCR", 1997) for r in runs],
        "offices": [float(agents[(agents["run_id"] == r) & (agents["agent"] == "IOM")
                                 & (agents["step"] == year_steps(1999)[-1])]["offices"].iloc[0]) for r in runs],
    }
    s2000 = series[series["step"].isin(year_steps(2000))]
    expected["direct"] = [100 * s2000[s2000["run_id"] == r]["ngo_income_direct"].sum()
                          / s2000[s2000["run_id"] == r]["funding_total"].sum() for r in runs]
    table = pd.read_parquet(out / "validation.parquet").set_index("fact")
    for fact, values in expected.items():
        row = table.loc[fact]
        assert row["model_median"] == pytest.approx(np.median(values), rel=1e-9), fact
        assert row["model_p05"] == pytest.approx(np.percentile(values, 5), rel=1e-9), fact
        assert row["model_p95"] == pytest.approx(np.percentile(values, 95), rel=1e-9), fact
        assert row["inside_band"] == ("yes" if row["model_p05"] <= row["record"] <= row["model_p95"] else "no")
    assert table.loc["ratio", "record"] == 0.25 and table.loc["direct", "record"] == pytest.approx(2.0)
    assert table.loc["iom_growth", "years"] == "1996-1999" and table.loc["iom_growth", "record"] == 2.0
    # the organisation's income in the agents table is its share of the model table's total
    s98 = series[series["step"].isin(year_steps(1998)) & (series["run_id"] == runs[0])]
    assert (s98["funding_share_IOM"] * s98["funding_total"]).sum() == pytest.approx(expected["iom_level"][0])
    values = pd.read_parquet(out / "values.parquet")
    assert sorted(values[values["fact"] == "iom_level"]["value"]) == pytest.approx(sorted(expected["iom_level"]))


def test_an_unmeasured_fact_is_reported_as_such(folder, by_hand):
    table = pd.read_parquet(folder / "validation.parquet")
    rows = table[table["fact"] == "unhcr_earmarked_share"]
    assert len(rows) and (rows["inside_band"] == "not measured by the model").all()
    assert rows["model_median"].isna().all() and (rows["replicates"] == 0).all()
    assert rows["measure"].str.startswith("not measured by the model").all()
    # a venue's members are measured, but the baseline has no venue
    for fact in ("gmg_members", "gmg_members_late"):
        rows = table[table["fact"] == fact]
        assert len(rows) and (rows["inside_band"] == "not measured by the model (no venue in the scenario)").all()
        assert rows["model_median"].isna().all() and (rows["replicates"] == 0).all()
    # IOM's member states are measured now (membership is a mechanism, issue 12 item 2)
    assert not table[table["fact"] == "iom_member_states"]["inside_band"].str.startswith("not measured").any()
    val, _, _ = by_hand
    assert val.table.set_index("fact").loc["members", "inside_band"] == "not measured by the model"
    assert "members" not in set(val.values["fact"])


@pytest.mark.parametrize("text, expect", [
    ("facts: []", "facts"),
    ("facts:\n  - {id: a, description: d, units: u, comparison: level, sample: in,\n"
     "     measure: {quantity: income, organisation: IOM},\n"
     "     points: [{year: 1998, value: 1, approx: false, source: '', from: field}]}", "source"),
    ("facts:\n  - {id: a, description: d, units: u, comparison: level, sample: in,\n"
     "     measure: {quantity: budget, organisation: IOM},\n"
     "     points: [{year: 1998, value: 1, approx: false, source: s, from: field}]}", "quantity"),
    ("facts:\n  - {id: a, description: d, units: u, comparison: level, sample: in,\n"
     "     measure: {quantity: none},\n"
     "     points: [{year: 1998, value: 1, approx: false, source: s, from: field}]}", "reason"),
    ("facts: [unclosed", "invalid YAML"),
], ids=["empty", "blank-source", "unknown-measure", "no-reason", "yaml"])
def test_a_bad_facts_file_is_one_line_and_exit_2(tmp_path, capsys, text, expect):
    bad = tmp_path / "facts.yaml"
    bad.write_text(text, encoding="utf-8")
    assert cli.main(["validate", "baseline", "--facts", str(bad), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("migov: error:") and expect in err and str(bad) in err
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.runs").exists()


def test_an_unknown_scenario_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["validate", "no_such_scenario", "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no_such_scenario" in err


def test_figures_manifest_and_provenance(folder):
    man = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["written_by"] == "migov" and man["kind"] == "validate" and man["command"] == "validate"
    for key in ("code_hash", "scenario_hash", "seed", "migov_version"):
        assert man[key] not in (None, "")
    for f in load_facts().facts:
        png = folder / "figures" / f"{f.id}.png"
        assert png.is_file() and png.stat().st_size > 5000 and f"figures/{f.id}.png" in man["files"]
    assert {"validation.parquet", "validation.md", "values.parquet", "annual.parquet"} <= set(man["files"])
    assert not (folder.parent / f".{folder.name}.runs").exists()  # the run store is gone once written


def test_every_figure_traces_to_a_source():
    facts = load_facts()
    for f in facts.facts:
        assert f.points
        for p in f.points:
            assert p.source.strip() and p.origin in ("stylised", "field"), (f.id, p.year)
    if not SHARED.is_dir():
        pytest.skip("the shared data the figures were copied from is not here")
    files = {"stylised": SHARED / "stylised_facts.yaml", "field": SHARED / "field_figures.yaml"}

    def entries(node):
        if isinstance(node, dict):
            if "source" in node:
                yield node
            for v in node.values():
                yield from entries(v)
        elif isinstance(node, list):
            for v in node:
                yield from entries(v)

    shared = {k: list(entries(yaml.safe_load(p.read_text(encoding="utf-8")))) for k, p in files.items()}
    for f in facts.facts:
        for p in f.points:
            found = False
            for e in shared[p.origin]:
                if e["source"] != p.source:
                    continue
                if "year" not in e:  # a finding in words: its figure is in the text
                    text = str(e.get("finding", ""))
                    if f.comparison == "sign":  # a direction: the span and the organisation are named in it
                        years = sorted(q.year for q in f.points)
                        found |= f"{years[0]}-{years[1]}" in text and f.measure.organisation in text
                    else:
                        found |= f"{p.value:g}%" in text
                    continue
                numbers = [v for v in e.values() if isinstance(v, int | float) and not isinstance(v, bool)]
                if e["year"] == p.year and any(v == pytest.approx(p.value) for v in numbers):
                    found |= bool(e.get("approx", False)) == p.approx
            assert found, f"{f.id} {p.year} {p.value}: not in {files[p.origin].name} with source '{p.source}'"


def test_ablation_switches_a_mechanism_off_and_tabulates_the_change(tmp_path):
    out = tmp_path / "abl"
    assert cli.main(["validate", "baseline", "-n", "2", "--steps", "72", "--workers", "1", "-q", "--no-figures",
                     "--ablate", "crisis_response", "--set", "parameters.appeal_response=1.0",
                     "--out", str(out)]) == 0
    table = pd.read_parquet(out / "ablations.parquet")
    assert {"all_on", "no_crisis_response", "no_crisis_response_inside"} <= set(table.columns)
    row = table[(table["fact"] == "unhcr_contributions") & (table["years"] == "2012")].iloc[0]
    # the baseline's 2011 crisis brings appeals and emergency money; without crisis response the
    # same seeds give UNHCR a different income
    assert np.isfinite(row["all_on"]) and np.isfinite(row["no_crisis_response"])
    assert row["all_on"] != row["no_crisis_response"]
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["ablations"] == ["crisis_response"] and man["overrides"] == {"parameters.appeal_response": 1.0}
    assert "## Ablations" in (out / "validation.md").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".abl.runs*"))  # the kept runs are removed once written


def test_a_bad_ablation_or_set_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # argparse's own error, in one line
        cli.main(["validate", "baseline", "--ablate", "nonsense", "--out", str(tmp_path / "o"), "-q"])
    assert stop.value.code == 2
    assert cli.main(["validate", "baseline", "--set", "parameters.no_such=1", "--out", str(tmp_path / "o"),
                     "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "nonsense" in err[0] and "no_such" in err[1]
