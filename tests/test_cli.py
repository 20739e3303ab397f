"""The command line end to end: results, provenance, figures, and every bad-input case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.common.storage import read_provenance

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> int:
    return cli.main(list(args))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    assert run_cli("run", "baseline", "--seed", "5", "--steps", "6", "--out", str(out), "-q") == 0
    return out


def test_run_writes_tables_manifest_and_figures(short_run: Path):
    for name in ("model", "agents", "events", "network"):
        assert (short_run / f"{name}.parquet").is_file()
    figs = sorted(p.name for p in (short_run / "figures").glob("*.png"))
    assert figs == ["funding_shares.png", "legitimacy.png", "mandates.png", "network.png", "offices.png",
                    "overview.png"]
    man = json.loads((short_run / "manifest.json").read_text())
    assert man["seed"] == 5 and man["steps"] == 6
    assert len(man["scenario_hash"]) == 16
    assert {"migov", "mesa", "python", "numpy"} <= set(man["versions"])
    assert man["wall_time_s"] > 0
    assert set(man["files"]) >= {"model.parquet", "manifest.json", "figures/network.png"}
    model = pd.read_parquet(short_run / "model.parquet")
    assert list(model["step"]) == list(range(7))
    assert model["ledger_error"].max() <= 1e-9
    agents = pd.read_parquet(short_run / "agents.parquet")
    assert {"step", "agent", "type", "legitimacy_donors"} <= set(agents.columns)
    assert set(agents["type"]) == {"organisation", "donor", "host", "ngo"}


def test_every_parquet_file_carries_provenance(short_run: Path):
    man = json.loads((short_run / "manifest.json").read_text())
    for name in ("model", "agents", "events", "network"):
        prov = read_provenance(short_run / f"{name}.parquet")
        assert prov["scenario_hash"] == man["scenario_hash"]
        assert prov["seed"] == 5


def test_same_seed_same_results_and_resolved_scenario_reruns(short_run: Path, tmp_path: Path):
    again = tmp_path / "again"
    assert run_cli("run", str(short_run / "scenario.yaml"), "--seed", "5", "--steps", "6", "--out", str(again),
                   "-q", "--no-figures") == 0
    pd.testing.assert_frame_equal(pd.read_parquet(short_run / "model.parquet"),
                                  pd.read_parquet(again / "model.parquet"))
    man_a = json.loads((short_run / "manifest.json").read_text())
    man_b = json.loads((again / "manifest.json").read_text())
    assert man_a["scenario_hash"] == man_b["scenario_hash"]


def test_set_override_changes_the_run_and_is_recorded(tmp_path: Path):
    out = tmp_path / "o"
    assert run_cli("run", "baseline", "--steps", "3", "--out", str(out), "-q", "--no-figures", "--no-agents",
                   "--set", "donors.EU.scale_preference=0.95", "--set", "parameters.uncertainty=0.9") == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["overrides"] == ["donors.EU.scale_preference=0.95", "parameters.uncertainty=0.9"]
    model = pd.read_parquet(out / "model.parquet")
    assert model["uncertainty"].iloc[1] >= 0.85
    assert not (out / "agents.parquet").exists()


def test_summary_is_printed(capsys, tmp_path: Path):
    assert run_cli("run", "baseline", "--steps", "4", "--out", str(tmp_path / "s"), "--no-figures") == 0
    out = capsys.readouterr().out
    assert "Final year:" in out and "IOM" in out and "HHI" in out


BAD = [
    (["run", "no_such_scenario"], "no_such_scenario: no such scenario"),
    (["run", "baseline", "--set", "donors.EU.scale_pref=0.9"], "donors.EU.scale_pref: unknown key"),
    (["run", "baseline", "--set", "nonsense=1"], "nonsense: unknown key"),
    (["run", "baseline", "--set", "donors.Atlantis.envelope=3"], "donors.Atlantis: unknown name"),
    (["run", "baseline", "--set", "donors.EU.scale_preference=1.5"], "less than or equal to 1"),
    (["run", "baseline", "--set", "parameters.legitimacy_decay=lots"], "valid number"),
    (["run", "baseline", "--set", "noequals"], "expected key=value"),
]


@pytest.mark.parametrize(("argv", "needle"), BAD)
def test_bad_input_exits_2_with_one_clear_line(argv, needle, capsys, tmp_path: Path):
    out = tmp_path / "never"
    assert run_cli(*argv, "--out", str(out), "-q") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("migov: error: ")
    assert needle in err
    assert len(err.splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_yaml_and_bad_fields_in_a_file(capsys, tmp_path: Path):
    bad_yaml = _write(tmp_path, "bad.yaml", "title: x\nnarrative: [unclosed\n")
    assert run_cli("run", str(bad_yaml), "-q") == 2
    err = capsys.readouterr().err
    assert "bad.yaml: invalid YAML: line" in err
    base = (ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8")
    wrong_type = _write(tmp_path, "wt.yaml", base.replace("envelope: 90", "envelope: lots", 1))
    assert run_cli("run", str(wrong_type), "-q") == 2
    err = capsys.readouterr().err
    assert "wt.yaml: donors.EU.envelope:" in err and "valid number" in err
    text = base.replace("events:\n", "events:\n  - {type: funding_shock, at: 2000Q1, donor: Atlantis}\n", 1)
    unknown_agent = _write(tmp_path, "ua.yaml", text)
    assert run_cli("run", str(unknown_agent), "-q") == 2
    err = capsys.readouterr().err
    assert "ua.yaml: events[0].donor: unknown donor 'Atlantis'" in err


def test_no_traceback_from_the_console_entry_point(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "migov", "run", "baseline", "--set", "x.y=1", "-q"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("migov: error:")


def test_failed_write_leaves_nothing_half_written(monkeypatch, tmp_path: Path):
    from migov.experiments.analysis import run_folder as run_command

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_command, "figure_set", boom)
    out = tmp_path / "res"
    with pytest.raises(RuntimeError):
        run_cli("run", "baseline", "--steps", "2", "--out", str(out), "-q")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_rerun_needs_overwrite_and_then_replaces_the_folder_whole(capsys, tmp_path: Path):
    out = tmp_path / "res"
    assert run_cli("run", "baseline", "--steps", "2", "--out", str(out), "-q", "--no-figures") == 0
    (out / "figures").mkdir()
    (out / "figures" / "stale.png").write_bytes(b"not listed")  # no figures were drawn: not migov's
    assert run_cli("run", "baseline", "--steps", "2", "--out", str(out), "-q", "--no-figures") == 2
    assert "holds an earlier migov result (run, " in capsys.readouterr().err
    assert run_cli("run", "baseline", "--steps", "2", "--out", str(out), "-q", "--no-figures", "--overwrite") == 2
    assert "holds figures/stale.png, which migov did not write" in capsys.readouterr().err
    (out / "figures" / "stale.png").unlink()
    assert run_cli("run", "baseline", "--steps", "2", "--out", str(out), "-q", "--no-figures", "--overwrite") == 2
    assert "holds figures/, which migov did not write" in capsys.readouterr().err  # even an empty folder
    (out / "figures").rmdir()
    assert run_cli("run", "baseline", "--steps", "2", "--seed", "9", "--out", str(out), "-q", "--no-figures",
                   "--overwrite") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9
    assert not (out / "figures").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["res"]
