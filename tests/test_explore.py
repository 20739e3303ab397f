"""``migov explore`` (pattern-space exploration): the file's checks, the reached cells against the
evaluations behind them, resuming without duplicates, and a foreign folder refused. Runs end in
1998 (16 quarters of the baseline, without its spin-up)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from migov.experiments import cli
from migov.experiments.calibration.explore import load_exploration

SPEC = {
    "name": "ex", "scenario": "fast.yaml", "seed": 2,  # the baseline without its spin-up
    "parameters": {"funding_scale": {"path": "parameters.funding_scale", "low": 0.3, "high": 3.0, "log": True},
                   "core_concentration": {"path": "parameters.core_concentration", "low": 0.5, "high": 4.0}},
    "patterns": {"ratio": {"quantity": "income", "organisations": ["IOM", "UNHCR"], "year": 1998, "low": 0,
                           "high": 2, "cells": 8, "record": 0.5},
                 "iom": {"quantity": "income", "organisation": "IOM", "year": 1998, "low": 0, "high": 400,
                         "cells": 8}},
    "search": {"initial": 5, "offspring": 4, "generations": 3},
}


def spec(tmp: Path, **changes) -> Path:
    (tmp / "fast.yaml").write_text(yaml.safe_dump({"extends": "baseline", "simulation": {"spin_up": 0}}))
    path = tmp / "ex.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, expected", [
    ({"patterns": {"a": SPEC["patterns"]["ratio"]}}, "patterns"),
    ({"patterns": {**SPEC["patterns"], "x": {"quantity": "members", "year": 1998, "low": 0, "high": 1, "cells": 2}}},
     "needs an organisation"),
    ({"patterns": {**SPEC["patterns"], "ratio": {**SPEC["patterns"]["ratio"], "organisations": ["IOM", "Nobody"]}}},
     "no organisation 'Nobody'"),
    ({"patterns": {**SPEC["patterns"], "ratio": {**SPEC["patterns"]["ratio"], "year": 2090}}}, "outside"),
    ({"parameters": {"x": {"path": "parameters.appeal_mandate", "low": 0.5, "high": 3}}}, "parameters.x"),
])
def test_a_bad_exploration_file_is_one_line(tmp_path, capsys, change, expected):
    assert cli.main(["explore", str(spec(tmp_path, **change)), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "ex.yaml" in err and expected in err


def test_exploration_reaches_cells_resumes_without_duplicates_and_says_where_the_record_lies(tmp_path):
    path = spec(tmp_path)
    full = tmp_path / "full"
    assert cli.main(["explore", str(path), "--out", str(full), "--workers", "2", "-q"]) == 0
    evals = pd.concat(pd.read_parquet(f) for f in sorted((full / "evaluations").glob("gen-*.parquet")))
    assert len(evals) == 5 + 4 + 4 and list(evals["generation"].unique()) == [0, 1, 2]
    cells = pd.read_parquet(full / "cells.parquet")
    # each reached cell is where its parameter set's patterns fall; hits add up to the measured runs
    loaded = load_exploration(path)
    for r in cells.to_dict("records"):
        for name, p in loaded.exp.patterns.items():
            assert p.cell(r[name]) == r[f"cell:{name}"]
    assert cells["hits"].sum() == evals[["ratio", "iom"]].notna().all(axis=1).sum()
    assert len(cells) == len(cells[[f"cell:{n}" for n in ("ratio", "iom")]].drop_duplicates())
    cov = pd.read_csv(full / "coverage.csv")
    assert cov["cells_reached"].is_monotonic_increasing and cov["cells_reached"].iloc[-1] == len(cells)
    assert "cells of the pattern grid" in (full / "explore.md").read_text()
    assert (full / "figures" / "patterns.png").stat().st_size > 1000
    # a run stopped during its last generation continues to the same evaluations, none twice
    part = tmp_path / "part"
    assert cli.main(["explore", str(path), "--out", str(part), "--workers", "1", "-q"]) == 0
    (part / "evaluations" / "gen-0002.parquet").unlink()
    assert cli.main(["explore", str(path), "--out", str(part), "--workers", "1", "-q"]) == 0
    again = pd.concat(pd.read_parquet(f) for f in sorted((part / "evaluations").glob("gen-*.parquet")))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), evals.reset_index(drop=True))
    manifest = json.loads((full / "manifest.json").read_text())
    assert manifest["kind"] == "explore" and manifest["identity"]["quick"] is False


def test_an_exploration_made_under_other_settings_is_not_continued(tmp_path, capsys):
    path = spec(tmp_path, search={"initial": 3, "offspring": 2, "generations": 1})
    out = tmp_path / "o"
    assert cli.main(["explore", str(path), "--out", str(out), "--workers", "1", "-q"]) == 0
    spec(tmp_path, search={"initial": 3, "offspring": 2, "generations": 2}, seed=9)
    assert cli.main(["explore", str(path), "--out", str(out), "--workers", "1", "-q"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_foreign_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "data.csv").write_text("1,2\n")
    assert cli.main(["explore", str(spec(tmp_path)), "--out", str(out)]) == 2
    assert (out / "data.csv").read_text() == "1,2\n"
