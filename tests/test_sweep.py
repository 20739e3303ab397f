"""The sweep engine: designs, seeds, streaming storage, resume after kill -9, failures,
executor equivalence, reproducing one run alone, and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.sweep.design import build_design, run_table
from migov.experiments.sweep.engine import finished_runs, load_results, run_sweep
from migov.experiments.sweep.experiment import Experiment
from migov.experiments.sweep.loaded import load_experiment
from migov.model import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def exp_file(tmp: Path, body: str, name: str = "exp") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(f"name: {name}\nscenario: {BASELINE}\n" + body, encoding="utf-8")
    return p


SMALL = """
parameters:
  donors.*.scale_preference: {levels: [0.2, 0.8]}
  parameters.uncertainty: {range: [0.1, 0.9], points: 2}
design: {type: grid}
replicates: 2
seed: 7
steps: 6
"""


def exp_of(**kw) -> Experiment:
    base = {"name": "t", "scenario": "baseline", "replicates": 1, "seed": 3}
    return Experiment.model_validate({**base, **kw})


# --------------------------------------------------------------------------- designs and seeds
def test_sampler_shapes_and_bounds():
    params = {"parameters.uncertainty": {"range": [0.2, 0.6]}, "parameters.knowledge_cost": {"range": [0.1, 10],
              "distribution": "loguniform"}, "parameters.office_grace": {"range": [2, 12], "integer": True}}
    lhs = build_design(exp_of(parameters=params, design={"type": "lhs", "size": 50}))
    assert lhs.shape == (50, 3)
    assert lhs["parameters.uncertainty"].between(0.2, 0.6).all()
    assert lhs["parameters.knowledge_cost"].between(0.1, 10).all()
    assert (lhs["parameters.office_grace"] == lhs["parameters.office_grace"].round()).all()
    # Latin hypercube: one sample in each of the 50 strata of every dimension
    u = (lhs["parameters.uncertainty"] - 0.2) / 0.4
    assert sorted(np.floor(u * 50).astype(int)) == list(range(50))
    sob = build_design(exp_of(parameters=params, design={"type": "sobol", "size": 16}))
    assert sob.shape == (16 * (3 + 2), 3)
    sob2 = build_design(exp_of(parameters=params, design={"type": "sobol", "size": 16, "second_order": True}))
    assert len(sob2) == 16 * (2 * 3 + 2)
    mor = build_design(exp_of(parameters=params, design={"type": "morris", "size": 5, "levels": 4}))
    assert mor.shape == (5 * (3 + 1), 3)
    grid = build_design(exp_of(parameters={"parameters.uncertainty": {"levels": [0.1, 0.2, 0.3]},
                                           "donors.EU.trend": {"range": [0, 0.1], "points": 4}},
                               design={"type": "grid"}))
    assert len(grid) == 12 and set(grid["donors.EU.trend"].round(6)) == {0.0, 0.033333, 0.066667, 0.1}
    normal = build_design(exp_of(parameters={"parameters.uncertainty": {"range": [0, 1], "distribution": "normal",
                                                                        "mean": 0.5, "sd": 0.1}},
                                 design={"type": "lhs", "size": 400}))
    assert normal["parameters.uncertainty"].between(0, 1).all()
    assert abs(normal["parameters.uncertainty"].mean() - 0.5) < 0.02


def test_designs_and_seeds_are_reproducible_and_spawned():
    e = exp_of(parameters={"parameters.uncertainty": {"range": [0, 1]}}, design={"type": "lhs", "size": 6},
               replicates=3)
    d1, d2 = build_design(e), build_design(e)
    pd.testing.assert_frame_equal(d1, d2)
    runs = run_table(e, d1)
    assert len(runs) == 18 and runs["seed"].nunique() == 18
    expected = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(3).spawn(18)]
    assert runs["seed"].tolist() == expected
    crn = run_table(e.model_copy(update={"common_random_numbers": True}), d1)
    assert crn.groupby("replicate")["seed"].nunique().eq(1).all()
    assert crn["seed"].nunique() == 3


def test_common_random_numbers_within_blocks_of_points():
    """crn_block: the points of a block (a sample's arms) share replicate seeds; blocks have their own."""
    e = exp_of(parameters={"parameters.uncertainty": {"range": [0, 1]}}, design={"type": "lhs", "size": 6},
               replicates=3, common_random_numbers=True)
    whole = run_table(e, build_design(e))
    blocked = run_table(e.model_copy(update={"crn_block": 2}), build_design(e))
    blocked["block"] = blocked["point"] // 2
    assert blocked.groupby(["block", "replicate"])["seed"].nunique().eq(1).all()
    assert blocked["seed"].nunique() == 3 * 3  # three blocks of three replicate seeds, all different
    assert blocked.groupby("block")["seed"].apply(frozenset).nunique() == 3
    pd.testing.assert_frame_equal(run_table(e.model_copy(update={"crn_block": 2}), build_design(e)),
                                  blocked.drop(columns="block"))  # reproducible
    # without it, every point shares the seeds, and the experiment's identity is what it was before crn_block
    assert whole["seed"].nunique() == 3
    before = {**e.model_dump(mode="json", exclude={"output", "crn_block"}), "parameter_order": list(e.parameters)}
    assert e.content_hash() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert e.model_copy(update={"crn_block": 2}).content_hash() != e.content_hash()
    # the library's experiments hash as they did before crn_block existed, so their results folders still
    # resume (if one of these files is edited on purpose, its new hash goes here)
    before_crn_block = {"morris_screening": "5fb0803708cead8e", "sobol_small": "b901b81bc379197e",
                        "grid_scale_uncertainty": "addc80ec3eb6f7c0"}
    for name, digest in before_crn_block.items():
        assert load_experiment(name, allow_large=True).exp.content_hash() == digest
    with pytest.raises(ValueError, match=r"crn_block.*common_random_numbers"):
        exp_of(parameters={"parameters.uncertainty": {"range": [0, 1]}}, design={"type": "lhs", "size": 2},
               crn_block=2)


def test_csv_design(tmp_path: Path):
    (tmp_path / "points.csv").write_text("parameters.uncertainty\n0.1\n0.7\n", encoding="utf-8")
    p = exp_file(tmp_path, "parameters: {parameters.uncertainty: {range: [0, 1]}}\n"
                           "design: {type: csv, file: points.csv}\n")
    loaded = load_experiment(p)
    assert build_design(loaded.exp, p.parent)["parameters.uncertainty"].tolist() == [0.1, 0.7]


# --------------------------------------------------------------------------- running and storage
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    out = tmp / "serial"
    run_sweep(load_experiment(exp_file(tmp, SMALL)), out, workers=1, executor="serial", quiet=True)
    return tmp, load_results(out)


def test_sweep_streams_tidy_tables_with_parameters_once(reference):
    _, res = reference
    assert len(res.runs) == 8 and (res.runs["status"] == "ok").all()
    assert sorted(res.final["run_id"]) == list(range(8))
    assert "parameters.uncertainty" not in res.final.columns and "parameters.uncertainty" in res.runs.columns
    assert set(res.series["step"]) == {0, 4, 6}
    assert (res.folder / "manifest.json").is_file()
    parts = list((res.folder / "parts").glob("chunk-*"))
    assert 1 <= len(parts) < 8  # batches, not one file per run


def test_executors_and_shards_give_identical_rows(reference):
    tmp, ref = reference
    loaded = load_experiment(tmp / "exp.yaml")
    run_sweep(loaded, tmp / "proc", workers=2, executor="processes", quiet=True, chunk=2)
    run_sweep(loaded, tmp / "dask", workers=2, executor="dask", quiet=True, chunk=3)
    run_sweep(loaded, tmp / "shards", workers=1, executor="serial", shard=(1, 2), quiet=True)
    assert len(finished_runs(tmp / "shards")) == 4
    run_sweep(loaded, tmp / "shards", workers=1, executor="serial", shard=(2, 2), quiet=True)
    key = ["run_id"]
    for name in ("proc", "dask", "shards"):
        other = load_results(tmp / name)
        pd.testing.assert_frame_equal(ref.final.sort_values(key).reset_index(drop=True),
                                      other.final.sort_values(key).reset_index(drop=True))
        pd.testing.assert_frame_equal(ref.series.sort_values(["run_id", "step"]).reset_index(drop=True),
                                      other.series.sort_values(["run_id", "step"]).reset_index(drop=True))


def test_a_run_alone_with_migov_run_gives_the_same_numbers(reference, tmp_path: Path):
    _, res = reference
    row = res.runs.iloc[5]
    out = tmp_path / "alone"
    args = res.rerun_args(int(row["run_id"]))
    assert "--seed" in args and any(a.startswith("donors.*.scale_preference=") for a in args)
    assert cli.main([*args, "--out", str(out), "-q", "--no-figures", "--no-agents"]) == 0
    alone = pd.read_parquet(out / "model.parquet")
    final = alone[alone["step"] > alone["step"].max() - 4].drop(columns=["step", "year", "quarter"]).mean()
    swept = res.final.set_index("run_id").loc[int(row["run_id"])]
    pd.testing.assert_series_equal(final[swept.index], swept, check_names=False)


def test_failed_runs_are_recorded_and_isolated(tmp_path: Path, make_runs_fail):
    (tmp_path / "points.csv").write_text("parameters.uncertainty\n0.2\n0.5\n0.4\n", encoding="utf-8")
    p = exp_file(tmp_path, "parameters: {parameters.uncertainty: {range: [0, 1]}}\n"
                           "design: {type: csv, file: points.csv}\nsteps: 4\n")
    make_runs_fail({1})
    run_sweep(load_experiment(p), tmp_path / "out", workers=1, executor="serial", quiet=True, chunk=3)
    res = load_results(tmp_path / "out")
    status = res.runs.set_index("point")["status"]
    assert status.tolist() == ["ok", "failed", "ok"]
    assert res.runs.set_index("point").loc[1, "error"] == "RuntimeError: the model diverged"
    assert sorted(res.final["run_id"]) == [0, 2]


def test_resume_after_kill_9_loses_nothing_and_duplicates_nothing(tmp_path: Path):
    body = SMALL.replace("replicates: 2", "replicates: 6").replace("steps: 6", "steps: 30")
    p = exp_file(tmp_path, body)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "migov", "sweep", str(p), "--out", str(out), "--executor", "serial",
           "--chunk", "1", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "parts").glob("chunk-*"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = finished_runs(out)
    assert 3 <= len(done) < 24, "the sweep was not killed mid-way"
    assert subprocess.run(cmd, cwd=ROOT, env=env).returncode == 0
    full = tmp_path / "full"
    run_sweep(load_experiment(p), full, workers=1, executor="serial", quiet=True)
    a, b = load_results(out), load_results(full)
    assert a.final["run_id"].is_unique and len(a.final) == 24
    pd.testing.assert_frame_equal(a.final.sort_values("run_id").reset_index(drop=True),
                                  b.final.sort_values("run_id").reset_index(drop=True))


# --------------------------------------------------------------------------- bad input
BAD = [
    ("parameters: {donors.EU.scale_pref: {levels: [0.1]}}\ndesign: {type: grid}\n",
     "parameters.donors.EU.scale_pref: not a parameter of the scenario"),
    ("parameters: {parameters.uncertainty: {range: [0.9, 0.1]}}\ndesign: {type: lhs, size: 4}\n",
     "low < high"),
    ("parameters: {parameters.uncertainty: {range: [0.1, 0.9]}}\ndesign: {type: sobol, size: 10}\n",
     "power of two"),
    ("parameters: {parameters.uncertainty: {range: [0.1, 1.9]}}\ndesign: {type: lhs, size: 4}\n",
     "1.9 is not allowed for parameters.uncertainty"),
    ("parameters: {parameters.uncertainty: {levels: [0.1]}}\ndesign: {type: lhs, size: 4}\n",
     "needs a 'range'"),
    ("parameters: {parameters.uncertainty: {levels: [0.1]}}\ndesign: {type: grid}\nreplicates: 0\n",
     "replicates"),
]


@pytest.mark.parametrize(("body", "needle"), BAD)
def test_bad_experiment_files_exit_2_with_one_line(body, needle, tmp_path: Path, capsys):
    p = exp_file(tmp_path, body)
    assert cli.main(["sweep", str(p), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("migov: error: ") and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_other_experiment_in_the_folder_is_refused(reference, tmp_path: Path, capsys):
    _, ref = reference
    changed = exp_file(tmp_path, SMALL.replace("seed: 7", "seed: 8"))
    before = sorted(p.name for p in (ref.folder / "parts").iterdir())
    assert cli.main(["sweep", str(changed), "--out", str(ref.folder), "-q"]) == 2
    assert "holds results of another experiment" in capsys.readouterr().err
    assert sorted(p.name for p in (ref.folder / "parts").iterdir()) == before


def test_malformed_shard_and_unreachable_scheduler(reference, capsys):
    ref_tmp, _ = reference
    with pytest.raises(SystemExit) as e:
        cli.main(["sweep", str(ref_tmp / "exp.yaml"), "--shard", "3/2"])
    assert e.value.code == 2
    assert "1 <= I <= N" in capsys.readouterr().err
    assert cli.main(["sweep", str(ref_tmp / "exp.yaml"), "--out", str(ref_tmp / "sched"), "-q",
                     "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_missing_experiment_file(capsys):
    assert cli.main(["sweep", "no/such/experiment.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_example_experiments_validate():
    for p in sorted((ROOT / "experiments" / "library").glob("*.yaml")):
        loaded = load_experiment(p)
        assert len(build_design(loaded.exp, p.parent)) > 0, p.name


def test_errors_name_the_file():
    with pytest.raises(ScenarioError) as err:
        load_experiment(ROOT / "nope.yaml")
    assert err.value.source.endswith("nope.yaml")


def test_runs_release_their_models():
    """Mesa 3.3 keeps every model in Agent._ids; the runners release theirs so long sweeps do
    not grow in memory."""
    import mesa
    from migov.experiments.sweep.runner import run_scenario
    from migov.model import load_scenario

    sc = load_scenario(BASELINE)
    before = len(mesa.Agent._ids)
    for seed in range(3):
        run_scenario(sc, seed, steps=2, collect_agents=False)
    assert len(mesa.Agent._ids) == before


def test_parameter_order_is_part_of_the_experiment_identity():
    a = exp_of(parameters={"parameters.uncertainty": {"range": [0, 1]}, "donors.EU.trend": {"range": [0, 0.1]}},
               design={"type": "lhs", "size": 4})
    b = exp_of(parameters={"donors.EU.trend": {"range": [0, 0.1]}, "parameters.uncertainty": {"range": [0, 1]}},
               design={"type": "lhs", "size": 4})
    assert a.content_hash() != b.content_hash()


def test_retry_failed_runs_again_and_the_new_record_wins(tmp_path: Path, make_runs_fail):
    (tmp_path / "points.csv").write_text("parameters.uncertainty\n0.2\n0.5\n", encoding="utf-8")
    p = exp_file(tmp_path, "parameters: {parameters.uncertainty: {range: [0, 1]}}\n"
                           "design: {type: csv, file: points.csv}\nsteps: 3\n")
    make_runs_fail({1})
    run_sweep(load_experiment(p), tmp_path / "o", workers=1, executor="serial", quiet=True)
    assert finished_runs(tmp_path / "o", include_failed=False) == {0}
    report = run_sweep(load_experiment(p), tmp_path / "o", workers=1, executor="serial", quiet=True,
                       retry_failed=True)
    assert report.ran == 1 and report.failed == 1  # only the failed run, which fails again
    res = load_results(tmp_path / "o")
    assert res.runs["run_id"].is_unique and res.runs.set_index("run_id").loc[1, "status"] == "failed"
    assert res.runs.set_index("run_id").loc[1, "attempts"] == 2
    attempts = pd.concat([pd.read_parquet(f) for f in (tmp_path / "o" / "failures").glob("*.parquet")])
    assert sorted(attempts["attempt"]) == [1, 2]  # numbered, not ordered by modification time
    assert list(pd.read_csv(tmp_path / "o" / "failed_runs.csv")["run_id"]) == [1]
    # the successful run is in the raw parts once; failed attempts never are
    status = pd.concat([pd.read_parquet(f) for f in (tmp_path / "o" / "parts").glob("*/status.parquet")])
    assert status["run_id"].tolist() == [0]


def test_run_table_snapshot_has_status_error_and_time(reference):
    _, res = reference
    snap = pd.read_parquet(res.folder / "run_table.parquet")
    assert {"run_id", "seed", "status", "error", "wall_time_s", "parameters.uncertainty"} <= set(snap.columns)
    assert (snap["status"] == "ok").all() and (snap["wall_time_s"] > 0).all()


def test_resuming_after_the_model_code_changed_is_refused(reference, monkeypatch, capsys):
    import migov.experiments.sweep.loaded as experiment_module

    ref_tmp, ref = reference
    monkeypatch.setattr(experiment_module, "model_code_hash", lambda: "0" * 16)
    assert cli.main(["sweep", str(ref_tmp / "exp.yaml"), "--out", str(ref.folder), "-q"]) == 2
    err = capsys.readouterr().err
    assert "the model's code changed since this folder was made" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("n", "workers"), [(24, 2), (90, 2), (384, 2), (1000, 2), (5, 2), (7, 8), (24, 1)])
def test_batches_come_in_whole_rounds_per_worker(n, workers):
    """No worker idles through a last round that only some workers get (below 64 runs a batch)."""
    from migov.experiments.sweep.engine import auto_chunk

    size = auto_chunk(n, workers)
    batches = -(-n // size)
    assert 1 <= size <= 64
    if size < 64 and n >= workers:
        assert batches % workers == 0 or batches == n, (size, batches)


def test_two_local_dask_clusters_at_once_take_free_dashboard_ports(recwarn):
    """Two dask sweeps at the same moment (two users, two terminals) must not fight over Dask's
    default dashboard port 8787: each local cluster takes a free one, without a warning."""
    from migov.experiments.sweep.engine import _dask_client

    opened = [_dask_client(1, None) for _ in range(2)]
    try:
        ports = [client.dashboard_link.split(":")[-1].split("/")[0] for client, _ in opened]
        assert len(set(ports)) == 2 and "8787" not in ports
        assert not [w for w in recwarn if "already in use" in str(w.message)]
    finally:
        for client, cluster in opened:
            client.close()
            cluster.close()


def test_a_local_dask_worker_drops_only_a_heartbeat_lost_while_the_cluster_stops(caplog):
    """A worker caught heartbeating while the coordinator stops the cluster logged a traceback on
    a Ctrl-C (seen in CI); the local workers' plugin drops that one message, and no other."""
    import logging
    import threading

    from migov.experiments.sweep import engine

    log = logging.getLogger("distributed.worker")
    setup = threading.Thread(target=engine._leave_ctrl_c_to_the_coordinator().setup, args=(None,))
    setup.start()  # off the main thread, as a worker's plugins are set up: SIGINT stays the test's
    setup.join()
    try:
        with caplog.at_level(logging.INFO, logger="distributed.worker"):
            log.error("Failed to communicate with scheduler during heartbeat.")
            log.error("Compute Failed")
        assert [r.getMessage() for r in caplog.records] == ["Compute Failed"]
    finally:
        log.removeFilter(engine._not_a_heartbeat_to_a_stopping_scheduler)
        logging.getLogger("distributed.worker.state_machine").setLevel(logging.NOTSET)
