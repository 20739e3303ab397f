"""A sweep's folder on disk: creating it, writing batches, reading them back, repairing it.

Layout::

    manifest.json       experiment, its identity (what decides its results), scenario, versions
    design.parquet      the design points (design_unit.parquet: the sampler's unit-cube points)
    runs.parquet        the run table: run id, point, replicate, seed, parameters (static)
    agents_static.parquet  each agent's static attributes (per design point if the design sets them)
    run_table.parquet   the run table with status, error, attempts and wall time (each invocation)
    summary.json        counts as of the end of the last invocation (ok, failed, pending, duplicates)
    failed_runs.csv     the runs that failed, with their parameters and error (only if any did)
    parts/chunk-*/      one folder per finished batch, renamed into place when complete; only
                        successful runs: status, final, series, agents (.parquet), keyed by run_id
    failures/*.parquet  one record per failed attempt: run_id, attempt (1, 2, ...), error, time
    quarantine/         parts that could not be read (a truncated file), moved aside; their runs rerun
    locks/              one file per running coordinator (see sweep_lock)
    .staging/           batches being written (named by writer pid and host); never matched by
                        the ``parts/*/…`` globs, and cleaned when their writer is gone

A run is in ``parts`` at most once: it is run again only when it has no successful record, and
a folder is written by one coordinator per set of runs (the lock), whose workers die with it. A
part is named by the runs and attempts it holds, so a batch written twice (a scheduler such as
Dask's recomputes a task whose worker died after it had finished) lands once. Readers still keep
one record per run (the first part by name) and count any extra.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from migov.experiments.common.outdir import (
    MANIFEST,
    OutputError,
    clean_partials,
    marker,
    migov_kind,
    partial_prefix,
    refuse_unsafe,
)
from migov.experiments.common.storage import write_parquet
from migov.experiments.sweep.provenance import of_sweep
from migov.model import ScenarioError

TABLES = ("status", "final", "series", "agents")
PARTS, FAILURES, QUARANTINE, STAGING = "parts", "failures", "quarantine", ".staging"
PROVENANCE_KEY = b"migov.provenance"


class SweepError(Exception):
    """A user-facing problem with a sweep (exit status 2)."""


# --------------------------------------------------------------------------- writing
def _staging(out: Path) -> Path:
    """A new temporary name in the folder's staging area, carrying the writer's pid and host."""
    (out / STAGING).mkdir(exist_ok=True)
    return out / STAGING / f"{os.getpid()}-{socket.gethostname()}-{uuid.uuid4().hex}"


def table_provenance(manifest: dict) -> dict:
    """What every table of a sweep carries in its schema metadata: the experiment and the four
    provenance fields of its manifest."""
    return {"experiment": (manifest.get("experiment") or {}).get("name"),
            "experiment_hash": manifest.get("experiment_hash"), **of_sweep(manifest)}


def _table(df: pd.DataFrame, provenance: dict) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {**(table.schema.metadata or {}), PROVENANCE_KEY: json.dumps(provenance, sort_keys=True).encode()}
    return table.replace_schema_metadata(meta)


def write_batch(out: Path, frames: dict[str, pd.DataFrame], attempts: dict[int, int], provenance: dict) -> None:
    """Write a finished batch: its successful runs as ``parts/chunk-<id>/`` (every table, renamed
    into place whole) and each failed run as a numbered attempt in ``failures/``."""
    status = frames["status"]
    ok = status["status"] == "ok"
    name = batch_name(attempts)
    if (~ok).any():
        failed = status[~ok].drop(columns=["status"])
        failed.insert(1, "attempt", [attempts.get(int(r), 1) for r in failed["run_id"]])
        (out / FAILURES).mkdir(exist_ok=True)
        tmp = _staging(out)
        pq.write_table(_table(failed, provenance), tmp)
        os.replace(tmp, out / FAILURES / f"{name}.parquet")
    if ok.any():
        tmp = _staging(out)
        tmp.mkdir()
        keep = set(status.loc[ok, "run_id"])
        for k, df in frames.items():
            pq.write_table(_table(df[df["run_id"].isin(keep)], provenance), tmp / f"{k}.parquet")
        (out / PARTS).mkdir(exist_ok=True)
        try:
            os.replace(tmp, out / PARTS / name)
        except OSError:
            if not (out / PARTS / name).is_dir():
                raise
            shutil.rmtree(tmp)  # the same batch was written before: keep the first copy


def batch_name(attempts: dict[int, int]) -> str:
    """A part's name: a digest of the runs it holds and their attempt numbers, so the same batch
    written twice has the same name and cannot land twice."""
    key = json.dumps(sorted((int(r), int(a)) for r, a in attempts.items())).encode()
    return f"chunk-{hashlib.sha256(key).hexdigest()[:32]}"


def write_atomic(path: Path, write) -> None:
    """Write a top-level file of the folder through the staging area and rename it into place."""
    tmp = _staging(path.parent)
    write(tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- reading
_CHECKED: dict[tuple[str, int, int], bool] = {}


def _readable(f: Path) -> bool:
    """Does the Parquet file have its footer (a truncated or garbled file does not)? Cached by
    path, size and modification time."""
    try:
        st = f.stat()
    except OSError:
        return False
    key = (str(f), st.st_size, st.st_mtime_ns)
    if key not in _CHECKED:
        try:
            pq.read_metadata(f)
            _CHECKED[key] = True
        except Exception:  # pyarrow raises several kinds for a damaged file
            _CHECKED[key] = False
    return _CHECKED[key]


def _sound(part: Path) -> bool:
    files = list(part.glob("*.parquet"))
    return (part / "status.parquet").is_file() and all(_readable(f) for f in files)


def _warn(text: str) -> None:
    print(f"migov: warning: {text}", file=sys.stderr)


def damaged(out: Path) -> list[Path]:
    """Parts and failure records that cannot be read."""
    bad = [p for p in sorted((out / PARTS).glob("chunk-*")) if p.is_dir() and not _sound(p)]
    return bad + [f for f in sorted((out / FAILURES).glob("*.parquet")) if not _readable(f)]


def quarantine(out: Path) -> list[Path]:
    """Move unreadable parts and failure records to ``quarantine/`` (their runs become pending
    and run again), with a warning naming each."""
    moved = []
    for bad in damaged(out):
        dest = out / QUARANTINE / f"{bad.parent.name}-{bad.name}"
        dest.parent.mkdir(exist_ok=True)
        os.replace(bad, dest)
        _warn(f"{bad}: cannot be read (truncated or damaged); moved to {dest}, its runs will run again")
        moved.append(dest)
    return moved


def part_files(out: Path, table: str) -> list[Path]:
    """A table's files in the readable parts, in the order of the parts' names."""
    out = Path(out)
    parts = [p for p in sorted((out / PARTS).glob("chunk-*")) if p.is_dir()]
    good = [p for p in parts if _sound(p)]
    for p in sorted(set(parts) - set(good)):
        _warn(f"{p}: cannot be read (truncated or damaged) and is left out; `migov sweep --resume` reruns its runs")
    return [p / f"{table}.parquet" for p in good if (p / f"{table}.parquet").is_file()]


def read_table(out: Path, table: str) -> pd.DataFrame:
    files = part_files(out, table)
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _ok_ids(out: Path) -> pd.Series:
    """Run ids with a successful record, one entry per record (duplicates show as repeats)."""
    ids = []
    for f in part_files(out, "status"):
        t = pq.read_table(f, columns=["run_id", "status"]).to_pandas()
        ids.append(t.loc[t["status"] == "ok", "run_id"])  # parts of older sweeps also held failures
    return pd.concat(ids, ignore_index=True) if ids else pd.Series([], dtype="int64")


def failure_records(out: Path) -> pd.DataFrame:
    """Every failed attempt: run_id, attempt, error, wall_time_s, worker_pid."""
    out = Path(out)
    frames = [pd.read_parquet(f) for f in sorted((out / FAILURES).glob("*.parquet")) if _readable(f)]
    for f in part_files(out, "status"):  # failures recorded in parts by older sweeps
        t = pd.read_parquet(f)
        if (t["status"] != "ok").any():
            frames.append(t[t["status"] != "ok"].drop(columns=["status"]).assign(attempt=0))
    cols = ["run_id", "attempt", "error", "wall_time_s", "worker_pid"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def finished_runs(out: Path, include_failed: bool = True) -> set[int]:
    """Runs with a successful record, and (``include_failed``) runs whose attempts all failed."""
    done = {int(r) for r in _ok_ids(Path(out))}
    if include_failed:
        done |= {int(r) for r in failure_records(out)["run_id"]}
    return done


def attempts_so_far(out: Path) -> dict[int, int]:
    """How many failed attempts each run has had."""
    f = failure_records(out)
    return {int(k): int(v) for k, v in f.groupby("run_id").size().items()} if len(f) else {}


# --------------------------------------------------------------------------- cleaning
def clean_staging(out: Path) -> list[Path]:
    """Remove temporaries whose writer (a coordinator or worker on this host) is gone, and the
    ``parts/.tmp-*`` folders of older versions."""
    from migov.experiments.sweep.lock import _alive

    host, removed = socket.gethostname(), []
    for p in sorted((out / STAGING).glob("*")):
        pid, _, rest = p.name.partition("-")
        if pid.isdigit() and rest.startswith(f"{host}-") and not _alive(int(pid), None):
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    for p in sorted((out / PARTS).glob(".tmp-*")):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


# --------------------------------------------------------------------------- creating
WHAT_CHANGED = {
    "experiment": "the experiment's settings",
    "scenario": "the scenario (its file or a file it extends)",
    "design": "the design's points (the csv design file, or its SALib problem file)",
    "other_scenarios": "a scenario named in the design's scenario column",
    "code": "the model's code",
}


def check_identity(out: Path, old: dict, identity: dict[str, str], experiment_hash: str) -> None:
    """Refuse to resume a folder made by another experiment, or by this one under other inputs,
    saying what changed."""
    if old.get("experiment_hash") == experiment_hash:
        return
    before = old.get("identity") or {}
    name = old.get("experiment", {}).get("name")
    if before and before.get("experiment") == identity["experiment"]:
        changed = [WHAT_CHANGED[k] for k in WHAT_CHANGED if before.get(k) != identity.get(k)]
        raise SweepError(f"{out}: {' and '.join(changed)} changed since this folder was made (hash "
                         f"{old.get('experiment_hash')}; now {experiment_hash}), so resuming would mix results of "
                         "both; use another --out, or delete the folder to start again")
    what = (f"it holds results of another experiment or scenario ('{name}')" if before else
            f"it holds results of another experiment, scenario or version of the code ('{name}')")
    raise SweepError(f"{out}: {what} (hash {old.get('experiment_hash')}; this one is {experiment_hash}). "
                     "Use another --out, or delete the folder to start again")


def prepare_folder(out: Path, manifest: dict, files: dict[str, pd.DataFrame | Callable[[], pd.DataFrame]],
                   inputs: list[Path]) -> dict:
    """Create the sweep folder whole (manifest, design and run tables in a hidden sibling, renamed
    into place, so concurrent shards never see half a folder), or check that the existing folder
    holds this same experiment. Never writes into a folder migov did not write."""
    refuse_unsafe(out, inputs)
    manifest_path = out / MANIFEST
    for _ in range(2):
        if manifest_path.is_file():
            kind = migov_kind(out)
            if kind is None:
                raise OutputError(out, "holds a manifest.json that migov did not write; choose a new or empty folder")
            if kind != "sweep":
                raise OutputError(out, f"holds a migov {kind} result, not a sweep; choose another folder")
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            check_identity(out, old, manifest["identity"], manifest["experiment_hash"])
            return old
        if out.exists() and any(out.iterdir()):
            first = sorted(p.name for p in out.iterdir())[0]
            raise OutputError(out, f"is not empty and was not written by migov (it holds {first}); choose a new or "
                                   "empty folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_partials(out)
        tmp = out.with_name(partial_prefix(out) + uuid.uuid4().hex[:8])
        tmp.mkdir()
        try:
            for name, df in files.items():  # a callable is made only now, when the folder is new
                write_parquet(df() if callable(df) else df, tmp / name, table_provenance(manifest))
            full = {**manifest, **marker("sweep")}  # no file list: a sweep is resumed, never replaced
            (tmp / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True, default=str) + "\n",
                                        encoding="utf-8")
            os.rename(tmp, out)  # onto a missing or empty folder; fails if another shard got there first
            return full
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not manifest_path.is_file():
                raise
    raise SweepError(f"{out}: could not create the sweep folder")


# --------------------------------------------------------------------------- loading
@dataclass
class SweepResults:
    folder: Path
    manifest: dict
    design: pd.DataFrame
    runs: pd.DataFrame  # run table with status, error, attempts and wall time
    final: pd.DataFrame
    series: pd.DataFrame
    agents: pd.DataFrame
    duplicates: int = 0  # extra successful records of a run (expected 0; readers keep one)

    @property
    def agents_static(self) -> pd.DataFrame:
        """Each agent's static attributes (``LoadedExperiment.static_table``), read when asked for:
        per design point it can be large. Empty for a sweep from before the table."""
        path = self.folder / "agents_static.parquet"
        return pd.read_parquet(path) if path.is_file() else pd.DataFrame()

    @property
    def parameters(self) -> list[str]:
        return list(self.design.columns)

    @property
    def failures(self) -> pd.DataFrame:
        """The failed runs with their parameters and last error."""
        cols = ["run_id", "point", "replicate", "seed", *self.parameters, "attempts", "error"]
        return self.runs.loc[self.runs["status"] == "failed", cols].reset_index(drop=True)

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


def _plain(v):
    """numpy scalars to Python values (so they print and pickle plainly)."""
    return v.item() if isinstance(v, np.generic) else v


def _first_per_run(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One record per key (the first part's), in run order: parts are named by a digest, so the
    order they are read in says nothing; rows of a run keep their own order (steps, agents)."""
    if not len(df):
        return df
    return df.drop_duplicates(keys, keep="first").sort_values("run_id", kind="stable").reset_index(drop=True)


