"""docs/build_scenarios.py builds the scenario page and its figures from runs (reduced here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_scenario_page_is_generated_from_runs(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("build_scenarios", ROOT / "docs" / "build_scenarios.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = mod.build(replicates=2, workers=1, steps=6, out_dir=tmp_path)
    text = page.read_text(encoding="utf-8")
    every = {s for labels, _ in mod.STUDIES.values() for s in labels}
    assert every >= {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}, "a scenario is missing from the page"
    for name in every:
        assert f"`{name}`" in text
    for study in mod.STUDIES:
        for kind in ("measures", "funding_shares"):
            assert (tmp_path / "figures" / "scenarios" / f"{study}_{kind}.png").is_file()
            assert f"figures/scenarios/{study}_{kind}.png" in text
    assert "What the model shows" in text and "95% CI" in text
