"""Parameter sets drawn from a calibration's posterior, so that runs carry the model's calibrated
uncertainty instead of resting on its defaults.

A calibration folder (``migov calibrate``) holds ``posterior.parquet``: every accepted particle of
every generation, one column per calibrated scenario field (by dotted path), with its importance
weight and generation. Draws come from the last generation, with replacement, in proportion to the
weights, from a seeded generator: the same folder and seed give the same parameter sets. A run
that draws from a posterior records the folder, the file's hash and the draw's index.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from migov.model import ScenarioError
from migov.model.config import expand_path

POSTERIOR_FILE = "posterior.parquet"
DRAW_COLUMN = "posterior_draw"  # which of the final generation's particles a run's parameters are
META = ("generation", "weight", "particle", "distance")  # posterior.parquet's columns that are not parameters


@dataclass(frozen=True)
class Posterior:
    folder: Path
    particles: pd.DataFrame  # the last generation: one column per dotted path
    weights: np.ndarray  # normalised importance weights
    digest: str  # of posterior.parquet's bytes
    generation: int
    scenario: str | None = None  # the scenario file it was calibrated on (from the folder's manifest)

    @property
    def paths(self) -> list[str]:
        return list(self.particles.columns)

    def draw(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` parameter sets drawn with replacement in proportion to the weights (seeded); the
        ``posterior_draw`` column is the particle's row in the last generation."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9057]))
        rows = rng.choice(len(self.particles), size=n, replace=True, p=self.weights)
        table = self.particles.iloc[rows].reset_index(drop=True)
        table.insert(0, DRAW_COLUMN, rows.astype(np.int64))
        return table

    def record(self, draws: pd.DataFrame | None = None) -> dict:
        """What a manifest keeps about the posterior behind its runs."""
        rec = {"folder": str(self.folder), "file_sha256": self.digest, "generation": self.generation,
               "particles": len(self.particles), "parameters": self.paths, "calibrated_on": self.scenario}
        if draws is not None:
            rec["draws"] = [int(d) for d in draws[DRAW_COLUMN]]
        return rec


def load_posterior(folder: str | Path, option: str = "--posterior") -> Posterior:
    """The last generation of the calibration in ``folder``; a folder without a posterior is one
    ScenarioError line naming it."""
    folder = Path(folder)
    path = folder / POSTERIOR_FILE
    if not path.is_file():
        what = "no such folder" if not folder.exists() else f"no {POSTERIOR_FILE} in it"
        raise ScenarioError(str(folder), option, f"{what}; expected a folder written by migov calibrate "
                                                  "(with at least one finished generation)")
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # a damaged or foreign file
        raise ScenarioError(str(path), option, f"could not be read as a posterior table ({err})") from None
    missing = [c for c in ("generation", "weight") if c not in table]
    params = [c for c in table.columns if c not in META]
    if missing or not params or table.empty:
        raise ScenarioError(str(path), option, "expected columns generation, weight and one per parameter path, "
                                               "with at least one row")
    last = int(table["generation"].max())
    final = table[table["generation"] == last]
    w = final["weight"].to_numpy(dtype=float)
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ScenarioError(str(path), "weight", "expected non-negative weights with a positive sum")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        scenario = (manifest.get("provenance") or {}).get("scenario_file")
    except (OSError, ValueError):
        scenario = None
    return Posterior(folder, final[params].reset_index(drop=True), w / w.sum(), digest, last, scenario)


def values_at(data: dict, dotted: str) -> list[Any]:
    """The values a dotted path (``*`` expanded) names in a scenario's data; missing ones are None."""
    out = []
    for concrete in expand_path(data, dotted, "posterior"):
        node: Any = data
        for part in concrete.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out.append(node)
    return out


def with_draws(runs: pd.DataFrame, posterior: Posterior, seed: int, keep: list[str],
               blocks: np.ndarray | None = None) -> pd.DataFrame:
    """The run table with a parameter set from the posterior for each replicate: replicate r of
    every design point takes draw r, so that arms compared replicate by replicate are compared
    under the same plausible parameterisation (and, with common random numbers, the same seed).
    With ``blocks`` (the common-random-numbers block of each point) each block has draws of its own.
    Paths the design itself sets (``keep``) are not drawn: the design's values win."""
    n = int(runs["replicate"].max()) + 1 if len(runs) else 0
    replicate = runs["replicate"].to_numpy()
    if blocks is None:
        index = replicate
        draws = posterior.draw(n, seed)
    else:
        block = np.asarray(blocks)[runs["point"].to_numpy()]
        index = block * n + replicate
        draws = posterior.draw(int(block.max(initial=0) + 1) * n, seed)
    draws = draws.drop(columns=[c for c in draws.columns if c in keep])
    picked = draws.iloc[index].reset_index(drop=True)
    return pd.concat([runs.reset_index(drop=True), picked], axis=1)
