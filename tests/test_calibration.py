"""``migov calibrate`` and ``--posterior``: the calibration file's checks, ABC-SMC end to end on a
small problem (files, weights, report, determinism in one process), resuming after ``kill -9``,
posterior draws carried into sweeps and runs, and recovery of known parameters from synthetic data.

Calibration runs are short: targets end in 1998-2001, so each particle runs 16-28 quarters of the
baseline, without its spin-up. The recovery test's full form (three parameters, larger populations) is marked slow."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from migov.experiments import cli
from migov.experiments.calibration.calibrate import calibrate
from migov.experiments.calibration.spec import load_calibration
from migov.experiments.sweep.posterior import DRAW_COLUMN, load_posterior

ROOT = Path(__file__).resolve().parents[1]


def fast_baseline(tmp: Path) -> str:
    """The baseline without its spin-up (twenty quarters each run would spend before 1995)."""
    (tmp / "fast.yaml").write_text(yaml.safe_dump({"extends": "baseline", "simulation": {"spin_up": 0}}))
    return "fast.yaml"


def small(tmp: Path, **changes) -> Path:
    """A two-parameter calibration of the baseline against IOM's income in 1998 and UNHCR's in 2001."""
    data = {
        "name": "small", "scenario": fast_baseline(tmp), "seed": 3,
        "parameters": {
            "appeal_response": {"path": "parameters.appeal_response",
                                "prior": {"distribution": "loguniform", "low": 0.1, "high": 2.0}},
            "core_concentration": {"path": "parameters.core_concentration",
                                   "prior": {"distribution": "uniform", "low": 0.5, "high": 4.0}},
        },
        "targets": [{"fact": "iom_expenditure", "years": [1998]}, {"fact": "unhcr_contributions", "years": [2001]}],
        "budget": {"population": 4, "generations": 2, "predictive": 2},
        "quick": {"population": 4, "generations": 1, "predictive": 2},
    }
    data.update(changes)
    path = tmp / "small.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def one_line_error(capsys, argv: list[str]) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


# --------------------------------------------------------------------------- the file's checks
@pytest.mark.parametrize("change, expected", [
    ({"targets": [{"fact": "iom_expenditure_2022"}]}, "out-of-sample"),
    ({"targets": [{"fact": "no_such_fact"}]}, "unknown fact 'no_such_fact'"),
    ({"targets": [{"fact": "iom_spending_follows_donors"}]}, "is a sign"),
    ({"targets": [{"fact": "iom_expenditure", "years": [1999]}]}, "1999 is not a year"),
    ({"parameters": {"x": {"path": "parameters.no_such", "prior": {"distribution": "uniform", "low": 0, "high": 1}}}},
     "parameters.x.path"),
    ({"parameters": {"x": {"path": "parameters.appeal_mandate",
                           "prior": {"distribution": "uniform", "low": 0.5, "high": 2}}}}, "reaches 2"),
    ({"parameters": {"x": {"path": "parameters.appeal_response",
                           "prior": {"distribution": "loguniform", "low": 0, "high": 2}}}}, "above zero"),
    ({"parameters": {"x": {"path": "parameters.appeal_mandate",
                           "prior": {"distribution": "normal", "mean": 0.5, "sd": 0.3}}}}, "bound the normal prior"),
    ({"parameters": {"x-y": {"path": "parameters.appeal_response",
                             "prior": {"distribution": "uniform", "low": 0.1, "high": 1}}}}, "identifier"),
])
def test_a_bad_calibration_file_is_one_line(tmp_path, capsys, change, expected):
    err = one_line_error(capsys, ["calibrate", str(small(tmp_path, **change)), "--out", str(tmp_path / "o")])
    assert "small.yaml" in err and expected in err
    assert not (tmp_path / "o" / "calibration.db").exists()


def test_shipped_history_calibration_targets_only_in_sample_facts():
    loaded = load_calibration("history")
    assert loaded.rows and all(fact.sample == "in" for fact, *_ in loaded.rows)
    assert max(last for _, _, last, _ in loaded.rows) <= 2014
    assert loaded.steps_needed() == (2014 - 1995 + 1) * 4  # runs stop after the last target year


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("cal")
    path = small(tmp)
    out = tmp / "out"
    calibrate(load_calibration(path), out, executor="serial", workers=1, quiet=True)
    return path, out


def test_calibration_writes_what_a_modeller_judges(calibrated):
    path, out = calibrated
    post = pd.read_parquet(out / "posterior.parquet")
    assert set(post["generation"]) == {0, 1}
    assert {"parameters.appeal_response", "parameters.core_concentration", "weight", "distance"} <= set(post.columns)
    for _, g in post.groupby("generation"):  # a population of 4, weights normalised per generation
        assert len(g) == 4 and g["weight"].sum() == pytest.approx(1.0)
    assert post["parameters.appeal_response"].between(0.1, 2.0).all()  # natural units, inside the prior
    diag = pd.read_csv(out / "diagnostics.csv")
    gens = diag[diag["generation"] >= 0]
    assert list(gens["generation"]) == [0, 1]
    assert (gens["acceptance_rate"] <= 1).all() and (gens["ess"] <= 4 + 1e-9).all() and (gens["ess"] >= 1).all()
    assert (gens["proposals"] >= gens["accepted"]).all()
    ident = pd.read_csv(out / "identification.csv")
    assert list(ident["parameter"]) == ["appeal_response", "core_concentration"]
    assert set(ident["verdict"]) <= {"identified", "weakly identified", "not identified"}
    report = (out / "report.md").read_text()
    for heading in ("## Generations", "## What the record identifies", "### In-sample, targeted",
                    "### Out-of-sample (never seen by the calibration)", "### Beside the defaults"):
        assert heading in report
    pred = pd.read_parquet(out / "predictive.parquet")
    assert pred["target"].sum() == 2 and (pred.loc[pred["target"], "sample"] == "in-sample").all()
    for fig in ("diagnostics", "marginals", "pairs", "fact_iom_expenditure"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["written_by"] == "migov" and manifest["kind"] == "calibration"
    assert manifest["provenance"]["calibration_hash"] == load_calibration(path).cal.content_hash()
    # a calibrated parameterisation is a separate file naming its posterior; the scenario is untouched
    calibrated_file = out / "calibrated.yaml"
    data = yaml.safe_load(calibrated_file.read_text())
    assert str(out.resolve()) in data["narrative"]
    from migov.model import load_scenario

    sc = load_scenario(calibrated_file)
    assert sc.parameters.appeal_response == pytest.approx(ident.set_index("parameter").loc["appeal_response",
                                                                                             "median"], rel=1e-5)


def test_one_process_calibration_is_reproducible(tmp_path):
    loaded = load_calibration(small(tmp_path))
    for name in ("a", "b"):
        calibrate(loaded, tmp_path / name, quick=True, executor="serial", workers=1, quiet=True, predictive=False)
    a = pd.read_parquet(tmp_path / "a" / "posterior.parquet")
    b = pd.read_parquet(tmp_path / "b" / "posterior.parquet")
    assert len(a) == 4
    pd.testing.assert_frame_equal(a.drop(columns="particle"), b.drop(columns="particle"))


def test_an_existing_calibration_is_not_started_over(calibrated, capsys, tmp_path):
    path, out = calibrated
    err = one_line_error(capsys, ["calibrate", str(path), "--out", str(out)])
    assert "--resume" in err
    err = one_line_error(capsys, ["calibrate", str(path), "--out", str(tmp_path / "new"), "--resume"])
    assert "no calibration to resume" in err


def test_a_foreign_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("not migov's")
    one_line_error(capsys, ["calibrate", str(small(tmp_path)), "--out", str(out)])
    assert (out / "notes.txt").read_text() == "not migov's"


def _processes_writing(out: Path) -> list[int]:
    """Processes whose command line names ``out`` (the killed calibration's workers are forks of it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if str(out) in cmd and "Z" not in state:
            found.append(int(entry.name))
    return found


def _generations(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            row = con.execute("SELECT MAX(t) FROM populations").fetchone()
    except sqlite3.Error:
        return -1
    return -1 if row[0] is None else int(row[0])


def test_resume_after_kill_9_keeps_every_finished_generation(tmp_path, capsys):
    path = small(tmp_path, budget={"population": 4, "generations": 2, "predictive": 2})
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "migov", "calibrate", str(path), "--out", str(out), "--executor", "processes",
           "--workers", "2", "--no-predictive", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while _generations(out / "calibration.db") < 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # the coordinator only: its workers must not simulate on alone
    finally:
        proc.wait()
    deadline = time.monotonic() + 30
    while _processes_writing(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_writing(out), "a worker outlived its killed coordinator"
    kept = _generations(out / "calibration.db")
    assert kept >= 0, "no generation was stored before the kill"
    first = pd.read_sql("SELECT * FROM populations", sqlite3.connect(out / "calibration.db"))
    assert cli.main(["calibrate", str(path), "--out", str(out), "--resume", "--executor", "serial",
                     "--no-predictive", "-q"]) == 0
    post = pd.read_parquet(out / "posterior.parquet")
    assert sorted(set(post["generation"])) == [0, 1]
    after = pd.read_sql("SELECT * FROM populations", sqlite3.connect(out / "calibration.db"))
    kept_rows = first[first["t"] <= kept][["t", "epsilon", "nr_samples"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(after[after["t"] <= kept][["t", "epsilon", "nr_samples"]].reset_index(drop=True),
                                  kept_rows)  # finished generations are kept as they were, not run again
    capsys.readouterr()  # what the resumed run said (with -q at most pyabc's warnings)
    # a changed file cannot continue the same calibration
    small(tmp_path, budget={"population": 4, "generations": 3, "predictive": 2})
    err = one_line_error(capsys, ["calibrate", str(path), "--out", str(out), "--resume"])
    assert "calibration file" in err


# --------------------------------------------------------------------------- posterior draws
def fake_posterior(folder: Path) -> Path:
    folder.mkdir(parents=True)
    pd.DataFrame({
        "generation": [0, 0, 1, 1, 1],
        "particle": [0, 1, 2, 3, 4],
        "weight": [0.5, 0.5, 0.0, 0.25, 0.75],
        "distance": [1.0, 1.0, 0.5, 0.5, 0.5],
        "parameters.uncertainty": [0.9, 0.9, 0.1, 0.2, 0.6],
        "parameters.legitimacy_decay": [0.3, 0.3, 0.01, 0.03, 0.05],
    }).to_parquet(folder / "posterior.parquet")
    return folder


def test_posterior_draws_are_weighted_seeded_and_from_the_last_generation(tmp_path):
    post = load_posterior(fake_posterior(tmp_path / "cal"))
    a, b = post.draw(400, seed=7), post.draw(400, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(post.draw(400, seed=8))
    assert set(a["parameters.uncertainty"]) <= {0.2, 0.6}  # weight 0 and earlier generations never drawn
    share = (a["parameters.uncertainty"] == 0.6).mean()
    assert 0.65 < share < 0.85  # weight 0.75
    assert list(a.columns) == [DRAW_COLUMN, "parameters.uncertainty", "parameters.legitimacy_decay"]


def test_a_missing_posterior_is_one_line(tmp_path, capsys):
    err = one_line_error(capsys, ["validate", "baseline", "--posterior", str(tmp_path / "nowhere"),
                                  "--out", str(tmp_path / "v")])
    assert "nowhere" in err and "migov calibrate" in err


def test_a_sweep_carries_posterior_draws_into_its_runs(tmp_path):
    from migov.experiments.sweep.engine import load_results, run_sweep
    from migov.experiments.sweep.loaded import load_experiment

    from migov import evaluate

    fake_posterior(tmp_path / "cal")
    exp = {"name": "post", "scenario": "baseline",
           "parameters": {"parameters.legitimacy_decay": {"levels": [0.02, 0.04]}},
           "design": {"type": "grid"}, "replicates": 3, "seed": 5, "common_random_numbers": True, "steps": 6,
           "posterior": "cal", "collect": {"series": False, "measures": ["funding_total", "legitimacy_donors"]}}
    (tmp_path / "post.yaml").write_text(yaml.safe_dump(exp))
    loaded = load_experiment(tmp_path / "post.yaml")
    run_sweep(loaded, tmp_path / "runs", workers=1, executor="serial", quiet=True)
    res = load_results(tmp_path / "runs", series=False)
    runs = res.runs
    # the design's own parameter wins; the other is drawn per replicate, the same for every point
    assert set(runs["parameters.legitimacy_decay"]) == {0.02, 0.04}
    per_rep = runs.groupby("replicate")["parameters.uncertainty"].nunique()
    assert (per_rep == 1).all()
    assert set(runs["parameters.uncertainty"]) <= {0.2, 0.6}
    manifest = json.loads((tmp_path / "runs" / "manifest.json").read_text())
    assert manifest["posterior"]["file_sha256"] == load_posterior(tmp_path / "cal").digest
    assert len(manifest["posterior"]["draws"]) == 3
    # each run used its drawn value: the same numbers as evaluating that point directly
    row = runs.iloc[4]
    direct = evaluate({"parameters.uncertainty": row["parameters.uncertainty"],
                       "parameters.legitimacy_decay": row["parameters.legitimacy_decay"]}, "baseline",
                      seed=int(row["seed"]), steps=6, measures=["funding_total", "legitimacy_donors"])
    final = res.final.set_index("run_id").loc[row["run_id"]]
    assert final["legitimacy_donors"] == pytest.approx(direct["legitimacy_donors"], rel=1e-12)


def test_run_with_a_posterior_records_its_draw(tmp_path):
    fake_posterior(tmp_path / "cal")
    out = tmp_path / "run"
    assert cli.main(["run", "baseline", "--steps", "4", "--seed", "2", "--posterior", str(tmp_path / "cal"),
                     "--set", "parameters.legitimacy_decay=0.02", "--no-figures", "-q", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert "posterior" in text and "parameters.uncertainty=" in text
    overrides = [o for o in manifest.get("overrides") or manifest.get("provenance", {}).get("overrides", [])]
    assert overrides[-1] == "parameters.legitimacy_decay=0.02"  # --set wins over the drawn value


# --------------------------------------------------------------------------- recovery
def synthetic_facts(tmp: Path, truth: dict[str, float], years: list[int], seed: int) -> Path:
    """A facts file whose records are one run of the baseline at ``truth``: what a perfect model
    would show, so that calibration must find ``truth`` again."""
    from migov.experiments.calibration.simulate import Simulator
    from migov.model.config import read_resolved

    fast_baseline(tmp)
    sim = Simulator(read_resolved(tmp / "fast.yaml"), "fast", {}, {}, [], (max(years) - 1995 + 1) * 4, 1, 0)
    annual = sim.annual(truth, seed)
    facts = []
    for org in ("IOM", "UNHCR", "ILO"):
        col = annual.set_index("year")[f"income:{org}"]
        facts.append({"id": f"{org.lower()}_income", "description": f"{org} income (synthetic)",
                      "units": "USD million per year", "comparison": "level",
                      "measure": {"quantity": "income", "organisation": org}, "sample": "in",
                      "points": [{"year": y, "value": float(col[y]), "approx": False, "source": "synthetic",
                                  "from": "field"} for y in years]})
    path = tmp / "facts.yaml"
    path.write_text(yaml.safe_dump({"facts": facts}, sort_keys=False), encoding="utf-8")
    return path


def recovery(tmp: Path, truth: dict[str, float], priors: dict[str, dict], population: int, generations: int,
             executor: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    facts = synthetic_facts(tmp, truth, [1996, 1997, 1998], seed=11)
    data = {"name": "recovery", "scenario": "fast.yaml", "seed": 1,
            "parameters": {name.split(".")[-1]: {"path": name, "prior": prior} for name, prior in priors.items()},
            "targets": [{"fact": f} for f in ("iom_income", "unhcr_income", "ilo_income")],
            "budget": {"population": population, "generations": generations}}
    path = tmp / "recovery.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp / "out"
    calibrate(load_calibration(path, facts), out, executor=executor, workers=2, quiet=True, predictive=False)
    post = pd.read_parquet(out / "posterior.parquet")
    last = post[post["generation"] == post["generation"].max()]
    return pd.read_csv(out / "identification.csv").set_index("path"), last


def interval(last: pd.DataFrame, path: str, mass: float = 0.95) -> tuple[float, float]:
    from migov.experiments.calibration.report import weighted_quantile

    x, w = last[path].to_numpy(float), last["weight"].to_numpy(float)
    return weighted_quantile(x, w, (1 - mass) / 2), weighted_quantile(x, w, 1 - (1 - mass) / 2)


def test_calibration_recovers_a_known_parameter(tmp_path):
    """Reduced form: one parameter that sets the money in the field, three facts of three years; in
    one process, so that the test's outcome is the same on every machine, loaded or not."""
    truth = {"parameters.funding_scale": 1.6}
    ident, last = recovery(tmp_path, truth, {"parameters.funding_scale": {"distribution": "loguniform", "low": 0.3,
                                                                          "high": 5.0}}, 12, 3, "serial")
    lo, hi = interval(last, "parameters.funding_scale")
    assert lo <= truth["parameters.funding_scale"] <= hi
    assert ident.loc["parameters.funding_scale", "sd_ratio"] < 0.5  # the record narrows it well inside the prior


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MIGOV_FULL_RECOVERY"), reason="full recovery (about 8 minutes on 2 cores): "
                    "set MIGOV_FULL_RECOVERY=1")
def test_calibration_recovers_known_parameters_full(tmp_path):
    truth = {"parameters.funding_scale": 1.6, "parameters.core_concentration": 2.5,
             "parameters.choice_temperature": 0.5}
    priors = {"parameters.funding_scale": {"distribution": "loguniform", "low": 0.3, "high": 5.0},
              "parameters.core_concentration": {"distribution": "uniform", "low": 0.5, "high": 4.0},
              "parameters.choice_temperature": {"distribution": "loguniform", "low": 0.1, "high": 3.0}}
    ident, last = recovery(tmp_path, truth, priors, 60, 5, "processes")
    for path, value in truth.items():
        lo, hi = interval(last, path)
        assert lo <= value <= hi, f"{path}: {value} outside the 95% interval [{lo}, {hi}]"
    assert ident.loc["parameters.funding_scale", "sd_ratio"] < 0.5


def test_posterior_values_are_in_natural_units(calibrated):
    _, out = calibrated
    post = pd.read_parquet(out / "posterior.parquet")
    assert np.all(post["parameters.core_concentration"].between(0.5, 4.0))


def test_claims_and_compare_draw_from_a_posterior(tmp_path):
    fake_posterior(tmp_path / "cal")
    entry = {"id": "tiny", "claim": "c", "source": {"seed": "test", "passage": "test"},
             "measure": {"name": "uncertainty"}, "basis": "check", "mechanisms": ["environment.update_uncertainty"],
             "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                            "b": {"set": {"parameters.uncertainty": 0.8}}},
             "expected": "positive", "fails_if": "f", "steps": 3}
    reg = tmp_path / "claims.yaml"
    reg.write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    out = tmp_path / "claims"
    assert cli.main(["claims", "--registry", str(reg), "--replicates", "3", "--workers", "1", "--out", str(out),
                     "--posterior", str(tmp_path / "cal"), "-q"]) == 0
    arm_folders = sorted((out / "arms").iterdir())
    runs = pd.concat([pd.read_parquet(f / "runs" / "runs.parquet").assign(point=k) for k, f in enumerate(arm_folders)])
    # the arms set uncertainty themselves; legitimacy_decay is drawn, the same for both arms of a replicate
    assert set(runs["parameters.uncertainty"]) == {0.1, 0.8}
    assert (runs.groupby("replicate")["parameters.legitimacy_decay"].nunique() == 1).all()
    assert set(runs["parameters.legitimacy_decay"]) <= {0.03, 0.05}
    assert "drawn from the calibration posterior" in (out / "report.md").read_text()
    cmp_out = tmp_path / "cmp"
    assert cli.main(["compare", "baseline", "rigid_mandates", "-n", "2", "--steps", "4", "--workers", "1",
                     "--posterior", str(tmp_path / "cal"), "--no-figures", "-q", "--out", str(cmp_out)]) == 0
    manifest = json.loads((cmp_out / "manifest.json").read_text())
    assert manifest["posterior"]["parameters"] == ["parameters.uncertainty", "parameters.legitimacy_decay"]
    assert len(manifest["posterior"]["draws"]) == 2


def test_a_facts_weight_is_its_share_of_the_squared_distance_whatever_its_years(tmp_path):
    """pyabc squares weight times difference: a fact over n years enters with sqrt(w / n) per year."""
    from migov.experiments.calibration.engine import distance
    from migov.experiments.calibration.simulate import Simulator

    loaded = load_calibration(small(tmp_path, targets=[
        {"fact": "iom_expenditure", "weight": 2.0},  # six years
        {"fact": "unhcr_growth_2001_2014"}]))  # one figure, weight 1
    fixed = distance(loaded, Simulator.of(loaded))._arg_fixed_weights  # as handed to pyabc
    squares: dict[str, float] = {}
    for key, w in fixed.items():
        squares[key.split("@")[0]] = squares.get(key.split("@")[0], 0.0) + w ** 2
    assert squares == pytest.approx({"iom_expenditure": 2.0, "unhcr_growth_2001_2014": 1.0})


def test_scenarios_compared_keep_their_own_values_of_a_drawn_path(tmp_path):
    """A compared scenario that sets a calibrated path itself keeps it: drawing it would erase the
    difference compared."""
    fake_posterior(tmp_path / "cal")
    other = tmp_path / "calm.yaml"
    other.write_text(yaml.safe_dump({"extends": "baseline", "parameters": {"uncertainty": 0.05}}))
    out = tmp_path / "cmp"
    assert cli.main(["compare", "baseline", str(other), "-n", "2", "--steps", "3", "--workers", "1",
                     "--posterior", str(tmp_path / "cal"), "--no-figures", "-q", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["posterior"]["parameters"] == ["parameters.uncertainty", "parameters.legitimacy_decay"]
    from migov.experiments.analysis.comparison import comparison_experiment

    loaded = comparison_experiment([ROOT / "scenarios" / "baseline.yaml", other], 2, 3, 0, tmp_path / "s",
                                   tmp_path / "cal")
    assert loaded.undrawn() == ["parameters.uncertainty"]
    runs = loaded.runs()
    assert "parameters.uncertainty" not in runs and "parameters.legitimacy_decay" in runs


def test_calibration_runs_on_a_local_dask_cluster(tmp_path):
    """pyabc's Dask sampler on the local cluster migov starts (and stops)."""
    out = tmp_path / "dask"
    assert cli.main(["calibrate", str(small(tmp_path)), "--quick", "--executor", "dask", "--workers", "2",
                     "--no-predictive", "-q", "--out", str(out)]) == 0
    post = pd.read_parquet(out / "posterior.parquet")
    assert len(post) == 4 and post["weight"].sum() == pytest.approx(1.0)
