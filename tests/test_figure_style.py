"""Figures fit to project: one colour per organisation whatever else is plotted, words for the
parameters and measures on the axes, a font that has the library's names, legends beside the
data, and one colour scale for heatmaps that are compared (issue 16, item 5)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from migov.experiments.analysis.figures import STYLE, plot_funding_shares, plot_overview
from migov.experiments.analysis.sensitivity_figures import plot_heatmaps
from migov.experiments.common.style import (
    NGO_COLOUR,
    ORGANISATION_COLOURS,
    label_of,
    legend_outside,
    missing_glyphs,
    organisation_colours,
)
from migov.model.config import read_resolved

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def scenarios() -> dict[str, dict]:
    return {p.stem: read_resolved(p) for p in SCENARIOS}


def test_an_organisation_keeps_its_colour_whatever_is_beside_it():
    a = organisation_colours(["IOM", "UNHCR", "ILO", "Frontex", "NGOs"])
    b = organisation_colours(["Frontex", "ILO", "Asylum Agency"])
    c = organisation_colours(["ILO"])
    assert a["ILO"] == b["ILO"] == c["ILO"]
    assert a["Frontex"] == b["Frontex"]  # a name the library does not know: by its hash, not its place
    assert a["NGOs"] == NGO_COLOUR and NGO_COLOUR not in {v for k, v in b.items() if k != "NGOs"}
    many = [f"agency {i}" for i in range(30)]
    colours = organisation_colours(many)
    assert len(set(colours.values())) == len(colours)  # 30 unknown names and NGOs: still no two alike


def test_the_library_organisations_have_fixed_distinct_colours(scenarios):
    for name, data in scenarios.items():
        orgs = list(data["organisations"])
        assert set(orgs) <= set(ORGANISATION_COLOURS), f"{name}: give {set(orgs) - set(ORGANISATION_COLOURS)} a colour"
        colours = organisation_colours(orgs)
        assert len(set(colours.values())) == len(colours), name


def _paths(node, out: set[str]) -> set[str]:
    """Parameter paths in experiment, calibration, exploration and claim files: the keys of a
    ``parameters`` mapping and the values of ``path`` and ``parameter``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "parameters" and isinstance(value, dict):
                out |= {k for k in value if "." in k}
            if key in ("path", "parameter") and isinstance(value, str):
                out.add(value)
            _paths(value, out)
    elif isinstance(node, list):
        for value in node:
            _paths(value, out)
    return out


def test_every_swept_parameter_has_words():
    files = [*(ROOT / "experiments" / "library").rglob("*.yaml"), ROOT / "experiments" / "claims" / "claims.yaml"]
    paths: set[str] = set()
    for f in files:
        _paths(yaml.safe_load(f.read_text(encoding="utf-8")), paths)
    assert {"donors.*.scale_preference", "parameters.uncertainty", "organisations.IOM.malleability"} <= paths
    for path in sorted(paths):
        words = label_of(path)
        assert "." not in words and "_" not in words and len(words.split()) >= 3, (path, words)
    assert label_of("donors.*.scale_preference").startswith("Donors' preference for few large grants")
    assert label_of("parameters.uncertainty") == "Baseline uncertainty about future migration"
    assert label_of("hhi") == "funding concentration (HHI)"
    assert label_of("funding_share_ILO") == "ILO's share of funding"


def test_the_font_has_every_name_in_the_library(scenarios):
    text = "".join(name for data in scenarios.values() for section in ("organisations", "donors", "hosts", "ngos")
                   for name in (data.get(section) or {})) + "".join(d["title"] for d in scenarios.values())
    assert "ü" in text  # Türkiye
    assert missing_glyphs(text) == set()
    assert missing_glyphs("Кыргызстан Ελλάδα") == set()  # DejaVu Sans, which ships with matplotlib
    assert STYLE["font.sans-serif"][0] == "DejaVu Sans"


def _apart(fig, legend, ax) -> bool:
    fig.canvas.draw()
    box, area = legend.get_window_extent(), ax.get_window_extent()
    return not box.overlaps(area)


def test_legends_lie_outside_the_data():
    years = np.arange(2000, 2010, 0.25)
    n = len(years)
    shares = np.linspace(0.2, 0.6, n)
    model = pd.DataFrame({"step": np.arange(n), "year": years, "funding_total": 10.0,
                          "funding_share_IOM": shares, "funding_share_UNHCR": 0.9 - shares,
                          "funding_share_NGOs": 0.1, "hhi": 0.3, "offices": 5, "contestations": 1,
                          "host_refusals": 0, "challenges": 0})
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        plot_funding_shares(ax, model, organisation_colours(["IOM", "UNHCR"]))
        assert _apart(fig, ax.get_legend(), ax)
        fig2, axes = plt.subplots(1, 4, figsize=(14, 3.5), layout="constrained")
        plot_overview(axes, model)
        assert _apart(fig2, axes[3].get_legend(), axes[3])
        fig3, ax3 = plt.subplots(layout="constrained")
        ax3.plot([0, 1], [0, 1], label="a line over the whole area")
        assert not _apart(fig3, ax3.legend(loc="upper left"), ax3)  # the check can fail
        assert _apart(fig3, legend_outside(ax3), ax3)
    plt.close("all")


def test_compared_heatmaps_share_one_colour_scale_and_one_bar():
    p, q = "donors.*.scale_preference", "parameters.uncertainty"
    grid = pd.DataFrame([(a, b) for a in (0.1, 0.5, 0.9) for b in (0.1, 0.9)], columns=[p, q])
    means = grid.assign(legitimacy_donors=0.2 + 0.1 * grid[p], funding_share_IOM=0.5 * grid[q],
                        offices=100 + 50 * grid[p])
    an = SimpleNamespace(results=SimpleNamespace(design=grid), measures=["legitimacy_donors", "funding_share_IOM",
                                                                         "offices"])
    fig = plot_heatmaps(an, p, q, means)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    shared = [im.get_clim() for im in images[:2]]
    assert shared[0] == shared[1] == pytest.approx((0.05, 0.45))  # both 0-1 measures on one scale
    assert images[2].get_clim() == pytest.approx((105.0, 145.0))  # field locations keep their own
    bars = [ax for ax in fig.axes if not ax.images and ax.get_label() == "<colorbar>"]
    assert len(bars) == 2  # one for the two shares, one for the count
    labels = " ".join(ax.get_xlabel() + ax.get_ylabel() for ax in fig.axes if ax.images)
    assert "Donors' preference" in labels and "scale_preference" not in labels
    plt.close(fig)
