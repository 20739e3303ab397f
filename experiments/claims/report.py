"""The claims report: a verdict table, and per claim its statement, source, figure and numbers,
as Markdown and as one self-contained HTML page (figures embedded)."""

from __future__ import annotations

import base64
import html
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from migov.experiments import __version__
from migov.experiments.analysis.figures import STYLE
from migov.experiments.claims.registry import Verdict, arms
from migov.experiments.common.outdir import open_accumulating, record_files
from migov.experiments.common.style import PALETTE, label_of, legend_outside
from migov.experiments.sweep.provenance import provenance

MARK = {"holds": "holds", "fails": "FAILS", "inconclusive": "inconclusive"}


def _shown(v: Verdict) -> str:
    """The verdict as a heading shows it: with its reason when it has one, else its mark."""
    return v.label if v.reason else MARK[v.verdict]


def claim_figure(v: Verdict) -> plt.Figure:
    c, vals = v.claim, v.values
    cmp = c.comparison
    labels = [label for label, _ in arms(c)]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
        wide = vals.pivot(index="replicate", columns="point", values="value")
        if cmp.type == "interaction":
            f1, f2 = cmp.factors
            means = wide.mean()
            for j, (lvl, name) in enumerate(((0, "low"), (1, "high"))):
                ys = [means[lvl], means[2 + lvl]]
                ax.plot([0, 1], ys, "o-", color=PALETTE[j], lw=2, label=f"{name} ({[f2.low, f2.high][lvl]})")
            ax.set_xticks([0, 1], [f"low ({f1.low})", f"high ({f1.high})"])
            ax.set_xlabel(label_of(f1.path, 50))
            legend_outside(ax, fontsize=9, title=label_of(f2.path, 26), title_fontsize=9)
        else:
            x = np.arange(wide.shape[1])
            one = wide.shape[1] == 1  # one arm: a replicate is a point, not a line (a line of one point is invisible)
            for k, (_, row) in enumerate(wide.iterrows()):
                ax.plot(x, row.to_numpy(), color="#BBBBBB", lw=0.8, zorder=1, marker="o" if one else None,
                        ms=4, ls="none" if one else "-", label="each replicate" if k == 0 else None)
            ax.plot(x, wide.mean().to_numpy(), "o-", color=PALETTE[0], lw=2.5, zorder=2, label="mean")
            short = [lab.split("=")[-1] if "=" in lab else lab for lab in labels]
            ax.set_xticks(x, short)
            if cmp.type == "sweep":
                ax.set_xlabel(label_of(cmp.parameter, 50))
            if cmp.type == "threshold":
                ax.axhline(cmp.threshold, color="black", ls="--", lw=1.5, label=f"threshold {cmp.threshold:g}")
            legend_outside(ax)
        ax.set_ylabel(textwrap.fill(f"{label_of(c.measure.name)} ({c.measure.summary})", 40))
        ax.set_title(f"{c.id}: {_shown(v)}", fontsize=11)
    return fig


def _fmt(x: float) -> str:
    return "nan" if x is None or np.isnan(x) else f"{x:+.4g}"


def statistic_name(v: Verdict) -> str:
    return {"contrast": "difference B - A", "unchanged": "difference B - A", "sweep": "Spearman rank correlation",
            "interaction": "interaction (HH - HL) - (LH - LL)", "threshold": "measure - threshold"}[
        v.claim.comparison.type]


BASIS_TEXT = {
    "emergent": "No single mechanism states these relations: each arises from the interaction of the mechanisms "
                "named with the claim. A verdict here is evidence about the theory as the model expresses it; "
                "a failure is a finding about the model (or the theory), never tuned away.",
    "assumed": "The relation is coded into the named mechanism(s). A *holds* shows only that the coded effect "
               "survives the rest of the model (organisations' adaptation, bounded scores, feedback) at this "
               "size; it does not show the literature is right, since the model was built to contain the claim. "
               "A *fails* or *inconclusive* verdict is informative: the rest of the model undoes what the "
               "mechanism does.",
    "check": "Implementation checks kept on purpose: the rule is wired as the ODD says. They say nothing about "
             "the theory.",
}
ORDER = ("emergent", "assumed", "check")


def measure_text(c) -> str:
    """The measure in words: what, which statistic, over which window."""
    m = c.measure
    w = m.window
    if w is None:
        when = "the last year" if m.summary == "final" else "the whole run"
    elif isinstance(w, int):
        when = f"the last {w} steps"
    elif w.last is not None:
        when = f"the last {w.last} steps"
    elif w.after is not None:
        when = f"after `{w.after}`" + (f" for {w.years:g} years" if w.years else "")
    elif w.before is not None:
        when = f"the {w.years:g} years before `{w.before}`"
    else:
        when = f"from {w.from_ or 'the start'} to {w.to or 'the end'}"
    agg = f", {m.aggregate} over the agents selected" if m.per_agent else ""
    cross = f" {m.crosses:g}" if m.crosses is not None else ""
    return f"`{m.name}`: {m.summary}{cross} over {when}{agg}"


