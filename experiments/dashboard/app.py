"""The classroom dashboard: Mesa's SolaraViz with a scenario picker, levers and live views.

Start it with ``migov dashboard [SCENARIO] [--port N]`` (or ``solara run`` on this file). The
views draw with the same functions as ``migov run``'s figure set (``migov.experiments.analysis.figures``), so
what students see and what ``migov run`` writes are one plotting path. A scenario that fails
validation shows its one-line error in the page and the dashboard keeps the last scenario that
loaded.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter
from migov.experiments.analysis.figures import (
    AUDIENCES,
    STYLE,
    organisations_in,
    plot_funding_shares,
    plot_legitimacy_audience,
    plot_network,
    plot_offices_by_region,
)
from migov.experiments.analysis.run_folder import write_run
from migov.experiments.common.library import scenario_files
from migov.experiments.common.outdir import fresh_subfolder
from migov.experiments.common.style import legend_outside, organisation_colours
from migov.experiments.sweep.runner import network_frame, result_of
from migov.model import MigovModel, ScenarioError
from migov.model.config import apply_overrides, read_resolved, validate_scenario
from migov.model.config import library_dirs as scenario_dirs

VENUES = ["as in the scenario", "none", "rotating chair, no budget", "secretariat and budget"]
CLASSROOM = {**STYLE, "font.size": 13, "axes.titlesize": 15, "axes.labelsize": 13, "legend.fontsize": 11}
EXPORT_ROOT = Path(os.environ.get("MIGOV_DASHBOARD_EXPORT", "results/dashboard"))


def scenario_choices() -> dict[str, Path]:
    return scenario_files(scenario_dirs())


def lever_overrides(data: dict, *, use_levers: bool, scale_preference: float, earmarking: float,
                    uncertainty: float, authoritarian_share: float, synergy: float,
                    iom_malleability: float) -> list[str]:
    """The levers as ``--set`` overrides (so a lever means exactly what ``migov run --set`` means)."""
    if not use_levers:
        return []
    sets = [f"donors.*.scale_preference={scale_preference!r}", f"donors.*.earmarking={earmarking!r}",
            f"parameters.uncertainty={uncertainty!r}", f"parameters.knowledge_partnership_synergy={synergy!r}"]
    if "IOM" in data.get("organisations", {}):
        sets.append(f"organisations.IOM.malleability={iom_malleability!r}")
    hosts = data.get("hosts", {})
    if hosts:
        # the most authoritarian hosts in the scenario become authoritarian (0.9), the rest not (0.1)
        ranked = sorted(hosts, key=lambda h: -float(hosts[h].get("authoritarian", 0.3)))
        k = round(authoritarian_share * len(ranked))
        sets += [f"hosts.{h}.authoritarian={0.9 if j < k else 0.1}" for j, h in enumerate(ranked)]
    return sets


def apply_toggles(data: dict, venue: str, funding_shock: bool) -> dict:
    """Venue and funding-shock switches, applied to the raw scenario data."""
    if venue == "none":
        data["venue"] = None
    elif venue in VENUES[2:]:
        secretariat = venue == VENUES[3]
        data["venue"] = {"name": "Coordination venue", "members": list(data.get("organisations", {})),
                         "start": 0, "chair_period": 2, "secretariat": secretariat,
                         "budget": 2.0 if secretariat else 0.0}
    if funding_shock:
        data.setdefault("events", [])
        data["events"] = [*data["events"], {"type": "funding_shock", "at": 8, "donor": "all", "factor": 0.6,
                                            "duration": 8, "note": "donors cut their budgets by 40% for two years"}]
    return data


class DashboardModel(MigovModel):
    """MigovModel built from the dashboard's controls (SolaraViz passes them as keywords)."""

    _last_good: tuple[str, dict] | None = None  # the last scenario that loaded, per server process

    def __init__(self, scenario: str = "baseline", seed: str = "1", use_levers: bool = False,
                 scale_preference: float = 0.5, earmarking: float = 0.6, uncertainty: float = 0.3,
                 authoritarian_share: float = 0.5, synergy: float = 0.03, iom_malleability: float = 0.8,
                 venue: str = VENUES[0], funding_shock: bool = False):
        self.notice = ""
        try:
            seed_value = int(str(seed).strip())
            if seed_value < 0:
                raise ValueError
        except ValueError:
            self.notice = f"seed: expected a whole number >= 0, got '{seed}'; using 1"
            seed_value = 1
        name, sc = self._load(scenario, dict(use_levers=use_levers, scale_preference=scale_preference,
                                             earmarking=earmarking, uncertainty=uncertainty,
                                             authoritarian_share=authoritarian_share, synergy=synergy,
                                             iom_malleability=iom_malleability), venue, funding_shock)
        self.scenario_name = name
        super().__init__(sc, seed=seed_value, collect_agents=True)
        self._layout_cache: dict = {}

    def _load(self, name: str, levers: dict, venue: str, funding_shock: bool):
        files = scenario_choices()
        try:
            if name not in files:
                raise ScenarioError(name, "", f"no such scenario; known: {', '.join(files)}")
            data = read_resolved(files[name])
            sets = lever_overrides(data, **levers)
            data = apply_toggles(apply_overrides(data, sets, str(files[name])), venue, funding_shock)
            sc = validate_scenario(data, str(files[name]))
            DashboardModel._last_good = (name, data)
            return name, sc
        except ScenarioError as err:
            self.notice = f"{err} — keeping the previous scenario"
            if DashboardModel._last_good is None:
                base = files.get("baseline") or next(iter(files.values()))
                DashboardModel._last_good = (base.stem, read_resolved(base))
            good_name, good_data = DashboardModel._last_good
            return good_name, validate_scenario(good_data, good_name)


