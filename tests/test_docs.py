"""docs/ODD.md stays true to the schema: every parameter table row matches config.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from migov.model.config import (
    NGO,
    Crisis,
    Donor,
    FundingShock,
    Host,
    Mechanisms,
    Organisation,
    Parameters,
    Scenario,
    Simulation,
    TrustFund,
    UNSystemEntry,
    Venue,
    Wants,
    Weights,
)
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
ROW = re.compile(r"^\| `(?P<name>[\w.]+)` \| [^|]* \| (?P<default>[^|]*) \| (?P<range>[^|]*) \| (?P<desc>[^|]*) \|$")

PREFIXES: list[tuple[str, type[BaseModel]]] = [
    ("", Parameters),
    ("", Scenario),
    ("simulation.", Simulation),
    ("mechanisms.", Mechanisms),
    ("organisations.NAME.", Organisation),
    ("donors.NAME.weights.", Weights),
    ("donors.NAME.", Donor),
    ("hosts.NAME.wants.", Wants),
    ("hosts.NAME.", Host),
    ("ngos.NAME.", NGO),
    ("venue.", Venue),
]
EVENTS = (FundingShock, Crisis, TrustFund, UNSystemEntry)


def _rows() -> list[dict]:
    return [m.groupdict() for line in ODD.read_text(encoding="utf-8").splitlines() if (m := ROW.match(line))]


def _fields(name: str) -> list:
    """Schema fields a documented name can refer to (event tables reuse short names)."""
    out = [model.model_fields[name[len(p):]] for p, model in PREFIXES
           if name.startswith(p) and name[len(p):] in model.model_fields]
    out += [ev.model_fields[name] for ev in EVENTS if name in ev.model_fields]
    return out


def _bounds(field) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return lo, hi


def test_every_parameter_is_documented():
    documented = {r["name"] for r in _rows()}
    missing = [p + n for p, model in PREFIXES if model is not Scenario for n in model.model_fields
               if p + n not in documented and not (p == "" and n in documented)
               and not any(d.startswith(f"{p}{n}.") for d in documented)]
    assert not missing, f"schema fields missing from docs/ODD.md: {missing}"


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["name"])
def test_parameter_rows_match_the_schema(row):
    candidates = _fields(row["name"])
    if not candidates:
        pytest.skip("not a schema field (a derived or list entry)")
    matching = [f for f in candidates if row["desc"].strip() == (f.description or "").strip()]
    assert matching, f"description differs from config.py: {[f.description for f in candidates]}"
    field = matching[0]
    default = field.default
    if isinstance(default, bool) or not isinstance(default, int | float):
        return
    assert float(row["default"]) == pytest.approx(float(default))
    lo, hi = _bounds(field)
    if lo is not None and hi is not None:
        nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", row["range"].replace(",", " "))]
        assert nums[:2] == [pytest.approx(float(lo)), pytest.approx(float(hi))]


def test_validation_page_has_every_generated_block():
    """docs/build_validation.py fills every block it makes into docs/validation.md (checked
    before it runs anything, so a missing marker costs no runs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_validation", ROOT / "docs" / "build_validation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    names = (*mod.BLOCKS, *mod.CAL_BLOCKS)
    filled = mod.fill(text, {name: f"FILLED {name}" for name in names})
    assert all(f"FILLED {name}" in filled for name in names)
    assert mod.fill(filled, {name: "" for name in names}).count("FILLED") == 0  # refilling replaces
