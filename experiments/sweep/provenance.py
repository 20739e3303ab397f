"""The provenance every result carries, under the same four keys in every manifest and in the
schema metadata of its tables, so any two files can be matched: which code made them (the hash a
sweep's identity uses, ``loaded.code_hash``), from which scenario, with which seed, by which
version of migov."""

from __future__ import annotations

from typing import Any

from migov.experiments import __version__
from migov.experiments.sweep import loaded

FIELDS = ("code_hash", "scenario_hash", "seed", "migov_version")


def provenance(scenario_hash: Any, seed: Any) -> dict[str, Any]:
    """The four fields for results made now: a run's (one scenario hash, its seed), a comparison's
    (a hash per scenario, the base seed) or a sweep's (its base scenario, the experiment's seed)."""
    return {"code_hash": loaded.code_hash(), "scenario_hash": scenario_hash, "seed": seed, "migov_version": __version__}


def of_sweep(manifest: dict) -> dict[str, Any]:
    """The four fields of a sweep's results, from its manifest: what made its numbers, not the code
    reading them now (a sweep from before these keys gives them from its identity and versions)."""
    return {
        "code_hash": manifest.get("code_hash") or (manifest.get("identity") or {}).get("code"),
        "scenario_hash": manifest.get("scenario_hash"),
        "seed": manifest.get("seed", (manifest.get("experiment") or {}).get("seed")),
        "migov_version": manifest.get("migov_version") or (manifest.get("versions") or {}).get("migov"),
    }
