"""The figure set of a run, drawn from its tidy frames (the CLI and the dashboard share it).

Colours, fonts and words come from ``migov.experiments.common.style``: an organisation has the
same colour-blind-safe colour in every figure, whatever else is plotted beside it. Funding
shares are smoothed to annual means because single quarters are lumpy (a few large grants).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import networkx as nx
import numpy as np
import pandas as pd
from migov.experiments.common.style import (
    OTHER_COLOUR,
    legend_outside,
    organisation_colours,
    style,
)

AUDIENCES = ("donors", "hosts", "peers")
STYLE = style()


def organisations_in(model_df: pd.DataFrame) -> list[str]:
    prefix = "funding_share_"
    return [c[len(prefix) :] for c in model_df.columns if c.startswith(prefix) and c != prefix + "NGOs"]


def _steps_per_year(model_df: pd.DataFrame) -> int:
    years = model_df["year"].to_numpy()
    if len(years) < 2 or years[1] == years[0]:
        return 1
    return max(1, round(1.0 / (years[1] - years[0])))


def smoothed_shares(model_df: pd.DataFrame, agents_df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Funding shares per organisation and NGOs, as rolling annual means of income."""
    orgs = organisations_in(model_df)
    df = model_df[model_df["step"] > 0]
    window = _steps_per_year(model_df)
    income = pd.DataFrame({o: df[f"funding_share_{o}"] * df["funding_total"] for o in orgs})
    income["NGOs"] = df["funding_share_NGOs"] * df["funding_total"]
    income = income.fillna(0.0).rolling(window, min_periods=1).sum()
    shares = income.div(income.sum(axis=1).replace(0.0, np.nan), axis=0)
    shares.index = df["year"].to_numpy()
    return shares


def plot_funding_shares(ax: plt.Axes, model_df: pd.DataFrame, colours: dict[str, str]) -> None:
    shares = smoothed_shares(model_df).fillna(0.0)
    ax.stackplot(shares.index, shares.T.to_numpy(), labels=shares.columns,
                 colors=[colours[c] for c in shares.columns], alpha=0.9)
    ax.set_xlim(shares.index.min(), shares.index.max())
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]))
    ax.set_ylim(0, 1)
    ax.set_xlabel("year")
    ax.set_ylabel("share of funding received\n(rolling annual mean)")
    ax.set_title("Who wins the funding")
    legend_outside(ax)


def plot_legitimacy_audience(ax: plt.Axes, agents_df: pd.DataFrame, model_df: pd.DataFrame,
                             colours: dict[str, str], audience: str) -> None:
    """Each organisation's legitimacy with one audience (donors, hosts or peers), and the mean."""
    io = agents_df[agents_df["type"] == "organisation"]
    spy = _steps_per_year(model_df)
    start = model_df["year"].iloc[0]
    col = f"legitimacy_{audience}"
    for name, g in io.groupby("agent", sort=False):
        ax.plot(start + g["step"] / spy, g[col], color=colours.get(name, OTHER_COLOUR), lw=1.6, label=name)
    ax.plot(model_df["year"], model_df[col], color="black", lw=2.5, ls="--", label="mean")
    ax.set_ylim(0, 1)
    ax.set_title(f"with {audience}")
    ax.set_xlabel("year")


def plot_legitimacy(axes, agents_df: pd.DataFrame, model_df: pd.DataFrame, colours: dict[str, str]) -> None:
    for ax, audience in zip(axes, AUDIENCES, strict=True):
        plot_legitimacy_audience(ax, agents_df, model_df, colours, audience)
    axes[0].set_ylabel("legitimacy (0-1)")
    legend_outside(axes[-1])


