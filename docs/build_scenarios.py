"""Build docs/scenarios.md and its figures by running the scenario library.

    python docs/build_scenarios.py [--replicates 20] [--workers N] [--steps N] [--out docs]

Every number and figure in the generated page comes from the runs made here (common replicate
seeds across the scenarios of a study); the hand-written parts (narrative, sources, what to
watch) come from the scenario files. Re-run it after changing the model or a scenario.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments import __version__  # noqa: E402
from migov.experiments.analysis.compare import plot_measures, plot_shares  # noqa: E402
from migov.experiments.analysis.comparison import compare_scenarios  # noqa: E402
from migov.experiments.analysis.figures import save_figures  # noqa: E402
from migov.model import load_scenario  # noqa: E402

# study name -> (scenarios, the first is the reference; the measures the study is about)
STUDIES: dict[str, tuple[list[str], list[str]]] = {
    "baseline": (["baseline"], ["funding_share_IOM", "funding_share_UNHCR", "hhi", "legitimacy_donors",
                                "legitimacy_hosts", "niche_overlap", "offices", "funding_share_NGOs"]),
    "eutf_2015": (["baseline", "eutf_2015"], ["funding_share_IOM", "funding_share_UNHCR", "hhi", "offices",
                                             "host_refusals", "legitimacy_hosts"]),
    "central_asia": (["central_asia"], ["legitimacy_hosts", "legitimacy_donors", "challenges", "knowledge_stock",
                                        "local_partnerships", "network_density"]),
    "global_compact_2018": (["baseline", "global_compact_2018"], ["funding_share_IOM", "legitimacy_donors",
                                                                 "legitimacy_peers", "knowledge_stock", "hhi"]),
    "gmg": (["gmg_rotating_chair", "gmg_secretariat"], ["contestations", "niche_overlap", "network_density",
                                                        "legitimacy_peers", "knowledge_stock"]),
    "mixed_migration": (["mixed_migration_cooperate", "mixed_migration_expand"],
                        ["contestations", "network_density", "funding_share_IOM", "funding_share_UNHCR",
                         "niche_overlap", "mandate_breadth"]),
    "donors": (["donor_consolidation", "ngo_friendly_donors"], ["hhi", "funding_share_NGOs", "ngo_income_direct",
                                                                "ngo_income_subcontract", "offices"]),
    "mandates": (["rigid_mandates", "malleable_iom"], ["funding_share_IOM", "mandate_breadth", "niche_overlap",
                                                       "contestations", "funding_share_UNHCR"]),
    "history": (["history"], ["funding_total", "emergency_funding", "funding_share_IOM", "funding_share_UNHCR",
                              "offices", "appeals", "host_refusals", "earmarked_share"]),
}


def fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def scenario_section(name: str, heading: bool = True) -> list[str]:
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    out = [f"### `{name}`: {sc.title}", ""] if heading else [f"Scenario `{name}`.", ""]
    out += [" ".join(sc.narrative.split()), ""]
    if sc.extends:
        out += [f"*Variant of `{sc.extends}`* (`migov show {name}` lists what differs).", ""]
    out += ["**Sources.**", ""] + [f"- `{s.seed}`: \"{' '.join(s.passage.split())}\"" for s in sc.sources] + [""]
    if sc.watch:
        out += [f"**What to point at.** {' '.join(sc.watch.split())}", ""]
    return out


def verdict(r) -> str:
    if r["ci_low"] > 0:
        return "higher"
    if r["ci_high"] < 0:
        return "lower"
    return "no clear difference"


def study_results(study: str, labels: list[str], measures: list[str], cmp, fig_dir: Path, rel: str) -> list[str]:
    window = 4
    figs = {f"{study}_measures": plot_measures(cmp.runs, labels, window, only=measures),
            f"{study}_funding_shares": plot_shares(cmp.runs, labels, window)}
    save_figures(figs, fig_dir)
    reps = cmp.runs.groupby("scenario")["replicate"].nunique().min()
    out = ["#### What the model shows", "",
           f"Median and interquartile band over {reps} replicate seeds per scenario (the same seeds for each):", "",
           f"![{study}: key measures]({rel}/{study}_measures.png)", "",
           f"![{study}: funding shares]({rel}/{study}_funding_shares.png)", ""]
    means = cmp.means[cmp.means["measure"].isin(measures)]
    out += ["Final state (mean over the last year of each run; 95% bootstrap interval over replicates):", "",
            "| measure | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for m in measures:
        cells = []
        for label in labels:
            row = means[(means["measure"] == m) & (means["scenario"] == label)]
            cells.append("n/a" if row.empty else f"{fmt(row['mean'].iloc[0])} [{fmt(row['ci_low'].iloc[0])}, "
                                                   f"{fmt(row['ci_high'].iloc[0])}]")
        if any(c != "n/a" for c in cells):
            out.append(f"| `{m}` | " + " | ".join(cells) + " |")
    out.append("")
    diff = cmp.differences[cmp.differences["measure"].isin(measures)] if len(cmp.differences) else cmp.differences
    if len(diff):
        out += [f"Against `{labels[0]}`:", ""]
        for _, r in diff.iterrows():
            out.append(f"- `{r['measure']}` in `{r['scenario']}`: {verdict(r)} "
                       f"(difference {r['difference']:+.3g}, 95% CI [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}])")
        out.append("")
    funds = cmp.means[cmp.means["measure"].str.startswith("fund_share_")]
    established = funds[funds["measure"] == "fund_share_incumbents"]
    funds = funds[funds["measure"] != "fund_share_incumbents"]
    if len(funds):
        top = funds.sort_values("mean", ascending=False).head(4)
        out += ["Who captured the fund (cumulative share of fund money at the end): " + ", ".join(
            f"{r['measure'].removeprefix('fund_share_')} {r['mean']:.0%} [{r['ci_low']:.0%}, {r['ci_high']:.0%}]"
            for _, r in top.iterrows()) + "."]
        for _, r in established.iterrows():
            out.append(f"Organisations established in the fund's regions when it opened received {r['mean']:.0%} "
                       f"[{r['ci_low']:.0%}, {r['ci_high']:.0%}] of it.")
        out.append("")
    return out


def build(replicates: int, workers: int | None, steps: int | None, out_dir: Path) -> Path:
    fig_dir = out_dir / "figures" / "scenarios"
    fig_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Scenario library",
        "",
        "Each scenario encodes a situation the source texts describe. Run one with `migov run NAME`, read it",
        "with `migov show NAME`, and set scenarios side by side with `migov compare A B --replicates N`.",
        "",
        f"*This page is generated by `docs/build_scenarios.py` (migov {__version__}, "
        f"{datetime.now(UTC):%Y-%m-%d}, {replicates} replicates per scenario"
        + (f", {steps} steps" if steps else "") + "). Do not edit it by hand: the narrative, sources and "
        "what to watch come from the scenario files, the numbers and figures from the runs.*",
        "",
        "Flows (funding shares, concentration, events) are shown as rolling annual means. A difference is",
        "called *higher* or *lower* only when its 95% bootstrap interval excludes zero.",
        "",
    ]
    for study, (labels, measures) in STUDIES.items():
        cmp, _ = compare_scenarios([ROOT / "scenarios" / f"{s}.yaml" for s in labels], replicates, workers, steps,
                                   base_seed=0, quiet=True)
        title = load_scenario(ROOT / "scenarios" / f"{labels[-1]}.yaml").title if len(labels) == 1 else " vs ".join(
            f"`{s}`" for s in labels)
        lines += [f"## {title}", ""]
        for s in labels:
            if s == "baseline" and study != "baseline":
                continue
            lines += scenario_section(s, heading=len(labels) > 1)
        rel = Path(fig_dir).relative_to(out_dir).as_posix()
        lines += study_results(study, labels, measures, cmp, fig_dir, rel)
        print(f"{study}: done", file=sys.stderr)
    page = out_dir / "scenarios.md"
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    print(build(args.replicates, args.workers, args.steps, args.out))


if __name__ == "__main__":
    main()
