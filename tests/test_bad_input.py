"""Every bad input gets exit status 2 and exactly one line, ``migov: error: FILE: FIELD: what was
expected``: wrong encodings, non-finite and huge numbers, duplicate keys, unknown measures,
designs too large to hold, runs too long to wait for, folders that are not sweeps, broken CSV
designs, and bases that ``extends`` cannot find. A refusal writes nothing.

The property test mutates the library's own scenario and experiment files (wrong types, missing
keys, duplicated keys, non-finite and huge numbers, odd encodings, unknown keys and parameter
paths) and checks the same contract for each mutant.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from migov.experiments import cli
from migov.experiments.sweep import design
from migov.experiments.sweep.experiment import Experiment
from migov.experiments.sweep.loaded import load_experiment
from migov.model import ScenarioError, load_scenario
from migov.model.config import read_resolved, read_yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
EXPERIMENTS = sorted((ROOT / "experiments" / "library").glob("*.yaml"))
BASELINE = ROOT / "scenarios" / "baseline.yaml"
RUN = ["--steps", "2", "--no-figures", "--no-agents", "-q"]


# --------------------------------------------------------------------------- helpers
@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder, with no scenario library of the user's own in the way."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIGOV_SCENARIOS", raising=False)
    return tmp_path


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def invoke(argv: list[str]) -> tuple[int, str]:
    """``migov ARGV`` in this process; its exit status and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = cli.main(argv)
        except SystemExit as stop:  # argparse's own usage errors
            rc = stop.code
    return rc, err.getvalue()


