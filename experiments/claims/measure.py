"""What a claim measures: a series, a window of it, and one statistic per run.

The literature speaks of more than the field's state at the end of a run: of one organisation's
income, of hosts' refusals, of offices opened and closed, of what happens in the years after an
event, of how long a shock lasts. A claim's measure says that in three parts:

* **what**: a model measure (``legitimacy_donors``, a column of the model table) or a per-agent
  variable chosen by selector, ``organisations.IOM.income``, ``hosts.*.refusals``,
  ``organisations[un_system=true].offices`` or ``hosts[authoritarian>0.5].grants`` (a filter
  on the agents' static attributes, ``static_attributes``); the statistic is taken per agent,
  then ``aggregate`` (mean by default) combines the agents;
* **when**: ``window``: the last n steps (an integer), dates ``{from: 2015, to: 2018Q3}``
  (the quarters simulated from ``from`` up to, not including, ``to``), or a span relative to a
  named event, ``{after: eutf_2015, years: 3}`` or ``{before: eutf_2015, years: 2}``;
* **how**: ``summary``, one of STATISTICS below.

Windows are resolved to recorded steps once per claim (``resolve_window``), the same for every
arm, so arms are compared over the same quarters; a window outside the run, or one that misses
the span of the event the claim is about, is an error naming the claim.
"""

from __future__ import annotations

import operator
import re
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from migov.model import Scenario, ScenarioError
from migov.model.agents import AGENT_CLASSES
from migov.model.config import Strict
from pydantic import ConfigDict, Field, model_validator

# The statistics a claim can take of one series over its window, and what each means.
STATISTICS: dict[str, str] = {
    "final": "mean over the window (default the last year): the state the run settles in",
    "mean": "mean over the window (default the whole run)",
    "last": "the last value in the window",
    "change": "last value minus first value in the window",
    "growth": "last value over first value in the window (default from the first quarter to the end)",
    "volatility": "coefficient of variation of the quarterly changes: their standard deviation over the mean "
                  "level, in the window",
    "count_opened": "sum of the increases over the window (offices opened, for an office count)",
    "count_closed": "sum of the decreases over the window (offices closed, for an office count)",
    "time_to": "the first date the series reaches `crosses` (a run that never does counts one quarter past "
               "the window's end)",
    "time_to_recover": "years from the window's start until the series is back within `tolerance` of its "
                       "value just before it (censored at the window's end)",
    "persistence": "at the window's end, the share of the largest departure from the value just before the "
                   "window that remains (1: lasting, 0: gone, negative: overshot)",
}
AGGREGATES = {"mean": np.nanmean, "sum": np.nansum, "min": np.nanmin, "max": np.nanmax, "median": np.nanmedian}
KINDS = {"organisations": "organisation", "donors": "donor", "hosts": "host", "ngos": "ngo"}
SELECTOR = re.compile(r"^(?P<kind>[a-z]+)(?:\[(?P<filter>[^\]]+)\])?(?:\.(?P<names>[^.]+))?\.(?P<var>[a-z_]+)$")
FILTER = re.compile(r"^\s*(?P<key>[a-z_]+)\s*(?P<op>==|=|!=|>=|<=|>|<)\s*(?P<value>.+?)\s*$")
OPS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
       ">=": operator.ge, "<=": operator.le}


class Window(Strict):
    last: int | None = Field(None, ge=1, description="the last n steps of the run")
    from_: str | int | None = Field(None, alias="from", description="first date of the window: a year (2015) or "
                                                                    "'YYYYQn'")
    to: str | int | None = Field(None, description="date the window ends before: a year or 'YYYYQn'")
    after: str | None = Field(None, description="name of an event: the window starts with its quarter")
    before: str | None = Field(None, description="name of an event: the window ends just before its quarter")
    years: float | None = Field(None, gt=0, description="length of a window after or before an event")

    model_config = ConfigDict(**Strict.model_config, populate_by_name=True)

    @model_validator(mode="after")
    def _one_kind(self) -> Window:
        kinds = [k for k, used in (("last", self.last is not None),
                                   ("from/to", self.from_ is not None or self.to is not None),
                                   ("after", self.after is not None), ("before", self.before is not None)) if used]
        if len(kinds) != 1:
            raise ValueError("a window is one of: last: n, from/to dates, after: event, before: event"
                             + (f" (got {' and '.join(kinds)})" if kinds else ""))
        if self.years is not None and kinds[0] not in ("after", "before"):
            raise ValueError("'years' goes with after or before")
        if kinds[0] == "before" and self.years is None:
            raise ValueError("a window before an event needs 'years'")
        return self