def _p(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


def verdict_table(verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "id": v.claim.id, "basis": v.claim.basis, "verdict": v.verdict, "reason": v.reason,
        "expected": v.claim.expected, "statistic": statistic_name(v),
        "effect": v.effect, "ci_low": v.ci_low, "ci_high": v.ci_high, "p": v.p, "p_holm": v.p_holm, "q_bh": v.q_bh,
        "share_claimed_way": v.share, "replicates": v.replicates, "no_spread": v.no_spread,
        "missing": "; ".join(f"{k}: {n}" for k, n in v.missing.items() if n) or "",
        "measure": v.claim.measure.name, "summary": v.claim.measure.summary,
        "mechanisms": " ".join(v.claim.mechanisms), "source": v.claim.source.seed,
    } for v in verdicts])


def _row(v: Verdict) -> str:
    gaps = sum(v.missing.values())
    flat = " (no spread)" if v.no_spread else ""
    return (f"| [{v.claim.id}](#{v.claim.id}) | **{MARK[v.verdict]}**"
            f"{f' ({v.reason})' if v.reason else ''} | {statistic_name(v)} | {_fmt(v.effect)} | "
            f"[{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]{flat} | {_p(v.p)} | {_p(v.p_holm)} | {_p(v.q_bh)} | "
            f"{v.share:.0%} | {v.replicates} | {gaps} |")


