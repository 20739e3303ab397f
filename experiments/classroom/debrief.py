"""After the game: what happened, who decided it, and did the people beat the rules.

The comparison replays the game's world (scenario, events, injected events at the same steps)
with every seat played by its agent's rule, over several seeds; the game's own seed is one of
them, so the first rule run is the same world the room played, chance for chance up to the first
human choice. Each seated agent's outcomes in the game are placed among the rule runs'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from migov.experiments.analysis import figures
from migov.experiments.common import outdir
from migov.experiments.common.style import legend_outside, organisation_colours
from migov.model import MigovModel

from .game import Game, GameError

ORGANISATION_OUTCOMES = {
    "funding_share": "share of funding, last round",
    "legitimacy_donors": "legitimacy with donors",
    "legitimacy_hosts": "legitimacy with hosts",
    "legitimacy_peers": "legitimacy with peers",
    "budget": "budget (millions)",
    "countries": "countries with an office",
}
DONOR_OUTCOMES = {
    "paid_out": "share of its envelope paid out",
    "hhi": "the field's concentration of funding (HHI)",
    "spending_follows_pressure": "the field's spending follows need (rank correlation)",
}


def outcomes(game: Game, model: MigovModel) -> dict[tuple[str, str], float]:
    """Each seated agent's outcomes at the end of ``model`` (the game's, or a rule run of it)."""
    io = model.io
    start = game.spec.get("start_step", 0)  # the years the rules played before the game are not its
    frame = model.model_frame()
    frame = frame[frame["step"] > start]
    last = frame.tail(game.round_steps)
    agents = model.agent_frame()
    donors = agents[(agents["type"] == "donor") & (agents["step"] > start)].groupby("agent", sort=False)
    totals = donors[["envelope", "disbursed"]].sum().reindex(model.dn.names)
    paid = (totals["disbursed"] / totals["envelope"].where(totals["envelope"] > 0)).fillna(0.0).to_numpy()
    out: dict[tuple[str, str], float] = {}
    for s in game.seats:
        if s.kind == "organisation":
            i = io.names.index(s.agent)
            values = {"funding_share": float(last[f"funding_share_{s.agent}"].mean()),
                      "legitimacy_donors": float(io.legit_donor[i].mean()),
                      "legitimacy_hosts": float(io.legit_host[i].mean()),
                      "legitimacy_peers": float(io.legit_peer[i]),
                      "budget": float(io.core[i] + io.earmarked[i]), "countries": float(io.office[i].sum())}
        else:
            d = model.dn.names.index(s.agent)
            values = {"paid_out": float(paid[d]), "hhi": float(frame["hhi"].mean()),
                      "spending_follows_pressure": float(frame["spending_follows_pressure"].mean())}
        out.update({(s.agent, k): v for k, v in values.items()})
    return out


@dataclass
class RuleRuns:
    seeds: list[int]
    models: list[MigovModel]


def rule_runs(game: Game, n: int = 8) -> RuleRuns:
    """The game's world played by the rules alone, at the game's seed and ``n - 1`` others."""
    seeds = [game.spec["seed"] + k for k in range(n)]
    models = []
    for seed in seeds:
        m = game.fresh_model(seed)
        for r in game.rounds:
            game.play_round(r, m, seated=False)
        models.append(m)
    return RuleRuns(seeds, models)


def compare(game: Game, runs: RuleRuns) -> pd.DataFrame:
    """One row per seated agent and outcome: the game's value, the rule runs' median and range,
    where the game falls among them (the share of rule runs below it, ties counted half), and in
    words: higher than every rule run, lower than every one, or within them. Higher is not better:
    a large budget at the end can be money never spent."""
    played = outcomes(game, game.model)
    ruled = [outcomes(game, m) for m in runs.models]
    rows = []
    for s in game.seats:
        names = ORGANISATION_OUTCOMES if s.kind == "organisation" else DONOR_OUTCOMES
        for key, words in names.items():
            v = played[(s.agent, key)]
            r = np.array([o[(s.agent, key)] for o in ruled])
            below = float(np.mean(r < v) + 0.5 * np.mean(r == v))
            verdict = ("higher than every rule run" if v > r.max() else "lower than every rule run" if v < r.min()
                       else "within the rule runs")
            rows.append({"seat": s.title, "agent": s.agent, "outcome": words, "game": v, "rules_same_world": r[0],
                         "rules_median": float(np.median(r)), "rules_min": float(r.min()), "rules_max": float(r.max()),
                         "share_of_rule_runs_below": below, "verdict": verdict})
    return pd.DataFrame(rows)


def decision_text(choice: dict) -> str:
    """A choice in a line: the fields set, the venue's in words."""
    parts = []
    for k, v in choice.items():
        if k == "apply_to_venue" and v is not None:
            parts.append("venue: apply" if v else "venue: stay out")
        elif k == "admit" and v is not None:
            parts.append(f"admit: {', '.join(v) or 'nobody'}")
        elif k == "decline_chair":
            parts += ["decline the chair"] if v else []
        elif v is not None and v != [] and v != ():
            parts.append(f"{k}: {', '.join(v) if isinstance(v, list | tuple) else v}")
    return "; ".join(parts) or "nothing"


