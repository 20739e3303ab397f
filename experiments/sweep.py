"""The sweep engine: many runs, streamed to disk as they finish, resumable, on any executor.

Layout of an output folder::

    manifest.json      experiment, its hash, the scenario, versions (written once)
    design.parquet     the design points
    runs.parquet       the run table: run id, point, replicate, seed, parameters (static)
    run_table.parquet  the same with status, error text and wall time, refreshed when a sweep ends
    parts/chunk-*/     one folder per finished batch of runs, renamed into place when complete:
        status.parquet   run id, status (ok or failed), error text, wall time
        final.parquet    run id, each measure's final state (mean over the final window)
        series.parquet   run id, step, year, measures every ``stride`` steps
        agents.parquet   run id, step, agent, type, variables (if collected)

Parameters live once, in the run table. A batch is written under a temporary name and renamed,
so a sweep killed at any moment leaves only complete batches; running the same command again
skips every run that has a status and runs the rest.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from model import MigovModel, ScenarioError

from .design import build_design, run_table, unit_sample
from .experiment import Collect, LoadedExperiment, model_code_hash
from .runner import package_versions
from .storage import write_json

TABLES = ("status", "final", "series", "agents")
tqdm.monitor_interval = 0  # no tqdm monitor thread: worker processes are forked from this one


class SweepError(Exception):
    """A user-facing problem with a sweep (exit status 2)."""


# --------------------------------------------------------------------------- the work
@dataclass
class Context:
    """What a worker needs to run any run of the experiment (picklable, sent with each batch)."""

    experiment_path: str
    scenario_path: str
    scenario_data: dict
    experiment: dict
    steps: int | None
    collect: dict

    def loaded(self) -> LoadedExperiment:
        from .experiment import Experiment

        return LoadedExperiment(Path(self.experiment_path), Experiment.model_validate(self.experiment),
                                Path(self.scenario_path), self.scenario_data)


@dataclass
class Batch:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frames["status"])

    @property
    def failed(self) -> int:
        return int((self.frames["status"]["status"] != "ok").sum())


def run_once(loaded: LoadedExperiment, run_id: int, seed: int, params: dict, steps: int | None,
             collect: Collect) -> dict[str, pd.DataFrame]:
    """One run of the experiment: the scenario with this point's values, this seed."""
    sc = loaded.scenario_for(params)
    n = steps or sc.simulation.steps
    m = MigovModel(sc, seed=seed, collect_agents=collect.agents)
    for _ in range(n):
        m.step()
    df = m.model_frame()
    if collect.measures:
        keep = ["step", "year", *[c for c in collect.measures if c in df.columns]]
        df = df[keep]
    out: dict[str, pd.DataFrame] = {}
    window = collect.final_window or sc.simulation.steps_per_year
    if collect.final:
        final = df[df["step"] > df["step"].max() - window].drop(columns=["step", "year"]).mean().to_frame().T
        final.insert(0, "run_id", run_id)
        out["final"] = final
    keep_rows = (df["step"] % collect.stride == 0) | (df["step"] == df["step"].max())
    if collect.series:
        series = df[keep_rows].copy()
        series.insert(0, "run_id", run_id)
        out["series"] = series
    agents = m.agent_frame() if collect.agents else None
    m.release()
    if agents is not None:
        agents = agents[(agents["step"] % collect.stride == 0) | (agents["step"] == agents["step"].max())].copy()
        agents.insert(0, "run_id", run_id)
        out["agents"] = agents
    return out


def run_and_write(ctx: Context, runs: list[tuple[int, int, dict]], out: str, provenance: dict) -> tuple[int, int]:
    """Run a batch in a worker and write it there (no results travel back through pickling,
    and the coordinating process stays idle). Returns (runs, failures)."""
    batch = run_batch(ctx, runs)
    write_batch(Path(out), batch, provenance)
    return batch.n, batch.failed


def run_batch(ctx: Context, runs: list[tuple[int, int, dict]]) -> Batch:
    """Run a batch of (run id, seed, parameters); a run that raises is recorded as failed."""
    loaded = ctx.loaded()
    collect = Collect.model_validate(ctx.collect)
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in TABLES}
    status = []
    for run_id, seed, params in runs:
        t0 = time.perf_counter()
        try:
            frames = run_once(loaded, run_id, seed, params, ctx.steps, collect)
            for k, v in frames.items():
                parts[k].append(v)
            status.append((run_id, "ok", "", time.perf_counter() - t0))
        except Exception as err:  # isolate the failure, keep going
            text = "".join(traceback.format_exception_only(type(err), err)).strip()
            status.append((run_id, "failed", text, time.perf_counter() - t0))
    batch = Batch()
    batch.frames["status"] = pd.DataFrame(status, columns=["run_id", "status", "error", "wall_time_s"])
    batch.frames["status"]["worker_pid"] = os.getpid()
    for k in ("final", "series", "agents"):
        if parts[k]:
            batch.frames[k] = pd.concat(parts[k], ignore_index=True)
    return batch


