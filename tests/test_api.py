"""The Python API in ``migov``: ``run`` in memory, ``evaluate`` equal to a sweep's numbers for the
same point and seed (and picklable into a worker), ``load_results`` for run and sweep folders, in
design-row order."""

from __future__ import annotations

import importlib.util
import multiprocessing
import pickle
import re
import shlex
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from migov.experiments import cli
from migov.experiments.sweep.engine import run_sweep
from migov.experiments.sweep.loaded import load_experiment

import migov
from migov import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
STEPS = 6


def test_public_names_resolve():
    for name in migov.__all__:
        assert getattr(migov, name) is not None, name
    assert migov.Results is migov.experiments.sweep.runner.RunResult  # one result type, not a parallel one
    with pytest.raises(AttributeError):
        migov.no_such_name  # noqa: B018


def test_importing_the_model_does_not_import_the_sweep_engine():
    code = "import sys, migov.model; print('migov.experiments.sweep.engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_run_returns_every_table_in_memory_and_writes_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = migov.run("baseline", seed=3, steps=4, overrides={"parameters.uncertainty": 0.8,
                                                         "donors.*.scale_preference": 0.2})
    assert isinstance(r, migov.Results)
    assert r.model["step"].tolist() == [0, 1, 2, 3, 4]
    assert len(r.agents) and len(r.events) and len(r.network)
    assert r.scenario.parameters.uncertainty == 0.8
    assert {d.scale_preference for d in r.scenario.donors.values()} == {0.2}
    assert r.provenance["seed"] == 3 and r.provenance["steps"] == 4
    assert r.provenance["overrides"] == {"parameters.uncertainty": 0.8, "donors.*.scale_preference": 0.2}
    assert list(tmp_path.iterdir()) == []
    again = migov.run(migov.load_scenario("baseline"), seed=3, steps=4,
                      overrides={"parameters.uncertainty": 0.8, "donors.*.scale_preference": 0.2})
    pd.testing.assert_frame_equal(r.model, again.model)


