"""The scenario schema: bad input gives one clear ScenarioError naming the file, the field path and
what was expected; overrides address fields by dotted path; the baseline is complete and sourced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from migov.model import ACTIONS, MigovModel, Scenario, ScenarioError, load_scenario, validate_scenario
from migov.model.config import apply_overrides, set_path
from strategies import minimal, run, scenarios


def write(tmp_path: Path, data, name: str = "scenario.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def error_for(data, source: str = "bad.yaml") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data, source)
    err = info.value
    assert str(err).startswith(f"{source}: ")
    return err


def assert_error(err: ScenarioError, source: str, field: str, *expect: str) -> None:
    assert err.source == source
    assert err.field == field
    for text in expect:
        assert text in err.message, f"{text!r} not in {err.message!r}"
    assert str(err) == (f"{source}: {field}: {err.message}" if field else f"{source}: {err.message}")
    assert "\n" not in str(err)


# --------------------------------------------------------------------------- good input
def test_minimal_scenario_validates_with_defaults():
    sc = validate_scenario(minimal(), "min.yaml")
    assert isinstance(sc, Scenario)
    assert sc.donors["D"].scale_preference == 0.5
    assert sc.parameters.office_grace == 8
    assert sc.ngos["N1"].host == "H1"


@given(data=scenarios())
def test_generated_scenarios_validate(data):
    """Everything the strategy draws is within the schema, and validation keeps the values."""
    sc = validate_scenario(data, "generated")
    assert list(sc.organisations) == list(data["organisations"])
    for name, spec in data["donors"].items():
        assert sc.donors[name].envelope == spec["envelope"]


def test_load_scenario_from_file(tmp_path):
    p = write(tmp_path, minimal())
    sc = load_scenario(p)
    assert sc == validate_scenario(minimal(), "x")
    assert sc.content_hash() == validate_scenario(minimal(), "y").content_hash()


def test_dates_turn_into_steps():
    data = minimal()
    data["events"] = [{"type": "funding_shock", "at": "1997Q3", "donor": "D"}, {"type": "funding_shock", "at": 5}]
    sc = validate_scenario(data, "x")
    assert sc.step_of(sc.events[0].at) == 10
    assert sc.step_of(sc.events[1].at) == 5


# --------------------------------------------------------------------------- bad files
def test_missing_file(tmp_path):
    p = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert_error(info.value, str(p), "", "file not found")


def test_bad_yaml(tmp_path):
    p = write(tmp_path, "title: t\norganisations: {A: [unclosed\n  mandate: 1\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    err = info.value
    assert_error(err, str(p), "", "invalid YAML")
    assert re.search(r"line \d+, column \d+", err.message)


def test_file_that_is_not_a_mapping(tmp_path):
    p = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert_error(info.value, str(p), "", "expected a mapping")


def test_errors_from_a_file_name_the_file(tmp_path):
    data = minimal()
    data["donors"]["D"]["scale_preference"] = 1.5
    p = write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert_error(info.value, str(p), "donors.D.scale_preference", "less than or equal to 1", "1.5")


# --------------------------------------------------------------------------- bad fields
def test_unknown_top_level_key():
    data = minimal()
    data["organisatons"] = {}
    assert_error(error_for(data), "bad.yaml", "organisatons", "unknown key")


def test_unknown_nested_key():
    data = minimal()
    data["donors"]["EU"] = {"envelope": 10, "scale_pref": 0.9}
    assert_error(error_for(data), "bad.yaml", "donors.EU.scale_pref", "unknown key")


def test_unknown_parameter():
    data = minimal()
    data["parameters"] = {"legitimacy_decy": 0.1}
    assert_error(error_for(data), "bad.yaml", "parameters.legitimacy_decy", "unknown key")


def test_wrong_type():
    data = minimal()
    data["donors"]["D"]["envelope"] = "lots"
    assert_error(error_for(data), "bad.yaml", "donors.D.envelope", "valid number", "'lots'")


@pytest.mark.parametrize(
    ("path", "value", "expect"),
    [
        (("donors", "D", "scale_preference"), 1.5, "less than or equal to 1"),
        (("donors", "D", "envelope"), -1, "greater than or equal to 0"),
        (("hosts", "H1", "authoritarian"), 2, "less than or equal to 1"),
        (("organisations", "A", "malleability"), -0.1, "greater than or equal to 0"),
        (("parameters", "actions_per_step"), 7, "less than or equal to 6"),
        (("parameters", "choice_temperature"), 0.0, "greater than or equal to 0.01"),
    ],
)
def test_out_of_range(path, value, expect):
    data = minimal()
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    assert_error(error_for(data), "bad.yaml", ".".join(path), expect, repr(value))


def test_missing_required_field():
    data = minimal()
    del data["narrative"]
    assert_error(error_for(data), "bad.yaml", "narrative", "required")


def test_no_sources():
    data = minimal()
    data["sources"] = []
    assert_error(error_for(data), "bad.yaml", "sources", "at least 1")


def test_event_naming_unknown_donor():
    data = minimal()
    data["events"] = [{"type": "crisis", "at": 1, "issue": "labour", "region": "R"},
                      {"type": "funding_shock", "at": 2, "donor": "Atlantis"}]
    assert_error(error_for(data), "bad.yaml", "events[1].donor", "unknown donor 'Atlantis'", "['D']")


def test_trust_fund_naming_unknown_region():
    data = minimal()
    data["events"] = [{"type": "trust_fund", "at": 1, "donor": "D", "issues": ["labour"], "regions": ["Mars"]}]
    assert_error(error_for(data), "bad.yaml", "events[0].regions[0]", "unknown region 'Mars'")


def test_unknown_event_type():
    data = minimal()
    data["events"] = [{"type": "earthquake", "at": 1}]
    assert_error(error_for(data), "bad.yaml", "events[0]", "funding_shock", "crisis", "trust_fund")


def test_event_before_start():
    data = minimal()
    data["events"] = [{"type": "funding_shock", "at": "1990Q1"}]
    assert_error(error_for(data), "bad.yaml", "events[0].at", "before the start year 1995")


def test_crisis_needs_a_place():
    data = minimal()
    data["events"] = [{"type": "crisis", "at": 1, "issue": "labour"}]
    assert_error(error_for(data), "bad.yaml", "events[0]", "region or a list of hosts")


def test_office_in_unknown_host():
    data = minimal()
    data["organisations"]["A"]["offices"] = ["H1", "Narnia"]
    assert_error(error_for(data), "bad.yaml", "organisations.A.offices[1]", "unknown host or region 'Narnia'", "'H1'")


@pytest.mark.parametrize(
    ("mutate", "field", "expect"),
    [
        (lambda d: d["ngos"]["N1"].update(host="Nowhere"), "ngos.N1.host", "unknown host"),
        (lambda d: d["organisations"]["A"]["mandate"].update(fishing=1), "organisations.A.mandate.fishing",
         "unknown issue"),
        (lambda d: d["organisations"]["A"].update(strategy={"lobby": 1}), "organisations.A.strategy.lobby",
         "unknown action"),
        (lambda d: d["donors"]["D"].update(strategic_regions={"Mars": 1}), "donors.D.strategic_regions.Mars",
         "unknown region"),
        (lambda d: d["donors"]["D"].update(familiarity={"Ghost": 0.5}), "donors.D.familiarity.Ghost",
         "unknown organisation or NGO"),
        (lambda d: d.update(venue={"members": ["A", "Z"]}), "venue.members[1]", "unknown organisation"),
        (lambda d: d.update(issue_sensitivity={"fishing": 0.5}), "issue_sensitivity.fishing", "unknown issue"),
    ],
)
def test_unknown_cross_references(mutate, field, expect):
    data = minimal()
    mutate(data)
    assert_error(error_for(data), "bad.yaml", field, expect)


def test_scenario_that_is_not_a_mapping():
    assert_error(error_for(["a", "list"]), "bad.yaml", "", "expected a mapping")


# --------------------------------------------------------------------------- --set overrides
def test_set_valid_nested_keys(tmp_path):
    data = minimal()
    data["donors"]["EU"] = {"envelope": 90, "priorities": {"border_return": 1}}
    p = write(tmp_path, data)
    sc = load_scenario(p, overrides=["donors.EU.scale_preference=0.9", "parameters.legitimacy_decay=0.05"])
    assert sc.donors["EU"].scale_preference == 0.9
    assert sc.parameters.legitimacy_decay == 0.05
    assert sc.donors["D"].scale_preference == 0.5  # others untouched
    assert load_scenario(p).parameters.legitimacy_decay == 0.02  # the file is unchanged


@pytest.mark.parametrize(
    ("item", "check"),
    [
        ("donors.D.weights.fit=2.5", lambda sc: sc.donors["D"].weights.fit == 2.5),
        ("donors.D.priorities.protection=2", lambda sc: sc.donors["D"].priorities == {"labour": 1, "protection": 2}),
        ("organisations.A.offices=[H1, R]", lambda sc: sc.organisations["A"].offices == ["H1", "R"]),
        ("hosts.H1.wants.money=0.1", lambda sc: sc.hosts["H1"].wants.money == 0.1),
        ("simulation.steps=10", lambda sc: sc.simulation.steps == 10),
        ("parameters.office_grace=3", lambda sc: sc.parameters.office_grace == 3),
        ("venue.members=[A]", lambda sc: sc.venue is not None and sc.venue.members == ["A"]),
        ("title=a new title", lambda sc: sc.title == "a new title"),
    ],
)
def test_set_paths(item, check):
    sc = validate_scenario(apply_overrides(minimal(), [item], "x.yaml"), "x.yaml")
    assert check(sc)


def test_set_changes_the_model():
    """An override reaches the running model."""
    data = apply_overrides(minimal(), ["donors.D.scale_preference=1.0", "parameters.grants_max=12"], "x")
    m = MigovModel(validate_scenario(data, "x"), seed=0)
    assert m.dn.scale[0] == 1.0
    assert m.p.grants_max == 12


@pytest.mark.parametrize(
    ("item", "field", "expect"),
    [
        ("donors.D.scale_pref=0.9", "donors.D.scale_pref", "unknown key"),
        ("donors.Atlantis.scale_preference=0.9", "donors.Atlantis", "unknown name"),
        ("parameters.legitimacy_decy=0.05", "parameters.legitimacy_decy", "unknown key"),
        ("paramters.legitimacy_decay=0.05", "paramters", "unknown key"),
        ("donors.D=1", "donors.D", "cannot replace a whole entity"),
        ("donors.D.priorities.labour.x=1", "donors.D.priorities.labour", "too many parts"),
        ("title.x=1", "title", "not a mapping"),
    ],
)
def test_set_unknown_key(item, field, expect):
    with pytest.raises(ScenarioError) as info:
        apply_overrides(minimal(), [item], "x.yaml")
    assert_error(info.value, "--set", field, expect)


def test_set_unknown_key_lists_the_valid_ones():
    with pytest.raises(ScenarioError) as info:
        apply_overrides(minimal(), ["donors.D.scale_pref=0.9"], "x.yaml")
    assert "scale_preference" in info.value.message


def test_set_without_equals():
    with pytest.raises(ScenarioError) as info:
        apply_overrides(minimal(), ["donors.D.scale_preference"], "x.yaml")
    assert_error(info.value, "--set", "donors.D.scale_preference", "key=value")


def test_set_unknown_key_through_load_scenario(tmp_path):
    p = write(tmp_path, minimal())
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, overrides=["donors.D.scale_pref=0.9"])
    assert_error(info.value, "--set", "donors.D.scale_pref", "unknown key")


def test_set_out_of_range_value_is_caught_by_validation(tmp_path):
    """A bad value given with --set is blamed on the override, not on the file."""
    p = write(tmp_path, minimal())
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, overrides=["parameters.office_grace=2", "donors.D.scale_preference=1.5"])
    assert_error(info.value, f"{p} with --set donors.D.scale_preference", "donors.D.scale_preference",
                 "less than or equal to 1", "1.5")


def test_file_error_is_not_blamed_on_an_unrelated_set(tmp_path):
    data = minimal()
    data["donors"]["D"]["envelope"] = "lots"
    p = write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, overrides=["donors.D.scale_preference=0.9"])
    assert_error(info.value, str(p), "donors.D.envelope", "valid number")


def test_set_path_checks_against_schema_not_data():
    """Fields left at their default in the file can still be set; the path is checked against the
    schema, so a valid field missing from the file is fine and a misspelt one is not."""
    data = minimal()
    set_path(data, "organisations.A.malleability", 0.9)
    assert data["organisations"]["A"]["malleability"] == 0.9
    with pytest.raises(ScenarioError):
        set_path(data, "organisations.A.maleability", 0.9)


# --------------------------------------------------------------------------- the baseline
REQUIRED_IOS = {"IOM", "UNHCR", "ILO", "ICMPD", "OSCE", "UNODC", "UNDP", "World Bank"}


def test_baseline_is_complete(baseline):
    assert len(baseline.organisations) >= 8
    assert set(baseline.organisations) >= REQUIRED_IOS
    assert len(baseline.donors) >= 6
    assert len(baseline.hosts) >= 20
    assert len(baseline.ngos) >= 20
    assert baseline.narrative.strip() and len(baseline.narrative.split()) >= 50
    assert baseline.title.strip()
    assert len(baseline.sources) >= 1
    for s in baseline.sources:
        assert s.seed.strip() and s.passage.strip()


def test_baseline_file_validates_through_the_loader(baseline_path):
    sc = load_scenario(baseline_path)
    assert set(sc.issues) >= {"labour", "protection", "trafficking", "border_return", "development", "displacement"}
    assert all(set(o.strategy) <= set(ACTIONS) for o in sc.organisations.values())


def _normalise(text: str) -> str:
    return " ".join(text.split())


def test_baseline_sources_are_verbatim(baseline, seeds_dir):
    """Every source passage appears word for word (whitespace normalised) in its seed file."""
    missing = []
    for s in baseline.sources:
        seed = seeds_dir / s.seed
        if not seed.is_file():
            missing.append(f"{s.seed}: file not found")
            continue
        if _normalise(s.passage) not in _normalise(seed.read_text(encoding="utf-8")):
            missing.append(f"{s.seed}: {s.passage[:60]!r}")
    assert not missing, "passages not found verbatim:\n" + "\n".join(missing)


def test_baseline_runs_with_balanced_books(baseline):
    m = run(baseline, seed=0, steps=8)
    frame = m.model_frame()
    assert len(frame) == 9
    assert (frame["ledger_error"] <= 1e-9).all()
    assert m.ledger_error() <= 1e-9
    assert frame["funding_total"].iloc[1:].gt(0).all()
