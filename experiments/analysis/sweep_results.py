"""A sweep's results as an analysis sees them: the successful runs with their parameters and
measures, what failed or is pending, and the measures to analyse."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from migov.experiments.sweep.engine import SweepError, SweepResults, load_results
from migov.model import ScenarioError
from migov.model.config import read_text

DEFAULT_MEASURES = ["hhi", "funding_share_NGOs", "funding_share_IOM", "legitimacy_donors", "legitimacy_hosts",
                    "legitimacy_peers", "niche_overlap", "mandate_breadth", "offices", "contestations",
                    "network_density", "knowledge_stock"]
NOT_MEASURES = {"run_id", "step", "year", "ledger_error"}
MAX_ANNOTATED_CELLS = 64


@dataclass
class Analysis:
    """What ``analyse`` found: tables by file stem, figures by file stem, and summary sections."""

    results: SweepResults
    measures: list[str]
    data: pd.DataFrame  # one row per successful run: run id, point, replicate, parameters, measures
    notes: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, plt.Figure] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    @property
    def experiment(self) -> dict:
        return self.results.manifest.get("experiment", {})

    @property
    def parameters(self) -> list[str]:
        return self.results.parameters

    @property
    def design_type(self) -> str:
        return self.experiment.get("design", {}).get("type", "grid")

    @property
    def method(self) -> str:
        """Which analysis the design calls for: its type, or for a csv design sampled by SALib the
        sampler it declares (``design.salib.method``: sobol or morris)."""
        salib = self.experiment.get("design", {}).get("salib")
        return salib["method"] if isinstance(salib, dict) and salib.get("method") else self.design_type


# --------------------------------------------------------------------------- loading
def available_measures(final: pd.DataFrame) -> list[str]:
    return [c for c in final.columns if c not in NOT_MEASURES and pd.api.types.is_numeric_dtype(final[c])]


def choose_measures(final: pd.DataFrame, measures: list[str] | None) -> list[str]:
    """The measures asked for (all must exist), or the default key list where present."""
    have = available_measures(final)
    if measures:
        unknown = [m for m in measures if m not in have]
        if unknown:
            raise SweepError(f"unknown measure{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"this sweep has: {', '.join(have)}")
        return list(dict.fromkeys(measures))
    chosen = [m for m in DEFAULT_MEASURES if m in have]
    return chosen or have


SWEEP_FILES = ("design.parquet", "runs.parquet")


def check_sweep_folder(folder: str | Path) -> None:
    """One line for a folder that is missing or is not a sweep's (a ``migov run`` result, say),
    instead of a FileNotFoundError from deep inside the loading."""
    f = Path(folder)
    expected = "expected the output folder of migov sweep"
    if not f.is_dir():
        raise ScenarioError(str(f), "", f"{'is a file' if f.exists() else 'no such folder'}; {expected}")
    man = f / "manifest.json"
    if not man.is_file():
        raise ScenarioError(str(f), "manifest.json", f"missing, so this is not a sweep folder; {expected}")
    try:
        data = json.loads(read_text(man))
    except json.JSONDecodeError as err:
        raise ScenarioError(str(man), "", f"not valid JSON (line {err.lineno}: {err.msg}); {expected}") from None
    if not isinstance(data, dict) or not isinstance(data.get("experiment"), dict):
        raise ScenarioError(str(man), "experiment", f"missing, so this is not a sweep's manifest; {expected}")
    missing = [n for n in SWEEP_FILES if not (f / n).is_file()]
    if missing:
        raise ScenarioError(str(f), missing[0], f"missing; {expected} (it holds {' and '.join(SWEEP_FILES)})")


def load(folder: str | Path, measures: list[str] | None = None) -> Analysis:
    """Load a sweep's results and keep the successful runs with their parameters and measures."""
    check_sweep_folder(folder)
    res = load_results(folder, series=False)
    runs = res.runs
    status = runs["status"]
    n_ok, n_failed, n_pending = int((status == "ok").sum()), int((status == "failed").sum()), \
        int((status == "pending").sum())
    if n_ok == 0:
        what = f"{n_failed} failed, {n_pending} pending" if len(runs) else "no runs"
        raise SweepError(f"{res.folder}: no successful runs to analyse ({what}); run the sweep first")
    if res.final.empty:
        raise SweepError(f"{res.folder}: the sweep kept no final states (collect.final is false); nothing to analyse")
    chosen = choose_measures(res.final, measures)
    ok = runs.loc[status == "ok", ["run_id", "point", "replicate", "seed", *res.parameters]]
    final = res.final.drop_duplicates("run_id", keep="last")[["run_id", *chosen]]
    data = ok.merge(final, on="run_id", how="inner").sort_values("run_id").reset_index(drop=True)
    an = Analysis(res, chosen, data)
    an.notes.append(f"{len(runs)} runs in the design ({len(res.design)} points x "
                    f"{an.experiment.get('replicates', 1)} replicates): {n_ok} succeeded and are analysed")
    if n_failed:
        errors = runs.loc[status == "failed", "error"].fillna("").value_counts()
        listed = "; ".join(f"{n} x `{_one_line(e)}`" for e, n in errors.head(3).items())
        an.notes.append(f"{n_failed} failed and are left out ({listed})")
    if n_pending:
        an.notes.append(f"{n_pending} are still pending (the sweep has not finished; run it again to resume): "
                        f"these results are partial")
    missing = len(ok) - len(data)
    if missing:
        an.notes.append(f"{missing} successful runs have no final state and are left out")
    return an


def _one_line(text: str, n: int = 120) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= n else text[: n - 3] + "..."
