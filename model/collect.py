"""Data collection: Mesa's DataCollector, filled in bulk.

Mesa's DataCollector calls one reporter per agent and variable every step (a ``getattr`` for each
of some thirty columns, for every agent, packed into a tuple per agent) and one lambda, with a
deep copy, per model measure. That grew with the world and was a quarter of a run.
``FieldDataCollector`` is a ``mesa.DataCollector`` (the same ``model_vars``, ``_agent_records``
and ``get_*_dataframe`` methods, so users read it as Mesa's) that records the model's own
reporters in bulk: the measures dictionary the step has just computed, and each kind's
``reports`` (its columns for all its agents at once, as arrays kept per step). The agent table is
built from those arrays once, when it is asked for; Mesa's per-agent tuples are made only if
something reads ``_agent_records``. Agents of a kind without bulk reports (a subclass, say) are
read one by one, as Mesa reads them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .model import MigovModel


@dataclass(frozen=True)
class Layout:
    """The agents of one collect, in ``model.agents`` order: ids, names and kinds; for each kind
    with bulk reports, its agents' state rows and their positions; the agents read one by one."""

    ids: tuple[int, ...]
    names: list[str]
    kinds: list[str]
    blocks: list[tuple[type, np.ndarray, np.ndarray]]  # (kind, state rows, positions)
    others: list[tuple[int, Any]]  # (position, agent) of agents of no kind with bulk reports


@dataclass(frozen=True)
class Snapshot:
    layout: Layout
    bulk: dict[type, dict[str, np.ndarray]]  # kind -> column -> values for its agents (copies)
    single: dict[str, list]  # column -> values of the agents read one by one, in layout.others order