def plot_offices_by_region(ax: plt.Axes, network_df: pd.DataFrame, colours: dict[str, str],
                           organisations: list[str]) -> None:
    """Country offices now, per region, stacked by organisation."""
    offices = network_df[network_df["kind"] == "office"]
    table = offices.groupby(["region", "source"]).size().unstack(fill_value=0)
    table = table.reindex(columns=[o for o in organisations if o in table.columns])
    left = np.zeros(len(table))
    for org in table.columns:
        ax.barh(table.index, table[org], left=left, color=colours.get(org, OTHER_COLOUR), label=org)
        left += table[org].to_numpy()
    ax.set_xlabel("country offices")
    ax.set_title("Offices per region")
    ax.invert_yaxis()
    legend_outside(ax)


def plot_mandates(axes, agents_df: pd.DataFrame, model_df: pd.DataFrame, colours: dict[str, str]) -> None:
    io = agents_df[agents_df["type"] == "organisation"] if len(agents_df) else agents_df
    spy = _steps_per_year(model_df)
    start = model_df["year"].iloc[0]
    ax = axes[0]
    if len(io):
        for name, g in io.groupby("agent", sort=False):
            ax.plot(start + g["step"] / spy, g["mandate_breadth"], color=colours.get(name, OTHER_COLOUR), lw=1.6,
                    label=name)
    ax.plot(model_df["year"], model_df["mandate_breadth"], color="black", lw=2.5, ls="--", label="mean")
    ax.set_ylabel("mandate breadth\n(effective number of issues)")
    ax.set_xlabel("year")
    ax.set_title("Mandates stretch")
    ax = axes[1]
    ax.plot(model_df["year"], model_df["niche_overlap"], color="black", lw=2.5)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean pairwise niche overlap\n(Pianka, 0-1)")
    ax.set_xlabel("year")
    ax.set_title("and overlap")
    handles, labels = axes[0].get_legend_handles_labels()
    legend_outside(axes[1], handles=handles, labels=labels)  # the breadth panel's lines, beside both