class Measure(Strict):
    name: str = Field(description="a model measure (a column of model.parquet) or a per-agent selector such as "
                                  "organisations.IOM.income, hosts.*.refusals, organisations[un_system=true].offices")
    summary: Literal[tuple(STATISTICS)] = Field(  # type: ignore[valid-type]
        "final", description="the statistic taken of the series over the window: " + "; ".join(
            f"{k} = {v}" for k, v in STATISTICS.items()))
    window: int | Window | None = Field(None, description="steps at the end (an integer) or a window; default: the "
                                                          "last year for final, the whole run otherwise")
    aggregate: Literal[tuple(AGGREGATES)] = Field(  # type: ignore[valid-type]
        "mean", description="how a selector's agents are combined, after the statistic is taken per agent")
    crosses: float | None = Field(None, description="time_to: the value the series must reach")
    tolerance: float = Field(0.05, gt=0, le=1, description="time_to_recover: relative distance that counts as back")

    @model_validator(mode="after")
    def _consistent(self) -> Measure:
        if (self.summary == "time_to") != (self.crosses is not None):
            raise ValueError("'crosses' goes with summary time_to, and only with it")
        if self.summary in ("time_to_recover", "persistence"):
            w = self.window
            if not isinstance(w, Window) or (w.after is None and w.from_ is None):
                raise ValueError(f"{self.summary} needs a window that starts at a shock: "
                                 "{after: <event>, years: n} or {from: <date>}")
        if "." in self.name:
            parse_selector(self.name)
        return self

    @property
    def per_agent(self) -> bool:
        return "." in self.name


@dataclass(frozen=True)
class Selector:
    kind: str  # organisation, donor, host, ngo
    names: tuple[str, ...] | None  # None = every agent of the kind that passes the filter
    filter: tuple[str, str, str] | None  # (attribute, operator, value)
    variable: str


def parse_selector(text: str) -> Selector:
    """``organisations.IOM.income`` -> Selector; a malformed one is a ValueError saying the form."""
    m = SELECTOR.match(text.strip())
    form = ("expected <kind>[.<name>|.*].<variable> or <kind>[<attribute><op><value>].<variable>, "
            "e.g. organisations.IOM.income, hosts.*.refusals, hosts[region=Sahel].grants")
    if not m or m.group("kind") not in KINDS:
        raise ValueError(f"'{text}': {form}; kinds: {', '.join(KINDS)}")
    kind = KINDS[m.group("kind")]
    variables = next(cls.reported for cls in AGENT_CLASSES if cls.kind == kind)
    if m.group("var") not in variables:
        raise ValueError(f"'{text}': {m.group('kind')} report no '{m.group('var')}'; they report "
                         f"{', '.join(variables)}")
    names = m.group("names")
    flt = None
    if m.group("filter"):
        f = FILTER.match(m.group("filter"))
        if not f:
            raise ValueError(f"'{text}': a filter is <attribute><op><value> with op one of = != > < >= <=")
        flt = (f.group("key"), f.group("op"), f.group("value"))
        if names not in (None, "*"):
            raise ValueError(f"'{text}': give a filter or names, not both")
    return Selector(kind, None if names in (None, "*") else tuple(n.strip() for n in names.split(",")), flt,
                    m.group("var"))


