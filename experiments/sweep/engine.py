"""The sweep engine: many runs, streamed to disk as they finish, resumable, on any executor.

What is on disk, and how it is read back, is in ``sweep_store``; who may write a folder at a
time, in ``sweep_lock``. This module runs the work and survives its own failures:

- Workers write their own batches, each renamed into place whole, so a sweep killed at any moment
  leaves only complete batches; running the same command again skips every finished run.
- Workers die with their coordinator (Linux parent-death signal), so a ``kill -9`` of the
  coordinator leaves no process writing into the folder; the lock refuses a second coordinator
  while the first lives and takes over once it is gone.
- A worker that dies (killed, out of memory) breaks the process pool; the batches it left are
  run again in a fresh pool, and a run that takes a worker down three times is recorded as failed.
- Ctrl-C (or SIGTERM) stops the workers at once, keeps every finished batch and says how to resume.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from migov.experiments.common.processes import die_with_parent
from migov.experiments.common.storage import write_parquet
from migov.experiments.sweep.design import crn_blocks, unit_sample
from migov.experiments.sweep.experiment import Collect
from migov.experiments.sweep.loaded import LoadedExperiment, identity_hash
from migov.experiments.sweep.lock import LockError, acquire
from migov.experiments.sweep.one_run import run_once
from migov.experiments.sweep.posterior import POSTERIOR_FILE
from migov.experiments.sweep.provenance import provenance as provenance_fields
from migov.experiments.sweep.runner import package_versions
from migov.experiments.sweep.store import (
    TABLES,
    SweepError,
    SweepResults,
    _plain,
    attempts_so_far,
    clean_staging,
    finished_runs,
    load_results,
    part_files,
    prepare_folder,
    quarantine,
    read_table,
    table_provenance,
    write_atomic,
    write_batch,
)
from tqdm import tqdm

__all__ = ["TABLES", "SweepError", "SweepInterrupted", "SweepReport", "SweepResults", "finished_runs",
           "load_results", "part_files", "read_table", "run_sweep"]

tqdm.monitor_interval = 0  # no tqdm monitor thread: worker processes are forked from this one
Run = tuple[int, int, dict, int]  # run id, seed, parameters, attempt
MAX_DEATHS = 3  # a run in flight when a worker died this many times is recorded as failed
MAX_BREAKS = 10  # pools broken in one invocation before the sweep gives up (finished runs are kept)


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM: finished runs are kept; the message says how many and how to resume."""


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
        from migov.experiments.sweep.experiment import Experiment

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


def run_and_write(ctx: Context, runs: list[Run], out: str, provenance: dict) -> tuple[int, int]:
    """Run a batch in a worker and write it there (no results travel back through pickling,
    and the coordinating process stays idle). Returns (runs, failures)."""
    batch = run_batch(ctx, runs)
    write_batch(Path(out), batch.frames, {r[0]: r[3] for r in runs}, provenance)
    return batch.n, batch.failed


