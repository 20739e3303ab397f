"""The code base is ruff clean (the configuration is in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the 'dev' extra)")
    proc = subprocess.run([ruff, "check", "migov", "model", "experiments", "tests", "benchmarks", "docs"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_model_never_imports_experiments():
    for path in (ROOT / "model").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import migov.experiments" not in text and "from experiments" not in text, path.name


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line.strip() for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2, "the Quick start has exactly two set-up commands"
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in ci.splitlines()
