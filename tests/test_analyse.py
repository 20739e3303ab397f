"""``migov analyse``: figures and summary for a grid, SALib indices that are right where the answer
is known, failed and pending runs, and bad input.

The known answers: ``simulation.start_year`` only moves the calendar (the baseline's first event is
in 2009, far past an 8-step run from any start year up to 1995), so no measure can depend on it and
its Morris mu* and Sobol ST must be zero; the ``uncertainty`` measure is exactly
``parameters.uncertainty`` while no crisis has struck, so it has no replicate noise and its Morris
elementary effect on the unit scale is the width of the range.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.analysis.report import analyse
from migov.experiments.analysis.sensitivity import unit_sample
from migov.experiments.analysis.sweep_results import DEFAULT_MEASURES, choose_measures
from migov.experiments.sweep.engine import SweepError, load_results, part_files, run_sweep
from migov.experiments.sweep.loaded import load_experiment
from migov.model import MigovModel, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
IGNORED = "simulation.start_year"
MATTERS = "parameters.uncertainty"


def sweep(tmp: Path, name: str, body: str, chunk: int | None = None) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(f"name: {name}\nscenario: {BASELINE}\nsteps: 8\ncollect: {{series: false}}\n" + body,
                    encoding="utf-8")
    out = tmp / name
    run_sweep(load_experiment(path), out, workers=1, executor="serial", chunk=chunk, quiet=True)
    return out


def links(summary: Path) -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", summary.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    return sweep(tmp_path_factory.mktemp("grid"), "grid", """
parameters:
  donors.*.scale_preference: {levels: [0.2, 0.8]}
  parameters.uncertainty: {levels: [0.1, 0.9]}
design: {type: grid}
replicates: 2
seed: 5
""", chunk=1)


def test_start_year_changes_nothing_and_uncertainty_is_the_parameter():
    """The premise of the known-answer tests, checked on the model itself."""
    frames = []
    for start, u in ((1995, 0.3), (1985, 0.3), (1995, 0.7)):
        sc = load_scenario(BASELINE, overrides=[f"simulation.start_year={start}", f"parameters.uncertainty={u}"])
        m = MigovModel(sc, seed=11, collect_agents=False)
        for _ in range(8):
            m.step()
        frames.append(m.model_frame().drop(columns=["year", "quarter"]))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert (frames[0]["uncertainty"] == 0.3).all() and (frames[2]["uncertainty"] == 0.7).all()


def test_grid_writes_summary_figures_and_tables(grid: Path, capsys):
    assert cli.main(["analyse", str(grid), "--measures", "hhi", "uncertainty"]) == 0
    assert "summary.md" in capsys.readouterr().out
    out = grid / "analysis"
    names = {p.name for p in out.iterdir()}
    assert {"summary.md", "effects_hhi.png", "effects_uncertainty.png", "variance.csv", "main_effects.csv",
            "point_means.csv", "heatmap_donors.all.scale_preference__parameters.uncertainty.png"} <= names
    for link in links(out / "summary.md"):
        assert (out / link).is_file(), link
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "8 runs in the design (4 points x 2 replicates): 8 succeeded" in text
    assert "## Heatmaps" in text and "| hhi |" in text
    effects = pd.read_csv(out / "main_effects.csv").set_index(["measure", "parameter"])
    # uncertainty is the parameter itself: its level means span the levels exactly, and no replicate noise
    assert effects.loc[("uncertainty", MATTERS), "range_of_level_means"] == pytest.approx(0.8)
    assert effects.loc[("uncertainty", "donors.*.scale_preference"), "range_of_level_means"] == pytest.approx(0.0)
    variance = pd.read_csv(out / "variance.csv").set_index("measure")
    assert variance.loc["uncertainty", "within_share"] == 0.0
    assert 0.0 < variance.loc["hhi", "within_share"] <= 1.0


def test_default_measures_and_unknown_ones():
    final = pd.DataFrame(columns=["run_id", "hhi", "offices", "uncertainty", "ledger_error"], dtype=float)
    assert choose_measures(final, None) == [m for m in DEFAULT_MEASURES if m in ("hhi", "offices")]
    assert choose_measures(final, ["uncertainty", "hhi"]) == ["uncertainty", "hhi"]
    with pytest.raises(SweepError, match="unknown measure nope; this sweep has: hhi, offices, uncertainty"):
        choose_measures(final, ["nope"])


def test_failed_runs_are_left_out_and_pending_runs_noted(grid: Path, tmp_path: Path):
    folder = tmp_path / "partial"
    shutil.copytree(grid, folder, ignore=shutil.ignore_patterns("analysis"))
    statuses = part_files(folder, "status")
    shutil.rmtree(statuses[0].parent)  # one batch never finished: its run is pending
    status = pd.read_parquet(statuses[1])
    status["status"], status["error"] = "failed", "RuntimeError: boom"
    status.to_parquet(statuses[1], index=False)
    failed = int(status["run_id"].iloc[0])
    an = analyse(folder, ["hhi"])
    assert len(an.data) == 6 and failed not in set(an.data["run_id"])
    assert cli.main(["analyse", str(folder), "--measures", "hhi", "-q", "--out", str(tmp_path / "a")]) == 0
    text = (tmp_path / "a" / "summary.md").read_text(encoding="utf-8")
    assert "6 succeeded" in text
    assert "1 failed and are left out (1 x `RuntimeError: boom`)" in text
    assert "1 are still pending" in text


def test_morris_indices_zero_for_an_ignored_parameter(tmp_path: Path):
    out = sweep(tmp_path, "morris", f"""
