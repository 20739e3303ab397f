"""Faults made to happen to real sweeps: kill -9 of the coordinator, of one worker, a second
coordinator, a truncated part, Ctrl-C, shards started at the same moment, inputs edited between
invocations, failed runs. Each ends with the final tables equal to an uninterrupted run, no run
twice in the raw parts, no process left (read from the process table) and no temporary left.

The sweeps run as real ``migov sweep`` processes in their own sessions. Waiting is on the state of
the output folder or the process table, with generous deadlines; nothing asserts a duration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from migov.experiments import cli
from migov.experiments.sweep.engine import load_results, run_sweep
from migov.experiments.sweep.loaded import load_experiment
from procs import cmdline, descendants, in_group, sigint_as_from_a_terminal, wait_gone

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
# 24 runs of 40 steps: long enough (a few seconds on 2 workers, one run a batch) to be hit mid-way
BODY = """
parameters:
  donors.*.scale_preference: {levels: [0.2, 0.8]}
  parameters.uncertainty: {levels: [0.2, 0.7]}
design: {type: grid}
replicates: 6
seed: 11
steps: 40
collect: {stride: 10}
"""
N_RUNS = 24


def write_experiment(folder: Path, body: str = BODY, name: str = "faults") -> Path:
    p = folder / f"{name}.yaml"
    p.write_text(f"name: {name}\nscenario: {BASELINE}\n{body}", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same experiment run serially, uninterrupted, in this process."""
    tmp = tmp_path_factory.mktemp("faults")
    exp = write_experiment(tmp)
    run_sweep(load_experiment(exp), tmp / "reference", workers=1, executor="serial", quiet=True)
    return exp, load_results(tmp / "reference")


def start(exp: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "migov", "sweep", str(exp), "--out", str(out), "-q", *extra]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_as_from_a_terminal)