def test_a_run_folder_loads_back_as_the_same_results(tmp_path: Path):
    out = tmp_path / "run"
    assert cli.main(["run", "baseline", "--seed", "4", "--steps", "5", "--out", str(out), "--no-figures", "-q",
                     "--set", "parameters.uncertainty=0.6"]) == 0
    loaded = migov.load_results(out)
    fresh = migov.run("baseline", seed=4, steps=5, overrides={"parameters.uncertainty": 0.6})
    for table in ("model", "agents", "events", "network"):
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(fresh, table), check_dtype=False, obj=table)
    assert loaded.scenario == fresh.scenario
    assert loaded.provenance["seed"] == 4 and loaded.provenance["scenario_hash"] == fresh.provenance["scenario_hash"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("api")
    exp = tmp / "exp.yaml"
    exp.write_text(f"""name: api
scenario: {BASELINE}
parameters:
  parameters.uncertainty: {{range: [0.1, 0.9]}}
  donors.*.scale_preference: {{range: [0.1, 0.9]}}
design: {{type: lhs, size: 3}}
replicates: 2
seed: 8
steps: {STEPS}
collect: {{series: true, stride: 2, final_window: 3}}
""", encoding="utf-8")
    run_sweep(load_experiment(exp), tmp / "out", workers=1, executor="serial", chunk=1, quiet=True)
    return tmp / "out"


def test_evaluate_equals_the_sweep_for_the_same_point_and_seed(sweep: Path):
    res = migov.load_results(sweep)
    params = res.parameters
    for _, run in res.runs.iterrows():
        point = {p: run[p] for p in params}
        got = migov.evaluate(point, scenario=BASELINE, seed=int(run["seed"]), steps=STEPS, final_window=3)
        stored = res.final.set_index("run_id").loc[int(run["run_id"])]
        # exactly: the same code computes both (NaN where a measure is undefined, in both)
        np.testing.assert_equal(got, {k: float(v) for k, v in stored.items()})
    some = migov.evaluate(point, scenario=BASELINE, seed=int(run["seed"]), steps=STEPS, final_window=3,
                          measures=["uncertainty", "hhi"])
    assert list(some) == ["uncertainty", "hhi"] and some["hhi"] == got["hhi"]


def test_sweep_tables_come_back_in_design_order(sweep: Path):
    res = migov.load_results(sweep)
    assert len(list((sweep / "parts").iterdir())) == len(res.runs) > 1  # one part per run, read in digest order
    assert res.runs["run_id"].tolist() == list(range(len(res.runs)))
    assert res.final["run_id"].tolist() == res.runs["run_id"].tolist()
    assert res.series[["run_id", "step"]].equals(res.series[["run_id", "step"]].sort_values(["run_id", "step"]))
    assert (res.runs["point"].to_numpy() == res.runs["run_id"].to_numpy() // 2).all()


def test_evaluate_pickles_into_a_worker_process_and_gives_the_same_numbers():
    point = {"parameters.uncertainty": 0.4}
    assert pickle.loads(pickle.dumps(migov.evaluate)) is migov.evaluate
    here = migov.evaluate(point, seed=5, steps=3, measures=["hhi", "uncertainty"])
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        there = pool.submit(migov.evaluate, point, "baseline", 5, 3, ["hhi", "uncertainty"]).result()
    assert here == there and here["uncertainty"] == 0.4
    assert migov.evaluate(point, seed=5, steps=3, measures=["hhi", "uncertainty"]) == here


def test_evaluate_reads_an_edited_scenario_again(tmp_path: Path):
    own = tmp_path / "mine.yaml"
    own.write_text("extends: baseline\nparameters: {uncertainty: 0.3}\n", encoding="utf-8")
    assert migov.evaluate({}, scenario=own, steps=2, measures=["uncertainty"])["uncertainty"] == pytest.approx(0.3)
    own.write_text("extends: baseline\nparameters: {uncertainty: 0.55}\n", encoding="utf-8")
    assert migov.evaluate({}, scenario=own, steps=2, measures=["uncertainty"])["uncertainty"] == pytest.approx(0.55)


@pytest.mark.parametrize(("call", "needle"), [
    (lambda: migov.evaluate({"parameters.uncertanty": 0.5}, steps=1), "params: parameters.uncertanty: unknown key"),
    (lambda: migov.evaluate({"parameters.uncertainty": 7}, steps=1), "parameters.uncertainty: Input should be less"),
    (lambda: migov.evaluate({}, steps=1, measures=["hh"]), "measures[0]: unknown measure 'hh' (did you mean 'hhi'?)"),
    (lambda: migov.evaluate([("parameters.uncertainty", 0.5)], steps=1), "expected a mapping of dotted paths"),
    (lambda: migov.evaluate({}, scenario="atlantis", steps=1), "atlantis: no such scenario file or name"),
    (lambda: migov.run("baseline", steps=1, overrides={"donors.XX.trend": 0.1}), "donors.XX: unknown name"),
])
def test_mistakes_are_one_line_scenario_errors(call, needle):
    with pytest.raises(ScenarioError) as err:
        call()
    assert needle in str(err.value) and len(str(err.value).splitlines()) == 1


def test_load_results_refuses_a_folder_without_results(tmp_path: Path):
    with pytest.raises(ScenarioError, match="holds no migov results; expected the output folder of migov run"):
        migov.load_results(tmp_path)
    with pytest.raises(ScenarioError, match="no such folder"):
        migov.load_results(tmp_path / "nope")


DOC = ROOT / "docs" / "api.md"


def test_the_examples_in_docs_api_md_run(tmp_path: Path, monkeypatch):
    """Every block of docs/api.md, in order, from an empty folder: Python blocks executed, ``migov``
    and ``salib`` lines run, a YAML block written to the file its first comment names."""
    monkeypatch.chdir(tmp_path)
    method = multiprocessing.get_start_method(allow_none=True)
    try:
        for lang, code in re.findall(r"```(python|bash|yaml)\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
            if lang == "yaml":
                (tmp_path / code.splitlines()[0].lstrip("# ").strip()).write_text(code, encoding="utf-8")
            elif lang == "bash":
                for line in code.strip().splitlines():
                    cmd = shlex.split(line)
                    if cmd[0] == "migov":
                        assert cli.main(cmd[1:]) == 0, line
                    else:
                        assert cmd[0] == "salib", line
                        subprocess.run([sys.executable, "-m", "SALib.scripts.salib", *cmd[1:]], check=True)
            elif "ema_workbench" not in code or importlib.util.find_spec("ema_workbench") is not None:
                exec(compile(code, str(DOC), "exec"), {"__name__": "__main__"})  # as a script runs it
    finally:
        multiprocessing.set_start_method(method, force=True)