parameters:
  {IGNORED}: {{range: [1985, 1995], integer: true}}
  {MATTERS}: {{range: [0.1, 0.9]}}
design: {{type: morris, size: 4, levels: 4}}
replicates: 2
seed: 9
""")
    assert cli.main(["analyse", str(out), "--measures", "uncertainty", "hhi", "-q"]) == 0
    table = pd.read_csv(out / "analysis" / "morris.csv").set_index(["measure", "parameter"])
    assert table.loc[("uncertainty", IGNORED), "mu_star"] < 1e-9
    assert table.loc[("uncertainty", MATTERS), "mu_star"] == pytest.approx(0.8, rel=1e-9)
    assert table.loc[("uncertainty", MATTERS), "sigma"] < 1e-9  # linear: every effect is the same
    assert table.loc[("uncertainty", IGNORED), "noise_mu_star"] == 0.0  # no replicate noise at all
    assert table.loc[("hhi", IGNORED), "noise_mu_star"] > 0.0  # independent seeds: hhi is noisy
    assert (out / "analysis" / "morris_mu_star.png").is_file()
    text = (out / "analysis" / "summary.md").read_text(encoding="utf-8")
    assert "## Morris elementary effects" in text and "design_unit.parquet (exact)" in text
    # the unit sample drawn again, or inverted from the (integer-rounded) design, is the one the sweep used
    an = analyse(out, ["uncertainty"])
    exact, _ = unit_sample(an, sources=("file",))
    for source in ("sampler", "design"):
        again, _ = unit_sample(an, sources=(source,))
        np.testing.assert_allclose(again, exact, atol=1e-12)


def test_sobol_indices_zero_for_an_ignored_parameter(tmp_path: Path):
    out = sweep(tmp_path, "sobol", f"""
parameters:
  {IGNORED}: {{range: [1985, 1995], integer: true}}
  {MATTERS}: {{range: [0.1, 0.9]}}
design: {{type: sobol, size: 16}}
replicates: 1
common_random_numbers: true
seed: 4
""")
    assert len(load_results(out).runs) == 16 * 4
    assert cli.main(["analyse", str(out), "--measures", "uncertainty", "hhi", "-q"]) == 0
    table = pd.read_csv(out / "analysis" / "sobol.csv").set_index(["measure", "parameter"])
    for measure in ("uncertainty", "hhi"):  # common random numbers: start_year changes nothing at all
        assert abs(table.loc[(measure, IGNORED), "ST"]) < 1e-9
        assert abs(table.loc[(measure, IGNORED), "S1"]) < 1e-9
        assert table.loc[(measure, MATTERS), "ST"] > 0.5
    assert (out / "analysis" / "sobol_indices.png").is_file()
    assert "## Sobol indices" in (out / "analysis" / "summary.md").read_text(encoding="utf-8")


def test_lhs_spearman_and_scatter(tmp_path: Path):
    out = sweep(tmp_path, "lhs", f"""
parameters:
  {IGNORED}: {{range: [1985, 1995], integer: true}}
  {MATTERS}: {{range: [0.1, 0.9]}}
design: {{type: lhs, size: 6}}
seed: 2
""")
    assert cli.main(["analyse", str(out), "--measures", "uncertainty", "-q"]) == 0
    rho = pd.read_csv(out / "analysis" / "spearman.csv").set_index(["measure", "parameter"])
    assert rho.loc[("uncertainty", MATTERS), "rho"] == pytest.approx(1.0)
    assert (out / "analysis" / "scatter_uncertainty.png").is_file()
    assert "## Rank correlations" in (out / "analysis" / "summary.md").read_text(encoding="utf-8")


def test_bad_input_is_one_line_and_exit_2(grid: Path, tmp_path: Path, capsys):
    (tmp_path / "not_a_sweep").mkdir()
    assert cli.main(["analyse", str(tmp_path / "not_a_sweep")]) == 2
    err = capsys.readouterr().err
    assert "not a sweep folder" in err and err.count("\n") == 1
    assert cli.main(["analyse", str(grid), "--measures", "hhi", "no_such_measure", "-q",
                     "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown measure no_such_measure" in err and "hhi" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert cli.main(["analyse", str(grid), "--out", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