class FieldDataCollector(mesa.DataCollector):
    """Mesa's DataCollector with the model's measures and the agent table recorded in bulk.

    ``measures``: the model reporters that read ``model.measures[name]`` (floats, stored as they
    are: nothing for a deep copy to protect); ``agent_columns``: the agent table's columns as
    ``{column: attribute}`` (``AGENT_REPORTERS``), filled from the ``reports`` of ``kinds``
    (``AGENT_CLASSES``). Other model reporters are collected as Mesa collects them."""

    def __init__(self, model_reporters: Mapping[str, Any], measures: list[str],
                 agent_columns: Mapping[str, str] | None, kinds: tuple):
        self._snapshots: dict[int, Snapshot] = {}  # by step: collecting a step again replaces it, as in Mesa
        self._records_cache: dict[int, list[tuple]] = {}  # step -> Mesa's tuples, made when read
        self._layout: Layout | None = None
        super().__init__(model_reporters={**model_reporters, **dict.fromkeys(measures, "measures")},
                         agent_reporters=dict(agent_columns) if agent_columns else None)
        self.measure_names = list(measures)
        self.mesa_reporters = dict(model_reporters)
        self.kinds = kinds
        self.agent_columns = dict(agent_columns or {})

    # Mesa's per-step lists of agent tuples, each step's made from its arrays when first read
    # (Mesa's batch_run reads one step at a time)
    @property
    def _agent_records(self) -> Mapping[int, list[tuple]]:
        return _Records(self)

    @_agent_records.setter
    def _agent_records(self, value: dict) -> None:  # Mesa's __init__ sets it empty
        if value:
            raise ValueError("FieldDataCollector keeps agent records as arrays; they cannot be assigned")

    def collect(self, model: MigovModel) -> None:
        for var, reporter in self.mesa_reporters.items():  # Mesa's rules for its kinds of reporter
            if isinstance(reporter, types.LambdaType | partial):
                value = reporter(model)
            elif isinstance(reporter, str):
                value = getattr(model, reporter, None)
            elif isinstance(reporter, list):
                value = reporter[0](*reporter[1])
            else:
                value = reporter()
            self.model_vars[var].append(deepcopy(value))
        measures = model.measures
        for name in self.measure_names:
            self.model_vars[name].append(measures[name])
        if self.agent_reporters:
            self._records_cache.pop(model.steps, None)
            ids = tuple(a.unique_id for a in model.agents)
            if self._layout is None or self._layout.ids != ids:  # agents added or removed: a new layout
                self._layout = self._agents_in_order(model)
            layout = self._layout
            bulk = {cls: cls.reports(model) for cls, _, _ in layout.blocks}
            single = {column: [getattr(a, attr, None) for _, a in layout.others]
                      for column, attr in self.agent_columns.items()} if layout.others else {}
            self._snapshots[model.steps] = Snapshot(layout, bulk, single)

    def _agents_in_order(self, model: MigovModel) -> Layout:
        agents = list(model.agents)
        blocks, covered = [], set()
        for cls in self.kinds:
            mine = [(p, a) for p, a in enumerate(agents) if type(a) is cls]
            if mine and "reports" in vars(cls):  # the kind defines its own bulk reports
                blocks.append((cls, np.array([a.idx for _, a in mine]), np.array([p for p, _ in mine])))
                covered.update(p for p, _ in mine)
        others = [(p, a) for p, a in enumerate(agents) if p not in covered]
        return Layout(tuple(a.unique_id for a in agents), [getattr(a, "name", None) for a in agents],
                      [getattr(a, "kind", None) for a in agents], blocks, others)

    def _column(self, snap: Snapshot, column: str, attr: str) -> list:
        """One column for every agent at one step, in model order (None where a kind lacks it)."""
        layout = snap.layout
        if attr == "name":
            return list(layout.names)
        if attr == "kind":
            return list(layout.kinds)
        values: list = [None] * len(layout.ids)
        for cls, rows, at in layout.blocks:
            if column in snap.bulk[cls]:
                for p, v in zip(at.tolist(), snap.bulk[cls][column][rows].tolist(), strict=True):
                    values[p] = v
        for (p, _), v in zip(layout.others, snap.single.get(column, ()), strict=False):
            values[p] = v
        return values

    def _tuples(self, step: int) -> list[tuple]:
        snap = self._snapshots[step]
        columns = [self._column(snap, c, a) for c, a in self.agent_columns.items()]
        return [(step, uid, *values) for uid, values in zip(snap.layout.ids, zip(*columns, strict=True), strict=True)]

    def get_agent_vars_dataframe(self) -> pd.DataFrame:
        """Mesa's agent table (index Step and AgentID, a column per reporter), built column by column
        from the arrays: the same values and dtypes as Mesa's, which packs a tuple per agent. Steps
        whose agents differ, or agents read one by one, go through Mesa's own construction."""
        steps, snaps = list(self._snapshots), list(self._snapshots.values())
        if not self.agent_reporters or not snaps:
            return super().get_agent_vars_dataframe()
        layout = snaps[0].layout
        if any(s.layout is not layout for s in snaps) or layout.others:
            return super().get_agent_vars_dataframe()
        n, n_steps = len(layout.ids), len(snaps)
        data = {}
        for column, attr in self.agent_columns.items():
            if attr in ("name", "kind"):
                data[column] = np.tile(np.asarray(layout.names if attr == "name" else layout.kinds, dtype=object),
                                       n_steps)
                continue
            have = [(cls, rows, at) for cls, rows, at in layout.blocks if column in snaps[0].bulk[cls]]
            if not have:  # no agent here reports it: Mesa's column of None
                data[column] = np.full(n * n_steps, None, dtype=object)
                continue
            first = [np.asarray(snaps[0].bulk[cls][column]) for cls, _, _ in have]
            if not all(f.dtype.kind in "iuf" for f in first):  # not numbers: Mesa's own construction
                return super().get_agent_vars_dataframe()
            filled = sum(len(at) for _, _, at in have) == n
            dtype = first[0].dtype if filled and len(have) == 1 else np.float64  # a gap is NaN, as in Mesa's
            out = np.full((n_steps, n), np.nan if dtype == np.float64 else 0, dtype=dtype)
            for s, snap in enumerate(snaps):
                for cls, rows, at in have:
                    out[s, at] = snap.bulk[cls][column][rows]
            data[column] = out.ravel()
        index = pd.MultiIndex.from_arrays([np.repeat(steps, n).astype(np.int64),
                                           np.tile(np.asarray(layout.ids, dtype=np.int64), n_steps)],
                                          names=["Step", "AgentID"])
        return pd.DataFrame(data, index=index)


class _Records(Mapping):
    """``_agent_records`` as Mesa has it (step -> list of agent tuples), each step built once when read."""

    def __init__(self, collector: FieldDataCollector):
        self.collector = collector

    def __getitem__(self, step: int) -> list[tuple]:
        c = self.collector
        if step not in c._records_cache:
            c._records_cache[step] = c._tuples(step)
        return c._records_cache[step]

    def __iter__(self):
        return iter(self.collector._snapshots)

    def __len__(self) -> int:
        return len(self.collector._snapshots)
