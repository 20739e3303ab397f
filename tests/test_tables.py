"""Tidy tables: the per-organisation series in long form, each agent's static attributes, the
same provenance in every manifest and table, and steps labelled by the quarter they simulate.

Everything is read back from the files the commands write, as an analysis would read them."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from migov.experiments import __version__, cli
from migov.experiments.common.storage import read_provenance
from migov.experiments.sweep import loaded as loaded_module
from migov.experiments.sweep import one_run
from migov.experiments.sweep.engine import load_results, run_sweep
from migov.experiments.sweep.loaded import code_hash, load_experiment
from migov.experiments.sweep.provenance import FIELDS
from migov.model import MigovModel
from migov.model.measures import ORGANISATION_MEASURES, organisation_column

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
STEPS = 8


def fields(d: dict) -> dict:
    return {k: d[k] for k in FIELDS}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tables") / "run"
    assert cli.main(["run", "baseline", "--seed", "3", "--steps", str(STEPS), "--out", str(out), "--no-figures",
                     "-q", "--set", "hosts.Libya.authoritarian=0.93"]) == 0
    return out


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A sweep whose design sets a host's regime score (a static attribute) at two points."""
    tmp = tmp_path_factory.mktemp("tables-sweep")
    exp = tmp / "exp.yaml"
    exp.write_text(f"""name: static
scenario: {BASELINE}
parameters:
  hosts.Libya.authoritarian: {{levels: [0.2, 0.9]}}
  parameters.uncertainty: {{levels: [0.3, 0.6]}}
design: {{type: grid}}
replicates: 2
seed: 11
steps: {STEPS}
""", encoding="utf-8")
    out = tmp / "S"
    run_sweep(load_experiment(exp), out, workers=1, executor="serial", quiet=True)
    return out


# ---------------------------------------------------------------------------- organisations.parquet
def test_organisation_rows_are_steps_times_organisations_and_equal_the_wide_columns(run_folder: Path):
    wide = pd.read_parquet(run_folder / "model.parquet")
    long = pd.read_parquet(run_folder / "organisations.parquet")
    orgs = list(yaml.safe_load((run_folder / "scenario.yaml").read_text(encoding="utf-8"))["organisations"])
    assert list(long.columns[:4]) == ["step", "year", "quarter", "organisation"]
    assert len(long) == len(wide) * len(orgs) == (STEPS + 1) * len(orgs)
    assert not long.duplicated(["step", "organisation"]).any()
    measures = [m for m in ORGANISATION_MEASURES if organisation_column(m, orgs[0]) in wide]
    assert list(long.columns[4:]) == measures and {"funding_share", "legitimacy_peers", "mandate_breadth"} <= set(
        measures)
    by = long.set_index(["organisation", "step"])
    for org in orgs:
        rows = by.loc[org].reindex(wide["step"])
        for m in measures:
            assert np.array_equal(rows[m].to_numpy(), wide[organisation_column(m, org)].to_numpy(), equal_nan=True)
        assert (rows["quarter"].to_numpy() == wide["quarter"].to_numpy()).all()
        assert (rows["year"].to_numpy() == wide["year"].to_numpy()).all()


@pytest.mark.parametrize("name", ["global_compact_2018", "central_asia"])
def test_every_per_organisation_column_of_the_model_table_is_in_the_long_table(name):
    """A fund's capture (fund_share_*) too; a new per-organisation measure must be registered in
    ORGANISATION_MEASURES or this fails."""
    m = MigovModel(name, seed=2, steps=3, collect_agents=False)
    m.run_model()
    wide, long = m.model_frame(), m.organisation_frame()
    per_org = {c for c in wide.columns for o in m.io.names if c.endswith(f"_{o}")}
    covered = {organisation_column(c, o) for c in long.columns[4:] for o in m.io.names}
    assert per_org == covered
    assert ("fund_share" in long) == (name == "global_compact_2018")
    for c in long.columns[4:]:
        table = long.pivot(index="step", columns="organisation", values=c)[m.io.names]
        expected = wide.set_index("step")[[organisation_column(c, o) for o in m.io.names]].to_numpy()
        assert np.array_equal(table.to_numpy(), expected, equal_nan=True)


# ---------------------------------------------------------------------------- agents_static.parquet
def test_static_table_joins_the_agent_table_without_unmatched_ids(run_folder: Path):
    static = pd.read_parquet(run_folder / "agents_static.parquet")
    agents = pd.read_parquet(run_folder / "agents.parquet")
    assert not static.duplicated(["agent", "type"]).any()
    joined = agents.merge(static, on=["agent", "type"], how="outer", indicator=True, suffixes=("", "_static"))
    assert (joined["_merge"] == "both").all()
    assert len(joined) == len(agents)
    assert set(map(tuple, static[["agent", "type"]].to_numpy())) == set(map(tuple, agents[["agent", "type"]]
                                                                            .drop_duplicates().to_numpy()))