def write_report(verdicts: list[Verdict], out: Path, command: str, seed: int) -> tuple[Path, Path]:
    """Write verdicts.csv, report.md, report.html and a figure per claim into the claims folder
    ``out`` (new, empty or migov's; its earlier report files are rewritten, nothing else). The
    verdicts must have been judged together (``registry.adjust``)."""
    open_accumulating(out, "claims")
    figdir = out / "figures"
    figdir.mkdir(exist_ok=True)
    table = verdict_table(verdicts)
    table.to_csv(out / "verdicts.csv", index=False)
    stamp = f"migov {__version__}, {datetime.now(UTC):%Y-%m-%d}, command `{command}`, base seed {seed}"
    drawn = {v.provenance["posterior"]["folder"] for v in verdicts if (v.provenance or {}).get("posterior")}
    counts = table["verdict"].value_counts().to_dict()
    n = len(verdicts)
    md = ["# Claims from the literature: verdicts", "",
          f"*Generated by {stamp}.*", "",
          "**How verdicts are reached.** Each arm of a claim runs the same replicate seeds (common random "
          "numbers, on by default), so each replicate gives one statistic (a difference, an interaction "
          "contrast, a rank correlation) within matched runs. The p-value is Student's one-sample t-test of those "
          "statistics against zero (for an *unchanged* claim, two one-sided tests against its margin): the test "
          "is about their mean, which is what the effect and its 95% bootstrap interval describe. "
          f"P-values are adjusted across the {n} claims of this report with Holm's method (family-wise error 5%, "
          "valid under any dependence between claims); Benjamini-Hochberg q-values are shown beside them. A "
          "claim **holds** when its Holm-adjusted p is below 0.05 and the effect goes the claimed way (for "
          "*unchanged*: lies within the margin), **fails** when it is below 0.05 and the effect goes the other "
          "way, and is **inconclusive** otherwise, or when it has fewer matched replicates than its minimum "
          "(default 10) or too many runs without a value (default over 20% of an arm). An interval marked *no "
          "spread* comes from replicates that all gave the same value: it has zero width and its p is 0 or 1 by "
          "construction.", "",
          *([f"Parameters drawn from the calibration posterior in `{', '.join(sorted(drawn))}`: replicate r of "
             "every arm runs parameter set r drawn from it, so a verdict says whether the claim holds across the "
             "model's calibrated, plausible parameterisations, not only at the defaults.", ""] if drawn else []),
          f"Summary: {counts.get('holds', 0)} hold, {counts.get('fails', 0)} fail, "
          f"{counts.get('inconclusive', 0)} inconclusive, of {n}."]
    for basis in ORDER:
        group = [v for v in verdicts if v.claim.basis == basis]
        if not group:
            continue
        c = pd.Series([v.verdict for v in group]).value_counts().to_dict()
        md += ["", f"### Basis: {basis} ({len(group)} claims: {c.get('holds', 0)} hold, {c.get('fails', 0)} fail, "
               f"{c.get('inconclusive', 0)} inconclusive)", "", BASIS_TEXT[basis], "",
               "| claim | verdict | statistic | effect | 95% CI | p | Holm p | BH q | claimed way | replicates "
               "| missing runs |", "|---|---|---|---|---|---|---|---|---|---|---|", *(_row(v) for v in group)]
    html_parts = []
    for v in verdicts:
        c = v.claim
        fig = claim_figure(v)
        png = figdir / f"{c.id}.png"
        fig.savefig(png, dpi=110)
        plt.close(fig)
        arms_text = "; ".join(f"{lab}: {a}" for lab, a in arms(c))
        rounds = ", ".join(f"{k} replicates: width {w:.3g}" for k, w in v.rounds) if len(v.rounds) > 1 else ""
        mech = ", ".join(f"`{m}`" for m in c.mechanisms)
        gaps = "; ".join(f"arm {k}: {g}" for k, g in v.missing.items() if g)
        result = (f"{statistic_name(v)} = {_fmt(v.effect)}, 95% CI [{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]; "
                  f"p = {_p(v.p)}, Holm-adjusted {_p(v.p_holm)}, BH q {_p(v.q_bh)}; "
                  + (f"{v.share:.0%} of " if np.isfinite(v.share) else "")
                  + f"{v.replicates} matched replicates go the claimed way"
                  + (f"; runs without a value: {gaps}" if gaps else "") + "."
                  + (" Every replicate gives the same value: at these settings the statistic does not depend on "
                     "the seed, so the interval has zero width and p is 0 or 1 by construction, not the result of "
                     "a test; the verdict says what the model does, with no sampling error to weigh."
                     if v.no_spread else ""))
        md += ["", f"## {c.id}", "", f"**Claim.** {c.claim}", "",
               f"**Source.** `{c.source.seed}`: \"{' '.join(c.source.passage.split())}\"", "",
               f"**Basis: {c.basis}.** Mechanisms: {mech}.", "",
               f"**Measure and comparison.** {measure_text(c)}; a {c.comparison.type} comparison, expected "
               f"{c.expected}" + (f", about the event `{c.about}`" if c.about else "") + f". Arms: {arms_text}.", "",
               f"![{c.id}](figures/{c.id}.png)", "",
               f"**Result: {_shown(v)}.** {result}"
               + (f" Adaptive rounds: {rounds}." if rounds else ""), "",
               f"**What would make it fail.** {c.fails_if}"]
        if c.note:
            md += ["", f"*Note.* {c.note}"]
        img = base64.b64encode(png.read_bytes()).decode()
        html_parts.append(
            f"<section id='{c.id}'><h2>{html.escape(c.id)} <span class='{v.verdict}'>{html.escape(v.label)}</span>"
            f"</h2><p><b>Claim.</b> {html.escape(c.claim)}</p><p><b>Source.</b> <code>{html.escape(c.source.seed)}"
            f"</code>: &ldquo;{html.escape(' '.join(c.source.passage.split()))}&rdquo;</p>"
            f"<p><b>Basis: {c.basis}.</b> Mechanisms: {html.escape(', '.join(c.mechanisms))}.</p>"
            f"<p><b>Measure and comparison.</b> {html.escape(measure_text(c))}; {c.comparison.type}, "
            f"expected {c.expected}. Arms: {html.escape(arms_text)}.</p>"
            f"<img src='data:image/png;base64,{img}' alt='{c.id}'>"
            f"<p><b>Result.</b> {html.escape(result)}</p>"
            f"<p><b>What would make it fail.</b> {html.escape(c.fails_if)}</p>"
            + (f"<p><i>Note.</i> {html.escape(c.note)}</p>" if c.note else "") + "</section>")
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    rows = "".join(
        f"<tr><td><a href='#{v.claim.id}'>{v.claim.id}</a></td><td>{v.claim.basis}</td>"
        f"<td class='{v.verdict}'>{html.escape(v.label)}</td>"
        f"<td>{statistic_name(v)}</td><td>{_fmt(v.effect)}</td><td>[{_fmt(v.ci_low)}, {_fmt(v.ci_high)}]</td>"
        f"<td>{_p(v.p)}</td><td>{_p(v.p_holm)}</td><td>{_p(v.q_bh)}</td>"
        f"<td>{v.share:.0%}</td><td>{v.replicates}</td></tr>"
        for basis in ORDER for v in verdicts if v.claim.basis == basis)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>migov claims</title><style>"
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;font-size:16px;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        ".holds{color:#117733;font-weight:bold}.fails{color:#CC3311;font-weight:bold}"
        ".inconclusive{color:#777;font-weight:bold}img{max-width:640px}section{margin-top:2.5em}"
        "</style></head><body><h1>Claims from the literature: verdicts</h1>"
        f"<p><i>Generated by {html.escape(stamp)}.</i></p>"
        + "".join(f"<p><b>{b}:</b> {html.escape(t)}</p>" for b, t in BASIS_TEXT.items())
        + "<table><tr><th>claim</th><th>basis</th><th>verdict</th><th>statistic</th>"
        f"<th>effect</th><th>95% CI</th><th>p</th><th>Holm p</th><th>BH q</th><th>claimed way</th>"
        f"<th>replicates</th></tr>{rows}</table>"
        + "".join(html_parts) + "</body></html>")
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    # the report's provenance: its claims' runs were made under the current code (a claim's folder
    # refuses to resume under other code), each from its own base scenario
    prov = provenance({v.claim.id: v.provenance.get("scenario_hash") for v in verdicts}, seed)
    record_files(out, ["verdicts.csv", "report.md", "report.html", *(f"figures/{v.claim.id}.png" for v in verdicts)],
                 update=prov)
    return md_path, html_path
