"""Claims: the verdict logic on synthetic effects, the registry's validation, and an end-to-end
run of two claims at small size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from claim_entries import BASIS, SOURCE
from migov.experiments import cli
from migov.experiments.claims.registry import (
    REGISTRY,
    Claim,
    Registry,
    arms,
    claim_context,
    claim_experiment,
    evaluate,
    load_registry,
)
from migov.experiments.claims.statistics import decide
from migov.experiments.sweep.loaded import load_experiment
from migov.model import ScenarioError


def claim(**comparison) -> Claim:
    expected = comparison.pop("expected", "positive")
    return Claim.model_validate({"id": "t", "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, **BASIS,
                                 "comparison": comparison, "expected": expected, "fails_if": "f"})


def synthetic(points: list[np.ndarray]) -> pd.DataFrame:
    rows = [(p, r, v) for p, arr in enumerate(points) for r, v in enumerate(arr)]
    return pd.DataFrame(rows, columns=["point", "replicate", "value"])


RNG = np.random.default_rng(0)
A = RNG.normal(0, 1, 40)


def test_decide_rules():
    # verdicts rest on the adjusted p-value and the direction of the effect
    assert decide("positive", 0.2, 0.01) == "holds"
    assert decide("positive", -0.2, 0.01) == "fails"
    assert decide("positive", 0.2, 0.06) == "inconclusive"
    assert decide("negative", -0.2, 0.01) == "holds"
    assert decide("negative", 0.2, 0.01) == "fails"
    assert decide("none", 0.01, 0.01, margin=0.1) == "holds"
    assert decide("none", 0.3, 0.01, margin=0.1) == "fails"
    assert decide("none", 0.01, 0.2, margin=0.1) == "inconclusive"
    assert decide("positive", 0.2, float("nan")) == "inconclusive"


def test_contrast_verdicts_on_known_effects():
    c = claim(type="contrast", a={}, b={"set": {"p": 1}})
    held = evaluate(c, synthetic([A, A + 0.5 + RNG.normal(0, 0.1, 40)]))
    assert held.verdict == "holds" and held.ci_low < 0.5 < held.ci_high and held.share > 0.9
    failed = evaluate(c, synthetic([A, A - 0.5 + RNG.normal(0, 0.1, 40)]))
    assert failed.verdict == "fails" and failed.share < 0.1
    unsure = evaluate(c, synthetic([A, A + RNG.normal(0, 1, 40)]))
    assert unsure.verdict == "inconclusive"


def test_interaction_sweep_threshold_and_unchanged_on_known_answers():
    inter = claim(type="interaction", factors=[{"path": "a", "low": 0, "high": 1}, {"path": "b", "low": 0, "high": 1}])
    noise = lambda: RNG.normal(0, 0.05, 40)  # noqa: E731
    additive = [A + noise(), A + 1 + noise(), A + 1 + noise(), A + 2 + noise()]  # LL, LH, HL, HH
    superadd = [*additive[:3], A + 3 + noise()]
    assert evaluate(inter, synthetic(superadd)).verdict == "holds"
    assert evaluate(inter, synthetic(additive)).verdict == "inconclusive"
    sweep = claim(type="sweep", parameter="p", values=[0, 1, 2, 3], expected="negative")
    falling = [A - k + RNG.normal(0, 0.1, 40) for k in range(4)]
    v = evaluate(sweep, synthetic(falling))
    assert v.verdict == "holds" and v.effect < -0.9
    thr = claim(type="threshold", threshold=0.5)
    assert evaluate(thr, synthetic([0.8 + RNG.normal(0, 0.05, 40)])).verdict == "holds"
    assert evaluate(thr, synthetic([0.2 + RNG.normal(0, 0.05, 40)])).verdict == "fails"
    same = claim(type="unchanged", a={}, b={}, margin=0.2, expected="none")
    assert evaluate(same, synthetic([A, A + RNG.normal(0, 0.05, 40)])).verdict == "holds"
    assert evaluate(same, synthetic([A, A + 1 + RNG.normal(0, 0.05, 40)])).verdict == "fails"


def test_replicates_without_spread_are_flagged_not_passed_off_as_a_test():
    from migov.experiments.claims.report import _row

    c = claim(type="contrast", a={}, b={"set": {"p": 1}})
    flat = evaluate(c, synthetic([np.zeros(12), np.full(12, 0.3)]))  # every replicate differs by exactly 0.3
    assert flat.no_spread and flat.p == 0.0 and flat.ci_low == flat.ci_high == pytest.approx(0.3)
    assert "(no spread)" in _row(flat)
    noisy = evaluate(c, synthetic([A, A + 0.3 + RNG.normal(0, 0.1, 40)]))
    assert not noisy.no_spread and "(no spread)" not in _row(noisy)


@pytest.mark.parametrize(("bad", "needle"), [
    ({"type": "interaction", "factors": [{"path": "a", "low": 0, "high": 1}]}, "exactly two factors"),
    ({"type": "contrast", "a": {}}, "needs b"),
    ({"type": "sweep", "parameter": "p", "values": [0, 1]}, "at least three values"),
    ({"type": "contrast", "a": {}, "b": {}, "extra": 1}, "unknown key"),
])
def test_registry_validation_names_the_field(tmp_path: Path, bad, needle):
    import yaml

    entry = {"id": "x", "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, "comparison": bad,
             "expected": "positive", "fails_if": "f", **BASIS}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_registry(path)
    assert err.value.source == str(path) and "claims[0].comparison" in err.value.field + err.value.message
    assert needle in err.value.message


def test_duplicate_ids_and_sign_rules():
    entry = {"id": "x", "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, **BASIS,
             "comparison": {"type": "contrast", "a": {}, "b": {}}, "expected": "positive", "fails_if": "f"}
    with pytest.raises(ValueError, match="used twice"):
        Registry.model_validate({"claims": [entry, entry]})
    with pytest.raises(ValueError, match="expected 'none'"):
        Registry.model_validate({"claims": [{**entry, "expected": "none"}]})


def test_the_registry_has_25_claims_half_emergent_that_compile(tmp_path: Path):
    reg = load_registry(REGISTRY)
    assert len(reg.claims) >= 25
    assert sum(c.basis == "emergent" for c in reg.claims) * 2 >= len(reg.claims)
    for c in reg.claims:
        assert len(arms(c)) >= 1
        claim_context(c)  # every arm's scenario loads, every window lies in the run and meets its event
        for k, (_, arm) in enumerate(arms(c)):  # each arm as run_arms builds it: in memory, paths checked
            design = pd.DataFrame([arm or {"scenario": c.comparison.base.scenario or "baseline"}])
            loaded = claim_experiment(c, tmp_path / c.id, design, 2, 0, f"{c.id}_{k}", c.claim)
            assert loaded.exp.common_random_numbers
        assert (tmp_path / c.id / "experiment.yaml").is_file()  # the record of what ran
        reread = load_experiment(tmp_path / c.id / "experiment.yaml")  # and it says the same
        assert reread.exp == loaded.exp
        pd.testing.assert_frame_equal(reread.design(), loaded.design(), check_dtype=False)


def test_registry_sources_are_verbatim(seeds_dir):
    for c in load_registry(REGISTRY).claims:
        f = seeds_dir / c.source.seed
        if f.is_file():
            assert " ".join(c.source.passage.split()) in " ".join(f.read_text(encoding="utf-8").split()), c.id


def test_two_claims_end_to_end(tmp_path: Path, capsys):
    out = tmp_path / "claims"
    assert cli.main(["claims", "--only", "authoritarian_hosts_lower_legitimacy", "eutf_captured_by_incumbents",
                     "--replicates", "3", "--workers", "1", "--out", str(out), "-q"]) == 0
    table = pd.read_csv(out / "verdicts.csv")
    assert list(table["id"]) == ["authoritarian_hosts_lower_legitimacy", "eutf_captured_by_incumbents"]
    assert set(table["verdict"]) <= {"holds", "fails", "inconclusive"}
    assert (table["replicates"] == 3).all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "What would make it fail" in html
    assert (out / "report.md").is_file() and (out / "figures" / "eutf_captured_by_incumbents.png").is_file()
    # resumable: a second call reruns nothing and gives the same verdicts
    assert cli.main(["claims", "--only", "authoritarian_hosts_lower_legitimacy", "--replicates", "3",
                     "--workers", "1", "--out", str(out), "-q"]) == 0
    assert pd.read_csv(out / "verdicts.csv")["effect"].iloc[0] == pytest.approx(table["effect"].iloc[0])


def test_unknown_claim_id(capsys):
    assert cli.main(["claims", "--only", "no_such_claim"]) == 2
    assert "unknown claim" in capsys.readouterr().err


def test_prim_finds_a_known_box():
    from migov.experiments.claims.where import find_region

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.uniform(0, 1, (400, 4)), columns=list("abcd"))
    y = ((x["a"] > 0.6) & (x["c"] < 0.5)).to_numpy()
    box = find_region(x, y)
    assert set(box.bounds) == {"a", "c"} and box.meets_threshold
    assert abs(box.bounds["a"][0] - 0.6) < 0.05 and abs(box.bounds["c"][1] - 0.5) < 0.15
    assert box.density >= 0.8 and box.coverage >= 0.9
    assert all(q < 0.01 for q in box.qp.values())  # both restrictions are significant (quasi-p)
    assert {"coverage", "density", "mass", "res_dim"} <= set(box.trajectory.columns)


def test_prim_on_a_space_where_the_claim_holds_everywhere_or_nowhere():
    from migov.experiments.claims.where import find_region

    x = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    everywhere, nowhere = find_region(x, np.ones(20, bool)), find_region(x, np.zeros(20, bool))
    assert everywhere.bounds == {} and everywhere.density == 1.0 and everywhere.meets_threshold
    assert nowhere.bounds == {} and nowhere.density == 0.0 and not nowhere.meets_threshold


def tiny_claim(path: Path, **extra) -> Path:
    import yaml

    entry = {"id": "tiny", "claim": "c", "source": SOURCE, "measure": {"name": "uncertainty"}, **BASIS,
             "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                            "b": {"set": {"parameters.uncertainty": 0.8}}},
             "expected": "positive", "fails_if": "f", "steps": 3, **extra}
    path.write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    return path


def where_dir(out: Path, claim_id: str = "tiny") -> Path:
    """The one --design lhs folder of a claim (where/<samples>x<replicates>-seed<seed>-<hash>)."""
    (folder,) = (out / claim_id / "where").iterdir()
    return folder


def test_claims_over_a_latin_hypercube(tmp_path: Path, capsys):
    reg = tiny_claim(tmp_path / "claims.yaml")
    out = tmp_path / "out"
    assert cli.main(["claims", "--registry", str(reg), "--design", "lhs", "--samples", "6", "--replicates", "2",
                     "--workers", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tiny: the claimed way at 100% of 6 samples" in printed
    folder = where_dir(out)
    assert folder.name.startswith("6x2-seed0-")
    samples = pd.read_csv(folder / "samples.csv")
    assert len(samples) == 6 and samples["claimed_way"].all()  # uncertainty is set by the arms, so it always holds
    # the default space is morris_screening's ranges, less the one the arms set
    ranged = set(load_experiment("morris_screening").exp.parameters) - {"parameters.uncertainty"}
    assert set(samples.columns) == ranged | {"effect", "claimed_way"}
    assert samples["parameters.gain_knowledge"].between(0.015, 0.06).all()
    overview = pd.read_csv(out / "where.csv")
    assert overview.loc[0, "share_claimed_way"] == 1.0 and overview.loc[0, "valid"] == 6
    assert 0.5 < overview.loc[0, "share_low"] < 1.0  # a Wilson interval, not a point
    assert f"| [tiny](tiny/where/{folder.name}/where.md) | emergent | 100% |" in (out / "where.md").read_text()
    assert (folder / "where.png").is_file()
    # within a sample the two arms share each replicate's seed; every sample has seeds of its own
    runs = pd.read_parquet(folder / "runs" / "runs.parquet").assign(sample=lambda r: r["point"] // 2)
    assert runs.groupby(["sample", "replicate"])["seed"].nunique().eq(1).all()
    assert runs["seed"].nunique() == 6 * 2


def test_claims_over_the_ranges_of_an_experiment_file(tmp_path: Path, capsys):
    """--ranges names the space; a claim whose sign depends on a sampled parameter holds in part of it,
    and PRIM puts its box on that parameter."""
    import yaml

    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(yaml.safe_dump({"name": "r", "scenario": "baseline", "design": {"type": "lhs", "size": 4},
                                      "parameters": {"parameters.uncertainty": {"range": [0.1, 0.9]},
                                                     "parameters.office_cost": {"range": [0.5, 2.0]}}}))
    # the measure is the sampled uncertainty itself and the claim is that it exceeds 0.5: it holds
    # exactly where uncertainty > 0.5, whatever the office cost
    reg = tiny_claim(tmp_path / "claims.yaml", comparison={"type": "threshold", "threshold": 0.5})
    out = tmp_path / "out"
    assert cli.main(["claims", "--registry", str(reg), "--design", "lhs", "--samples", "30", "--replicates", "1",
                     "--ranges", str(ranges), "--workers", "1", "--out", str(out), "-q"]) == 0
    samples = pd.read_csv(where_dir(out) / "samples.csv")
    assert set(samples.columns) == {"parameters.uncertainty", "parameters.office_cost", "effect", "claimed_way"}
    assert samples["parameters.uncertainty"].between(0.1, 0.9).all()
    assert (samples["claimed_way"] == (samples["parameters.uncertainty"] > 0.5)).all()
    row = pd.read_csv(out / "where.csv").iloc[0]
    assert row["share_claimed_way"] == pytest.approx((samples["parameters.uncertainty"] > 0.5).mean())
    # the first box on PRIM's trajectory to reach density 0.8 cuts uncertainty from below, near 0.5
    bounds = dict(part.split(" in ") for part in row["box"].split("; "))
    low = float(bounds["parameters.uncertainty"].strip("[]").split(",")[0])
    assert 0.3 < low <= 0.5 and row["box_density"] >= 0.8 and row["box_coverage"] == 1.0


def test_where_is_short_for_design_lhs_only(tmp_path: Path):
    reg = tiny_claim(tmp_path / "claims.yaml")
    out = tmp_path / "out"
    assert cli.main(["claims", "--registry", str(reg), "--where", "tiny", "--samples", "3", "--replicates", "2",
                     "--workers", "1", "--out", str(out), "-q"]) == 0
    assert len(pd.read_csv(where_dir(out) / "samples.csv")) == 3


def test_a_rerun_with_other_settings_sits_beside_the_first_and_the_same_settings_resume(tmp_path: Path):
    reg = tiny_claim(tmp_path / "claims.yaml")
    out = tmp_path / "out"
    base = ["claims", "--registry", str(reg), "--where", "tiny", "--replicates", "2", "--workers", "1",
            "--executor", "serial", "--out", str(out), "-q"]
    assert cli.main([*base, "--samples", "3"]) == 0
    first = where_dir(out)
    stamp = (first / "runs" / "runs.parquet").stat().st_mtime_ns
    assert cli.main([*base, "--samples", "4"]) == 0
    assert cli.main([*base, "--samples", "3", "--seed", "1"]) == 0
    folders = sorted(p.name for p in (out / "tiny" / "where").iterdir())
    assert len(folders) == 3 and {f.split("-")[0] for f in folders} == {"3x2", "4x2"}
    for f in folders:  # each folder holds the samples its name says
        assert len(pd.read_csv(out / "tiny" / "where" / f / "samples.csv")) == int(f.split("x")[0])
    assert f"tiny/where/{next(f for f in folders if 'seed1' in f)}/where.md" in (out / "where.md").read_text()
    # the first settings again: resumed, nothing rerun
    assert cli.main([*base, "--samples", "3"]) == 0
    assert (first / "runs" / "runs.parquet").stat().st_mtime_ns == stamp
    assert len(list((out / "tiny" / "where").iterdir())) == 3


def test_claims_over_space_draw_the_rest_from_a_posterior(tmp_path: Path):
    """--design lhs --posterior: the sampled paths come from the hypercube, the arms' own from the arms,
    and the posterior's other paths are drawn per sample and replicate, shared by a sample's arms."""
    import yaml
    from test_calibration import fake_posterior

    fake_posterior(tmp_path / "cal")  # uncertainty and legitimacy_decay, from particles weighted 0.25 / 0.75
    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(yaml.safe_dump({"name": "r", "scenario": "baseline", "design": {"type": "lhs", "size": 4},
                                      "parameters": {"parameters.office_cost": {"range": [0.5, 2.0]}}}))
    reg = tiny_claim(tmp_path / "claims.yaml")
    out = tmp_path / "out"
    assert cli.main(["claims", "--registry", str(reg), "--where", "tiny", "--samples", "8", "--replicates", "2",
                     "--ranges", str(ranges), "--posterior", str(tmp_path / "cal"), "--workers", "1",
                     "--executor", "serial", "--out", str(out), "-q"]) == 0
    folder = where_dir(out)
    runs = pd.read_parquet(folder / "runs" / "runs.parquet").assign(sample=lambda r: r["point"] // 2)
    assert set(runs["parameters.uncertainty"]) == {0.1, 0.8}  # the arms' own values win over the draws
    assert runs["parameters.office_cost"].between(0.5, 2.0).all()
    cell = runs.groupby(["sample", "replicate"])
    assert cell["parameters.legitimacy_decay"].nunique().eq(1).all() and cell["posterior_draw"].nunique().eq(1).all()
    assert set(runs["parameters.legitimacy_decay"]) <= {0.03, 0.05}
    assert runs["parameters.legitimacy_decay"].nunique() == 2  # 16 draws: both particles appear
    manifest = __import__("json").loads((folder / "runs" / "manifest.json").read_text())
    assert len(manifest["posterior"]["draws"]) == 8 * 2
    assert pd.read_csv(folder / "samples.csv")["claimed_way"].all()


@pytest.mark.parametrize("args, expected", [
    (["--ranges", "RANGES"], "--ranges is for --design lhs"),
    (["--design", "lhs", "--ranges", "RANGES"], "no parameter has a 'range'"),
    (["--design", "lhs", "--only", "nope"], "--only: unknown claim 'nope'"),
    (["--where", "tiny", "--only", "tiny"], "give one or the other"),
])
def test_claims_over_space_refuses_bad_input(tmp_path: Path, capsys, args, expected):
    import yaml

    ranges = tmp_path / "levels.yaml"
    ranges.write_text(yaml.safe_dump({"name": "r", "scenario": "baseline", "design": {"type": "grid"},
                                      "parameters": {"parameters.uncertainty": {"levels": [0.2, 0.4]}}}))
    reg = tiny_claim(tmp_path / "claims.yaml")
    args = [str(ranges) if a == "RANGES" else a for a in args]
    assert cli.main(["claims", "--registry", str(reg), *args, "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_adaptive_adds_replicates_until_the_interval_settles(tmp_path: Path):
    from migov.experiments.claims.registry import run_claim

    c = Claim.model_validate({"id": "tiny", "claim": "c", "source": SOURCE, "measure": {"name": "uncertainty"},
                              **BASIS, "min_replicates": 2,
                              "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                                             "b": {"set": {"parameters.uncertainty": 0.8}}},
                              "expected": "positive", "fails_if": "f", "steps": 3})
    v = run_claim(c, tmp_path, replicates=2, workers=1, executor="serial", adaptive=True, cap=20, quiet=True)
    # the measure is deterministic, so the interval has zero width from the first round on
    assert [n for n, _ in v.rounds] == [2, 4] and v.replicates == 4 and v.verdict == "holds"
    once = run_claim(c, tmp_path / "b", replicates=2, workers=1, executor="serial", quiet=True)
    assert len(once.rounds) == 1


def test_time_to_summary(tmp_path: Path):
    from migov.experiments.claims.registry import claim_values, run_claim

    c = Claim.model_validate({"id": "tt", "claim": "c", "source": SOURCE, **BASIS, "min_replicates": 2,
                              "measure": {"name": "funding_total", "summary": "time_to", "crosses": 100.0},
                              "comparison": {"type": "threshold", "threshold": 1996.0}, "expected": "negative",
                              "fails_if": "f", "steps": 3})
    v = run_claim(c, tmp_path, replicates=2, workers=1, executor="serial", quiet=True)
    # the baseline's spin-up leaves money flowing from the start, so it crosses in the first quarter
    # simulated (step 1, at 1995.25: windows cover the simulated quarters, not the initial state)
    assert v.verdict == "holds" and v.effect == pytest.approx(1995.25 - 1996.0)
    never = c.model_copy(update={"measure": c.measure.model_copy(update={"crosses": 1e9})})
    vals = claim_values([tmp_path / "arms" / v.provenance["arms"][0] / "runs"], never)
    assert (vals["value"] == 1995.75 + 0.25).all()  # censored: one step past the horizon
    with pytest.raises(ValueError, match="crosses"):
        Claim.model_validate({**c.model_dump(by_alias=True), "measure": {"name": "hhi", "summary": "time_to"}})


def test_the_space_leaves_out_what_the_arms_compare_and_refuses_a_path_their_scenarios_lack(tmp_path: Path, capsys):
    import yaml
    from migov.experiments.claims.where import parameter_ranges, where_design

    ranges = tmp_path / "ranges.yaml"
    ranges.write_text(yaml.safe_dump({"name": "r", "scenario": "eutf_2015", "design": {"type": "lhs", "size": 4},
                                      "parameters": {"organisations.IOM.malleability": {"range": [0.0, 1.0]},
                                                     "parameters.uncertainty": {"range": [0.1, 0.9]},
                                                     "events.eutf_2015.amount": {"range": [1.0, 4.0]}}}))
    space = parameter_ranges(ranges)
    malleable = Claim.model_validate({"id": "m", "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, **BASIS,
                                      "comparison": {"type": "contrast", "a": {"scenario": "rigid_mandates"},
                                                     "b": {"scenario": "malleable_iom"}},
                                      "expected": "positive", "fails_if": "f"})
    # the trust fund exists in neither arm's scenario: an error naming the claim and the path, before any run
    with pytest.raises(ScenarioError, match=r"claim m: --ranges: events\.eutf_2015\.amount is not a parameter"):
        where_design(malleable, 4, 0, space)
    del space.parameters["events.eutf_2015.amount"]
    points, design = where_design(malleable, 4, 0, space)
    # IOM's malleability is what the two scenarios differ in: sampling it would erase the contrast
    assert list(points.columns) == ["parameters.uncertainty"]
    assert list(design["scenario"]) == ["rigid_mandates", "malleable_iom"] * 4
    reg = tiny_claim(tmp_path / "claims.yaml")
    assert cli.main(["claims", "--registry", str(reg), "--design", "lhs", "--ranges", str(ranges),
                     "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "claim tiny: --ranges: events.eutf_2015.amount is not a parameter" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_samples_of_arms_on_different_scenarios_are_checked_against_one_that_has_their_paths(tmp_path: Path):
    """An arm may set a named event only its own scenario has (the compact's duration); the
    --design lhs experiment, one sweep over every arm, is checked against that scenario."""
    from migov.experiments.claims.registry import experiment_scenario
    from migov.experiments.claims.where import parameter_ranges, where_design

    c = Claim.model_validate({"id": "gcm", "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, **BASIS,
                              "comparison": {"type": "contrast", "a": {"scenario": "baseline"},
                                             "b": {"scenario": "global_compact_2018",
                                                   "set": {"events.gcm_2018.duration": 12}}},
                              "expected": "positive", "fails_if": "f"})
    _, design = where_design(c, 3, 0, parameter_ranges())
    rows = design.drop(columns=["sample", "arm"])
    assert experiment_scenario(c, rows) == "global_compact_2018"  # baseline has no gcm_2018 event
    loaded = claim_experiment(c, tmp_path, rows, 2, 0, "gcm_where", "c")  # builds and checks, nothing runs
    assert loaded.exp.scenario == "global_compact_2018" and len(loaded.design()) == 6