def decisions(game: Game) -> pd.DataFrame:
    """The seats' decisions round by round, and who was played by the rule."""
    rows = []
    for r in game.rounds:
        date = game.model.date_label(r.from_step)
        for s in game.seats:
            if s.agent in r.choices:
                text = decision_text(r.choices[s.agent])
                rows.append({"round": r.number, "date": date, "seat": s.title, "agent": s.agent, "by": "player",
                             "decision": text})
            else:
                rows.append({"round": r.number, "date": date, "seat": s.title, "agent": s.agent,
                             "by": "rule (timed out)", "decision": "did not choose in time; played by its rule"})
        for ev in r.injected:
            rows.append({"round": r.number, "date": date, "seat": "instructor", "agent": "", "by": "instructor",
                         "decision": "injected " + game.describe_event(ev)})
    return pd.DataFrame(rows, columns=["round", "date", "seat", "agent", "by", "decision"])


CHOSEN = ("contestation", "mandate", "partnership")  # kinds of event a seat's own actions write
APPLIED, DECLINED = r"\badmits\b|application", "declines to chair"  # a venue event an organisation decided
STARTED = ("crisis", "funding_shock", "trust_fund", "compact", "un_system_entry")  # events that start


def marked_events(game: Game) -> pd.DataFrame:
    """The game's event log, each event marked by who decided it: ``player`` (a seated agent's
    own action in a round its seat chose: a contest, a stretch, a partnership it formed, not one
    that lapsed or broke; in the venue, its application's outcome and its declining the chair),
    ``rule (timed out)`` (the same, played by the rule because the seat did not choose),
    ``instructor`` (events starting in a round's first step that the instructor injected), else
    ``model``."""
    log = game.model.events_frame()
    by = np.full(len(log), "model", dtype=object)
    own = log["kind"].isin(CHOSEN) & ~log["text"].str.contains(r"\b(?:lapses|breaks)\b", regex=True)
    venue = log["kind"] == "venue"
    for r in game.rounds:
        in_round = (log["step"] > r.from_step) & (log["step"] <= r.to_step)
        by[(in_round & own & log["agent"].isin(list(r.choices))).to_numpy()] = "player"
        for agent, c in r.choices.items():  # in the venue, only what the seat itself chose
            mine = in_round & venue & (log["agent"] == agent)
            if c.get("decline_chair"):
                by[(mine & log["text"].str.contains(DECLINED)).to_numpy()] = "player"
            if c.get("apply_to_venue"):
                by[(mine & log["text"].str.contains(APPLIED, regex=True)).to_numpy()] = "player"
        ruled = in_round & venue & log["agent"].isin(r.ruled)  # applying and declining were its rule's
        by[(ruled & log["text"].str.contains(f"{DECLINED}|{APPLIED}", regex=True)).to_numpy()] = "rule (timed out)"
        by[(in_round & own & log["agent"].isin(r.ruled)).to_numpy()] = "rule (timed out)"
        if r.injected:
            by[((log["step"] == r.from_step + 1) & log["kind"].isin(STARTED)).to_numpy()] = "instructor"
    return log.assign(by=by)


def plot_shares_against_rules(game: Game, runs: RuleRuns, colours: dict[str, str]) -> plt.Figure:
    """Funding shares of the played organisations: the game's line against the rule runs' range."""
    played = [s for s in game.seats if s.kind == "organisation"]
    fig, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
    start = game.spec.get("start_step", 0)
    frame = game.model.model_frame()
    frame = frame[frame["step"] >= start]
    rule_frames = [f[f["step"] >= start] for f in (m.model_frame() for m in runs.models)]
    for s in played:
        col = f"funding_share_{s.agent}"
        c = colours.get(s.agent, "black")
        stack = np.vstack([f[col].to_numpy() for f in rule_frames])
        ax.fill_between(frame["year"], stack.min(axis=0), stack.max(axis=0), color=c, alpha=0.18, lw=0,
                        label=f"{s.agent}: range of {len(runs.models)} rule runs")
        chose = sum(s.agent in r.choices for r in game.rounds)
        ax.plot(frame["year"], frame[col], color=c, lw=2.6,
                label=f"{s.agent} in the game ({s.title} chose in {chose} of {len(game.rounds)} rounds)")
    ax.set_ylim(0, None)
    ax.set_xlabel("year")
    ax.set_ylabel("share of funding received (per step)")
    ax.set_title("Did the players win more funding than the rules would have?")
    legend_outside(ax)
    return fig