def resume(exp: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "migov", "sweep", str(exp), "--out", str(out), "-q", "--resume", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def parts(out: Path) -> list[Path]:
    return sorted((out / "parts").glob("chunk-*")) if (out / "parts").is_dir() else []


def wait_for(condition, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def workers_of(proc: subprocess.Popen, n: int = 1) -> set[int]:
    """The pool's worker processes (not multiprocessing's resource tracker, which goes by itself
    once every holder of its pipe is gone)."""

    def found() -> set[int]:
        return {p for p in descendants(proc.pid) if "resource_tracker" not in cmdline(p)}

    wait_for(lambda: len(found()) >= n or proc.poll() is not None, "worker processes")
    return found()


def raw_run_ids(out: Path) -> list[int]:
    """Every successful run id in the raw parts, as a glob query (DuckDB's) would see them."""
    ids: list[int] = []
    for f in (out / "parts").glob("*/status.parquet"):
        ids += pq.read_table(f, columns=["run_id"]).column("run_id").to_pylist()
    return ids


def assert_complete_and_clean(out: Path, ref) -> None:
    res = load_results(out)
    ids = raw_run_ids(out)
    assert len(ids) == len(set(ids)) == N_RUNS, "a run is missing from, or twice in, the raw parts"
    assert res.duplicates == 0 and (res.runs["status"] == "ok").all()
    key = ["run_id"]
    pd.testing.assert_frame_equal(res.final.sort_values(key).reset_index(drop=True),
                                  ref.final.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(res.series.sort_values(["run_id", "step"]).reset_index(drop=True),
                                  ref.series.sort_values(["run_id", "step"]).reset_index(drop=True))
    assert not list((out / ".staging").glob("*")) if (out / ".staging").exists() else True
    assert not list(out.parent.glob(f".{out.name}.partial-*")), "a temporary folder was left"
    assert not list((out / "locks").glob("*.json")), "a lock was left"


# --------------------------------------------------------------------------- the coordinator dies
@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_kill_9_of_the_coordinator_takes_its_workers_and_resume_completes(reference, tmp_path: Path, executor):
    exp, ref = reference
    out = tmp_path / "out"
    proc = start(exp, out, "--workers", "2", "--chunk", "1", "--executor", executor)
    wait_for(lambda: len(parts(out)) >= 2, "two finished batches")
    workers = workers_of(proc, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert workers, "the sweep had no worker processes"
    assert wait_gone(workers) == set(), "workers outlived their coordinator"
    assert wait_gone(in_group(proc.pid)) == set()
    kept = len(raw_run_ids(out))
    assert 2 <= kept < N_RUNS, "the sweep was not killed mid-way"
    before = {p.name for p in parts(out)}
    time.sleep(0.5)  # give any orphan the chance to write, which it must not
    assert {p.name for p in parts(out)} == before, "a part appeared after the coordinator died"
    done = resume(exp, out, "--workers", "2", "--executor", executor)
    assert done.returncode == 0, done.stderr
    assert_complete_and_clean(out, ref)


def test_a_second_coordinator_is_refused_while_the_first_lives_then_takes_over(reference, tmp_path: Path):
    exp, ref = reference
    out = tmp_path / "out"
    first = start(exp, out, "--workers", "1", "--chunk", "1")
    wait_for(lambda: len(parts(out)) >= 1, "a finished batch")
    second = resume(exp, out, "--workers", "1")
    assert second.returncode == 2
    assert "another migov sweep (pid" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    os.kill(first.pid, signal.SIGKILL)  # leaves a stale lock behind
    first.wait()
    assert (out / "locks" / "shard-1-of-1.json").is_file()
    third = resume(exp, out, "--workers", "2")
    assert third.returncode == 0, third.stderr
    assert_complete_and_clean(out, ref)


# --------------------------------------------------------------------------- a worker dies
@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_kill_9_of_one_worker_is_survived(reference, tmp_path: Path, executor):
    """A fresh pool (processes) or Dask's nanny (dask) replaces the worker; its runs run again."""
    exp, ref = reference
    out = tmp_path / "out"
    proc = start(exp, out, "--workers", "2", "--chunk", "2", "--executor", executor)
    wait_for(lambda: len(parts(out)) >= 1, "a finished batch")
    victim = min(workers_of(proc, 2))
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    if executor == "processes":
        assert "a worker process died" in err
    assert wait_gone(in_group(proc.pid)) == set()
    assert_complete_and_clean(out, ref)


# --------------------------------------------------------------------------- a damaged part
def test_a_truncated_part_is_left_out_then_quarantined_and_rerun(reference, tmp_path: Path, capsys):
    import shutil

    exp, ref = reference
    out = tmp_path / "out"
    shutil.copytree(ref.folder, out)
    victim = parts(out)[0] / "final.parquet"
    lost = set(pq.read_table(victim.parent / "status.parquet").column("run_id").to_pylist())
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    res = load_results(out)  # a reader never crashes on it: the part's runs are pending
    assert set(res.runs.loc[res.runs["status"] == "pending", "run_id"]) == lost
    assert "cannot be read" in capsys.readouterr().err
    assert cli.main(["analyse", str(out), "--measures", "hhi", "-q"]) == 0
    done = resume(exp, out, "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "moved to" in done.stderr and "quarantine" in done.stderr
    assert len(list((out / "quarantine").iterdir())) == 1
    assert_complete_and_clean(out, ref)


# --------------------------------------------------------------------------- Ctrl-C
@pytest.mark.parametrize(("sig", "executor"), [(signal.SIGINT, "processes"), (signal.SIGTERM, "processes"),
                                               (signal.SIGINT, "dask")])
def test_ctrl_c_or_sigterm_stops_keeps_finished_runs_and_says_how_to_resume(reference, tmp_path: Path, sig,
                                                                             executor):
    exp, ref = reference
    out = tmp_path / "out"
    proc = start(exp, out, "--workers", "2", "--chunk", "1", "--executor", executor)
    wait_for(lambda: len(parts(out)) >= 2, "two finished batches")
    workers = workers_of(proc, 2)
    os.killpg(proc.pid, sig) if sig == signal.SIGINT else os.kill(proc.pid, sig)  # a terminal's Ctrl-C: the group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = len(raw_run_ids(out))
    assert f"{kept} of {N_RUNS} runs are finished and kept" in err
    assert f"resume with: migov sweep {exp} --out {out}" in err and "Traceback" not in err
    assert wait_gone(workers) == set() and wait_gone(in_group(proc.pid)) == set()
    done = resume(exp, out, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert_complete_and_clean(out, ref)


# --------------------------------------------------------------------------- shards at once
def test_shards_started_at_the_same_moment_never_collide(reference, tmp_path: Path):
    exp, ref = reference
    out = tmp_path / "out"
    procs = [start(exp, out, "--workers", "1", "--shard", f"{i}/3") for i in (1, 2, 3)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in results]
    assert_complete_and_clean(out, ref)


# --------------------------------------------------------------------------- identity
def _small_csv_experiment(tmp: Path) -> Path:
    (tmp / "points.csv").write_text("parameters.uncertainty\n0.2\n0.6\n", encoding="utf-8")
    return write_experiment(tmp, "design: {type: csv, file: points.csv}\nreplicates: 2\nsteps: 4\n", name="small")


def test_editing_the_csv_design_and_resuming_is_refused(tmp_path: Path, capsys):
    exp = _small_csv_experiment(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q", "--workers", "1"]) == 0
    before = sorted(p.name for p in parts(out))
    (tmp_path / "points.csv").write_text("parameters.uncertainty\n0.2\n0.9\n", encoding="utf-8")
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert ("the design's points (the csv design file, or its SALib problem file) changed since this folder was made"
            in err)
    assert len(err.splitlines()) == 1 and sorted(p.name for p in parts(out)) == before


def test_editing_a_base_the_scenario_extends_and_resuming_is_refused(tmp_path: Path, capsys):
    (tmp_path / "base.yaml").write_text(BASELINE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "variant.yaml").write_text("extends: base\ntitle: variant\n", encoding="utf-8")
    exp = tmp_path / "e.yaml"
    exp.write_text("name: e\nscenario: variant.yaml\nparameters: {parameters.uncertainty: {levels: [0.3]}}\n"
                   "design: {type: grid}\nsteps: 3\n", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q", "--workers", "1"]) == 0
    text = (tmp_path / "base.yaml").read_text(encoding="utf-8")
    assert "  steps: 120" in text
    (tmp_path / "base.yaml").write_text(text.replace("  steps: 120", "  steps: 100", 1), encoding="utf-8")
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the scenario (its file or a file it extends) changed since this folder was made" in err
    assert len(err.splitlines()) == 1


# --------------------------------------------------------------------------- failed runs
def test_a_sweep_with_failed_runs_exits_non_zero_with_a_table(tmp_path: Path, capsys, make_runs_fail):
    (tmp_path / "points.csv").write_text("parameters.uncertainty\n0.2\n0.4\n", encoding="utf-8")
    exp = write_experiment(tmp_path, "design: {type: csv, file: points.csv}\nsteps: 3\n", name="f")
    out = tmp_path / "out"
    make_runs_fail({1})
    code = cli.main(["sweep", str(exp), "--out", str(out), "-q", "--executor", "serial"])
    err = capsys.readouterr().err
    assert code == 1
    assert "RuntimeError: the model diverged" in err and "parameters.uncertainty" in err
    assert "1 of 2 runs failed" in err and "--retry-failed" in err
    table = pd.read_csv(out / "failed_runs.csv")
    assert table["run_id"].tolist() == [1] and table["parameters.uncertainty"].tolist() == [0.4]
    make_runs_fail(set())  # the cause fixed
    assert cli.main(["sweep", str(exp), "--out", str(out), "-q", "--executor", "serial", "--retry-failed"]) == 0
    assert not (out / "failed_runs.csv").exists()
    assert sorted(raw_run_ids(out)) == [0, 1]  # the retried run once, beside the first


# --------------------------------------------------------------------------- a batch written twice
def test_a_batch_written_twice_lands_once(tmp_path: Path):
    """Dask recomputes a task whose worker died after finishing it: the second copy of the batch
    must not reach the parts (the part is named by its runs and attempts)."""
    from migov.experiments.sweep.store import write_batch

    status = pd.DataFrame({"run_id": [3, 4], "status": ["ok", "ok"], "error": ["", ""],
                           "wall_time_s": [0.1, 0.2], "worker_pid": [1, 1]})
    final = pd.DataFrame({"run_id": [3, 4], "hhi": [0.3, 0.4]})
    for _ in range(2):
        write_batch(tmp_path, {"status": status, "final": final}, {3: 1, 4: 1}, {"seed": 1})
    assert len(parts(tmp_path)) == 1 and sorted(raw_run_ids(tmp_path)) == [3, 4]
    assert not list((tmp_path / ".staging").iterdir())
    write_batch(tmp_path, {"status": status, "final": final}, {3: 2, 4: 1}, {"seed": 1})  # another attempt
    assert len(parts(tmp_path)) == 2


# --------------------------------------------------------------------------- compare, interrupted
def test_an_interrupted_compare_keeps_its_runs_and_the_same_command_resumes(tmp_path: Path):
    """migov compare runs on the sweep engine: Ctrl-C keeps the finished runs in the hidden store
    beside --out, and the same command finishes the comparison equal to an uninterrupted one."""
    out, ref = tmp_path / "cmp", tmp_path / "ref"
    args = ["compare", "baseline", "eutf_2015", "-n", "6", "--steps", "40", "--no-figures", "--workers", "2", "-q"]
    assert cli.main([*args, "--out", str(ref)]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "migov", *args, "--out", str(out)], cwd=tmp_path, env=ENV,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_from_a_terminal)
    store = tmp_path / ".cmp.runs"
    wait_for(lambda: len(parts(store)) >= 1 or proc.poll() is not None, "a finished batch of the comparison")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the comparison finished before it could be interrupted")
    assert proc.returncode == 130, err
    assert "runs are finished and kept in" in err and "run the same command again to resume" in err
    assert "Traceback" not in err and not out.exists()
    kept = len(raw_run_ids(store))
    assert kept >= 1
    done = subprocess.run([sys.executable, "-m", "migov", *args, "--out", str(out)], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert not store.exists()
    for table in ("runs", "final", "differences"):
        a, b = (pd.read_parquet(d / f"{table}.parquet") for d in (out, ref))
        pd.testing.assert_frame_equal(a, b)


def test_an_interrupted_claims_run_names_its_own_command_to_resume(tmp_path: Path):
    """migov claims runs its arms as sweeps: Ctrl-C keeps their finished runs, and the hint is the
    claims command itself (not the inner sweep's), which then finishes without running a run twice."""
    import yaml
    from claim_entries import BASIS, SOURCE

    entry = {"id": "tiny", "claim": "c", "source": SOURCE, "measure": {"name": "uncertainty"}, **BASIS,
             "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                            "b": {"set": {"parameters.uncertainty": 0.8}}},
             "expected": "positive", "fails_if": "f", "steps": 30, "min_replicates": 2}
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    args = ["claims", "--registry", "claims.yaml", "--replicates", "8", "--workers", "2", "--out", "out", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "migov", *args], cwd=tmp_path, env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_from_a_terminal)
    first_arm = lambda: [p for a in (tmp_path / "out" / "arms").glob("*/runs") for p in parts(a)]  # noqa: E731
    wait_for(lambda: len(first_arm()) >= 1 or proc.poll() is not None,
             "a finished batch of the first arm")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the claim finished before it could be interrupted")
    assert proc.returncode == 130, err
    assert f"resume with: migov claims {' '.join(args[1:])}" in err, err
    assert "migov sweep" not in err and "Traceback" not in err
    done = subprocess.run([sys.executable, "-m", "migov", *args], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    for arm in (tmp_path / "out" / "arms").glob("*/runs"):
        ids = [i for f in arm.glob("parts/*/status.parquet") for i in pq.read_table(f).column("run_id").to_pylist()]
        assert sorted(ids) == list(range(8)), "a run is missing from, or twice in, an arm"
    assert (tmp_path / "out" / "report.md").is_file()
