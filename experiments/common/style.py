"""How every figure looks: one colour per organisation, words for parameters and measures, a
font that covers the names, legends outside the data. Every room that draws (run, compare,
analyse, claims, calibrate, validate, the dashboard, the classroom) takes its style from here, so
an organisation is the same colour and a parameter the same words wherever it appears.

Colours are colour-blind safe (Okabe & Ito 2008, then Paul Tol's muted set). The library's
organisations have fixed colours; any other name gets one from a stable hash of the name into
the colours left over, so it too keeps its colour from figure to figure, and no two
organisations in one figure share a colour.
"""

from __future__ import annotations

import re
import textwrap
import zlib
from collections.abc import Iterable
from functools import cache
from typing import Any

# Okabe-Ito without black, which the figures keep for field means
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]
TOL_MUTED = ["#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499"]
PALETTE = OKABE_ITO + TOL_MUTED
NGO_COLOUR = "#BBBBBB"
OTHER_COLOUR = "#444444"  # a name no figure was told about (never an organisation's colour)

# The organisations of the scenario library (scenarios/*.yaml), each its own colour for good:
# the first seven are the most distinct pairs under the three common colour-vision deficiencies.
ORGANISATION_COLOURS = {
    "IOM": "#0072B2",  # blue
    "UNHCR": "#E69F00",  # orange
    "ILO": "#009E73",  # bluish green
    "UNODC": "#D55E00",  # vermillion
    "ICMPD": "#CC79A7",  # reddish purple
    "UNDP": "#56B4E9",  # sky blue
    "World Bank": "#332288",  # indigo
    "OSCE": "#882255",  # wine
    "UN Women": "#999933",  # olive
}
# what an unknown organisation may get, in the order tried after its hash
SPARE_COLOURS = [c for c in PALETTE if c not in ORGANISATION_COLOURS.values()]
# beyond the palette (more than sixteen organisations in one figure): Tol's light set
EXTRA_COLOURS = ["#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#AAAA00"]


def organisation_colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per organisation that does not depend on the other names: the library's
    organisations have fixed colours, any other takes the spare colour its name hashes to (the
    next free one if another name in ``names`` has it). ``NGOs`` is always grey."""
    names = list(dict.fromkeys(names))
    colours = {n: ORGANISATION_COLOURS[n] for n in names if n in ORGANISATION_COLOURS}
    taken = set(colours.values())
    # unknown names in a fixed order, so that which one yields on a collision does not depend
    # on the order the caller lists them in
    for name in sorted(n for n in names if n not in colours and n != "NGOs"):
        start = zlib.crc32(name.encode("utf-8")) % len(SPARE_COLOURS)
        order = SPARE_COLOURS[start:] + SPARE_COLOURS[:start]
        order += [c for c in ORGANISATION_COLOURS.values() if c not in order] + EXTRA_COLOURS
        colours[name] = next((c for c in order if c not in taken), None) or _spread(taken)
        taken.add(colours[name])
    colours["NGOs"] = NGO_COLOUR
    return colours


def _spread(taken: set[str]) -> str:
    """A colour none of ``taken`` has, for a figure with more organisations than the palettes
    (golden-ratio steps round the hue circle: distinct, though no longer colour-blind safe)."""
    from matplotlib.colors import hsv_to_rgb, to_hex

    i = len(taken)
    while (colour := to_hex(hsv_to_rgb(((i * 0.618034) % 1.0, 0.6, 0.8))).upper()) in taken:
        i += 1
    return colour


# --------------------------------------------------------------------------- fonts
# DejaVu Sans ships with matplotlib (Latin, Greek, Cyrillic); the rest are used when installed,
# for names in other scripts (matplotlib >= 3.6 falls back glyph by glyph along the list)
FONT_FAMILIES = ["DejaVu Sans", "Noto Sans", "Liberation Sans", "Noto Sans Arabic", "Noto Sans Devanagari",
                 "Noto Sans CJK SC", "Noto Sans CJK JP", "Droid Sans Fallback", "WenQuanYi Zen Hei",
                 "Arial Unicode MS"]


@cache
def font_families() -> tuple[str, ...]:
    """FONT_FAMILIES that are installed here (DejaVu Sans always is), in order."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return tuple(f for f in FONT_FAMILIES if f in installed or f == "DejaVu Sans")


@cache
def _font_files() -> tuple[Any, ...]:
    from matplotlib import font_manager, ft2font

    fonts = []
    for family in font_families():
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:  # pragma: no cover - listed as installed, but not found
            continue
        fonts.append(ft2font.FT2Font(path))
    return tuple(fonts)


def missing_glyphs(text: str) -> set[str]:
    """The characters of ``text`` that no font of the figures' font list can draw (they would
    show as boxes)."""
    fonts = _font_files()
    return {ch for ch in set(text) if ch.isprintable() and not ch.isspace()
            and not any(f.get_char_index(ord(ch)) for f in fonts)}


_BASE = {
    "font.family": "sans-serif",
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "legend.fontsize": 10,
    "figure.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def style(**overrides: Any) -> dict[str, Any]:
    """The rcParams of every figure (for ``plt.rc_context``), with the installed fonts that
    cover the names first; ``overrides`` as rcParams names with dots written as ``__``
    (``style(font__size=13)``)."""
    return {**_BASE, "font.sans-serif": [*font_families(), "sans-serif"],
            **{k.replace("__", "."): v for k, v in overrides.items()}}


_applied = False


def apply_style() -> None:
    """Set the figures' style in matplotlib's rcParams, once per process (for code that draws
    outside an ``rc_context``, such as a notebook or the dashboard)."""
    global _applied
    if not _applied:
        import matplotlib

        matplotlib.rcParams.update(style())
        _applied = True


# --------------------------------------------------------------------------- legends
def legend_outside(ax: Any, where: str = "right", **kwargs: Any) -> Any:
    """A legend beside the axes (``right``) or under them (``below``), never over the data."""
    handles, labels = kwargs.pop("handles", None), kwargs.pop("labels", None)
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if where == "below":
        place = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.18),
                 "ncol": kwargs.pop("ncol", min(len(handles), 4) or 1)}
    else:
        place = {"loc": "center left", "bbox_to_anchor": (1.01, 0.5)}
    return ax.legend(handles, labels, **{"frameon": False, **place, **kwargs})


