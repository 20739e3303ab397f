"""Data collection: Mesa's DataCollector, filled in bulk.

Mesa's DataCollector calls one reporter per agent and variable every step (a ``getattr`` for each
of some thirty columns, for every agent, packed into a tuple per agent) and one lambda, with a
deep copy, per model measure. That grew with the world and was a quarter of a run.
``FieldDataCollector`` is a ``mesa.DataCollector`` (the same ``model_vars``, ``_agent_records``
and ``get_*_dataframe`` methods, so users read it as Mesa's) that records the model's own
reporters in bulk: the measures dictionary the step has just computed, and each kind's
``reports`` (its columns for all its agents at once, as arrays kept per step). The agent table is
built from those arrays once, when it is asked for; Mesa's per-agent tuples are made only if
something reads ``_agent_records``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .model import MigovModel


class FieldDataCollector(mesa.DataCollector):
    """Mesa's DataCollector with the model's measures and the agent table recorded in bulk.

    ``measures``: the model reporters that read ``model.measures[name]`` (floats, stored as they
    are: nothing for a deep copy to protect); ``agent_columns``: the agent table's columns as
    ``{column: attribute}`` (``AGENT_REPORTERS``), filled from the ``reports`` of ``kinds``
    (``AGENT_CLASSES``). Other model reporters are called one by one, as Mesa does."""

    def __init__(self, model_reporters: Mapping[str, Any], measures: list[str],
                 agent_columns: Mapping[str, str] | None, kinds: tuple):
        self._snapshots: list[tuple[int, dict]] = []  # (step, {kind: {column: array}}) per collect
        self._layout: tuple | None = None  # agents in model order: ids, names, kinds, (kind, rows) blocks
        super().__init__(model_reporters={**model_reporters, **dict.fromkeys(measures, "measures")},
                         agent_reporters=dict(agent_columns) if agent_columns else None)
        self.measure_names = list(measures)
        self.mesa_reporters = dict(model_reporters)
        self.kinds = kinds
        self.agent_columns = dict(agent_columns or {})

    # Mesa's per-step lists of agent tuples, made from the arrays only when read
    @property
    def _agent_records(self) -> dict[int, list[tuple]]:
        return {step: self._tuples(step, reports) for step, reports in self._snapshots}

    @_agent_records.setter
    def _agent_records(self, value: dict) -> None:  # Mesa's __init__ sets it empty
        if value:
            raise ValueError("FieldDataCollector keeps agent records as arrays; they cannot be assigned")

    def collect(self, model: MigovModel) -> None:
        for var, reporter in self.mesa_reporters.items():
            self.model_vars[var].append(reporter(model) if callable(reporter) else getattr(model, reporter, None))
        measures = model.measures
        for name in self.measure_names:
            self.model_vars[name].append(measures[name])
        if self.agent_reporters:
            if self._layout is None or len(self._layout[0]) != len(model.agents):
                self._layout = self._agents_in_order(model)
            self._snapshots.append((model.steps, {cls: cls.reports(model) for cls, _ in self._layout[3]}))

    def _agents_in_order(self, model: MigovModel) -> tuple:
        """The agents as ``model.agents`` lists them: unique ids, names, kinds, and for each kind
        the state row of each of its agents and their positions in that order."""
        agents = list(model.agents)
        position = {a.unique_id: p for p, a in enumerate(agents)}
        blocks = []
        for cls in self.kinds:
            mine = list(model.agents_by_type.get(cls, ()))
            if mine:
                blocks.append((cls, (np.array([a.idx for a in mine]), np.array([position[a.unique_id] for a in mine]))))
        return ([a.unique_id for a in agents], [a.name for a in agents], [a.kind for a in agents], blocks)

    def _column(self, reports: dict, column: str, attr: str) -> list:
        """One column for every agent at one step, in model order (None where a kind lacks it)."""
        ids, names, kinds, blocks = self._layout
        if attr == "name":
            return names
        if attr == "kind":
            return kinds
        values: list = [None] * len(ids)
        for cls, (rows, at) in blocks:
            if column in reports[cls]:
                for p, v in zip(at.tolist(), reports[cls][column][rows].tolist(), strict=True):
                    values[p] = v
        return values

    def _tuples(self, step: int, reports: dict) -> list[tuple]:
        columns = [self._column(reports, c, a) for c, a in self.agent_columns.items()]
        return [(step, uid, *values) for uid, values in zip(self._layout[0], zip(*columns, strict=True), strict=True)]

    def get_agent_vars_dataframe(self) -> pd.DataFrame:
        """Mesa's agent table (index Step and AgentID, a column per reporter), built column by column
        from the arrays: the same values and dtypes as Mesa's, which packs a tuple per agent."""
        if not self.agent_reporters:
            return super().get_agent_vars_dataframe()
        n_steps = len(self._snapshots)
        ids, names, kinds, blocks = self._layout if self._layout else ([], [], [], [])
        n = len(ids)
        data = {}
        for column, attr in self.agent_columns.items():
            if attr in ("name", "kind"):
                data[column] = np.tile(np.asarray(names if attr == "name" else kinds, dtype=object), n_steps)
                continue
            have = [(cls, rows, at) for cls, (rows, at) in blocks if n_steps and column in self._snapshots[0][1][cls]]
            if not have:  # no agent here reports it: Mesa's column of None
                data[column] = np.full(n * n_steps, None, dtype=object)
                continue
            filled = sum(len(at) for _, _, at in have) == n
            first = np.asarray(self._snapshots[0][1][have[0][0]][column])
            dtype = first.dtype if filled and len(have) == 1 else np.float64  # a gap means NaN, as in Mesa's
            out = np.full((n_steps, n), np.nan if dtype == np.float64 else 0, dtype=dtype)
            for s, (_, reports) in enumerate(self._snapshots):
                for cls, rows, at in have:
                    out[s, at] = reports[cls][column][rows]
            data[column] = out.ravel()
        index = pd.MultiIndex.from_arrays([np.repeat([s for s, _ in self._snapshots], n).astype(np.int64),
                                           np.tile(np.asarray(ids, dtype=np.int64), n_steps)],
                                          names=["Step", "AgentID"])
        return pd.DataFrame(data, index=index)