def load_results(folder: str | Path, series: bool = True, agents: bool = False) -> SweepResults:
    """Load a sweep's results with one call (finished, readable batches only; one record per run).
    Every table is in run order, which is design-row order (run id = point x replicates +
    replicate), whatever order the batches finished in."""
    out = Path(folder)
    if not (out / MANIFEST).is_file() or not (out / "runs.parquet").is_file():
        raise ScenarioError(str(out), "", "not a sweep folder (no manifest.json and runs.parquet); give the folder "
                                          "`migov sweep` wrote")
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    design = pd.read_parquet(out / "design.parquet")
    runs = pd.read_parquet(out / "runs.parquet")
    ok_ids = _ok_ids(out)
    status = read_table(out, "status")
    if len(status):
        status = _first_per_run(status[status["status"] == "ok"], ["run_id"])
    fails = failure_records(out).sort_values(["run_id", "attempt"])
    last = fails.drop_duplicates("run_id", keep="last").set_index("run_id")
    n_attempts = fails.groupby("run_id").size()
    runs = runs.merge(status, on="run_id", how="left") if len(status) else runs.assign(
        status=None, error=None, wall_time_s=np.nan, worker_pid=np.nan)
    failed = runs["status"].isna() & runs["run_id"].isin(last.index)
    ids = runs.loc[failed, "run_id"]
    runs.loc[failed, "status"] = "failed"
    runs.loc[failed, "error"] = ids.map(last["error"]).to_numpy()
    runs.loc[failed, "wall_time_s"] = ids.map(last["wall_time_s"]).to_numpy()
    runs["status"] = runs["status"].fillna("pending")
    runs["attempts"] = runs["run_id"].map(n_attempts).fillna(0).astype("int64") + (runs["status"] == "ok")
    final = _first_per_run(read_table(out, "final"), ["run_id"])
    series_df = _first_per_run(read_table(out, "series"), ["run_id", "step"]) if series else pd.DataFrame()
    agents_df = read_table(out, "agents") if agents else pd.DataFrame()
    if len(agents_df):
        agents_df = _first_per_run(agents_df, ["run_id", "step", "agent"])
    duplicates = int(ok_ids.duplicated().sum())
    return SweepResults(out, manifest, design, runs, final, series_df, agents_df, duplicates)
