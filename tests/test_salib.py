"""The SALib round trip: ``migov design --salib-problem`` writes a problem file SALib reads,
SALib's sampler output (no header; space or comma) is read back as a design, results come back in
design-row order, and ``migov analyse`` reports the indices SALib computes on the same outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.sweep.design import build_design
from migov.experiments.sweep.engine import load_results
from migov.experiments.sweep.loaded import load_experiment
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.util import read_param_file

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SEED = 21
PARAMETERS = """parameters:
  parameters.uncertainty: {range: [0.1, 0.9]}
  parameters.contest_strength: {range: [0.03, 0.12]}
  donors.*.scale_preference: {range: [0.2, 0.8], distribution: loguniform}
"""
NAMES = ["parameters.uncertainty", "parameters.contest_strength", "donors.*.scale_preference"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def imported(folder: Path, name: str, design: str, extra: str = "", replicates: int = 1) -> Path:
    """An experiment whose design is a SALib sample (few steps, so the round trip takes seconds)."""
    return write(folder / f"{name}.yaml", f"name: {name}\nscenario: {BASELINE}\nsteps: 6\nseed: {SEED}\n"
                                          f"replicates: {replicates}\ncommon_random_numbers: true\n"
                                          f"collect: {{series: false}}\ndesign: {design}\n{extra}")


def savetxt(path: Path, x: np.ndarray, delimiter: str = " ") -> Path:
    np.savetxt(path, x, delimiter=delimiter, fmt="%.8e")  # as `salib sample ... -o FILE` writes it
    return path


@pytest.fixture(scope="module")
def problem(tmp_path_factory) -> Path:
    """The problem file, written by the command."""
    tmp = tmp_path_factory.mktemp("salib")
    space = write(tmp / "space.yaml", f"name: space\nscenario: {BASELINE}\n{PARAMETERS}"
                                      "design: {type: sobol, size: 8}\n")
    assert cli.main(["design", str(space), "--salib-problem", str(tmp / "problem.txt"), "-q"]) == 0
    return tmp / "problem.txt"


def test_the_problem_file_is_what_salib_reads(problem: Path):
    p = read_param_file(str(problem))
    assert p["names"] == NAMES and p["num_vars"] == 3 and p["groups"] is None
    assert p["bounds"] == [[0.1, 0.9], [0.03, 0.12], [0.2, 0.8]]
    assert p["dists"] == ["unif", "unif", "logunif"]


def test_salibs_command_line_samples_the_problem_and_the_sample_reads_back(problem: Path):
    out = problem.parent / "cli_sample.txt"
    subprocess.run([sys.executable, "-m", "SALib.scripts.salib", "sample", "sobol", "-p", str(problem), "-n", "2",
                    "-o", str(out), "--max-order", "1"], check=True, capture_output=True)
    exp = imported(problem.parent, "from_cli", "{type: csv, file: cli_sample.txt, salib: {problem: problem.txt, "
                                              "method: sobol}}")
    design = build_design(load_experiment(exp).exp, exp.parent)
    assert list(design.columns) == NAMES and len(design) == 2 * (3 + 2)
    np.testing.assert_allclose(design.to_numpy(), np.loadtxt(out), rtol=0)


def test_sobol_round_trip_gives_salibs_own_indices(problem: Path, capsys):
    tmp = problem.parent
    salib_problem = read_param_file(str(problem))
    x = sobol_sample.sample(salib_problem, 8, calc_second_order=False, seed=3)
    savetxt(tmp / "sobol.txt", x)
    exp = imported(tmp, "sobol_import", "{type: csv, file: sobol.txt, salib: {problem: problem.txt, method: sobol}}",
                   PARAMETERS, replicates=2)
    out = tmp / "sobol_out"
    assert cli.main(["sweep", str(exp), "--out", str(out), "--executor", "serial", "--chunk", "7", "-q"]) == 0
    res = load_results(out)
    np.testing.assert_allclose(res.design[NAMES].to_numpy(), x, rtol=1e-8)  # the sample, in its order
    assert res.final["run_id"].tolist() == list(range(len(x) * 2))  # design-row order, whatever the parts
    assert cli.main(["analyse", str(out), "--measures", "hhi", "uncertainty"]) == 0
    assert "csv (sobol sample) design" in capsys.readouterr().out
    table = pd.read_csv(out / "analysis" / "sobol.csv")
    means = res.final.merge(res.runs[["run_id", "point"]]).groupby("point")[["hhi", "uncertainty"]].mean()
    for m in ("hhi", "uncertainty"):
        theirs = sobol_analyze.analyze(salib_problem, means[m].to_numpy(), calc_second_order=False, seed=SEED)
        ours = table[table["measure"] == m].set_index("parameter").loc[NAMES]
        for k in ("S1", "S1_conf", "ST", "ST_conf"):
            np.testing.assert_allclose(ours[k].to_numpy(), theirs[k], rtol=1e-12, atol=1e-15, err_msg=f"{m} {k}")
    summary = (out / "analysis" / "summary.md").read_text(encoding="utf-8")
    assert "a SALib sobol sample from `sobol.txt`, problem `problem.txt`" in summary


def test_morris_round_trip_comma_separated_gives_salibs_own_indices(problem: Path):
    tmp = problem.parent
    salib_problem = read_param_file(str(problem))
    x = morris_sample.sample(salib_problem, 4, num_levels=4, seed=5)
    savetxt(tmp / "morris.csv", x, delimiter=",")
    exp = imported(tmp, "morris_import", "{type: csv, file: morris.csv, salib: {problem: problem.txt, "
                                         "method: morris}, levels: 4}")  # parameters come from the problem
    out = tmp / "morris_out"
    assert cli.main(["sweep", str(exp), "--out", str(out), "--executor", "serial", "--chunk", "3", "-q"]) == 0
    assert cli.main(["analyse", str(out), "--measures", "hhi", "uncertainty", "-q"]) == 0
    table = pd.read_csv(out / "analysis" / "morris.csv")
    y = load_results(out).final
    for m in ("hhi", "uncertainty"):
        theirs = morris_analyze.analyze(salib_problem, x, y[m].to_numpy(), num_levels=4, seed=SEED)
        ours = table[table["measure"] == m].set_index("parameter").loc[NAMES]
        for k in ("mu_star", "mu_star_conf", "mu", "sigma"):
            np.testing.assert_allclose(ours[k].to_numpy(), theirs[k], rtol=1e-9, atol=1e-12, err_msg=f"{m} {k}")
    assert (table[table["measure"] == "uncertainty"].set_index("parameter").loc[NAMES[1:], "mu_star"] == 0).all()


def test_a_headerless_file_with_named_columns(tmp_path: Path):
    write(tmp_path / "points.txt", "0.2\n\n# a comment\n0.7\n")
    exp = imported(tmp_path, "cols", "{type: csv, file: points.txt, columns: [parameters.uncertainty]}")
    assert build_design(load_experiment(exp).exp, tmp_path)["parameters.uncertainty"].tolist() == [0.2, 0.7]


@pytest.fixture(scope="module")
def good(problem: Path) -> np.ndarray:
    x = sobol_sample.sample(read_param_file(str(problem)), 2, calc_second_order=False, seed=1)
    savetxt(problem.parent / "good.txt", x)
    return x


SOBOL = "{type: csv, file: FILE, salib: {problem: problem.txt, method: sobol}}"
BAD = [
    ("columns", lambda x: x[:, :2], SOBOL, "", "line 1: 2 values; expected 3, one for each column"),
    ("header", None, SOBOL, "", "line 1: column 1 (parameters.uncertainty): 'a' is not a number (it looks like a "
                                "header row"),
    ("second_order", lambda x: x, SOBOL.replace("}}", "}, second_order: true}"), "",
     "10 rows; a Saltelli sample of 3 parameters with second-order indices (design.second_order: true) has N x 8 "
     "rows; 10 rows fit one without them: set design.second_order: false"),
    ("sobol_as_morris", lambda x: np.vstack([x, x[:2]]), SOBOL.replace("sobol}", "morris}"), "",
     "parameters change between these rows; a Morris trajectory changes one per step"),
    ("swapped", lambda x: x[:, [1, 0, 2]], SOBOL, "", "is outside the problem's bounds"),
    ("not_finite", lambda x: np.where(np.arange(x.size).reshape(x.shape) == 4, np.nan, x), SOBOL, "",
     "'nan' is not a finite number"),
    ("no_problem", lambda x: x, SOBOL.replace("problem.txt", "missing.txt"), "", "missing.txt: file not found"),
    ("both", lambda x: x, SOBOL.replace("}}", "}, columns: [parameters.uncertainty]}"), "",
     "give 'columns' or 'salib', not both"),
    ("not_csv", lambda x: x, "{type: lhs, size: 4, salib: {problem: problem.txt, method: sobol}}",
     "parameters: {parameters.uncertainty: {range: [0.1, 0.9]}}\n", "'salib' is for csv designs"),
    ("range_differs", lambda x: x, SOBOL, PARAMETERS.replace("[0.1, 0.9]", "[0.1, 0.8]"),
     "parameters.parameters.uncertainty: [0.1, 0.8] uniform differs from the SALib problem"),
]


@pytest.mark.parametrize(("case", "sample", "design", "extra", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_salib_designs_exit_2_with_one_line(case, sample, design, extra, needle, problem: Path, good, capsys):
    tmp = problem.parent
    if sample is None:
        write(tmp / f"{case}.txt", "a b c\n" + (tmp / "good.txt").read_text(encoding="utf-8"))
    else:
        savetxt(tmp / f"{case}.txt", sample(good))
    exp = imported(tmp, f"bad_{case}", design.replace("FILE", f"{case}.txt"), extra)
    out = tmp / f"out_{case}"
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("migov: error: ") and needle in err and len(err.splitlines()) == 1, err
    assert not out.exists()


@pytest.mark.parametrize(("param", "design", "needle"), [
    ("{levels: [0.1, 0.5]}", "grid", "parameters.parameters.uncertainty: has levels; a SALib problem needs a 'range'"),
    ("{range: [0.1, 0.9], distribution: normal, mean: 0.5, sd: 0.2}", "lhs, size: 2",
     "parameters.parameters.uncertainty.distribution: normal cannot be written to a SALib problem file"),
])
def test_parameters_a_problem_file_cannot_hold_are_refused(param, design, needle, tmp_path: Path, capsys):
    exp = write(tmp_path / "e.yaml", f"name: e\nscenario: {BASELINE}\nparameters:\n  parameters.uncertainty: {param}\n"
                                     f"design: {{type: {design}}}\n")
    assert cli.main(["design", str(exp), "--salib-problem", str(tmp_path / "p.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "p.txt").exists()


def test_an_existing_problem_file_is_replaced_only_with_overwrite(problem: Path, capsys):
    space = problem.parent / "space.yaml"
    before = problem.read_text(encoding="utf-8")
    assert cli.main(["design", str(space), "--salib-problem", str(problem)]) == 2
    assert "exists; expected a new file (add --overwrite to replace it)" in capsys.readouterr().err
    assert cli.main(["design", str(space), "--salib-problem", str(problem), "--overwrite", "-q"]) == 0
    assert problem.read_text(encoding="utf-8") == before
    assert cli.main(["design", str(space), "--salib-problem", "-"]) == 0
    assert capsys.readouterr().out == before
