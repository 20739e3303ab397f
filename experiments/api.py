"""migov's Python API (re-exported by :mod:`migov`): one run in memory, a pure function of a point
for any external sampler, and results read back from disk.

Each goes through the code the command line uses: ``run`` through ``sweep.runner.run_scenario``
(what ``migov run`` runs), ``evaluate`` through ``sweep.one_run.run_point`` (what every sweep run
computes), ``load_results`` through the sweep store's reader. So a notebook, SALib, EMA Workbench
and ``migov sweep`` get the same numbers for the same point and seed. Nothing here writes files.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migov.experiments.sweep.experiment import Collect
from migov.experiments.sweep.loaded import scenario_with
from migov.experiments.sweep.one_run import run_point
from migov.experiments.sweep.runner import RunResult, run_scenario
from migov.experiments.sweep.store import SweepResults
from migov.model import Scenario, ScenarioError
from migov.model.config import _format_pydantic, find_scenario, library_dirs, read_resolved
from pydantic import ValidationError

__all__ = ["Results", "evaluate", "load_results", "run"]

Results = RunResult  # one result type for runs, whether made here, by `migov run` or read back

ScenarioRef = str | os.PathLike | Scenario


def run(scenario: ScenarioRef, seed: int = 1, steps: int | None = None,
        overrides: Mapping[str, Any] | None = None) -> Results:
    """Run a scenario once, in memory, and return its tables.

    Args:
        scenario: a library name (``"baseline"``), a scenario file, or a loaded Scenario.
        seed: the random seed; the same scenario, overrides and seed give the same tables.
        steps: steps to run (default: the scenario's ``simulation.steps``).
        overrides: dotted paths to values (``{"donors.*.scale_preference": 0.9}``), checked as
            ``migov run --set`` checks them.

    Returns:
        ``Results``: ``model`` (one row per step), ``agents`` (one row per agent and step),
        ``events``, ``network``, the validated ``scenario`` and ``provenance`` (scenario hash,
        seed, steps, versions, overrides), the tables ``migov run`` writes.
    """
    sc, label = _scenario(scenario, overrides, "overrides")
    result = run_scenario(sc, seed, steps=steps, collect_agents=True, scenario_name=label)
    result.provenance["overrides"] = {k: _plain(v) for k, v in (overrides or {}).items()}
    return result


def evaluate(params: Mapping[str, Any], scenario: ScenarioRef = "baseline", seed: int = 1,
             steps: int | None = None, measures: Sequence[str] | None = None,
             final_window: int | None = None) -> dict[str, float]:
    """The final value of each measure for one point: the function an external sampler (SALib,
    EMA Workbench, an optimiser) calls.

    Sets ``params`` (dotted path -> value) in the scenario, runs it with ``seed`` and returns each
    measure's final state exactly as a sweep stores it for the same point and seed: its mean over
    the last ``final_window`` steps (default: one year). A pure function of its arguments, defined
    at module level so that it pickles into worker processes. (The scenario file's parsed data are
    kept per process, and read again when a scenario file in its folder or the library changes.)

    Args:
        params: dotted paths to values, ``{"parameters.uncertainty": 0.8}``.
        scenario: a library name, a scenario file, or a loaded Scenario.
        seed: the random seed.
        steps: steps to run (default: the scenario's).
        measures: the measures to return (default: all the model computes).
        final_window: steps averaged for the final state (default: a year of steps).
    """
    sc, _ = _scenario(scenario, params, "params")
    wanted = [measures] if isinstance(measures, str) else (list(measures) if measures is not None else None)
    try:
        collect = Collect(series=False, agents=False, final_window=final_window)  # all measures: names checked below
    except ValidationError as err:
        loc, msg = _format_pydantic(err)
        raise ScenarioError("evaluate", loc, msg) from None
    final = run_point(sc, 0, int(seed), steps, collect)["final"].iloc[0].drop("run_id")
    if wanted is None:
        return {str(k): float(v) for k, v in final.items()}
    for i, name in enumerate(wanted):
        if name not in final.index:
            close = difflib.get_close_matches(str(name), [str(k) for k in final.index], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ScenarioError("evaluate", f"measures[{i}]", f"unknown measure '{name}'{hint}; expected one of "
                                f"{', '.join(map(str, final.index))}")
    return {name: float(final[name]) for name in wanted}


def load_results(path: str | os.PathLike, *, series: bool = True, agents: bool = False) -> Results | SweepResults:
    """Read results back: a ``migov run`` folder as ``Results`` (as :func:`run` returns them), or a
    ``migov sweep`` folder as ``SweepResults`` (``design``, ``runs`` with status, ``final``,
    ``series``; per-agent series with ``agents=True``), every table in design-row order."""
    from migov.experiments.common.outdir import migov_kind

    folder = Path(path)
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", f"{'is a file' if folder.exists() else 'no such folder'}; expected the "
                                             "output folder of migov run or migov sweep")
    kind = migov_kind(folder)
    if kind == "sweep" or (kind is None and (folder / "runs.parquet").is_file()):
        from migov.experiments.sweep.store import load_results as load_sweep

        return load_sweep(folder, series=series, agents=agents)
    if kind == "run" or (kind is None and (folder / "model.parquet").is_file()):
        from migov.experiments.analysis.run_folder import read_run

        return read_run(folder)
    what = f"it holds a migov {kind} result" if kind else "it holds no migov results"
    raise ScenarioError(str(folder), "", f"{what}; expected the output folder of migov run or migov sweep")


# --------------------------------------------------------------------------- scenarios
def _scenario(ref: ScenarioRef, values: Mapping[str, Any] | None, source: str) -> tuple[Scenario, str]:
    """The scenario ``ref`` names with ``values`` set (through the sweeps' ``scenario_with``), and
    a label for provenance."""
    if values is not None and not isinstance(values, Mapping):
        raise ScenarioError(source, "", "expected a mapping of dotted paths to values, e.g. "
                                        f"{{'parameters.uncertainty': 0.8}}, got {type(values).__name__}")
    values = {_key(k, source): _plain(v) for k, v in (values or {}).items()}
    if isinstance(ref, Scenario):
        if not values:
            return ref, ref.title
        return scenario_with(ref.model_dump(), values, source, f"scenario '{ref.title}' with {source}"), ref.title
    if not isinstance(ref, str | os.PathLike):
        raise ScenarioError("scenario", "", "expected a scenario name (e.g. 'baseline'), a path or a Scenario, got "
                                            f"{type(ref).__name__}")
    path = find_scenario(ref)
    return scenario_with(_resolved(path), values, source, f"{path} with {source}" if values else str(path)), path.stem


def _key(key: Any, source: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ScenarioError(source, repr(key), "expected a dotted path such as 'parameters.uncertainty'")
    return key.strip()


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (what the scenario schema and JSON expect)."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value


_RESOLVED: dict[tuple, dict] = {}
_MAX_CACHED = 32


def _resolved(path: Path) -> dict:
    """``read_resolved``, kept per process: parsing a scenario's YAML costs about as much as a short
    run, and a sampler calls ``evaluate`` thousands of times. The key holds the modification time
    and size of every scenario file an ``extends`` chain looks in (the file's folder and the
    library folders), so an edit is seen at the next call. ``scenario_with`` copies before it sets."""
    key = (str(path.resolve()), _signature(path))
    if key not in _RESOLVED:
        if len(_RESOLVED) >= _MAX_CACHED:
            _RESOLVED.clear()
        _RESOLVED[key] = read_resolved(path)
    return _RESOLVED[key]


def _signature(path: Path) -> tuple:
    folders = dict.fromkeys(d.resolve() for d in (path.parent, *library_dirs()) if d.is_dir())
    files = [path.resolve(), *(f for d in folders for f in sorted(d.glob("*.y*ml")))]
    out = []
    for f in dict.fromkeys(files):
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(out)