# --------------------------------------------------------------------------- storage
def write_batch(out: Path, batch: Batch, provenance: dict) -> Path:
    """Write a batch as parts/chunk-<id>/ atomically (temporary folder, then rename)."""
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    name = f"chunk-{uuid.uuid4().hex}"
    tmp = parts / f".tmp-{name}"
    tmp.mkdir()
    meta = {b"migov.provenance": json.dumps(provenance, sort_keys=True).encode()}
    for k, df in batch.frames.items():
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), tmp / f"{k}.parquet")
    os.replace(tmp, parts / name)
    return parts / name


def part_files(out: Path, table: str) -> list[Path]:
    """A table's parts in the order they were written (a retried run's later record wins)."""
    files = list((out / "parts").glob(f"chunk-*/{table}.parquet"))
    return sorted(files, key=lambda f: (f.parent.stat().st_mtime_ns, f.parent.name))


def read_table(out: Path, table: str) -> pd.DataFrame:
    files = part_files(out, table)
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def finished_runs(out: Path, include_failed: bool = True) -> set[int]:
    """Runs with a recorded status (only successful ones if ``include_failed`` is false)."""
    status: dict[int, str] = {}
    for f in part_files(out, "status"):
        t = pq.read_table(f, columns=["run_id", "status"])
        status.update(zip(t.column("run_id").to_pylist(), t.column("status").to_pylist(), strict=True))
    return {r for r, s in status.items() if include_failed or s == "ok"}


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    write(tmp)
    os.replace(tmp, path)


def prepare_folder(out: Path, loaded: LoadedExperiment, design: pd.DataFrame, runs: pd.DataFrame) -> dict:
    """Create the folder's manifest, design and run table, or check that an existing folder
    holds this same experiment."""
    manifest_path = out / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        if old.get("experiment_hash") != loaded.hash:
            changed = ("the model's code has changed since" if old.get("model_code_hash") not in
                       (None, model_code_hash()) else "it holds results of another experiment or scenario")
            raise SweepError(f"{out}: {changed} (hash {old.get('experiment_hash')}, "
                             f"'{old.get('experiment', {}).get('name')}'; this one is {loaded.hash}). Use another "
                             f"--out, or delete the folder to start again")
        return old
    if out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise SweepError(f"{out}: exists and is not a sweep folder; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "experiment": loaded.exp.model_dump(mode="json"),
        "experiment_file": str(loaded.path),
        "experiment_hash": loaded.hash,
        "scenario_file": str(loaded.scenario_path),
        "scenario_hash": loaded.base.content_hash(),
        "model_code_hash": model_code_hash(),
        "n_points": len(design),
        "n_runs": len(runs),
        "versions": package_versions(),
        "created_utc": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "layout": "runs.parquet (run id, point, replicate, seed, parameters) + parts/chunk-*/{status,final,series,"
                  "agents}.parquet; run_table.parquet is the run table with status, error and wall time as of the "
                  "end of the last sweep invocation (load_results recomputes it from the parts)",
    }
    _write_atomic(out / "design.parquet", lambda p: design.to_parquet(p, index=False))
    unit = unit_sample(loaded.exp)
    if unit is not None:  # the sampler's unit-cube points, for SALib's analyses
        unit_df = pd.DataFrame(unit, columns=list(design.columns))
        _write_atomic(out / "design_unit.parquet", lambda p: unit_df.to_parquet(p, index=False))
    _write_atomic(out / "runs.parquet", lambda p: runs.to_parquet(p, index=False))
    _write_atomic(manifest_path, lambda p: write_json(manifest, p))
    return manifest


# --------------------------------------------------------------------------- execution
def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"expected I/N such as 2/8, got '{text}'") from None
    if not 1 <= i <= n:
        raise ValueError(f"expected 1 <= I <= N in I/N, got '{text}'")
    return i, n


def auto_chunk(n: int, workers: int) -> int:
    """Runs per batch: about eight batches per worker so the load stays balanced, but at least
    eight runs (or an even share) so writing a part costs little against the runs in it."""
    w = max(1, workers)
    return max(1, min(64, max(min(8, math.ceil(n / w)), math.ceil(n / (w * 8)))))


def chunks(items: list, size: int) -> Iterator[list]:
    for k in range(0, len(items), size):
        yield items[k : k + size]


