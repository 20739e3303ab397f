"""Running ``migov validate``: a scenario's replicates on the sweep engine (resumable), each stylised
fact's record set beside the model's median and 5-95% band over replicates, written all or nothing.

How the model's quarterly series become the facts' yearly numbers (``annual_quantities``):
money is millions of US dollars per quarter, so a year's income is the sum of the four quarters
whose label (``1998Q1``..``1998Q4``) carries that year; a stock (offices, members) is its value after the
year's last quarter; a share is the year's summed numerator over its summed denominator, in
percent. Only whole simulated years count; a year the run does not cover is "not simulated".
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from migov.experiments.analysis.figures import STYLE, save_figures
from migov.experiments.common.storage import atomic_folder, manifest, write_json, write_parquet
from migov.experiments.common.style import legend_outside
from migov.experiments.sweep.experiment import SCENARIO_COLUMN
from migov.experiments.sweep.kept import run_kept
from migov.experiments.sweep.loaded import LoadedExperiment, build_experiment
from migov.experiments.sweep.provenance import provenance
from migov.experiments.sweep.runner import package_versions
from migov.experiments.validation.facts import (
    FACTS,
    LAST_IN_SAMPLE_YEAR,
    PER_ORGANISATION,
    SAMPLES,
    Fact,
    Facts,
    load_facts,
)
from migov.model import load_scenario

NAME = "validate"
BAND = (5, 95)
SHARES = {  # quantity: (numerator, denominator) per quarter, from the model table
    "earmarked_share": ("earmarked_received", "funding_total"),
    "ngo_direct_share": ("ngo_income_direct", "funding_total"),
    "ngo_subcontract_share": ("ngo_income_subcontract", "funding_total"),
}
TABLE_COLUMNS = ["fact", "description", "sample", "comparison", "years", "first_year", "last_year", "units",
                 "record", "record_approx", "model_median", "model_p05", "model_p95", "replicates", "inside_band",
                 "measure", "source"]


@dataclass
class Validation:
    scenario: str
    table: pd.DataFrame  # one row per fact and year (or span): record beside the model's median and band
    values: pd.DataFrame  # each replicate's model value for each row of the table
    annual: pd.DataFrame  # each replicate's yearly quantities (run_id, replicate, seed, year, quantity columns)
    facts: Facts
    ablations: dict[str, Validation] = field(default_factory=dict)  # the same with one mechanism switched off


def validation_experiment(path: Path, replicates: int, steps: int | None, base_seed: int,
                          store: Path, overrides: dict[str, Any] | None = None,
                          posterior: Path | None = None) -> LoadedExperiment:
    """The validation as an experiment in memory: one design point (the scenario, with any
    ``overrides`` by dotted path, e.g. a mechanism switched off), the replicates (each with its own
    parameter set drawn from ``posterior``, a calibration folder, when given), every step of the
    series and the agents (per-organisation income, offices and members) kept."""
    fixed = {key: {"levels": [value]} for key, value in (overrides or {}).items()}
    data = {
        "name": NAME,
        "description": f"migov validate {path.stem}",
        "scenario": str(path.resolve()),
        "parameters": {SCENARIO_COLUMN: {"levels": [str(path.resolve())]}, **fixed},
        "design": {"type": "grid"},
        "replicates": replicates,
        "seed": base_seed,
        "collect": {"final": False, "series": True, "stride": 1, "agents": True},
    }
    if steps:
        data["steps"] = steps
    if posterior is not None:
        data["posterior"] = str(Path(posterior).resolve())
    return build_experiment(data, store.with_name(store.name + ".yaml"))  # names it; never written


# --------------------------------------------------------------------------- model quantities
def annual_quantities(series: pd.DataFrame, agents: pd.DataFrame, steps_per_year: int) -> pd.DataFrame:
    """Each run's yearly quantities: one row per run and whole simulated calendar year, columns
    ``income:ORG``, ``offices:ORG`` and ``members:ORG`` for every organisation, the shares of SHARES in
    percent, and ``venue_members`` where the scenario has a venue."""
    s = series[series["step"] > 0].copy()  # step 0 is the initial state, not a simulated quarter
    s["cal_year"] = s["quarter"].str[:4].astype(int)
    s["earmarked_received"] = s["earmarked_share"] * s["funding_total"]
    by = s.groupby(["run_id", "cal_year"])
    sums = by[["earmarked_received", "ngo_income_direct", "ngo_income_subcontract", "funding_total"]].sum()
    whole = by.size() == steps_per_year
    out = pd.DataFrame(index=sums.index)
    for quantity, (num, den) in SHARES.items():
        out[quantity] = 100.0 * sums[num] / sums[den].where(sums[den] > 0)
    orgs = agents[agents["type"] == "organisation"].merge(s[["run_id", "step", "cal_year"]], on=["run_id", "step"])
    income = orgs.pivot_table(index=["run_id", "cal_year"], columns="agent", values="income", aggfunc="sum")
    stocks = orgs.sort_values("step").groupby(["run_id", "cal_year", "agent"])
    out = out.join(income.add_prefix("income:"))
    for stock in ("offices", "members"):
        if stock in orgs:
            out = out.join(stocks[stock].last().unstack("agent").add_prefix(f"{stock}:"))
    if "venue_members" in s:
        out = out.join(s.sort_values("step").groupby(["run_id", "cal_year"])["venue_members"].last())
    names = [c.removeprefix("spending_follows_donors_") for c in s if c.startswith("spending_follows_donors_")]
    if names:  # quarters with no spending to rank are NaN and left out of the year's mean
        tilt = pd.DataFrame({f"donor_tilt:{o}": s[f"spending_follows_donors_{o}"] - s[f"spending_follows_pressure_{o}"]
                             for o in names}).assign(run_id=s["run_id"], cal_year=s["cal_year"])
        out = out.join(tilt.groupby(["run_id", "cal_year"]).mean())
    out = out[whole.reindex(out.index, fill_value=False)]
    return out.reset_index().rename(columns={"cal_year": "year"})


def _column(fact: Fact, organisation: str | None = None) -> str:
    q = fact.measure.quantity
    return f"{q}:{organisation or fact.measure.organisation}" if q in PER_ORGANISATION else q


def fact_series(fact: Fact, annual: pd.DataFrame) -> pd.DataFrame | None:
    """The model's side of a fact over every simulated year, per run (index run_id, columns
    years): the quantity (level, share), the numerator over the denominator (ratio of
    organisations) or the quantity over its value in the earlier year (ratio of years). None when
    the model has no measure, or the scenario lacks what it needs."""
    if not fact.measured:
        return None
    wide = annual.set_index(["run_id", "year"])
    if fact.comparison == "ratio_of_organisations":
        a, b = (_column(fact, o) for o in fact.measure.organisations)
        if a not in wide or b not in wide:
            return None
        values = wide[a] / wide[b].where(wide[b] != 0)
    else:
        col = _column(fact)
        if col not in wide:
            return None
        values = wide[col]
    table = values.unstack("year")
    if fact.comparison == "ratio_of_years":
        base = min(p.year for p in fact.points)
        if base not in table:
            return table * np.nan
        table = table.div(table[base].where(table[base] != 0), axis=0)
    return table


def _missing_reason(fact: Fact, annual: pd.DataFrame) -> str:
    if not fact.measured:
        return "not measured by the model"
    names = fact.measure.organisations or [fact.measure.organisation]
    absent = [o for o in names if o and f"{fact.measure.quantity}:{o}" not in annual]
    if fact.measure.quantity == "venue_members" and "venue_members" not in annual:
        absent = ["venue"]
    return (f"not measured by the model (no {', '.join(absent)} in the scenario)" if absent
            else "not measured by the model")


def _agrees(fact: Fact, record: float, lo: float, mid: float, hi: float) -> str:
    """Whether the record lies inside the model's band; for a sign, whether the band lies on the
    finding's side of zero ('median only' when the median does but the band crosses zero)."""
    if fact.comparison != "sign":
        return "yes" if lo <= record <= hi else "no"
    if (lo > 0 if record > 0 else hi < 0):
        return "yes"
    return "median only" if mid * record > 0 else "no"