def run_batch(ctx: Context, runs: list[Run]) -> Batch:
    """Run a batch of (run id, seed, parameters, attempt); a run that raises is recorded as failed."""
    loaded = ctx.loaded()
    collect = Collect.model_validate(ctx.collect)
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in TABLES}
    status = []
    for run_id, seed, params, _attempt in runs:
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
    """Runs per batch: a whole number of batches per worker (up to eight, so the load stays
    balanced and no worker idles through the last round), each of at least about eight runs where
    there are enough (writing a part costs little against the runs in it), and at most 64."""
    w = max(1, workers)
    rounds = max(1, min(8, n // (8 * w)))
    return max(1, min(64, math.ceil(n / (w * rounds))))


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
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0")  # a free port: sweeps at once never fight over 8787
    client = Client(cluster)
    client.register_plugin(_leave_ctrl_c_to_the_coordinator(), name="migov-sigint")
    return client, cluster


def _leave_ctrl_c_to_the_coordinator():
    """A Dask worker plugin: a local worker ignores the terminal's Ctrl-C (sent to the whole process
    group), so that the coordinator stops the cluster in order and no worker prints a traceback, or
    a warning for each task cancelled by the stop. (Dask's nannies already end their workers when
    the coordinator dies, even on ``kill -9``.)"""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietLocalWorker(WorkerPlugin):
        def setup(self, worker) -> None:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
            logging.getLogger("distributed.worker").addFilter(_not_a_heartbeat_to_a_stopping_scheduler)

    return QuietLocalWorker()


def _not_a_heartbeat_to_a_stopping_scheduler(record: logging.LogRecord) -> bool:
    """A local worker's scheduler lives in the coordinator's process, so it is out of reach only
    while the coordinator stops the cluster (or is gone, and the nannies end the workers): a
    heartbeat caught in that moment logs a traceback that says nothing to the user."""
    return not record.getMessage().startswith("Failed to communicate with scheduler during heartbeat")


def _pool_context():
    """Worker processes are forked where the platform allows it: they start at once with the
    model already imported (Mesa sets ``spawn`` as the default, which re-imports everything in
    every worker). Elsewhere they are spawned."""
    import multiprocessing as mp

    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


def _worker_start(coordinator: int) -> None:
    """A worker dies with its coordinator, even on ``kill -9`` (it must never write on alone), and
    leaves Ctrl-C to the coordinator, which stops the pool in order."""
    die_with_parent(signal.SIGKILL, parent=coordinator)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool) -> None:
    """Kill a pool's workers now and wait for them (a batch half-written stays in staging)."""
    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        p.kill()
    pool.shutdown(wait=True, cancel_futures=True)
    for p in procs:
        p.join()


@dataclass
class _Plan:
    """Batches still to run, and how often each run was in flight when a worker died."""

    batches: dict[int, list[Run]]
    deaths: Counter = field(default_factory=Counter)
    breaks: int = 0


def _recover(plan: _Plan, in_flight: set[int], ctx_out: Path, provenance: dict) -> Iterator[tuple[int, int]]:
    """After a worker died: keep what reached the disk, run the rest again. A batch that was in
    flight is split into single runs (so one bad run cannot take others down with it); a run in
    flight at ``MAX_DEATHS`` deaths is recorded as failed."""
    done = finished_runs(ctx_out)
    batches: dict[int, list[Run]] = {}
    k = max(plan.batches, default=0) + 1
    for i, batch in plan.batches.items():
        left = [r for r in batch if r[0] not in done]
        if len(left) < len(batch):
            yield len(batch) - len(left), 0
        if i not in in_flight:
            if left:
                batches[i] = left
            continue
        for run in left:
            plan.deaths[run[0]] += 1
            if plan.deaths[run[0]] < MAX_DEATHS:
                batches[k], k = [run], k + 1
                continue
            status = pd.DataFrame([(run[0], "failed", f"WorkerDied: a worker process died while running it "
                                    f"{MAX_DEATHS} times (killed, or out of memory)", np.nan, -1)],
                                  columns=["run_id", "status", "error", "wall_time_s", "worker_pid"])
            write_batch(ctx_out, {"status": status}, {run[0]: run[3]}, provenance)
            yield 1, 1
    plan.batches = batches


def _run_in_processes(ctx: Context, batches: list[list[Run]], workers: int, out: Path, provenance: dict,
                      on_workers) -> Iterator[tuple[int, int]]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    plan = _Plan(dict(enumerate(batches)))
    while plan.batches:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(plan.batches)), mp_context=_pool_context(),
                                   initializer=_worker_start, initargs=(os.getpid(),))
        try:
            futures = {pool.submit(run_and_write, ctx, b, str(out), provenance): i for i, b in plan.batches.items()}
            on_workers(list(pool._processes))
            waiting, in_flight, broken = set(futures), set(), False
            while waiting and not broken:
                in_flight = {futures[f] for f in waiting if f.running()} or in_flight  # handed to a worker
                done, waiting = wait(waiting, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    plan.batches.pop(futures[f])
                    yield result
        except BaseException:  # Ctrl-C, SIGTERM, or the consumer stopped: no worker outlives this
            _stop_pool(pool)
            raise
        _stop_pool(pool)
        if not broken:
            return
        plan.breaks += 1
        if plan.breaks > MAX_BREAKS:
            left = sum(len(b) for b in plan.batches.values())
            raise SweepError(f"{out}: worker processes keep dying ({plan.breaks} times); {left} runs are not done. "
                             "Finished runs are kept; run the same command again to resume")
        print(f"migov: warning: a worker process died; running its {len(in_flight)} unfinished batch(es) again in "
              "a fresh pool", file=sys.stderr)
        yield from _recover(plan, in_flight, out, provenance)


def _run_on_dask(ctx: Context, batches: list[list[Run]], workers: int, scheduler: str | None, out: Path,
                 provenance: dict) -> Iterator[tuple[int, int]]:
    client, cluster = _dask_client(workers, scheduler)
    try:
        from dask.distributed import as_completed as dask_completed

        futures = client.map(run_and_write, [ctx] * len(batches), batches, [str(out)] * len(batches),
                             [provenance] * len(batches), pure=False)
        batch_of = {f.key: b for f, b in zip(futures, batches, strict=True)}
        for fut in dask_completed(futures):
            try:
                yield fut.result()
            except Exception as err:  # e.g. KilledWorker: the batch took workers down repeatedly
                batch = batch_of[fut.key]
                text = "".join(traceback.format_exception_only(type(err), err)).strip()
                status = pd.DataFrame([(r[0], "failed", text, np.nan, -1) for r in batch],
                                      columns=["run_id", "status", "error", "wall_time_s", "worker_pid"])
                write_batch(out, {"status": status}, {r[0]: r[3] for r in batch}, provenance)
                yield len(batch), len(batch)
            fut.release()
    finally:
        logging.getLogger("distributed").setLevel(logging.ERROR)  # the cancelled tasks' warnings say nothing
        client.close()
        if cluster is not None:
            cluster.close()


def execute(ctx: Context, todo: list[Run], workers: int, executor: str, scheduler: str | None, chunk: int,
            out: Path, provenance: dict, on_workers=lambda pids: None) -> Iterator[tuple[int, int]]:
    """Run ``todo`` in batches on the chosen executor; each batch is written where it ran.
    Yields (runs, failures) per batch as batches finish."""
    batches = list(chunks(todo, chunk))
    out = Path(out).resolve()
    if executor == "serial" or (executor == "processes" and workers == 1):
        for b in batches:
            yield run_and_write(ctx, b, str(out), provenance)
    elif executor == "processes":
        yield from _run_in_processes(ctx, batches, workers, out, provenance, on_workers)
    else:
        yield from _run_on_dask(ctx, batches, workers, scheduler, out, provenance)


# --------------------------------------------------------------------------- the sweep
@dataclass
class SweepReport:
    out: Path
    total: int
    done_before: int
    ran: int
    failed: int  # runs of this sweep (or shard) whose last attempt failed
    wall_time_s: float
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantined: int = 0


class _TermAsInterrupt:
    """Within the block, SIGTERM stops the sweep as Ctrl-C does (finished batches kept)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _resume_command(loaded: LoadedExperiment, out: Path, shard: tuple[int, int] | None) -> str:
    extra = f" --shard {shard[0]}/{shard[1]}" if shard else ""
    return f"migov sweep {loaded.path} --out {out}{extra}"


def _new_manifest(loaded: LoadedExperiment, design: pd.DataFrame, runs: pd.DataFrame, identity: dict) -> dict:
    return {
        **provenance_fields(loaded.base.content_hash(), loaded.exp.seed),
        "code_hash": identity["code"],  # the identity's own, as the runs are made under it
        "experiment": loaded.exp.model_dump(mode="json"),
        "experiment_file": str(loaded.path),
        "experiment_hash": identity_hash(identity),
        "identity": identity,
        "scenario_file": str(loaded.scenario_path),
        "model_code_hash": identity["code"],  # older name of code_hash, kept for readers of older manifests
        **({"salib_problem": loaded.salib_problem} if loaded.salib_problem else {}),
        # one draw per replicate, or per block and replicate when seeds are shared within blocks of points
        **({"posterior": {**loaded.posterior.record(runs.assign(
            block=crn_blocks(loaded.exp, len(design))[runs["point"].to_numpy()]).drop_duplicates(
            ["block", "replicate"])),
                          "not_drawn": loaded.undrawn(design)}} if loaded.posterior else {}),
        "n_points": len(design),
        "n_runs": len(runs),
        "versions": package_versions(),
        "created_utc": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "layout": "see experiments/sweep/store.py: runs.parquet (run id, point, replicate, seed, parameters); "
                  "agents_static.parquet (each agent's static attributes); "
                  "parts/chunk-*/{status,final,series,agents}.parquet hold successful runs, failures/*.parquet "
                  "each failed attempt; run_table.parquet and summary.json are as of the last invocation",
    }


def _inputs(loaded: LoadedExperiment) -> list[Path]:
    files = [loaded.path, loaded.scenario_path]
    if loaded.exp.design.type == "csv" and loaded.exp.design.file:
        files.append(loaded.path.parent / loaded.exp.design.file)
    if loaded.exp.design.salib is not None:
        files.append(loaded.path.parent / loaded.exp.design.salib.problem)
    if loaded.posterior is not None:
        files.append(loaded.posterior.folder / POSTERIOR_FILE)
    return files


def run_sweep(loaded: LoadedExperiment, out: Path, workers: int = 1, executor: str = "processes",
              scheduler: str | None = None, shard: tuple[int, int] | None = None, chunk: int | None = None,
              quiet: bool = False, retry_failed: bool = False) -> SweepReport:
    out = Path(out)
    design = loaded.design()
    runs = loaded.runs(design)
    identity = loaded.identity(design)
    files = {"design.parquet": design, "runs.parquet": runs}
    unit = unit_sample(loaded.exp)
    if unit is not None:  # the sampler's unit-cube points, for SALib's analyses
        files["design_unit.parquet"] = pd.DataFrame(unit, columns=list(design.columns))
    files["agents_static.parquet"] = lambda: loaded.static_table(design)
    folder_manifest = prepare_folder(out, _new_manifest(loaded, design, runs, identity), files, _inputs(loaded))
    try:
        lock = acquire(out, shard)
    except LockError as err:
        raise SweepError(f"{out}: {err}") from None
    with lock, _TermAsInterrupt():
        quarantined = len(quarantine(out))
        clean_staging(out)
        done = finished_runs(out, include_failed=not retry_failed)
        mine = runs if shard is None else runs[runs["run_id"] % shard[1] == shard[0] - 1]
        todo_rows = mine[~mine["run_id"].isin(done)]
        tries = attempts_so_far(out)
        params = loaded.run_parameters(runs)
        todo = [(int(r["run_id"]), int(r["seed"]), {p: _plain(r[p]) for p in params}, tries.get(int(r["run_id"]), 0)
                 + 1) for _, r in todo_rows.iterrows()]
        ctx = Context(str(loaded.path), str(loaded.scenario_path), loaded.scenario_data,
                      loaded.exp.model_dump(mode="json"), loaded.exp.steps, loaded.exp.collect.model_dump(mode="json"))
        size = chunk or auto_chunk(len(todo), workers)
        provenance = {**table_provenance(folder_manifest), "versions": package_versions()}
        t0 = time.perf_counter()
        failed = ran = 0
        label = loaded.exp.name + (f" shard {shard[0]}/{shard[1]}" if shard else "")
        try:
            with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=label, unit="run",
                      disable=quiet or None, file=sys.stderr, smoothing=0.1) as bar:
                for n, n_failed in execute(ctx, todo, workers, executor, scheduler, size, out, provenance,
                                           lock.record_workers):
                    ran += n
                    failed += n_failed
                    bar.update(n)
                    bar.set_postfix(failed=failed)
        except KeyboardInterrupt:
            clean_staging(out)
            res = _snapshot(out)
            mine_runs = res.runs[res.runs["run_id"].isin(mine["run_id"])]
            kept = int((mine_runs["status"] != "pending").sum())
            raise SweepInterrupted(
                f"interrupted; {kept} of {len(mine)} runs are finished and kept in {out} "
                f"({kept - (len(mine) - len(todo))} in this invocation); resume with: "
                f"{_resume_command(loaded, out, shard)}") from None
        clean_staging(out)  # what a worker that died was writing
    res = _snapshot(out)
    mine_runs = res.runs[res.runs["run_id"].isin(mine["run_id"])]
    failures = res.failures[res.failures["run_id"].isin(mine["run_id"])]
    return SweepReport(out, len(mine), len(mine) - len(todo), ran, len(failures), time.perf_counter() - t0,
                       failures, quarantined)


def _snapshot(out: Path) -> SweepResults:
    """The run table with status, error and attempts, the counts, and the failure table, as they
    stand (written at the end of every invocation, interrupted or not)."""
    import json

    res = load_results(out, series=False)
    write_atomic(out / "run_table.parquet", lambda p: write_parquet(res.runs, p, table_provenance(res.manifest)))
    counts = res.runs["status"].value_counts()
    summary = {"runs": len(res.runs), **{k: int(counts.get(k, 0)) for k in ("ok", "failed", "pending")},
               "duplicates": res.duplicates, "updated_utc": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
    write_atomic(out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8"))
    if len(res.failures):
        write_atomic(out / "failed_runs.csv", lambda p: res.failures.to_csv(p, index=False))
    else:
        (out / "failed_runs.csv").unlink(missing_ok=True)
    return res