def plot_outcomes(table: pd.DataFrame, colours: dict[str, str]) -> plt.Figure:
    """Each seated agent's outcomes: the rule runs as grey dots, the game as a large coloured one."""
    groups = list(table.groupby(["agent", "outcome"], sort=False))
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(groups) + 1.4), layout="constrained")
    for y, ((agent, _), g) in enumerate(groups):
        row = g.iloc[0]
        lo, hi = row["rules_min"], row["rules_max"]
        span = max(hi - lo, abs(row["game"] - lo), abs(row["game"] - hi), 1e-9)
        # each row on its own scale, 0 at the lowest rule run
        median, game_x = (row["rules_median"] - lo) / span, (row["game"] - lo) / span
        ax.plot([0, (hi - lo) / span], [y, y], color="#BBBBBB", lw=6, solid_capstyle="round")
        ax.scatter([median], [y], color="#777777", s=30, zorder=3)
        ax.scatter([game_x], [y], color=colours.get(agent, "black"), s=110, zorder=4, edgecolor="black")
    ax.set_yticks(range(len(groups)), [f"{a}: {o}" for (a, o), _ in groups])
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_xlabel("grey bar: the range of the rule runs (dot: their median);  coloured dot: the game")
    ax.set_title("The game against the rules, outcome by outcome")
    return fig


def write_debrief(game: Game, n_rule_runs: int = 8) -> Path:
    """Figures (PNG and one PDF), tables (CSV) and a summary (Markdown) in the game's folder,
    under ``debrief/``; a later debrief of the same game replaces them. The game is held still
    while it is written (its lock: choices wait a few seconds), so rounds cannot move under it."""
    with game.lock:
        if not game.rounds:
            raise GameError("debrief", "no round has been played yet")
        return _write_debrief(game, n_rule_runs)


def _write_debrief(game: Game, n_rule_runs: int) -> Path:
    runs = rule_runs(game, n_rule_runs)
    table = compare(game, runs)
    colours = organisation_colours(game.model.io.names)
    model_df, agents_df = game.model.model_frame(), game.model.agent_frame()
    figs = {"against_rules": plot_shares_against_rules(game, runs, colours), "outcomes": plot_outcomes(table, colours)}
    fig, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
    figures.plot_funding_shares(ax, model_df, colours)
    figs["funding_shares"] = fig
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True, layout="constrained")
    figures.plot_legitimacy(axes, agents_df, model_df, colours)
    figs["legitimacy"] = fig
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    figures.plot_mandates(axes, agents_df, model_df, colours)
    figs["mandates"] = fig
    folder = game.folder / "debrief"
    folder.mkdir(exist_ok=True)
    files = []
    for name, f in figs.items():
        f.savefig(folder / f"{name}.png", dpi=130)
        files.append(f"debrief/{name}.png")
    with PdfPages(folder / "debrief.pdf") as pdf:
        for f in figs.values():
            pdf.savefig(f)
    for f in figs.values():
        plt.close(f)
    table.to_csv(folder / "against_rules.csv", index=False)
    decisions(game).to_csv(folder / "decisions.csv", index=False)
    marked_events(game).to_csv(folder / "events.csv", index=False)
    (folder / "debrief.md").write_text(summary(game, table, len(runs.models)), encoding="utf-8")
    files += [f"debrief/{n}" for n in ("debrief.pdf", "against_rules.csv", "decisions.csv", "events.csv", "debrief.md")]
    outdir.record_files(game.folder, files)
    return folder


def summary(game: Game, table: pd.DataFrame, n_runs: int) -> str:
    lines = [f"# Debrief: {game.scenario.title}", "",
             f"{len(game.rounds)} rounds of a {game.spec['per_round']}, seed {game.spec['seed']}; "
             f"{len(game.seats)} seats. The game is compared with the same world (its events and the instructor's, "
             f"at the same steps) played by the agents' rules alone, {n_runs} times: at the game's seed (the same "
             "world, chance for chance, until the first human choice) and the seeds after it.", ""]
    ruled = sum(len(r.ruled) for r in game.rounds)
    lines += [f"Seats that did not choose in time: {ruled} seat-rounds, played by their agent's rule.", ""]
    lines += ["| seat | outcome | game | rules, same world | rules: median (range) | verdict |",
              "|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['seat']} | {r['outcome']} | {r['game']:.3g} | {r['rules_same_world']:.3g} | "
                     f"{r['rules_median']:.3g} ({r['rules_min']:.3g}-{r['rules_max']:.3g}) | {r['verdict']} |")
    return "\n".join(lines) + "\n"