def test_static_table_holds_the_scenarios_values(run_folder: Path):
    static = pd.read_parquet(run_folder / "agents_static.parquet").set_index("agent")
    raw = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    issues = yaml.safe_load((run_folder / "scenario.yaml").read_text(encoding="utf-8"))["issues"]
    for host, spec in raw["hosts"].items():
        row = static.loc[host]
        assert row["type"] == "host" and row["region"] == spec["region"]
        expected = 0.93 if host == "Libya" else spec.get("authoritarian", 0.3)  # --set, else the YAML or its default
        assert row["authoritarian"] == expected
        if "capacity" in spec:
            assert row["capacity"] == spec["capacity"]
        assert row["pressure"] == {k: float(spec.get("pressure", {}).get(k, 0.0)) for k in issues}
    for org, spec in raw["organisations"].items():
        row = static.loc[org]
        assert row["type"] == "organisation" and pd.isna(row["authoritarian"]) and pd.isna(row["region"])
        assert row["mandate"] == {k: float(spec.get("mandate", {}).get(k, 0.0)) for k in issues}
        for key in ("malleability", "capacity", "normative_anchor"):
            if key in spec:
                assert row[key] == spec[key], (org, key)
    for donor, spec in raw["donors"].items():
        assert static.loc[donor, "type"] == "donor" and pd.isna(static.loc[donor, "mandate"])
        if "scale_preference" in spec:
            assert static.loc[donor, "scale_preference"] == spec["scale_preference"]
    for ngo, spec in raw.get("ngos", {}).items():
        assert static.loc[ngo, "host"] == spec["host"]
        assert static.loc[ngo, "region"] == raw["hosts"][spec["host"]]["region"]


def test_sweep_static_table_is_per_point_when_the_design_sets_an_agent(sweep_folder: Path):
    res = load_results(sweep_folder)
    static = res.agents_static
    assert list(static.columns[:3]) == ["point", "agent", "type"]
    assert static.groupby("point").size().nunique() == 1 and set(static["point"]) == set(range(len(res.design)))
    libya = static[static["agent"] == "Libya"].set_index("point")["authoritarian"]
    assert (libya.to_numpy() == res.design["hosts.Libya.authoritarian"].to_numpy()).all()
    joined = res.runs.merge(static, on="point")
    assert len(joined) == len(res.runs) * static["point"].value_counts().iloc[0]


def test_sweep_static_table_is_the_base_scenarios_when_no_agent_is_set(tmp_path: Path, run_folder: Path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"""name: behaviour
scenario: {BASELINE}
parameters:
  parameters.uncertainty: {{levels: [0.2, 0.7]}}
design: {{type: grid}}
replicates: 1
steps: 2
""", encoding="utf-8")
    run_sweep(load_experiment(exp), tmp_path / "S", workers=1, executor="serial", quiet=True)
    static = pd.read_parquet(tmp_path / "S" / "agents_static.parquet")
    assert "point" not in static
    single = pd.read_parquet(run_folder / "agents_static.parquet")
    libya = single["agent"] == "Libya"
    single.loc[libya, "authoritarian"] = static.loc[static["agent"] == "Libya", "authoritarian"].to_numpy()
    pd.testing.assert_frame_equal(static, single)  # the run set Libya's score; all else is the base scenario's


# ---------------------------------------------------------------------------- provenance
def test_run_manifest_and_every_table_carry_the_same_provenance(run_folder: Path):
    man = json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["code_hash"] == code_hash() and man["migov_version"] == __version__ and man["seed"] == 3
    assert man["scenario_hash"] == MigovModel(BASELINE, overrides={"hosts.Libya.authoritarian": 0.93}
                                              ).scenario.content_hash()
    tables = sorted(run_folder.glob("*.parquet"))
    assert {p.name for p in tables} >= {"model.parquet", "organisations.parquet", "agents.parquet",
                                        "agents_static.parquet", "events.parquet", "network.parquet"}
    for p in tables:
        assert fields(read_provenance(p)) == fields(man), p.name


def test_sweep_manifest_and_tables_carry_the_same_provenance(sweep_folder: Path, run_folder: Path):
    man = json.loads((sweep_folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["code_hash"] == man["identity"]["code"] == code_hash() and man["seed"] == 11
    assert man["migov_version"] == __version__ and man["scenario_hash"] == man["identity"]["scenario"]
    run_man = json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))
    assert man["code_hash"] == run_man["code_hash"]  # one hash for a run and a sweep of the same code
    files = [sweep_folder / n for n in ("runs.parquet", "run_table.parquet", "design.parquet", "agents_static.parquet")]
    files += sorted(sweep_folder.glob("parts/*/*.parquet"))
    assert len(files) > 4
    for p in files:
        prov = read_provenance(p)
        assert fields(prov) == fields(man) and prov["experiment_hash"] == man["experiment_hash"], p