def assert_refused(rc: int, err: str, *expect: str) -> str:
    """Exit 2, one non-empty line starting ``migov: error:``, naming each of ``expect``."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, f"exit {rc}, stderr {err!r}"
    assert len(lines) == 1, f"expected one line, got {lines}"
    assert lines[0].startswith("migov: error: ")
    assert "Traceback" not in err
    for text in expect:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def refused(folder: Path, argv: list[str], *expect: str) -> str:
    """Run ``argv`` in ``folder``; it must be refused and write nothing."""
    before = listing(folder)
    rc, err = invoke(argv)
    line = assert_refused(rc, err, *expect)
    assert listing(folder) == before, f"a refusal wrote {listing(folder) - before}"
    return line


def baseline_text() -> str:
    return BASELINE.read_text(encoding="utf-8")


def variant(body: str, base: str = "baseline") -> str:
    return f"title: a variant\nextends: {base}\n{body}"


def experiment_text(body: str = "", scenario: str = "baseline", design_yaml: str = "{type: grid}",
                    parameters: str = "{parameters.uncertainty: {levels: [0.1, 0.5]}}") -> str:
    return (f"name: probe\nscenario: {scenario}\nparameters: {parameters}\ndesign: {design_yaml}\n"
            f"steps: 10\n{body}")


def csv_experiment(folder: Path, csv_bytes: bytes, parameters: str = "{}") -> Path:
    (folder / "points.csv").write_bytes(csv_bytes)
    p = folder / "exp.yaml"
    p.write_text(experiment_text(design_yaml="{type: csv, file: points.csv}", parameters=parameters),
                 encoding="utf-8")
    return p


# --------------------------------------------------------------------------- 1 encodings
def latin1(text: str) -> bytes:
    return ("# Caf\u00e9 des experts\n" + text).encode("latin-1", errors="replace")


@pytest.mark.parametrize("encode", [latin1, lambda t: t.encode("utf-16")], ids=["latin-1", "utf-16"])
@pytest.mark.parametrize("kind", ["scenario", "base", "experiment", "csv", "claims"])
def test_a_file_that_is_not_utf8_is_one_line(here: Path, kind: str, encode):
    if kind == "scenario":
        (here / "s.yaml").write_bytes(encode(baseline_text()))
        argv, name = ["run", "s.yaml", *RUN, "--out", "out"], "s.yaml"
    elif kind == "base":
        (here / "b.yaml").write_bytes(encode(baseline_text()))
        (here / "s.yaml").write_text(variant("", "b"), encoding="utf-8")
        argv, name = ["run", "s.yaml", *RUN, "--out", "out"], "b.yaml"
    elif kind == "experiment":
        (here / "e.yaml").write_bytes(encode(experiment_text()))
        argv, name = ["sweep", "e.yaml", "--dry-run"], "e.yaml"
    elif kind == "csv":
        csv_experiment(here, encode("parameters.uncertainty,note\n0.1,x\n"))
        argv, name = ["sweep", "exp.yaml", "--dry-run"], "points.csv"
    else:
        (here / "claims.yaml").write_bytes(encode("claims: []\n"))
        argv, name = ["claims", "--registry", "claims.yaml", "--out", "out"], "claims.yaml"
    line = refused(here, argv, name, "not UTF-8 text", "byte ")
    assert ("UTF-16" in line) == (encode is not latin1)


def test_the_library_listing_flags_a_bad_file_and_lists_the_rest(here: Path, capsys):
    lib = here / "scenarios"
    lib.mkdir()
    (lib / "broken.yaml").write_bytes(latin1(baseline_text()))
    (lib / "twice.yaml").write_text(baseline_text().replace("title:", "title: a\ntitle:", 1), encoding="utf-8")
    assert cli.main(["scenarios"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert {"baseline", "eutf_2015", "broken", "twice"} <= set(rows)
    assert "(invalid)" in rows["broken"] and "not UTF-8" in rows["broken"]
    assert "(invalid)" in rows["twice"] and "duplicate key" in rows["twice"]
    assert "(invalid)" not in rows["baseline"]


# --------------------------------------------------------------------------- 2 numbers
NUMBERS = [
    ("priorities_inf", "donors: {USA: {priorities: {labour: .inf}}}", "donors.USA.priorities.labour", "finite"),
    ("priorities_huge", "donors: {USA: {priorities: {labour: 1.0e+300}}}", "donors.USA.priorities.labour",
     "less than or equal to 100"),
    ("strategy_nan", "organisations: {IOM: {strategy: {contest_rival: .nan}}}",
     "organisations.IOM.strategy.contest_rival", "finite"),
    ("strategy_big", "organisations: {IOM: {strategy: {contest_rival: 5}}}",
     "organisations.IOM.strategy.contest_rival", "less than or equal to 1"),
    ("regions_neg_inf", "donors: {USA: {strategic_regions: {Sahel: -.inf}}}", "donors.USA.strategic_regions.Sahel",
     "finite"),
    ("parameter_huge", "parameters: {uncertainty: 1.0e+300}", "parameters.uncertainty", "less than or equal to 1"),
    ("parameter_huge_text", "parameters: {office_cost: 1e300}", "parameters.office_cost", "less than or equal"),
    ("int_huge", "parameters: {grants_max: 1.0e+300}", "parameters.grants_max", "expected a whole number"),
    ("steps_huge", "simulation: {steps: 1.0e+300}", "simulation.steps", "whole number"),
    ("event_at_huge", "events: [{type: crisis, at: 1.0e+300, region: Sahel, issue: displacement}]", "events[3].at",
     "expected a step number in [0, 10000]"),
    ("event_at_fraction", "events: [{type: crisis, at: 2.5, region: Sahel, issue: displacement}]", "events[3].at",
     "step number"),
    ("event_at_text", "events: [{type: crisis, at: 1e300, region: Sahel, issue: displacement}]", "events[3].at",
     "a date like"),
    ("event_magnitude_nan", "events: [{type: crisis, at: 4, region: Sahel, issue: displacement, magnitude: .nan}]",
     "events[3].magnitude", "finite"),  # the baseline has three events; a variant's are appended
    ("venue_start_huge", "venue: {members: [IOM], start: 1.0e+300}", "venue.start", "[0, 10000]"),
]


@pytest.mark.parametrize("body, field, expect", [n[1:] for n in NUMBERS], ids=[n[0] for n in NUMBERS])
def test_non_finite_and_huge_numbers_in_a_scenario_are_refused(here: Path, body: str, field: str, expect: str):
    (here / "s.yaml").write_text(variant(body), encoding="utf-8")
    refused(here, ["run", "s.yaml", *RUN, "--out", "out"], f"s.yaml: {field}: ", expect)


EXPERIMENT_NUMBERS = [
    ("seed", "seed: 1.0e+300\n", "seed"),
    ("replicates", "replicates: .inf\n", "replicates"),
    ("steps", "", "steps"),
    ("stride", "collect: {stride: 1.0e+300}\n", "collect.stride"),
    ("final_window", "collect: {final_window: .nan}\n", "collect.final_window"),
]


@pytest.mark.parametrize("body, field", [n[1:] for n in EXPERIMENT_NUMBERS], ids=[n[0] for n in EXPERIMENT_NUMBERS])
def test_non_finite_and_huge_numbers_in_an_experiment_are_refused(here: Path, body: str, field: str):
    text = experiment_text(body)
    if field == "steps":
        text = text.replace("steps: 10", "steps: 1.0e+300")
    (here / "e.yaml").write_text(text, encoding="utf-8")
    refused(here, ["sweep", "e.yaml", "--dry-run"], f"e.yaml: {field}: ")


@pytest.mark.parametrize("spec, field", [
    ("{levels: [.inf]}", "levels[0]"),
    ("{levels: [1.0e+300]}", "levels"),
    ("{range: [0, .inf]}", "range[1]"),
    ("{range: [0, 1.0e+300]}", "range"),
    ("{range: [0, 1], distribution: normal, mean: 1.0e+300, sd: 0.1}", "mean"),
    ("{range: [0, 1], distribution: normal, mean: 0.5, sd: .inf}", "sd"),
], ids=["levels_inf", "levels_huge", "range_inf", "range_huge", "mean_huge", "sd_inf"])
def test_non_finite_and_huge_parameter_specs_are_refused(here: Path, spec: str, field: str):
    kind = "{type: grid}" if "levels" in spec else "{type: lhs, size: 4}"
    (here / "e.yaml").write_text(experiment_text(design_yaml=kind, parameters=f"{{parameters.uncertainty: {spec}}}"),
                                 encoding="utf-8")
    refused(here, ["sweep", "e.yaml", "--dry-run"], f"e.yaml: parameters.parameters.uncertainty.{field}")


# --------------------------------------------------------------------------- 3 duplicate keys
@pytest.mark.parametrize("kind", ["top", "nested", "experiment", "claims", "set"])
def test_a_key_given_twice_is_refused_with_its_line(here: Path, kind: str):
    if kind == "top":
        (here / "s.yaml").write_text("title: one\ntitle: two\nextends: baseline\n", encoding="utf-8")
        argv, expect = ["run", "s.yaml", *RUN, "--out", "out"], ["s.yaml: title: ", "line 2", "line 1"]
    elif kind == "nested":
        text = baseline_text().replace("  IOM:\n", "  IOM:\n    malleability: 0.1\n    malleability: 0.9\n", 1)
        (here / "s.yaml").write_text(text, encoding="utf-8")
        line = text.splitlines().index("    malleability: 0.9") + 1
        argv, expect = ["run", "s.yaml", *RUN, "--out", "out"], ["organisations.IOM.malleability: ", f"line {line}"]
    elif kind == "experiment":
        (here / "e.yaml").write_text(experiment_text("replicates: 2\nreplicates: 3\n"), encoding="utf-8")
        argv, expect = ["sweep", "e.yaml", "--dry-run"], ["e.yaml: replicates: ", "line 7"]
    elif kind == "claims":
        (here / "c.yaml").write_text("claims:\n  - id: a\n    id: b\n", encoding="utf-8")
        argv, expect = ["claims", "--registry", "c.yaml", "--out", "out"], ["c.yaml: claims[0].id: ", "line 3"]
    else:
        argv = ["run", "baseline", *RUN, "--out", "out", "--set", "donors.EU.priorities={labour: 1, labour: 2}"]
        expect = ["--set: donors.EU.priorities.labour: "]
    line = refused(here, argv, *expect)
    assert "duplicate key" in line


def test_merge_keys_still_override_without_complaint(here: Path):
    (here / "m.yaml").write_text("a: &d {x: 1, y: 2}\nb:\n  <<: *d\n  y: 3\n", encoding="utf-8")
    assert read_yaml(here / "m.yaml") == {"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}}


# --------------------------------------------------------------------------- 4 measures
@pytest.mark.parametrize("measures, field, expect", [
    ("[hhi, no_such_measure]", "collect.measures[1]", "unknown measure 'no_such_measure'"),
    ("[funding_share_IMO]", "collect.measures[0]", "did you mean 'funding_share_IOM'"),
    ("[fund_total]", "collect.measures[0]", "unknown measure 'fund_total'"),  # baseline has no fund
    ("[hhi, hhi]", "collect.measures[1]", "listed twice"),
], ids=["unknown", "misspelt_io", "needs_a_fund", "twice"])
def test_unknown_measures_are_refused_on_loading(here: Path, measures: str, field: str, expect: str):
    (here / "e.yaml").write_text(experiment_text(f"collect: {{measures: {measures}}}\n"), encoding="utf-8")
    refused(here, ["sweep", "e.yaml", "--dry-run"], f"e.yaml: {field}: ", expect)


def test_measures_of_the_scenario_and_its_organisations_are_known(here: Path):
    (here / "e.yaml").write_text(experiment_text("collect: {measures: [fund_total, mandate_breadth_IOM, hhi]}\n",
                                                 scenario="eutf_2015"), encoding="utf-8")
    assert load_experiment(here / "e.yaml").exp.collect.measures == ["fund_total", "mandate_breadth_IOM", "hhi"]


# --------------------------------------------------------------------------- 5 design size
BIG = [
    ("grid", "{type: grid}", "{" + ", ".join(f"parameters.{p}: {{range: [0, 0.5], points: 1000}}" for p in
                                           ("uncertainty", "pressure_noise", "learning_rate", "legitimacy_decay"))
     + "}", "", "parameters", "1,000,000,000,000 points"),
    ("sobol", "{type: sobol, size: 524288, second_order: true}", "{parameters.uncertainty: {range: [0, 1]}}", "",
     "design.size", "2,097,152 points"),
    ("morris", "{type: morris, size: 600000}", "{parameters.uncertainty: {range: [0, 1]}}", "", "design.size",
     "1,200,000 points"),
    ("replicates", "{type: grid}", "{parameters.uncertainty: {range: [0, 1], points: 20}}", "replicates: 100000\n",
     "replicates", "2,000,000 runs"),
]


@pytest.mark.parametrize("design_yaml, parameters, body, field, expect", [b[1:] for b in BIG], ids=[b[0] for b in BIG])
def test_a_design_too_large_to_hold_is_refused_before_it_is_built(here: Path, design_yaml: str, parameters: str,
                                                                  body: str, field: str, expect: str):
    (here / "e.yaml").write_text(experiment_text(body, design_yaml=design_yaml, parameters=parameters),
                                 encoding="utf-8")
    refused(here, ["sweep", "e.yaml", "--dry-run"], f"e.yaml: {field}: ", expect, "--allow-large")


def test_a_large_csv_design_is_refused(here: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(design, "MAX_RUNS", 3)
    csv_experiment(here, b"parameters.uncertainty\n0.1\n0.2\n0.3\n0.4\n")
    refused(here, ["sweep", "exp.yaml", "--dry-run"], "exp.yaml: design.file: ", "4 points")


def experiment(design_spec: dict, parameters: dict) -> Experiment:
    return Experiment.model_validate({"name": "x", "scenario": "baseline", "design": design_spec,
                                      "parameters": parameters})


def test_the_run_count_check_counts_without_building():
    one = {"a": {"range": [0, 1]}}
    just_over = experiment({"type": "morris", "size": 500_001}, one)  # 500,001 x (1 + 1) points
    assert design.design_points(just_over) == design.MAX_RUNS + 2
    with pytest.raises(ScenarioError) as info:
        design.check_run_count(just_over, "x.yaml")
    assert info.value.field == "design.size" and "1,000,002 runs" in info.value.message
    assert design.check_run_count(just_over, "x.yaml", allow_large=True) == 1_000_002
    full = experiment({"type": "grid"}, {"a": {"levels": list(range(1000))}, "b": {"range": [0, 1], "points": 1000}})
    assert design.check_run_count(full, "x.yaml") == design.MAX_RUNS  # the limit itself is allowed
    assert design.design_points(experiment({"type": "sobol", "size": 8}, one)) == 8 * (1 + 2)
    assert design.design_points(experiment({"type": "sobol", "size": 8, "second_order": True}, one)) == 8 * (2 + 2)
    assert design.design_points(experiment({"type": "lhs", "size": 7}, one)) == 7


def test_allow_large_lifts_the_design_limit(here: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(design, "MAX_RUNS", 5)
    (here / "e.yaml").write_text(experiment_text("replicates: 3\n"), encoding="utf-8")  # 2 points x 3 = 6 runs
    refused(here, ["sweep", "e.yaml", "--dry-run"], "e.yaml: replicates: ", "6 runs")
    rc, err = invoke(["sweep", "e.yaml", "--dry-run", "--allow-large"])
    assert rc == 0, err


def test_a_design_too_large_for_memory_is_one_line_not_a_traceback(here: Path, monkeypatch: pytest.MonkeyPatch):
    """--allow-large lets a huge grid through the count check; if building it exhausts memory
    the user gets one line and status 2, and nothing is written."""
    from migov.experiments.sweep import loaded

    def exhausted(*args, **kwargs):
        raise MemoryError

    (here / "e.yaml").write_text(experiment_text(), encoding="utf-8")
    monkeypatch.setattr(loaded, "build_design", exhausted)
    line = refused(here, ["sweep", "e.yaml", "--out", "out", "--allow-large"], "sweep: not enough memory")
    assert "--allow-large" in line


# --------------------------------------------------------------------------- 6 steps
@pytest.mark.parametrize("argv", [
    ["run", "baseline", "--steps", "1000000000", "-q", "--out", "out"],
    ["compare", "baseline", "eutf_2015", "--steps", "10001", "-q", "--out", "out"],
], ids=["run", "compare"])
def test_steps_beyond_the_schema_limit_are_refused(here: Path, argv: list[str]):
    refused(here, argv, "--steps: ", "10,000", "--allow-large")


def test_experiment_steps_beyond_the_limit_are_refused(here: Path):
    (here / "e.yaml").write_text(experiment_text().replace("steps: 10", "steps: 10001"), encoding="utf-8")
    refused(here, ["sweep", "e.yaml", "--dry-run"], "e.yaml: steps: ", "10000")


def test_allow_large_lifts_the_steps_limit(here: Path, monkeypatch: pytest.MonkeyPatch):
    from migov.experiments.cli import args as cli_args

    monkeypatch.setattr(cli_args, "MAX_STEPS", 2)
    refused(here, ["run", "baseline", *RUN[2:], "--steps", "3", "--out", "out"], "--steps: 3 is more than 2")
    rc, err = invoke(["run", "baseline", *RUN[2:], "--steps", "3", "--out", "out", "--allow-large"])
    assert rc == 0, err
    assert (here / "out" / "model.parquet").is_file()


# --------------------------------------------------------------------------- 7 analyse
@pytest.mark.parametrize("kind, expect", [
    ("missing", "nowhere: no such folder"),
    ("empty", "folder: manifest.json: missing"),
    ("a_file", "folder: is a file"),
    ("run_result", "folder/manifest.json: experiment: missing"),
    ("bad_json", "folder/manifest.json: not valid JSON"),
    ("no_design", "folder: design.parquet: missing"),
])
def test_analyse_on_a_folder_that_is_not_a_sweep(here: Path, kind: str, expect: str):
    folder = here / "folder"
    if kind == "a_file":
        folder.write_text("x", encoding="utf-8")
    elif kind != "missing":
        folder.mkdir()
    if kind == "run_result":
        (folder / "manifest.json").write_text(json.dumps({"written_by": "migov", "kind": "run"}), encoding="utf-8")
    if kind == "bad_json":
        (folder / "manifest.json").write_text("{", encoding="utf-8")
    if kind == "no_design":
        (folder / "manifest.json").write_text(json.dumps({"experiment": {"name": "x"}}), encoding="utf-8")
    target = "nowhere" if kind == "missing" else "folder"
    refused(here, ["analyse", target], expect, "migov sweep")


# --------------------------------------------------------------------------- 8 csv designs
CSV = [
    ("no_header", b"0.1\n0.5\n", "{}", "points.csv: header: ", "the first row looks like data"),
    ("empty", b"", "{}", "points.csv: ", "empty"),
    ("header_only", b"parameters.uncertainty\n", "{}", "points.csv: ", "no rows"),
    ("unparseable", b'parameters.uncertainty\n"0.1\n', "{}", "points.csv: ", "cannot be read as CSV"),
    ("ragged", b"parameters.uncertainty,parameters.learning_rate\n0.1,0.2\n0.2,3,4,5\n", "{}", "points.csv: ",
     "cannot be read as CSV"),
    ("not_a_path", b"parameters.nope\n0.1\n", "{}", "points.csv: parameters.nope: ", "not a parameter of the scenario"),
    ("not_declared", b"parameters.uncertainty\n0.1\n", "{parameters.learning_rate: {levels: [0.1]}}",
     "points.csv: parameters.uncertainty: ", "not a parameter of the experiment"),
    ("refused_value", b"parameters.uncertainty\n0.1\n5.0\n", "{}", "points.csv: parameters.uncertainty: ",
     "less than or equal to 1"),
    ("infinite_value", b"parameters.uncertainty\n0.1\ninf\n", "{}", "points.csv: parameters.uncertainty: ", "finite"),
    ("huge_value", b"parameters.office_cost\n1e300\n", "{}", "points.csv: parameters.office_cost: ", "less than"),
    ("long_column", b"parameters.uncertainty\n" + b"".join(b"0.%03d\n" % i for i in range(300)) + b"2\n", "{}",
     "points.csv: parameters.uncertainty: ", "2.0 is not allowed"),
    ("twice", b"parameters.uncertainty,parameters.uncertainty\n0.1,0.2\n", "{}", "points.csv: parameters.uncertainty",
     "appears twice"),
    ("unnamed", b"parameters.uncertainty,\n0.1,0.2\n", "{}", "points.csv: column 2: ", "has no name"),
    ("bad_scenario", b"scenario\nbaseline\nnosuch\n", "{}", "points.csv: scenario: ", "nosuch"),
]


@pytest.mark.parametrize("content, parameters, field, expect", [c[1:] for c in CSV], ids=[c[0] for c in CSV])
def test_a_broken_csv_design_is_refused_naming_the_file_and_column(here: Path, content: bytes, parameters: str,
                                                                    field: str, expect: str):
    csv_experiment(here, content, parameters)
    refused(here, ["sweep", "exp.yaml", "--dry-run"], field, expect)


def test_a_good_csv_design_without_declared_parameters_loads(here: Path):
    csv_experiment(here, b"parameters.uncertainty,donors.*.trend\n0.1,0.02\n0.9,\n")
    loaded = load_experiment(here / "exp.yaml")
    assert loaded.exp.design.type == "csv"


# --------------------------------------------------------------------------- 9 extends
def test_extends_a_library_name_from_any_folder(here: Path):
    elsewhere = here / "deep" / "er"
    elsewhere.mkdir(parents=True)
    (elsewhere / "v.yaml").write_text(variant("parameters: {uncertainty: 0.8}\n"), encoding="utf-8")
    sc = load_scenario(elsewhere / "v.yaml")
    assert sc.parameters.uncertainty == 0.8 and sc.organisations == load_scenario(BASELINE).organisations
    rc, err = invoke(["show", str(elsewhere / "v.yaml")])
    assert rc == 0, err


def test_extends_prefers_the_own_folder_and_a_file_never_extends_itself(here: Path):
    (here / "baseline.yaml").write_text(variant("parameters: {uncertainty: 0.7}\n"), encoding="utf-8")
    (here / "v.yaml").write_text(variant("simulation: {steps: 12}\n"), encoding="utf-8")
    mine = load_scenario(here / "v.yaml")
    assert mine.parameters.uncertainty == 0.7 and mine.simulation.steps == 12  # the local baseline, over the library's
    assert load_scenario(here / "baseline.yaml").title == "a variant"  # extends the library's, not itself


def test_extends_a_path_is_relative_to_the_extending_file(here: Path):
    (here / "sub").mkdir()
    (here / "sub" / "base.yaml").write_text(baseline_text(), encoding="utf-8")
    (here / "sub" / "v.yaml").write_text(variant("", "base.yaml"), encoding="utf-8")
    assert load_scenario(here / "sub" / "v.yaml").title == "a variant"


def test_extends_an_unknown_base_says_where_it_looked(here: Path):
    (here / "v.yaml").write_text(variant("", "nosuch"), encoding="utf-8")
    line = refused(here, ["run", "v.yaml", *RUN, "--out", "out"], "v.yaml: extends: ", "'nosuch' not found",
                   "looked for nosuch.yaml in", str(ROOT / "scenarios"))
    assert str(here) in line


# --------------------------------------------------------------------------- property: mutated library files
MISSING_KEYS = {"scenario": ["title", "narrative", "sources", "organisations", "donors", "hosts"],
                "experiment": ["name", "scenario", "design"]}
MUTATIONS = ["wrong_type", "missing_key", "duplicate_key", "non_finite", "huge", "latin1", "utf16", "unknown_key",
             "unknown_path"]


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths to numeric leaves (booleans are not numbers here)."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaves(v, (*path, i))]
    return [path] if isinstance(node, int | float) and not isinstance(node, bool) else []


def mappings(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [path, *(p for k, v in node.items() for p in mappings(v, (*path, k)))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in mappings(v, (*path, i))]
    return []


def put(data: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        data = data[k]
    data[path[-1]] = value


def block_key_lines(text: str) -> list[int]:
    """Lines (0-based) that open a block-mapping key at the start of the line (not after ``- ``)."""
    out, todo, lines = [], [yaml.compose(text)], text.splitlines()
    while todo:
        node = todo.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                line = key.start_mark.line
                if not node.flow_style and lines[line][: key.start_mark.column].strip() == "":
                    out.append(line)
                todo.append(value)
        elif isinstance(node, yaml.SequenceNode):
            todo.extend(node.value)
    return sorted(out)


@st.composite
def mutants(draw) -> tuple[str, bytes]:
    """(kind, bytes) of a library scenario or experiment file broken in one way."""
    kind = draw(st.sampled_from(["scenario", "experiment"]))
    source = draw(st.sampled_from(SCENARIOS if kind == "scenario" else EXPERIMENTS))
    text = source.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    how = draw(st.sampled_from(MUTATIONS))
    if how == "latin1":
        return kind, latin1(text)
    if how == "utf16":
        return kind, text.encode("utf-16")
    if how == "duplicate_key":
        lines = text.splitlines(keepends=True)
        k = draw(st.sampled_from(block_key_lines(text)))
        return kind, "".join([*lines[: k + 1], lines[k], *lines[k + 1:]]).encode()
    data = copy.deepcopy(data)
    if how == "missing_key":
        if kind == "scenario" and "extends" in data:  # a variant inherits its keys: break a whole scenario
            data = read_resolved(source)
            data.pop("extends")
        data.pop(draw(st.sampled_from(MISSING_KEYS[kind])))
    elif how in ("wrong_type", "non_finite", "huge"):
        path = draw(st.sampled_from(leaves(data)))
        value = {"wrong_type": st.sampled_from(["not a number", [1, 2]]),
                 "non_finite": st.sampled_from([float("inf"), float("-inf"), float("nan")]),
                 "huge": st.just(1e300)}[how]
        put(data, path, draw(value))
    elif how == "unknown_key":
        path = draw(st.sampled_from(mappings(data)))
        if path:
            put(data, (*path, "zz_unknown"), "blue")
        else:
            data["zz_unknown"] = "blue"
    elif kind == "experiment":  # unknown_path
        data["parameters"]["parameters.zz_unknown"] = {"levels": [0.1, 0.2]}
    else:
        data.setdefault("parameters", {})["zz_unknown"] = 0.5
    return kind, yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


@given(mutants())
def test_mutated_library_files_are_refused_in_one_line_and_write_nothing(mutant: tuple[str, bytes]):
    kind, content = mutant
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        folder = Path(tmp)
        (folder / "mutant.yaml").write_bytes(content)
        out = folder / "out"
        argv = (["run", "mutant.yaml", *RUN, "--out", str(out)] if kind == "scenario"
                else ["sweep", "mutant.yaml", "--dry-run"])
        before = listing(folder)
        env = os.environ.pop("MIGOV_SCENARIOS", None)
        try:
            rc, err = invoke(argv)
        finally:
            if env is not None:
                os.environ["MIGOV_SCENARIOS"] = env
        assert_refused(rc, err, "mutant.yaml")
        assert listing(folder) - before <= {"out"}
        assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(("argv", "expect", "more"), [
    (["run", "baseline", "--steps", "-3"], "run: argument --steps: expected a number >= 1", "migov run --help"),
    (["run", "baseline", "--seed", "abc"], "run: argument --seed: expected a whole number", "--help"),
    (["sweep", "sobol_small", "--shard", "3/2"], "sweep: argument --shard", "--help"),
    (["run", "baseline", "--replicates", "3"], "unrecognized arguments: --replicates 3", "--help"),
])
def test_argparse_mistakes_are_one_line_too(here: Path, argv: list[str], expect: str, more: str):
    refused(here, argv, expect, more)