def plot_network(ax: plt.Axes, network_df: pd.DataFrame, agents_df: pd.DataFrame, colours: dict[str, str],
                 organisations: list[str]) -> None:
    """IOs on an inner ring (sized by final budget), host governments they partner with on an
    outer ring; global-global edges solid, global-local (government) edges dashed."""
    g = nx.Graph()
    g.add_nodes_from(organisations)
    gg = network_df[network_df["kind"] == "global-global"]
    gl = network_df[network_df["kind"] == "global-local (government)"]
    hosts = sorted(set(gl["target"]))
    g.add_nodes_from(hosts)
    pos = {o: (np.cos(a), np.sin(a)) for o, a in
           zip(organisations, np.linspace(0, 2 * np.pi, len(organisations), endpoint=False), strict=True)}
    pos.update({h: (1.9 * np.cos(a), 1.9 * np.sin(a)) for h, a in
                zip(hosts, np.linspace(0, 2 * np.pi, max(len(hosts), 1), endpoint=False), strict=False)})
    budget = {}
    if len(agents_df):
        last = agents_df[(agents_df["type"] == "organisation") & (agents_df["step"] == agents_df["step"].max())]
        budget = dict(zip(last["agent"], last["budget"], strict=True))
    top = max(budget.values(), default=1.0) or 1.0
    sizes = [300 + 2200 * (budget.get(o, 0.0) / top) for o in organisations]
    nx.draw_networkx_edges(g, pos, edgelist=list(zip(gl["source"], gl["target"], strict=True)), ax=ax,
                           style="dashed", edge_color="#999999", width=1.0)
    nx.draw_networkx_edges(g, pos, edgelist=list(zip(gg["source"], gg["target"], strict=True)), ax=ax,
                           edge_color="#333333", width=2.2)
    nx.draw_networkx_nodes(g, pos, nodelist=organisations, node_size=sizes, ax=ax,
                           node_color=[colours[o] for o in organisations], edgecolors="white")
    nx.draw_networkx_nodes(g, pos, nodelist=hosts, node_size=90, node_shape="s", node_color="#DDDDDD", ax=ax,
                           edgecolors="#777777")
    for o in organisations:
        x, y = pos[o]
        ax.annotate(o, (x, y), xytext=(0, -22), textcoords="offset points", ha="center", va="top", fontsize=11,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    nx.draw_networkx_labels(g, {h: (x * 1.12, y * 1.12) for h, (x, y) in pos.items() if h in hosts},
                            labels={h: h for h in hosts}, font_size=8, font_color="#555555", ax=ax)
    ax.set_title("Partnerships at the end (solid: IO-IO; dashed: IO-government; size: budget)")
    ax.set_axis_off()
    ax.set_aspect("equal")


def plot_overview(axes, model_df: pd.DataFrame) -> None:
    window = _steps_per_year(model_df)
    df = model_df[model_df["step"] > 0]
    axes[0].plot(df["year"], df["hhi"].rolling(window, min_periods=1).mean(), color="#0072B2", lw=2)
    axes[0].set_ylabel("HHI of funding\n(annual mean, 0-1)")
    axes[0].set_title("Concentration")
    axes[1].plot(df["year"], df["funding_total"] * window / 1000.0, color="#009E73", lw=2)
    axes[1].set_ylabel("funding disbursed\n(billions per year)")
    axes[1].set_title("Money in the field")
    axes[2].plot(df["year"], df["offices"], color="#D55E00", lw=2)
    axes[2].set_ylabel("field locations")
    axes[2].set_title("Offices")
    for col, colour, label in (("contestations", "#CC79A7", "contestations"),
                               ("host_refusals", "#E69F00", "host refusals"),
                               ("challenges", "#000000", "authoritarian challenges")):
        axes[3].plot(df["year"], df[col].rolling(window, min_periods=1).sum(), color=colour, lw=2, label=label)
    axes[3].set_ylabel("events per year")
    axes[3].set_title("Conflict")
    legend_outside(axes[3], where="below", fontsize=9, ncol=1)
    for ax in axes:
        ax.set_xlabel("year")


def figure_set(model_df: pd.DataFrame, agents_df: pd.DataFrame, network_df: pd.DataFrame,
               title: str = "") -> dict[str, plt.Figure]:
    """All figures of a run, by file stem. The caller saves or shows them."""
    orgs = organisations_in(model_df)
    colours = organisation_colours(orgs)
    figs: dict[str, plt.Figure] = {}
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(11, 5.5), layout="constrained")
        plot_funding_shares(ax, model_df, colours)
        figs["funding_shares"] = fig
        if len(agents_df):
            fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True, layout="constrained")
            plot_legitimacy(axes, agents_df, model_df, colours)
            fig.suptitle("Legitimacy by audience")
            figs["legitimacy"] = fig
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
        plot_mandates(axes, agents_df, model_df, colours)
        figs["mandates"] = fig
        fig, ax = plt.subplots(figsize=(10, 10), layout="constrained")
        plot_network(ax, network_df, agents_df, colours, orgs)
        figs["network"] = fig
        fig, axes = plt.subplots(1, 4, figsize=(18, 4.2), layout="constrained")
        plot_overview(axes, model_df)
        figs["overview"] = fig
        if "region" in network_df.columns and (network_df["kind"] == "office").any():
            fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
            plot_offices_by_region(ax, network_df, colours, orgs)
            figs["offices"] = fig
        if title:
            for f in figs.values():
                if f._suptitle is None:
                    f.suptitle(title, fontsize=15)
    return figs


def save_figures(figs: dict[str, plt.Figure], folder: Path, provenance: dict | None = None) -> list[str]:
    """Save each figure as PNG (provenance in the PNG text metadata) and close it."""
    folder = Path(folder)
    names = []
    meta = {"Software": "migov"}
    if provenance:
        meta["Description"] = (f"scenario={provenance.get('scenario')} hash={provenance.get('scenario_hash')} "
                               f"seed={provenance.get('seed')} migov={provenance.get('versions', {}).get('migov')}")
    for stem, fig in figs.items():
        name = f"{stem}.png"
        fig.savefig(folder / name, metadata=meta)
        plt.close(fig)
        names.append(name)
    return names
