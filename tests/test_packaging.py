"""What ``pip install .`` (not editable) puts in site-packages: one ``migov`` package holding the
model, the experiments, the scenario library, the shipped experiments and the claims registry, and
nothing generic at the top level; and that it runs a scenario from an unrelated folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"  # a copy: building in the checkout would leave build/ and *.egg-info there
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "migov", "model", "experiments", "scenarios"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                         if (ROOT / name).is_dir() else {}))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and "No matching distribution" in proc.stderr:
        pytest.skip("building a wheel needs setuptools from the package index, which is not reachable")
    assert proc.returncode == 0, proc.stderr
    (found,) = out.glob("migov-*.whl")
    return found


def test_the_wheel_holds_one_namespaced_package_with_its_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"migov"}, tops
    for expected in ("migov/__init__.py", "migov/__main__.py", "migov/model/model.py",
                     "migov/experiments/cli/__init__.py", "migov/experiments/sweep/engine.py",
                     "migov/scenarios/baseline.yaml", "migov/experiments/library/sobol_small.yaml",
                     "migov/experiments/claims/claims.yaml", "migov/experiments/validation/facts.yaml",
                     "migov/experiments/library/calibrate/history.yaml",
                     "migov/experiments/library/explore/history.yaml"):
        assert expected in names, expected
    shipped = {Path(n).name for n in names if n.startswith("migov/scenarios/")}
    assert shipped >= {p.name for p in (ROOT / "scenarios").glob("*.yaml")}
    assert not [n for n in names if "/tests/" in n or n.startswith(("tests/", "docs/"))]


def test_the_installed_package_runs_a_scenario_from_any_folder(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import migov, migov.model, migov.experiments.cli as c; "
                            "print(migov.__file__); print(migov.model.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split()), where.stdout
    run = subprocess.run([sys.executable, "-m", "migov", "run", "baseline", "--steps", "4", "--no-figures", "-q",
                          "--out", "out"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (elsewhere / "out" / "model.parquet").is_file()
    sweep = subprocess.run([sys.executable, "-m", "migov", "sweep", "sobol_small", "--dry-run"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=300)
    assert sweep.returncode == 0, sweep.stderr
