"""Data collection: Mesa's DataCollector, filled in bulk.

Mesa's DataCollector calls one reporter per agent and variable every step (a ``getattr`` for each
of some thirty columns, for every agent) and one lambda, with a deep copy, per model measure. That
grew with the world and was a quarter of a run. ``FieldDataCollector`` is a ``mesa.DataCollector``
(the same ``model_vars``, ``_agent_records`` and ``get_*_dataframe`` methods, so users read it as
Mesa's) that records the model's own reporters in bulk: the measures dictionary the step has just
computed, and each kind's ``reports`` (its columns for all its agents at once). Reporters a user
adds are collected Mesa's way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import mesa

if TYPE_CHECKING:
    from .model import MigovModel


class FieldDataCollector(mesa.DataCollector):
    """Mesa's DataCollector with the model's measures and the agent table recorded in bulk.

    ``measures``: the model reporters that read ``model.measures[name]`` (copied as Mesa would; the
    values are floats); ``agent_columns``: the agent table's columns as ``{column: attribute}``
    (``AGENT_REPORTERS``), filled from ``AGENT_CLASSES``' ``reports``. Other reporters in
    ``model_reporters`` go through Mesa."""

    def __init__(self, model_reporters: Mapping[str, Any], measures: list[str],
                 agent_columns: Mapping[str, str] | None, kinds: tuple):
        super().__init__(model_reporters={**model_reporters, **dict.fromkeys(measures, "measures")},
                         agent_reporters=dict(agent_columns) if agent_columns else None)
        self.measure_names = list(measures)
        self.mesa_reporters = dict(model_reporters)
        self.kinds = kinds
        self.agent_columns = dict(agent_columns or {})

    def collect(self, model: MigovModel) -> None:
        for var, reporter in self.mesa_reporters.items():  # Mesa's own path, one reporter at a time
            self.model_vars[var].append(reporter(model) if callable(reporter) else getattr(model, reporter, None))
        measures = model.measures
        for name in self.measure_names:  # floats: nothing for a deep copy to protect
            self.model_vars[name].append(measures[name])
        if self.agent_reporters:
            self._agent_records[model.steps] = self._bulk_agent_records(model)

    def _bulk_agent_records(self, model: MigovModel) -> list[tuple]:
        """One tuple per agent (step, unique_id, then the columns, None where the kind has no such
        column), in ``model.agents`` order, as Mesa's ``_record_agents`` gives them."""
        rows: dict[int, tuple] = {}
        step = model.steps
        for cls in self.kinds:
            agents = list(model.agents_by_type.get(cls, ()))
            if not agents:
                continue
            reports, rows_of = cls.reports(model), [a.idx for a in agents]
            columns = []
            for column, attr in self.agent_columns.items():
                if attr == "name":
                    columns.append([a.name for a in agents])
                elif attr == "kind":
                    columns.append([cls.kind] * len(agents))
                elif column in reports:
                    values = reports[column]
                    columns.append([values[i] for i in rows_of])
                else:
                    columns.append([None] * len(agents))
            for a, values in zip(agents, zip(*columns, strict=True), strict=True):
                rows[a.unique_id] = (step, a.unique_id, *values)
        return [rows[a.unique_id] for a in model.agents]
