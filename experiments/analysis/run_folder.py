"""``migov run``: one scenario, one seed, results written all or nothing, a summary printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml
from migov.experiments.analysis.figures import figure_set, organisations_in, save_figures
from migov.experiments.common.storage import atomic_folder, manifest, write_json, write_parquet
from migov.experiments.sweep.runner import RunResult, run_scenario
from migov.model import Scenario
from tqdm import tqdm

TABLES = ("model", "organisations", "agents", "agents_static", "events", "network")
OPTIONAL = ("organisations", "agents", "agents_static")  # left out when empty (--no-agents; a bare RunResult)


def write_run(result: RunResult, scenario: Scenario, out: Path, figures: bool = True, extra: dict | None = None,
              overwrite: bool = False, inputs: list[Path] | tuple[Path, ...] = (), kind: str = "run") -> Path:
    """Write a run's tables, figures, resolved scenario and manifest into ``out`` atomically; an
    earlier migov result there is replaced only with ``overwrite`` (see ``outdir``)."""
    prov = result.provenance

    def fill(tmp: Path) -> None:
        files = []
        for name in TABLES:
            df = getattr(result, name)
            if name in OPTIONAL and df.empty:
                continue
            write_parquet(df, tmp / f"{name}.parquet", prov)
            files.append(f"{name}.parquet")
        (tmp / "scenario.yaml").write_text(
            yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        files.append("scenario.yaml")
        if figures:
            (tmp / "figures").mkdir()
            figs = figure_set(result.model, result.agents, result.network, title=scenario.title)
            files += [f"figures/{n}" for n in save_figures(figs, tmp / "figures", prov)]
        write_json(manifest(prov, [*files, "manifest.json"], extra, kind), tmp / "manifest.json")

    return atomic_folder(out, fill, kind, inputs=inputs, overwrite=overwrite)


def read_run(folder: str | Path) -> RunResult:
    """A ``migov run`` folder read back into memory: its tables (an empty agents table when the
    run kept none), its scenario validated again, and its manifest as the provenance."""
    import json

    from migov.model import ScenarioError
    from migov.model.config import read_yaml, validate_scenario

    out = Path(folder)
    missing = [f for f in ("manifest.json", "model.parquet", "scenario.yaml") if not (out / f).is_file()]
    if missing:
        raise ScenarioError(str(out), missing[0], "missing; expected the output folder of migov run (model.parquet, "
                                                  "scenario.yaml, manifest.json) or of migov sweep")
    frames = {name: pd.read_parquet(out / f"{name}.parquet") if (out / f"{name}.parquet").is_file()
              else pd.DataFrame() for name in TABLES}
    provenance = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    scenario = validate_scenario(read_yaml(out / "scenario.yaml"), str(out / "scenario.yaml"))
    return RunResult(**frames, provenance=provenance, scenario=scenario)


def summary(result: RunResult) -> str:
    """A short plain-text summary: final-year shares and legitimacy, concentration, events."""
    m, a, ev, prov = result.model, result.agents, result.events, result.provenance
    spy = prov.get("steps_per_year", 4)
    last = m[m["step"] > m["step"].max() - spy]
    orgs = organisations_in(m)
    income = {o: (last[f"funding_share_{o}"] * last["funding_total"]).sum() for o in orgs}
    income["NGOs (direct)"] = (last["funding_share_NGOs"] * last["funding_total"]).sum()
    total = sum(income.values()) or 1.0
    rows = []
    final = a[(a["type"] == "organisation") & (a["step"] == a["step"].max())].set_index("agent") if len(a) else None
    for o, v in sorted(income.items(), key=lambda kv: -kv[1]):
        row = {"organisation": o, "funding share": v / total}
        if final is not None and o in final.index:
            f = final.loc[o]
            row.update({"legit. donors": f["legitimacy_donors"], "legit. hosts": f["legitimacy_hosts"],
                        "legit. peers": f["legitimacy_peers"], "offices": int(f["offices"]),
                        "budget (m)": f["budget"]})
        rows.append(row)
    table = pd.DataFrame(rows)
    lines = [
        f"{prov['scenario']}: seed {prov['seed']}, {prov['steps']} steps, {prov['wall_time_s']:.2f} s "
        f"(scenario hash {prov['scenario_hash']})",
        "",
        "Final year:",
        table.to_string(index=False, float_format=lambda x: f"{x:.2f}", na_rep="-"),
        "",
        f"Field: HHI {last['hhi'].mean():.3f}, earmarked share {last['earmarked_share'].mean():.2f}, "
        f"offices {m['offices'].iloc[-1]:.0f}, mandate breadth {m['mandate_breadth'].iloc[-1]:.2f}, "
        f"niche overlap {m['niche_overlap'].iloc[-1]:.2f}",
        "Events over the run: " + ", ".join(f"{k} {v}" for k, v in ev["kind"].value_counts().items()),
    ]
    grants = ev[ev["kind"] == "grant"]
    if len(grants):
        amounts = grants["text"].str.extract(r"([\d.]+)m$")[0].astype(float)
        lines += ["", "Largest grants:"]
        for i in amounts.nlargest(3).index:
            lines.append(f"  {grants.loc[i, 'date']}: {grants.loc[i, 'text']}")
    notable = ev[ev["kind"].isin(["crisis", "funding_shock", "trust_fund"])]
    if len(notable):
        lines += ["", "Scheduled events:"] + [f"  {r.date}: {r.text}" for r in notable.itertuples()]
    return "\n".join(lines)


def run_and_write(scenario: Scenario, path: Path, args: argparse.Namespace, out: Path) -> RunResult:
    steps = args.steps or scenario.simulation.steps
    with tqdm(total=steps, desc=path.stem, unit="step", disable=args.quiet or None, file=sys.stderr,
              leave=False) as bar:
        result = run_scenario(scenario, args.seed, steps=steps, collect_agents=not args.no_agents,
                              on_step=lambda _s: bar.update(1), scenario_name=path.stem)
    extra = {"scenario_file": str(path), "overrides": list(args.overrides)}
    if getattr(args, "posterior_record", None):
        extra["posterior"] = args.posterior_record
    write_run(result, scenario, out, figures=not args.no_figures, extra=extra,
              overwrite=getattr(args, "overwrite", False), inputs=[path])
    if not args.quiet:
        print(summary(result))
        print(f"\nResults in {out}/ ({', '.join(TABLES)} as Parquet; manifest.json; figures/)")
    return result