def _dask_client(workers: int, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a dependency
        raise SweepError("--executor dask needs dask.distributed (pip install 'dask[distributed]')") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as err:
            raise SweepError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def _pool_context():
    """Worker processes are forked where the platform allows it: they start at once with the
    model already imported (Mesa sets ``spawn`` as the default, which re-imports everything in
    every worker). Elsewhere they are spawned."""
    import multiprocessing as mp

    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


def execute(ctx: Context, todo: list[tuple[int, int, dict]], workers: int, executor: str, scheduler: str | None,
            chunk: int, out: Path, provenance: dict) -> Iterator[tuple[int, int]]:
    """Run ``todo`` in batches on the chosen executor; each batch is written where it ran.
    Yields (runs, failures) per batch as batches finish."""
    batches = list(chunks(todo, chunk))
    args = (str(Path(out).resolve()), provenance)
    if executor == "serial" or (executor == "processes" and workers == 1):
        for b in batches:
            yield run_and_write(ctx, b, *args)
        return
    if executor == "processes":
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
            futures = {pool.submit(run_and_write, ctx, b, *args) for b in batches}
            for fut in as_completed(futures):
                futures.discard(fut)
                yield fut.result()
        return
    client, cluster = _dask_client(workers, scheduler)
    try:
        from dask.distributed import as_completed as dask_completed

        futures = client.map(run_and_write, [ctx] * len(batches), batches, [args[0]] * len(batches),
                             [provenance] * len(batches), pure=False)
        for fut in dask_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass
class SweepReport:
    out: Path
    total: int
    done_before: int
    ran: int
    failed: int
    wall_time_s: float


def run_sweep(loaded: LoadedExperiment, out: Path, workers: int = 1, executor: str = "processes",
              scheduler: str | None = None, shard: tuple[int, int] | None = None, chunk: int | None = None,
              quiet: bool = False, retry_failed: bool = False) -> SweepReport:
    design = build_design(loaded.exp, loaded.path.parent)
    runs = run_table(loaded.exp, design)
    prepare_folder(out, loaded, design, runs)
    done = finished_runs(out, include_failed=not retry_failed)
    mine = runs if shard is None else runs[runs["run_id"] % shard[1] == shard[0] - 1]
    todo_rows = mine[~mine["run_id"].isin(done)]
    params = list(design.columns)
    todo = [(int(r["run_id"]), int(r["seed"]), {p: _plain(r[p]) for p in params}) for _, r in todo_rows.iterrows()]
    ctx = Context(str(loaded.path), str(loaded.scenario_path), loaded.scenario_data,
                  loaded.exp.model_dump(mode="json"), loaded.exp.steps, loaded.exp.collect.model_dump(mode="json"))
    size = chunk or auto_chunk(len(todo), workers)
    provenance = {"experiment_hash": loaded.hash, "experiment": loaded.exp.name, "versions": package_versions()}
    t0 = time.perf_counter()
    failed = ran = 0
    label = loaded.exp.name + (f" shard {shard[0]}/{shard[1]}" if shard else "")
    with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=label, unit="run", disable=quiet or None,
              file=sys.stderr, smoothing=0.1) as bar:
        for n, n_failed in execute(ctx, todo, workers, executor, scheduler, size, out, provenance):
            ran += n
            failed += n_failed
            bar.update(n)
            bar.set_postfix(failed=failed)
    snapshot = load_results(out, series=False).runs
    _write_atomic(out / "run_table.parquet", lambda p: snapshot.to_parquet(p, index=False))
    return SweepReport(out, len(mine), len(mine) - len(todo), ran, failed, time.perf_counter() - t0)


def _plain(v):
    """numpy scalars to Python values (so they print and pickle plainly)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------- loading
@dataclass
class SweepResults:
    folder: Path
    manifest: dict
    design: pd.DataFrame
    runs: pd.DataFrame  # run table with status, error and wall time
    final: pd.DataFrame
    series: pd.DataFrame
    agents: pd.DataFrame

    @property
    def parameters(self) -> list[str]:
        return list(self.design.columns)

    def rerun_args(self, run_id: int) -> list[str]:
        """The ``migov run`` arguments that repeat one run of the sweep alone."""
        row = self.runs.set_index("run_id").loc[int(run_id)]
        args = ["run", self.manifest["scenario_file"], "--seed", str(int(row["seed"]))]
        steps = self.manifest["experiment"].get("steps")
        if steps:
            args += ["--steps", str(steps)]
        for p in self.parameters:
            args += ["--set", f"{p}={_plain(row[p])!r}"]
        return args


def load_results(folder: str | Path, series: bool = True, agents: bool = False) -> SweepResults:
    """Load a sweep's results with one call (finished batches only)."""
    out = Path(folder)
    if not (out / "manifest.json").is_file():
        raise ScenarioError(str(out), "", "not a sweep folder (no manifest.json)")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    design = pd.read_parquet(out / "design.parquet")
    runs = pd.read_parquet(out / "runs.parquet")
    status = read_table(out, "status")
    final = read_table(out, "final")
    if len(final):
        final = final.drop_duplicates("run_id", keep="last").reset_index(drop=True)
    if len(status):
        status = status.drop_duplicates("run_id", keep="last")
        runs = runs.merge(status, on="run_id", how="left")
    else:
        runs = runs.assign(status=None, error=None, wall_time_s=np.nan, worker_pid=np.nan)
    runs["status"] = runs["status"].fillna("pending")
    series_df = read_table(out, "series") if series else pd.DataFrame()
    if len(series_df):
        series_df = series_df.drop_duplicates(["run_id", "step"], keep="last").reset_index(drop=True)
    return SweepResults(out, manifest, design, runs, final, series_df,
                        read_table(out, "agents") if agents else pd.DataFrame())