# ------------------------------------------------------------------------------ views
def figure_image(fig: plt.Figure, name: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    solara.Image(buf.getvalue(), width="100%", classes=[f"migov-{name}"])


def _frames(model: DashboardModel):
    return model.model_frame(), model.agent_frame()


def export_run(model: DashboardModel, root: Path | None = None) -> Path:
    """Write the run as it stands into a new folder under ``root`` (default ``EXPORT_ROOT``):
    one new folder per export (``-2``, ``-3``... when the name is taken), never a replaced one."""
    name = f"{model.scenario_name}-seed{model._seed}-step{model.steps}"
    folder = fresh_subfolder(EXPORT_ROOT if root is None else root, name)
    return write_run(result_of(model, model.scenario_name), model.scenario, folder, figures=True,
                     extra={"source": "dashboard"}, kind="dashboard-export")


@solara.component
def ScenarioCard(model: DashboardModel):
    update_counter.get()
    status, set_status = solara.use_state("")
    sc = model.scenario

    def export():
        try:
            folder = export_run(model)
        except (ScenarioError, OSError) as err:  # a refused or unwritable folder: say so in the page
            set_status(f"Export failed: {err}")
            return
        set_status(f"Wrote figures (PNG) and data (Parquet) to {folder}/")

    with solara.Card(sc.title, style={"font-size": "16px"}):
        if model.notice:
            solara.Error(model.notice)
        with solara.Row():
            solara.HTML(tag="p", unsafe_innerHTML=f"<b>{model.step_label(model.steps)}</b>, "
                        f"step {model.steps} · scenario <code>{model.scenario_name}</code> · seed {model._seed}")
            solara.Button("Export figures and data", on_click=export, color="primary", outlined=True, small=True)
        if status:
            (solara.Error if status.startswith("Export failed") else solara.Success)(status)
        with solara.Column(style={"max-height": "230px", "overflow-y": "auto", "font-size": "15px"}):
            solara.Text(" ".join(sc.narrative.split()))
            if sc.watch:
                solara.Text("What to watch: " + " ".join(sc.watch.split()))


@solara.component
def FundingView(model: DashboardModel):
    update_counter.get()
    mdf = model.model_frame()
    with plt.rc_context(CLASSROOM):
        fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
        if model.steps > 0:
            plot_funding_shares(ax, mdf, organisation_colours(organisations_in(mdf)))
        else:
            ax.set_title("Who wins the funding (press step or play)")
            ax.set_xlabel("year")
    figure_image(fig, "funding")


@solara.component
def LegitimacyView(model: DashboardModel):
    update_counter.get()
    audience, set_audience = solara.use_state("donors")
    solara.ToggleButtonsSingle(value=audience, values=list(AUDIENCES), on_value=set_audience)
    mdf, adf = _frames(model)
    with plt.rc_context(CLASSROOM):
        fig, ax = plt.subplots(figsize=(9, 3.7), layout="constrained")
        plot_legitimacy_audience(ax, adf, mdf, organisation_colours(organisations_in(mdf)), audience)
        ax.set_ylabel("legitimacy (0-1)")
        ax.set_title(f"Legitimacy with {audience}")
        legend_outside(ax)
    figure_image(fig, "legitimacy")


@solara.component
def NetworkView(model: DashboardModel):
    update_counter.get()
    mdf, adf = _frames(model)
    orgs = organisations_in(mdf)
    with plt.rc_context(CLASSROOM):
        fig, ax = plt.subplots(figsize=(9, 4.4), layout="constrained")
        plot_network(ax, network_frame(model), adf, organisation_colours(orgs), orgs)
        ax.set_title("Partnerships now\n(solid: IO-IO; dashed: IO-government; size: budget)", fontsize=13)
    figure_image(fig, "network")


@solara.component
def OfficesView(model: DashboardModel):
    update_counter.get()
    orgs = model.io.names
    with plt.rc_context(CLASSROOM):
        fig, ax = plt.subplots(figsize=(9, 4.0), layout="constrained")
        plot_offices_by_region(ax, network_frame(model), organisation_colours(orgs), orgs)
    figure_image(fig, "offices")


@solara.component
def EventLog(model: DashboardModel):
    update_counter.get()
    events = model.event_log[-60:][::-1]
    style = {"max-height": "300px", "overflow-y": "auto", "font-size": "15px"}
    with solara.Card("What happened (newest first)"), solara.Column(style=style):
        if not events:
            solara.Text("Nothing yet: press step or play.")
        for e in events:
            solara.Text(f"{e['date']}: {e['text']}")


# ------------------------------------------------------------------------------ the page
def slider(value: float, label: str, high: float = 1.0, step: float = 0.05) -> dict:
    return {"type": "SliderFloat", "value": value, "min": 0.0, "max": high, "step": step, "label": label}


def model_params(initial: str) -> dict:
    names = list(scenario_choices())
    return {
        "scenario": {"type": "Select", "value": initial if initial in names else "baseline", "values": names,
                     "label": "Scenario (press Reset to load)"},
        "seed": {"type": "InputText", "value": "1", "label": "Seed"},
        "use_levers": {"type": "Checkbox", "value": False, "label": "Apply the levers below (else the scenario's own)"},
        "scale_preference": slider(0.5, "Donors: prefer large programmes"),
        "earmarking": slider(0.6, "Earmarked share"),
        "uncertainty": slider(0.3, "Uncertainty"),
        "authoritarian_share": slider(0.5, "Authoritarian hosts"),
        "synergy": slider(0.03, "Knowledge x partnership", high=0.1, step=0.01),
        "iom_malleability": slider(0.8, "IOM malleability"),
        "venue": {"type": "Select", "value": VENUES[0], "values": VENUES, "label": "Coordination venue"},
        "funding_shock": {"type": "Checkbox", "value": False, "label": "Funding shock (donors cut 40% from step 8)"},
    }


INITIAL = os.environ.get("MIGOV_DASHBOARD_SCENARIO", "baseline")
_model = DashboardModel(scenario=INITIAL)
page = SolaraViz(
    _model,
    components=[ScenarioCard, FundingView, LegitimacyView, NetworkView, OfficesView, EventLog],
    model_params=model_params(INITIAL),
    play_interval=400,
    name="migov: who governs migration?",
)