# --------------------------------------------------------------------------- words
KEY_MEASURES = [
    ("hhi", "funding concentration (HHI)"),
    ("funding_share_NGOs", "NGOs' direct share of funding"),
    ("funding_share_IOM", "IOM's share of funding"),
    ("funding_share_UNHCR", "UNHCR's share of funding"),
    ("legitimacy_donors", "legitimacy with donors"),
    ("legitimacy_hosts", "legitimacy with hosts"),
    ("legitimacy_peers", "legitimacy with peers"),
    ("knowledge_stock", "knowledge stock"),
    ("network_density", "IO-IO partnership density"),
    ("niche_overlap", "mandate overlap (Pianka)"),
    ("mandate_breadth", "mandate breadth (issues)"),
    ("offices", "field locations"),
    ("contestations", "contestations per step"),
    ("host_refusals", "host refusals per step"),
    ("ngo_income_subcontract", "NGO income by subcontract (m/step)"),
    ("ngo_income_direct", "NGO income direct (m/step)"),
]
MEASURE_TITLES = dict(KEY_MEASURES)
# measures on the same 0-1 scale, whose heatmaps can share one colour scale
_UNIT_MEASURES = re.compile(r"^(hhi|niche_overlap|network_density|earmarked_share|uncertainty|"
                            r"(funding|fund)_share_.+|legitimacy_.+)$")
_WHOSE = {"organisations": "Organisations", "donors": "Donors", "hosts": "Hosts", "ngos": "NGOs",
          "events": "The event", "venue": "The venue"}


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _clean(description: str) -> str:
    """The head of a schema description: before any bracket, semicolon or colon, in words."""
    head = re.split(r" \(|; |: ", description, maxsplit=1)[0]
    return head.replace("_", " ").replace("e.g.", "for example").strip().rstrip(",.")


@cache
def _field_words(parts: tuple[str, ...]) -> str | None:
    """The head of the schema's description of a dotted path (entity names and ``*`` skipped),
    or None if the schema does not know it."""
    from migov.model.config import Compact, Crisis, FundingShock, Scenario, TrustFund, UNSystemEntry
    from migov.model.config import _inner_model as inner_model

    model: Any = Scenario
    i = 0
    description = None
    while i < len(parts):
        if model is None:  # a free mapping: mandate.labour, priorities.border_return
            return f"{_clean(description)}: {parts[i]}" if description and i == len(parts) - 1 else None
        if model is Scenario and parts[i] == "events":  # events.<name, index or type>.<field>
            name = parts[-1]
            for kind in (FundingShock, Crisis, TrustFund, Compact, UNSystemEntry):
                f = kind.model_fields.get(name)
                if f is not None and f.description:
                    return _clean(f.description)
            return None
        f = model.model_fields.get(parts[i])
        if f is None:
            return None
        description = f.description
        ann = f.annotation
        nested = inner_model(ann)
        if getattr(ann, "__origin__", None) is dict and nested is not None:
            i += 1  # the entity's name (or *)
        model = nested
        i += 1
    return _clean(description) if description else None


def unit_of(measure: str) -> str:
    """A measure's scale, for sharing colour scales: ``0-1`` for shares, concentration,
    legitimacy, overlap and density; otherwise the measure itself (a scale of its own)."""
    return "0-1" if _UNIT_MEASURES.match(measure) else measure


def label_of(name: str, width: int | None = None) -> str:
    """Words for a parameter path (``donors.*.scale_preference`` -> "Donors' preference for few
    large grants over many small ones", from the schema's descriptions) or a measure
    (``hhi`` -> "funding concentration (HHI)"). ``width`` wraps the words onto lines."""
    text = _path_label(name) if "." in name else _measure_label(name)
    return textwrap.fill(text, width) if width else text


def _measure_label(m: str) -> str:
    if m in MEASURE_TITLES:
        return MEASURE_TITLES[m]
    for prefix, what in (("funding_share_", "share of funding"), ("fund_share_", "share of the pooled fund"),
                         ("legitimacy_peers_", "legitimacy with peers"), ("mandate_breadth_", "mandate breadth"),
                         ("members_", "member states")):
        if m.startswith(prefix):
            return f"{_possessive(m[len(prefix):])} {what}"
    return m.replace("_", " ").replace(".", " ")


def _path_label(path: str) -> str:
    parts = tuple(path.split("."))
    words = _field_words(parts) or parts[-1]
    section = parts[0]
    if section == "events" and len(parts) > 2:
        text = f"{words} (event {parts[1]})"
    elif section in _WHOSE and len(parts) > 2:
        everyone = parts[1] in ("*", "all")
        who = _WHOSE[section] if everyone else parts[1]
        if words.split(" ", 1)[0] in ("how", "whether", "what", "which", "part", "true"):
            text = f"{who}: {words}"
        else:
            text = f"{who}' {words}" if everyone else f"{_possessive(who)} {words}"
    else:  # parameters, simulation, mechanisms, or a path the schema does not know
        text = words
    text = text.replace(".", " ").replace("_", " ")
    return text[:1].upper() + text[1:]
