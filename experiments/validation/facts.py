"""The stylised facts ``migov validate`` sets beside the model: their schema and loading.

The facts live in ``facts.yaml`` beside this module, each figure copied with its source and approx
flag from the project's shared data (migov never reads those at run time). A fact is in-sample
when every year of its record is at most :data:`LAST_IN_SAMPLE_YEAR`, out-of-sample otherwise; the
schema holds each fact to that rule, so the split cannot drift from the years.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

from migov.model import ScenarioError
from migov.model.config import Strict, _format_pydantic, read_yaml
from pydantic import Field, ValidationError, model_validator

FACTS = Path(__file__).with_name("facts.yaml")
LAST_IN_SAMPLE_YEAR = 2014  # figures up to this year are in-sample; later ones only reported
SAMPLES = {"in": "in-sample", "out": "out-of-sample"}

# What each model quantity is, in words (the table's ``measure`` column and the docs)
QUANTITIES = {
    "income": "{organisation}'s income (core + accepted grants), sum of the year's quarters, USD million per year",
    "offices": "{organisation}'s field locations (country offices and sub-offices) after the year's last quarter",
    "members": "{organisation}'s member states (hosts that are members) after the year's last quarter",
    "venue_members": "the coordination venue's member organisations after the year's last quarter",
    "donor_tilt": "how much more {organisation}'s project spending across hosts follows donors' interest than "
                  "need (rank correlation with donors' interest minus that with migration pressure, mean of the "
                  "span's quarters)",
    "earmarked_share": "earmarked money received by organisations and NGOs, % of all donor money received in the year",
    "ngo_direct_share": "NGOs' direct grants, % of all donor money received in the year",
    "ngo_subcontract_share": "money reaching NGOs through organisations' subcontracts, % of all donor money received "
                             "in the year",
    "none": "not measured by the model",
}
PER_ORGANISATION = ("income", "offices", "members", "donor_tilt")


class Point(Strict):
    year: int = Field(ge=1900, le=2100, description="the year the figure refers to")
    value: float = Field(description="the figure as published")
    source: str = Field(min_length=1, description="citation as in the shared data, verbatim")
    approx: bool = Field(description="rounded, estimated or secondary figure")
    origin: Literal["stylised", "field"] = Field(alias="from", description="the shared file it was copied from: "
                                                 "stylised_facts.yaml or field_figures.yaml")
    organisation: str | None = Field(None, description="whose figure (ratio_of_organisations)")
    role: Literal["part", "whole"] | None = Field(None, description="numerator or denominator of a share")

    @model_validator(mode="after")
    def _source_written(self) -> Point:
        if not self.source.strip():
            raise ValueError("source is blank; expected the citation of the figure")
        return self


class Measure(Strict):
    quantity: Literal["income", "offices", "members", "venue_members", "donor_tilt", "earmarked_share",
                      "ngo_direct_share",
                      "ngo_subcontract_share", "none"]
    organisation: str | None = Field(None, description="for income, offices and members")
    organisations: list[str] | None = Field(None, min_length=2, max_length=2,
                                            description="numerator and denominator (ratio_of_organisations)")
    reason: str = Field("", description="why the model has no measure (quantity none)")


class Fact(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="short name, used for the figure's file")
    description: str = Field(min_length=1)
    units: str = Field(min_length=1)
    comparison: Literal["level", "ratio_of_years", "ratio_of_organisations", "share", "sign"]
    measure: Measure
    sample: Literal["in", "out"]
    note: str = ""
    points: list[Point] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Fact:
        years = [p.year for p in self.points]
        late = [y for y in years if y > LAST_IN_SAMPLE_YEAR]
        if self.sample == "in" and late:
            raise ValueError(f"sample is 'in' but the record has {late[0]}, after {LAST_IN_SAMPLE_YEAR}; "
                             "expected sample: out")
        if self.sample == "out" and not late:
            raise ValueError(f"sample is 'out' but every year is at most {LAST_IN_SAMPLE_YEAR}; expected sample: in")
        m, how = self.measure, self.comparison
        if m.quantity == "none":
            if not m.reason.strip():
                raise ValueError("measure.quantity is 'none'; expected a reason why the model has no measure")
        elif how == "ratio_of_organisations":
            if not m.organisations or m.organisation:
                raise ValueError("a ratio of organisations needs measure.organisations: [numerator, denominator]")
        elif (m.quantity in PER_ORGANISATION) != bool(m.organisation):
            raise ValueError(f"measure '{m.quantity}' " + ("needs an organisation" if m.quantity in PER_ORGANISATION
                                                            else "takes no organisation"))
        if how == "share" and m.quantity in PER_ORGANISATION:
            raise ValueError(f"a share is compared with a share measure, not '{m.quantity}'")
        per_year = Counter(years)
        if how == "level":
            if any(p.organisation or p.role for p in self.points):
                raise ValueError("a level's points take no organisation or role")
            if max(per_year.values()) > 1:
                raise ValueError(f"a level has one point per year; {per_year.most_common(1)[0][0]} has more")
        elif how == "ratio_of_years":
            if len(self.points) != 2 or len(per_year) != 2:
                raise ValueError("a ratio of years has exactly two points, in two different years")
        elif how == "ratio_of_organisations":
            names = (m.organisations or [None, None]) if m.quantity != "none" else sorted(
                {p.organisation for p in self.points if p.organisation})
            for year in per_year:
                have = sorted(p.organisation or "" for p in self.points if p.year == year)
                if have != sorted(names):
                    raise ValueError(f"{year}: expected one point for each of {', '.join(map(str, names))}")
        elif how == "sign":
            if len(self.points) != 2 or len(per_year) != 2 or {p.value for p in self.points} not in ({1.0}, {-1.0}):
                raise ValueError("a sign has two points, the first and last year of the finding's span, both "
                                 "+1 or both -1 (the direction the finding reports)")
        elif how == "share":
            for year in per_year:
                roles = sorted(p.role or "" for p in self.points if p.year == year)
                if roles not in ([""], ["part", "whole"]):
                    raise ValueError(f"{year}: a share has one point (in percent) or a part and a whole")
        return self

    @property
    def measured(self) -> bool:
        return self.measure.quantity != "none"

    def measure_text(self) -> str:
        """The model measure in words (for the table)."""
        m = self.measure
        if m.quantity == "none":
            return f"not measured by the model: {m.reason}"
        if self.comparison == "ratio_of_organisations":
            a, b = m.organisations
            return (QUANTITIES[m.quantity].format(organisation=a).split(",")[0]
                    + f" over {b}'s, same year")
        text = QUANTITIES[m.quantity].format(organisation=m.organisation)
        if self.comparison == "ratio_of_years":
            return text.split(",")[0] + ", later year over earlier year"
        if self.comparison == "sign":
            return text + "; agrees when the 5-95% band lies on the finding's side of zero"
        return text

    def record(self) -> list[tuple[int, int, float, bool]]:
        """The record's values as compared: (first year, last year, value, approx) - one per year
        (level, share, ratio of organisations) or one for the span (ratio of years: the later over
        the earlier; sign: the direction, +1 or -1)."""
        pts = sorted(self.points, key=lambda p: p.year)
        if self.comparison == "ratio_of_years":
            a, b = pts
            return [(a.year, b.year, b.value / a.value, a.approx or b.approx)]
        if self.comparison == "sign":
            a, b = pts
            return [(a.year, b.year, a.value, a.approx or b.approx)]
        out = []
        for year in sorted({p.year for p in pts}):
            these = [p for p in pts if p.year == year]
            approx = any(p.approx for p in these)
            if self.comparison == "level" or (self.comparison == "share" and len(these) == 1):
                out.append((year, year, these[0].value, approx))
            elif self.comparison == "share":
                part = next(p for p in these if p.role == "part").value
                whole = next(p for p in these if p.role == "whole").value
                out.append((year, year, 100.0 * part / whole, approx))
            else:
                names = self.measure.organisations or sorted({p.organisation for p in these})
                by = {p.organisation: p.value for p in these}
                out.append((year, year, by[names[0]] / by[names[1]], approx))
        return out

    def sources(self, first: int | None = None, last: int | None = None) -> str:
        """The distinct sources of the points in [first, last] (all by default), in order."""
        picked = [p.source for p in self.points
                  if (first is None or first <= p.year) and (last is None or p.year <= last)]
        return "; ".join(dict.fromkeys(picked))


class Facts(Strict):
    facts: list[Fact] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Facts:
        seen = Counter(f.id for f in self.facts)
        twice = [k for k, n in seen.items() if n > 1]
        if twice:
            raise ValueError(f"fact id '{twice[0]}' is used twice")
        return self


def load_facts(path: str | Path = FACTS) -> Facts:
    """The facts file, checked; a mistake is one ScenarioError line naming the file and field."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "", "expected a mapping with a 'facts' list")
    try:
        return Facts.model_validate(data)
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError(str(path), loc, msg) from None
