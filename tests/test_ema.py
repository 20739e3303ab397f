"""EMA Workbench as a client: ``migov.experiments.ema.ema_model`` from an experiment file, run by
EMA's own sampler and evaluators (sequential, and a pool of two processes), giving the numbers
``migov.evaluate`` gives for the same points. Times are measured by benchmarks/bench_ema.py, never
asserted here."""

from __future__ import annotations

import multiprocessing
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # EMA warns that ipyparallel (an optional evaluator) is missing
    import ema_workbench  # noqa: F401

from ema_workbench import (
    CategoricalParameter,
    Constant,
    IntegerParameter,
    MultiprocessingEvaluator,
    RealParameter,
    SequentialEvaluator,
    perform_experiments,
)
from migov.experiments.ema import ema_model

import migov

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
MEASURES = ["hhi", "uncertainty", "funding_share_World Bank"]


@pytest.fixture(autouse=True)
def keep_start_method():
    """``ema_model`` sets the platform's start method back; the rest of the session keeps its own."""
    before = multiprocessing.get_start_method(allow_none=True)
    yield
    multiprocessing.set_start_method(before, force=True)


def experiment(tmp: Path, parameters: str, replicates: int = 1, design: str = "lhs, size: 4") -> Path:
    path = tmp / "ema.yaml"
    path.write_text(f"name: ema_test\nscenario: {BASELINE}\nsteps: 4\nseed: 9\nreplicates: {replicates}\n"
                    f"parameters:\n{parameters}design: {{type: {design}}}\n"
                    f"collect: {{series: false, measures: {MEASURES}}}\n", encoding="utf-8")
    return path


def test_uncertainties_and_outcomes_follow_the_experiment(tmp_path: Path):
    model = ema_model(experiment(tmp_path, """  parameters.uncertainty: {range: [0.1, 0.9], points: 2}
  parameters.actions_per_step: {range: [1, 3], integer: true, points: 2}
  donors.*.scale_preference: {range: [0.2, 0.8], distribution: loguniform, points: 2}
  parameters.contest_strength: {levels: [0.03, 0.12]}
  parameters.office_cost: {levels: [3.5]}
""", replicates=2, design="grid"), start_method=None)
    kinds = {u.name: type(u) for u in model.uncertainties}
    assert kinds == {"parameters_uncertainty": RealParameter, "parameters_actions_per_step": IntegerParameter,
                     "donors_all_scale_preference": RealParameter, "parameters_contest_strength": CategoricalParameter}
    assert [type(c) for c in model.constants] == [Constant]
    assert [u.variable_name for u in model.uncertainties][2] == ["donors.*.scale_preference"]
    assert [list(o.variable_name) for o in model.outcomes] == [[m] for m in MEASURES]
    assert [o.name for o in model.outcomes][2] == "funding_share_World_Bank"  # EMA names are identifiers
    f = model.function
    assert len(f.seeds) == 2 and f.steps == 4 and pickle.loads(pickle.dumps(model)).function == f
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        experiments, outcomes = perform_experiments(model, scenarios=2, evaluator=SequentialEvaluator(model))
    assert set(experiments["parameters_actions_per_step"]) <= {1, 2, 3}
    assert set(experiments["parameters_contest_strength"]) <= {0.03, 0.12}
    row = experiments.iloc[1]
    point = {"parameters.uncertainty": row["parameters_uncertainty"], "parameters.office_cost": 3.5,
             "parameters.actions_per_step": int(row["parameters_actions_per_step"]),
             "donors.*.scale_preference": row["donors_all_scale_preference"],
             "parameters.contest_strength": row["parameters_contest_strength"]}
    runs = [migov.evaluate(point, BASELINE, seed, 4, ["hhi"])["hhi"] for seed in f.seeds]
    assert outcomes["hhi"][1] == float(np.mean(runs))  # the mean over the replicates' common seeds


def test_perform_experiments_sequential_and_in_two_processes(tmp_path: Path):
    model = ema_model(experiment(tmp_path, """  parameters.uncertainty: {range: [0.1, 0.9]}
  donors.*.scale_preference: {range: [0.1, 0.9]}
"""))
    if "fork" in multiprocessing.get_all_start_methods():
        assert multiprocessing.get_start_method() == "fork"  # not the spawn Mesa's import forces
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        runs.append(perform_experiments(model, scenarios=3, evaluator=SequentialEvaluator(model)))
        with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
            runs.append(evaluator.perform_experiments(scenarios=3))
    seed, name = model.function.seeds[0], {o.variable_name[0]: o.name for o in model.outcomes}
    for experiments, outcomes in runs:
        assert len(experiments) == 3 and set(outcomes) == set(name.values())
        np.testing.assert_array_equal(outcomes["uncertainty"], experiments["parameters_uncertainty"])
        for i in (0, 2):
            point = {"parameters.uncertainty": experiments["parameters_uncertainty"][i],
                     "donors.*.scale_preference": experiments["donors_all_scale_preference"][i]}
            expected = migov.evaluate(point, BASELINE, seed, 4, MEASURES)
            assert {m: outcomes[name[m]][i] for m in MEASURES} == expected


def test_seeds_shared_only_within_blocks_are_refused(tmp_path: Path):
    """An EMA model gives every experiment the same replicate seeds: an experiment whose seeds are
    shared only within blocks of points (crn_block) cannot be driven from it faithfully."""
    path = experiment(tmp_path, "  parameters.uncertainty: {range: [0.1, 0.9]}\n")
    path.write_text(path.read_text() + "common_random_numbers: true\ncrn_block: 2\n", encoding="utf-8")
    with pytest.raises(migov.ScenarioError, match="crn_block"):
        ema_model(path, start_method=None)