def _literal(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(text)
    except ValueError:
        return text.strip("'\"")


def select_agents(selector: Selector, static: pd.DataFrame, where: str) -> list[str]:
    """The agents a selector names in one scenario (``static``: its static attributes)."""
    table = static[static["type"] == selector.kind]
    if selector.names is not None:
        unknown = [n for n in selector.names if n not in set(table["agent"])]
        if unknown:
            raise ScenarioError(where, "measure.name", f"no {selector.kind} '{unknown[0]}' in the scenario; "
                                f"expected one of {', '.join(table['agent'])}")
        return list(selector.names)
    if selector.filter is None:
        return table["agent"].tolist()
    key, op, raw = selector.filter
    if key not in table.columns or table[key].isna().all():
        raise ScenarioError(where, "measure.name", f"{selector.kind} have no attribute '{key}' to filter on")
    value = _literal(raw)
    col = table[key]
    try:
        keep = col.map(lambda v: bool(OPS[op](v, value)) if v is not None else False)
    except TypeError:
        raise ScenarioError(where, "measure.name", f"cannot compare {selector.kind}' {key} with {raw!r}") from None
    return table.loc[keep.to_numpy(dtype=bool), "agent"].tolist()


# --------------------------------------------------------------------------- windows
def event_steps(scenarios: list[Scenario]) -> dict[str, tuple[int, int | None]]:
    """Named events in any of the scenarios: name -> (step it happens, steps it lasts, or None when
    what it changes stays: a compact's designation outlives its pooled fund, a crisis's
    displacement fades by the model's own dynamics). Only a funding shock and a trust fund end."""
    out: dict[str, tuple[int, int | None]] = {}
    for sc in scenarios:
        for ev in sc.events:
            if ev.name is not None:
                ends = ev.type in ("funding_shock", "trust_fund")
                out.setdefault(ev.name, (sc.step_of(ev.at), ev.duration if ends else None))
    return out


def resolve_window(measure: Measure, scenario: Scenario, steps: int, events: dict[str, tuple[int, int | None]],
                   where: str) -> tuple[int, int]:
    """The recorded steps (first, last; inclusive) the statistic looks at. Step s of the table is
    the state after the quarter with index s-1 ran, so an event at step e shows from step e+1."""
    spy = scenario.simulation.steps_per_year
    w = measure.window
    default_last = measure.summary == "final"
    if w is None:  # the default is clamped to a short run; a window the claim gives is not
        lo, hi = (max(1, steps - spy + 1), steps) if default_last else (1, steps)
    elif isinstance(w, int):
        lo, hi = steps - w + 1, steps
    elif w.last is not None:
        lo, hi = steps - w.last + 1, steps
    elif w.after is not None or w.before is not None:
        name = w.after or w.before
        if name not in events:
            raise ScenarioError(where, "measure.window", f"no event named '{name}' in the claim's scenarios; "
                                f"named events: {', '.join(events) or 'none (give an event name: in the scenario)'}")
        at = events[name][0]
        if w.after is not None:
            lo = at + 1
            hi = steps if w.years is None else at + round(w.years * spy)
        else:
            lo, hi = at - round(w.years * spy) + 1, at
    else:
        def step(date: str | int, key: str) -> int:
            try:
                return scenario.step_of(str(date), f"measure.window.{key}")  # a number is a year here
            except ValueError as err:
                raise ScenarioError(where, f"measure.window.{key}", str(err).split(": ")[-1]) from None
        lo = 1 if w.from_ is None else step(w.from_, "from") + 1
        hi = steps if w.to is None else step(w.to, "to")
    if lo < 1 or hi > steps or lo > hi:
        raise ScenarioError(where, "measure.window", f"covers steps {lo}..{hi}, outside the run's recorded "
                            f"steps 1..{steps}; shorten the window or run longer (steps:)")
    return lo, hi


def check_about(about: str | None, window: tuple[int, int], events: dict[str, tuple[int, int | None]], steps: int,
                where: str) -> None:
    """A claim about an event must measure while (or after) the event is under way."""
    if about is None:
        return
    if about not in events:
        raise ScenarioError(where, "about", f"no event named '{about}' in the claim's scenarios; named events: "
                            f"{', '.join(events) or 'none'}")
    at, duration = events[about]
    span = (at + 1, steps if duration is None else min(steps, at + duration))
    if window[1] < span[0] or window[0] > span[1]:
        raise ScenarioError(where, "measure.window", f"steps {window[0]}..{window[1]} miss the span of "
                            f"'{about}' (steps {span[0]}..{span[1]}), the event the claim is about")


# --------------------------------------------------------------------------- statistics
def statistic(x: np.ndarray, years: np.ndarray, measure: Measure, before: float) -> float:
    """One statistic of one series over its window (``x``, the dates ``years``); ``before`` is
    the value just before the window (for recovery and persistence)."""
    s = measure.summary
    if len(x) == 0:
        return np.nan
    if s in ("final", "mean"):
        return float(np.mean(x))
    if s == "last":
        return float(x[-1])
    if s == "change":
        return float(x[-1] - x[0])
    if s == "growth":
        return float(x[-1] / x[0]) if x[0] != 0 else np.nan
    d = np.diff(x)
    if s == "volatility":
        level = np.mean(np.abs(x))
        return float(np.std(d, ddof=1) / level) if len(d) > 1 and level > 0 else np.nan
    if s == "count_opened":
        return float(np.clip(d, 0, None).sum())
    if s == "count_closed":
        return float(np.clip(-d, 0, None).sum())
    dt = float(years[1] - years[0]) if len(years) > 1 else 0.25
    if s == "time_to":
        hit = np.flatnonzero(x >= measure.crosses)
        return float(years[hit[0]]) if len(hit) else float(years[-1] + dt)
    dev = x - before
    if s == "persistence":
        k = int(np.argmax(np.abs(dev)))
        return float(dev[-1] / dev[k]) if dev[k] != 0 else np.nan
    # time_to_recover: back within tolerance of the level before, after having left it
    band = measure.tolerance * max(abs(before), 1e-12)
    out = np.abs(dev) > band
    if not out.any():
        return 0.0
    back = np.flatnonzero(~out[np.argmax(out):]) + np.argmax(out)
    start = float(years[0] - dt)
    return float(years[back[0]] - start) if len(back) else float(years[-1] + dt - start)


def run_statistics(series: pd.DataFrame, column: str, window: tuple[int, int], measure: Measure,
                   key: list[str], calendar: tuple[float, int]) -> pd.DataFrame:
    """The statistic of ``column`` for every group of ``key`` (run_id, or run_id and agent) over
    the window: columns key + ['value']. ``calendar`` is (start year, steps per year)."""
    lo, hi = window
    out = []
    for k, g in series.sort_values([*key, "step"]).groupby(key, sort=False):
        inside = g[(g["step"] >= lo) & (g["step"] <= hi)]
        prior = g.loc[g["step"] == lo - 1, column]
        before = float(prior.iloc[0]) if len(prior) else np.nan
        years = calendar[0] + inside["step"].to_numpy(dtype=float) / calendar[1]
        val = statistic(inside[column].to_numpy(dtype=float), years, measure, before)
        out.append((*(k if isinstance(k, tuple) else (k,)), val))
    return pd.DataFrame(out, columns=[*key, "value"])


def measure_runs(series: pd.DataFrame | None, agents: pd.DataFrame | None, measure: Measure,
                 window: tuple[int, int], static: pd.DataFrame | None, calendar: tuple[float, int],
                 where: str) -> pd.DataFrame:
    """One value of the measure per run: columns run_id, value. ``series`` is the model table
    (every step), ``agents`` the per-agent table (for a selector), ``static`` the scenario's
    static attributes (for a selector's filter)."""
    if not measure.per_agent:
        if series is None or measure.name not in series.columns:
            raise ScenarioError(where, "measure.name", f"'{measure.name}' is not a collected measure")
        return run_statistics(series, measure.name, window, measure, ["run_id"], calendar)
    sel = parse_selector(measure.name)
    names = select_agents(sel, static, where)
    if not names:
        raise ScenarioError(where, "measure.name", f"'{measure.name}' selects no agent in the scenario")
    rows = agents[(agents["type"] == sel.kind) & agents["agent"].isin(names)]
    per_agent = run_statistics(rows, sel.variable, window, measure, ["run_id", "agent"], calendar)
    agg = AGGREGATES[measure.aggregate]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN run stays NaN, counted as missing
        return per_agent.groupby("run_id")["value"].agg(lambda v: agg(v.to_numpy())).reset_index()