def compare_facts(facts: Facts, annual: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table (one row per fact and year, or span) and each replicate's value behind it."""
    rows, values = [], []
    ids = runs.set_index("run_id")[["replicate", "seed"]]
    for fact in facts.facts:
        table = fact_series(fact, annual)
        for first, last, record, approx in fact.record():
            years = str(first) if first == last else f"{first}-{last}"
            row = {"fact": fact.id, "description": fact.description, "sample": SAMPLES[fact.sample],
                   "comparison": fact.comparison, "years": years, "first_year": first, "last_year": last,
                   "units": fact.units, "record": float(record), "record_approx": bool(approx),
                   "model_median": np.nan, "model_p05": np.nan, "model_p95": np.nan, "replicates": 0,
                   "measure": fact.measure_text(), "source": fact.sources(first, last)}
            if table is None:
                row["inside_band"] = _missing_reason(fact, annual)
            elif last not in table or first not in annual["year"].to_numpy():
                row["inside_band"] = "not simulated"
            else:
                if fact.comparison == "sign":  # the mean over the finding's span, per run
                    span = [y for y in table.columns if first <= y <= last]
                    per_run = table[span].mean(axis=1).dropna()
                else:
                    per_run = table[last].dropna()
                for run_id, value in per_run.items():
                    values.append({"fact": fact.id, "years": years, "run_id": int(run_id),
                                   "replicate": int(ids.loc[run_id, "replicate"]), "seed": int(ids.loc[run_id, "seed"]),
                                   "value": float(value)})
                if per_run.empty:
                    row["inside_band"] = "not simulated"
                else:
                    lo, mid, hi = np.percentile(per_run.to_numpy(), [BAND[0], 50, BAND[1]])
                    row.update(model_median=float(mid), model_p05=float(lo), model_p95=float(hi),
                               replicates=int(per_run.size), inside_band=_agrees(fact, record, lo, mid, hi))
            rows.append(row)
    return (pd.DataFrame(rows, columns=TABLE_COLUMNS),
            pd.DataFrame(values, columns=["fact", "years", "run_id", "replicate", "seed", "value"]))


# --------------------------------------------------------------------------- running
def validate_scenario(path: Path, replicates: int, facts_path: Path = FACTS, workers: int | None = None,
                      steps: int | None = None, base_seed: int = 0, quiet: bool = False,
                      store: Path | None = None, overrides: dict[str, Any] | None = None,
                      posterior: Path | None = None) -> tuple[Validation, dict]:
    """Run the scenario's replicates on the sweep engine and set each fact beside them. The runs
    are kept in ``store`` as they finish, so an interrupted validation resumes; without ``store``
    a temporary one is used and removed. ``overrides`` (dotted path -> value) change the scenario
    for every run, as ``--set`` does; with ``posterior`` (a calibration folder) each replicate runs
    a parameter set drawn from it (the overrides win over drawn values)."""
    facts = load_facts(facts_path)  # before any run: a bad facts file costs nothing
    scenario = load_scenario(path, overrides=overrides or None)
    made: list[LoadedExperiment] = []

    def make(s: Path) -> LoadedExperiment:
        made.append(validation_experiment(path, replicates, steps, base_seed, s, overrides, posterior))
        return made[-1]

    res = run_kept(make, store, workers, quiet, agents=True)
    table = res.runs
    failures = [{"replicate": int(r.replicate), "seed": int(r.seed), "error": r.error}
                for r in table[table["status"] == "failed"].itertuples()]
    if res.series.empty:
        raise RuntimeError("every run failed: " + "; ".join(f["error"] for f in failures[:3]))
    ok = table.loc[table["status"] == "ok", ["run_id", "replicate", "seed"]].sort_values("replicate")
    annual = annual_quantities(res.series, res.agents, scenario.simulation.steps_per_year)
    annual = ok.merge(annual, on="run_id").sort_values(["replicate", "year"], kind="stable").reset_index(drop=True)
    result, values = compare_facts(facts, annual, ok)
    prov = {
        **provenance(scenario.content_hash(), base_seed),
        "command": "validate",
        "scenario": {"name": path.stem, "file": str(path), "hash": scenario.content_hash(), "title": scenario.title},
        "facts_file": str(facts_path),
        "overrides": dict(overrides or {}),
        **({"posterior": made[0].posterior.record(made[0].runs().drop_duplicates("replicate"))} if posterior else {}),
        "last_in_sample_year": LAST_IN_SAMPLE_YEAR,
        "band_percentiles": list(BAND),
        "replicates": replicates,
        "base_seed": base_seed,
        "seeds": [int(s) for s in ok["seed"]],
        "steps": steps or scenario.simulation.steps,
        "versions": package_versions(),
        "run_wall_time_s": round(float(table.loc[table["status"] == "ok", "wall_time_s"].sum()), 3),
        "failures": failures,
    }
    return Validation(path.stem, result, values, annual, facts), prov


# --------------------------------------------------------------------------- reporting
def _number(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    if float(x).is_integer():
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def markdown(table: pd.DataFrame, sample: str | None = None, sources: bool = True) -> str:
    """The table as markdown: fact, year(s), record (~ marks approx), model median, band, inside."""
    rows = table if sample is None else table[table["sample"] == sample]
    head = ["fact", "year(s)", "record", "model median", "model 5-95%", "inside band", "units"]
    if sample is None:
        head.insert(2, "sample")
    if sources:
        head.append("source")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows.itertuples():
        record = ("~" if r.record_approx else "") + _number(r.record)
        band = f"{_number(r.model_p05)} - {_number(r.model_p95)}" if np.isfinite(r.model_p05) else "-"
        cells = [r.fact, r.years, record, _number(r.model_median), band, r.inside_band, r.units]
        if sample is None:
            cells.insert(2, r.sample)
        if sources:
            cells.append(r.source)
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def ablation_table(val: Validation) -> pd.DataFrame:
    """Each fact row's record beside the model's median with every mechanism on and with each
    switched off in turn (``val.ablations``), and whether the record stays inside the band."""
    keys = ["fact", "years"]
    out = val.table[[*keys, "sample", "units", "record", "record_approx", "model_median", "inside_band"]].copy()
    out = out.rename(columns={"model_median": "all_on", "inside_band": "all_on_inside"})
    for name, other in val.ablations.items():
        part = other.table[[*keys, "model_median", "inside_band"]].rename(
            columns={"model_median": f"no_{name}", "inside_band": f"no_{name}_inside"})
        out = out.merge(part, on=keys, how="left")
    return out


def ablation_markdown(table: pd.DataFrame) -> str:
    """The ablation table as markdown: record, median with all mechanisms, median with each off
    (* marks a median whose 5-95% band holds the record)."""
    names = [c[3:] for c in table.columns if c.startswith("no_") and not c.endswith("_inside")]
    head = ["fact", "year(s)", "sample", "record", "all on", *[f"no {n.replace('_', ' ')}" for n in names]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    def cell(r: dict, col: str) -> str:
        return _number(r[col]) + ("*" if r[f"{col}_inside"] == "yes" else "")

    for r in table.to_dict("records"):
        cells = [r["fact"], r["years"], r["sample"], ("~" if r["record_approx"] else "") + _number(r["record"]),
                 cell(r, "all_on"), *[cell(r, f"no_{n}") for n in names]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def report(val: Validation, prov: dict) -> str:
    """validation.md: what was run, then the in-sample and the out-of-sample table."""
    parts = [f"# Validation of `{val.scenario}` against stylised facts", "",
             f"{prov['replicates']} replicates (base seed {prov['base_seed']}, {prov['steps']} steps); "
             f"model median and {BAND[0]}-{BAND[1]}% band over replicates; ~ marks an approximate record. "
             f"In-sample: every year of the record up to {LAST_IN_SAMPLE_YEAR}; out-of-sample figures are "
             "reported apart and steer nothing.", ""]
    for key in ("in-sample", "out-of-sample"):
        parts += [f"## {key[0].upper() + key[1:]}", "", markdown(val.table, key), ""]
    if val.ablations:
        parts += ["## Ablations", "", "The model's median with every mechanism on and with each switched off "
                  "in turn (`mechanisms.NAME=false`), same seeds; * marks a median whose 5-95% band holds "
                  "the record.", "", ablation_markdown(ablation_table(val)), ""]
    parts += ["## Model measures", ""]
    for fact in val.facts.facts:
        parts.append(f"- `{fact.id}` ({fact.comparison}): {fact.measure_text()}" + (f". {fact.note}" if fact.note
                                                                                    else ""))
    return "\n".join(parts) + "\n"


def plot_fact(fact: Fact, annual: pd.DataFrame, scenario: str):
    """One fact: the model's median and 5-95% band over years against the record's points, the
    sources in the caption."""
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 5.2))
        table = fact_series(fact, annual)
        if table is not None and table.shape[1]:
            years = np.array(table.columns, dtype=float)
            data = table.to_numpy(dtype=float)
            with warnings.catch_warnings():  # a year no run measured (a ratio's base year) is a gap
                warnings.simplefilter("ignore", RuntimeWarning)
                lo, mid, hi = np.nanpercentile(data, [BAND[0], 50, BAND[1]], axis=0)
                ax.fill_between(years, lo, hi, color="#0072B2", alpha=0.25, label=f"model {BAND[0]}-{BAND[1]}%")
                ax.plot(years, mid, color="#0072B2", label="model median")
        else:
            ax.text(0.5, 0.5, "not measured by the model", transform=ax.transAxes, ha="center", va="center",
                    color="#666666", fontsize=13)
        rec = fact.record()
        xs = [last for _, last, _, _ in rec]
        ys = [value for _, _, value, _ in rec]
        approx = [a for *_, a in rec]
        for flag, marker, label in ((False, "o", "record"), (True, "D", "record (approx)")):
            pick = [i for i, a in enumerate(approx) if a == flag]
            if pick:
                ax.scatter([xs[i] for i in pick], [ys[i] for i in pick], color="#D55E00", marker=marker, zorder=5,
                           label=label, facecolors="none" if flag else "#D55E00")
        if fact.comparison == "ratio_of_years":
            ax.axhline(1.0, color="#999999", lw=0.8)
            ax.set_ylabel(f"over {rec[0][0]}")
        else:
            ax.set_ylabel(fact.units)
        ax.set_xlabel("year")
        ax.set_title(f"{fact.description} ({scenario}, {SAMPLES[fact.sample]})", fontsize=11)
        legend_outside(ax, fontsize=9)
        caption = f"Model: {fact.measure_text()}. Source: {fact.sources()}"
        fig.text(0.01, 0.01, textwrap.fill(caption, 130), fontsize=7, va="bottom", ha="left")
        fig.subplots_adjust(bottom=0.24, right=0.74)
    return fig


def write_validation(val: Validation, prov: dict, out: Path, figures: bool = True, overwrite: bool = False) -> Path:
    """The validation's tables, report, figures and manifest, written into ``out`` atomically."""

    def fill(tmp: Path) -> None:
        files = []
        tables = [("validation", val.table), ("values", val.values), ("annual", val.annual)]
        if val.ablations:
            tables.append(("ablations", ablation_table(val)))
        for name, df in tables:
            write_parquet(df, tmp / f"{name}.parquet", prov)
            files.append(f"{name}.parquet")
        (tmp / "validation.md").write_text(report(val, prov), encoding="utf-8")
        files.append("validation.md")
        if figures:
            (tmp / "figures").mkdir()
            for fact in val.facts.facts:  # one at a time: each figure is closed once saved
                fig = {fact.id: plot_fact(fact, val.annual, val.scenario)}
                files += [f"figures/{n}" for n in save_figures(fig, tmp / "figures",
                                                               {**prov, "scenario": val.scenario})]
        write_json(manifest(prov, [*files, "manifest.json"], kind="validate"), tmp / "manifest.json")

    inputs = [Path(prov["scenario"]["file"]), Path(prov["facts_file"])]
    return atomic_folder(out, fill, "validate", inputs=inputs, overwrite=overwrite)