def test_analysis_manifest_carries_the_sweeps_provenance(sweep_folder: Path, tmp_path: Path):
    assert cli.main(["analyse", str(sweep_folder), "--out", str(tmp_path / "A"), "--measures", "hhi"]) == 0
    man = json.loads((tmp_path / "A" / "manifest.json").read_text(encoding="utf-8"))
    sweep = json.loads((sweep_folder / "manifest.json").read_text(encoding="utf-8"))
    assert fields(man) == fields(sweep)


def test_compare_manifest_and_tables_carry_the_same_provenance(tmp_path: Path):
    out = tmp_path / "C"
    assert cli.main(["compare", "baseline", "donor_consolidation", "--replicates", "2", "--steps", "4",
                     "--workers", "1", "--out", str(out), "--no-figures", "-q"]) == 0
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["code_hash"] == code_hash() and man["migov_version"] == __version__ and man["seed"] == 0
    assert man["scenario_hash"] == {k: v["hash"] for k, v in man["scenarios"].items()}
    for p in sorted(out.glob("*.parquet")):
        assert fields(read_provenance(p)) == fields(man), p.name
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs.columns[:6]) == ["scenario", "replicate", "seed", "step", "year", "quarter"]
    assert "quarter" not in pd.read_parquet(out / "final.parquet")


def test_claims_manifest_carries_provenance(tmp_path: Path):
    entry = {"id": "tiny", "claim": "c", "source": {"seed": "x", "passage": "y"}, "measure": {"name": "uncertainty"},
             "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                            "b": {"set": {"parameters.uncertainty": 0.8}}},
             "expected": "positive", "fails_if": "f", "steps": 3, "basis": "check", "min_replicates": 2,
             "mechanisms": ["environment.update_uncertainty"]}
    reg = tmp_path / "claims.yaml"
    reg.write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["claims", "--registry", str(reg), "--replicates", "2", "--workers", "1", "--seed", "5",
                     "--out", str(out), "-q"]) == 0
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    arm = sorted((out / "arms").iterdir())[0]  # each arm's runs, shared by the claims that use it
    runs = json.loads((arm / "runs" / "manifest.json").read_text(encoding="utf-8"))
    assert man["code_hash"] == runs["code_hash"] == code_hash() and man["migov_version"] == __version__
    assert man["seed"] == 5 and man["scenario_hash"] == {"tiny": runs["scenario_hash"]}


# ---------------------------------------------------------------------------- quarters
def test_quarter_labels_equal_the_event_logs_for_the_same_step(run_folder: Path):
    events = pd.read_parquet(run_folder / "events.parquet")
    assert len(events) > 0
    for name in ("model", "organisations"):
        table = pd.read_parquet(run_folder / f"{name}.parquet")[["step", "quarter"]].drop_duplicates()
        joined = events.merge(table, on="step", how="left", validate="many_to_one")
        assert joined["quarter"].notna().all() and (joined["date"] == joined["quarter"]).all(), name
    model = pd.read_parquet(run_folder / "model.parquet")
    assert model.loc[model["step"] == 1, "quarter"].item() == "1995Q1"


def test_sweep_series_keep_the_quarter_and_the_final_state_averages_numbers_only(sweep_folder: Path,
                                                                                   run_folder: Path):
    res = load_results(sweep_folder)
    assert list(res.series.columns[:4]) == ["run_id", "step", "year", "quarter"]
    model = pd.read_parquet(run_folder / "model.parquet").set_index("step")["quarter"]
    assert (res.series["quarter"].to_numpy() == model.loc[res.series["step"]].to_numpy()).all()
    assert "quarter" not in res.final and all(res.final[c].dtype.kind in "if" for c in res.final.columns)


def test_the_code_hash_covers_all_of_one_run(monkeypatch):
    """What a sweep stores (its columns too, e.g. ``one_run.TIME``) is decided by the whole module,
    so any change to it changes the code hash and an older folder is refused rather than resumed."""
    before = code_hash()
    real = inspect.getsource

    def edited(obj):
        return real(obj) + ("\n# edited" if obj is one_run else "")

    monkeypatch.setattr(loaded_module.inspect, "getsource", edited)
    assert code_hash() != before


def test_parquet_struct_columns_read_back_as_mappings(run_folder: Path):
    schema = pq.read_schema(run_folder / "agents_static.parquet")
    assert str(schema.field("mandate").type).startswith("struct<")
