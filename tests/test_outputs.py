"""Output folders: migov never destroys what it did not write.

Every case goes through the command line (``cli.main`` in-process, or the console entry point)
and checks the exit status, the one-line message and the disk afterwards: a user's files are
byte-identical, nothing is renamed, and no hidden ``.NAME.partial-*`` sibling is left behind.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from migov.experiments import cli
from migov.experiments.common import outdir
from migov.experiments.sweep.engine import run_sweep
from migov.experiments.sweep.loaded import load_experiment

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
RUN = ["run", "baseline", "--steps", "2", "--no-figures", "--no-agents", "-q"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, argv: list[str], needle: str) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("migov: error: ") and err.count("\n") == 1, err
    assert needle in err, err
    assert "Traceback" not in err
    return err.strip()


def partials(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name]


def user_folder(tmp_path: Path, name: str = "mine") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "notes.txt").write_bytes(b"my thesis notes\n\x00\xff")
    return folder


def make_read_only(folder: Path) -> None:
    folder.chmod(0o555)
    if folder.stat().st_mode & stat.S_IWUSR:
        pytest.skip("chmod has no effect on this filesystem")


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    exp = tmp / "exp.yaml"
    exp.write_text(f"""name: exp
scenario: {BASELINE}
parameters:
  donors.*.scale_preference: {{levels: [0.2, 0.8]}}
  parameters.uncertainty: {{range: [0.1, 0.9], points: 2}}
design: {{type: grid}}
replicates: 2
seed: 7
steps: 6
""", encoding="utf-8")
    out = tmp / "S"
    run_sweep(load_experiment(exp), out, workers=1, executor="serial", quiet=True)
    return out


@pytest.fixture
def earlier_run(tmp_path: Path) -> Path:
    out = tmp_path / "res"
    assert cli.main([*RUN, "--seed", "1", "--out", str(out)]) == 0
    return out


# --------------------------------------------------------------------------- a user's folder
def test_run_refuses_a_users_folder_before_running(capsys, monkeypatch, tmp_path: Path):
    from migov.experiments.analysis import run_folder as run_command

    folder = user_folder(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.setattr(run_command, "run_scenario", lambda *a, **k: pytest.fail("ran before checking --out"))
    err = refused(capsys, [*RUN, "--out", str(folder)], "is not empty and was not written by migov")
    assert err == (f"migov: error: --out {folder}: is not empty and was not written by migov (it holds notes.txt); "
                   "choose a new or empty folder")
    refused(capsys, [*RUN, "--out", str(folder), "--overwrite"], "(it holds notes.txt)")
    assert snapshot(tmp_path) == before and partials(tmp_path) == []


def test_compare_refuses_a_users_folder_before_running(capsys, monkeypatch, tmp_path: Path):
    from migov.experiments.analysis import comparison as compare_command

    folder = user_folder(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.setattr(compare_command, "compare_scenarios", lambda *a, **k: pytest.fail("ran before checking"))
    refused(capsys, ["compare", "baseline", "eutf_2015", "-n", "1", "--out", str(folder), "--overwrite", "-q"],
            "(it holds notes.txt)")
    assert snapshot(tmp_path) == before


def test_analyse_refuses_a_users_folder_and_the_sweep_itself(capsys, sweep_folder: Path, tmp_path: Path):
    folder = user_folder(tmp_path)
    mine, sweep = snapshot(tmp_path), snapshot(sweep_folder)
    refused(capsys, ["analyse", str(sweep_folder), "--out", str(folder), "-q"], "(it holds notes.txt)")
    err = refused(capsys, ["analyse", str(sweep_folder), "--out", str(sweep_folder), "--overwrite", "-q"],
                  "holds an input of this command")
    assert err == (f"migov: error: --out {sweep_folder}: holds an input of this command ({sweep_folder}); "
                   "choose another folder")
    refused(capsys, ["analyse", str(sweep_folder / "parts"), "--out", str(sweep_folder), "-q"], "not a sweep folder")
    assert snapshot(tmp_path) == mine and snapshot(sweep_folder) == sweep
    assert partials(sweep_folder.parent) == []


def test_run_refuses_the_folder_holding_its_scenario(capsys, tmp_path: Path):
    some = tmp_path / "some" / "dir"
    some.mkdir(parents=True)
    (some / "x.yaml").write_bytes(BASELINE.read_bytes())
    refused(capsys, ["run", str(some / "x.yaml"), "--steps", "2", "-q", "--out", str(some)],
            f"holds an input of this command ({some / 'x.yaml'})")
    refused(capsys, ["run", str(some / "x.yaml"), "--steps", "2", "-q", "--out", str(tmp_path / "some")],
            "holds an input")
    assert [p.name for p in some.iterdir()] == ["x.yaml"]


# --------------------------------------------------------------------------- refused whatever the flags
@pytest.mark.parametrize(("out", "needle"), [(".", "--out .: is the working folder; "),
                                             ("..", "--out ..: contains the working folder; ")])
def test_working_folder_and_its_parent_are_refused(capsys, monkeypatch, tmp_path: Path, out: str, needle: str):
    inner = tmp_path / "work" / "inner"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    refused(capsys, [*RUN, "--out", out, "--overwrite"], needle)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["work", "work/inner"]
    assert partials(tmp_path) == [] and partials(tmp_path / "work") == []


def test_protected_folders_are_refused(capsys, monkeypatch, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()  # empty: refused because it is the home folder, not because it holds anything
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    refused(capsys, [*RUN, "--out", str(home), "--overwrite"], f"--out {home}: is the home folder; ")
    refused(capsys, [*RUN, "--out", "/", "--overwrite"], "--out /: is the filesystem root; choose a new folder")
    refused(capsys, [*RUN, "--out", str(ROOT), "--overwrite"], "is migov's repository folder")
    for name in ("scenarios", "experiments", "model", "docs", "tests"):
        refused(capsys, [*RUN, "--out", str(ROOT / name), "--overwrite"], f"is migov's {name}/ folder")
    refused(capsys, [*RUN, "--out", str(ROOT.parent), "--overwrite"], "contains")
    assert list(home.iterdir()) == [] and partials(ROOT) == [] and partials(ROOT.parent) == []
    assert (ROOT / "pyproject.toml").is_file() and (ROOT / "scenarios" / "baseline.yaml").is_file()


def test_no_traceback_from_the_console_entry_point(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "migov", *RUN, "--out", "."], capture_output=True,
                          text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert proc.stderr == "migov: error: --out .: is the working folder; choose a new folder for the results\n"
    assert list(tmp_path.iterdir()) == []


def test_a_file_is_refused(capsys, tmp_path: Path):
    f = tmp_path / "f"
    f.write_text("data")
    refused(capsys, [*RUN, "--out", str(f), "--overwrite"], f"--out {f}: exists and is not a folder")
    assert f.read_text() == "data"


def test_read_only_folders_are_refused(capsys, tmp_path: Path):
    """Read-only = the owner write bit is off (chmod 555), which holds for root too."""
    ro, empty, parent = user_folder(tmp_path, "ro"), tmp_path / "empty", tmp_path / "parent"
    empty.mkdir()
    parent.mkdir()
    before = snapshot(tmp_path)
    for d in (ro, empty, parent):
        make_read_only(d)
    try:
        refused(capsys, [*RUN, "--out", str(ro)], f"--out {ro}: is read-only, and migov does not write there")
        refused(capsys, [*RUN, "--out", str(empty)], "is read-only")
        refused(capsys, [*RUN, "--out", str(parent / "new" / "deeper")], f"cannot be created: {parent} is read-only")
        assert list(empty.iterdir()) == [] and list(parent.iterdir()) == []
        assert snapshot(tmp_path) == before
    finally:
        for d in (ro, empty, parent):
            d.chmod(0o755)


# --------------------------------------------------------------------------- migov's own results
def test_an_earlier_result_needs_overwrite(capsys, earlier_run: Path):
    before = snapshot(earlier_run)
    date = json.loads((earlier_run / "manifest.json").read_text())["created_utc"][:10]
    err = refused(capsys, [*RUN, "--seed", "2", "--out", str(earlier_run)], "holds an earlier migov result")
    assert err == (f"migov: error: --out {earlier_run}: holds an earlier migov result (run, {date}); add --overwrite "
                   "to replace it, or choose another folder")
    assert snapshot(earlier_run) == before


def test_overwrite_replaces_an_earlier_result(earlier_run: Path):
    assert cli.main([*RUN, "--seed", "2", "--out", str(earlier_run), "--overwrite"]) == 0
    man = json.loads((earlier_run / "manifest.json").read_text())
    assert man["seed"] == 2 and man["written_by"] == "migov" and man["kind"] == "run"
    assert sorted(man["files"]) == sorted(outdir.entries(earlier_run))
    assert [p.name for p in earlier_run.parent.iterdir()] == ["res"]


def test_a_failure_while_overwriting_leaves_the_old_result(monkeypatch, earlier_run: Path):
    from migov.experiments.analysis import run_folder as run_command

    before = snapshot(earlier_run)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_command, "write_parquet", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        cli.main([*RUN, "--seed", "2", "--out", str(earlier_run), "--overwrite"])
    assert snapshot(earlier_run) == before
    assert [p.name for p in earlier_run.parent.iterdir()] == ["res"]


def test_overwrite_refuses_a_result_holding_a_users_file(capsys, earlier_run: Path):
    (earlier_run / "my_note.txt").write_text("do not delete")
    before = snapshot(earlier_run)
    refused(capsys, [*RUN, "--out", str(earlier_run), "--overwrite"],
            f"--out {earlier_run}: holds my_note.txt, which migov did not write (its manifest does not list it); "
            "nothing was replaced")
    assert snapshot(earlier_run) == before


def test_overwrite_refuses_a_read_only_result(capsys, earlier_run: Path):
    before = snapshot(earlier_run)
    make_read_only(earlier_run)
    try:
        refused(capsys, [*RUN, "--out", str(earlier_run), "--overwrite"], "is read-only")
    finally:
        earlier_run.chmod(0o755)
    assert snapshot(earlier_run) == before


def test_an_empty_folder_is_written(tmp_path: Path):
    out = tmp_path / "empty"
    out.mkdir()
    assert cli.main([*RUN, "--out", str(out)]) == 0
    assert (out / "model.parquet").is_file() and [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_a_crashed_writers_partial_sibling_is_cleaned(tmp_path: Path):
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: its pid stands for a writer that died
    host = socket.gethostname()
    dead = tmp_path / f".res.partial-{child.pid}-{host}-abcd1234"
    dead.mkdir()
    (dead / "model.parquet").write_text("half written")
    live = tmp_path / f".res.partial-{os.getppid()}-{host}-abcd1234"  # our parent is alive
    elsewhere = tmp_path / f".res.partial-{child.pid}-other-node.example-abcd1234"  # a shared filesystem
    other = tmp_path / f".resx.partial-{child.pid}-{host}-abcd1234"  # another destination's
    for d in (live, elsewhere, other):
        d.mkdir()
    assert cli.main([*RUN, "--out", str(tmp_path / "res")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, elsewhere.name, other.name, "res"])


def test_analyse_overwrites_only_its_own_analysis(capsys, sweep_folder: Path, tmp_path: Path):
    out = tmp_path / "an"
    assert cli.main(["analyse", str(sweep_folder), "--measures", "hhi", "--out", str(out), "-q"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "analysis" and man["sweep"] == str(sweep_folder) and "summary.md" in man["files"]
    refused(capsys, ["analyse", str(sweep_folder), "--out", str(out), "-q"], "holds an earlier migov result (analysis")
    assert cli.main(["analyse", str(sweep_folder), "--measures", "uncertainty", "--out", str(out), "-q",
                     "--overwrite"]) == 0
    assert (out / "effects_uncertainty.png").is_file() and not (out / "effects_hhi.png").exists()


def test_an_analysis_from_before_manifests_is_recognised(tmp_path: Path):
    old = tmp_path / "analysis"
    old.mkdir()
    (old / "variance.csv").write_text("x\n")
    (old / "summary.md").write_text("# Analysis of sweep `g`\n\n## Files\n\n- [variance.csv](variance.csv)\n")
    found = outdir.recognise(old)
    assert found.kind == "analysis" and set(found.files) == {"variance.csv", "summary.md"}
    (old / "mine.txt").write_text("x")
    assert outdir.unlisted(old, found.files) == ["mine.txt"]


def test_results_from_before_the_marker_are_recognised(tmp_path: Path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"versions": {"migov": "0.1.0"}, "files": ["model.parquet"],
                                                   "created_utc": "2026-11-30T10:00:00+00:00"}))
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "manifest.json").write_text(json.dumps({"experiment_hash": "abc"}))
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"name": "someone else's"}))
    assert outdir.recognise(run) == outdir.Found("run", "2026-11-30", ("model.parquet", "manifest.json"))
    assert outdir.migov_kind(sweep) == "sweep" and outdir.migov_kind(other) is None
    assert outdir.migov_kind(tmp_path / "missing") is None


def test_a_claims_folder_from_before_manifests_is_resumed(tmp_path: Path):
    old = tmp_path / "claims"
    (old / "tiny" / "round-0" / "runs").mkdir(parents=True)
    (old / "tiny" / "round-0" / "runs" / "manifest.json").write_text(json.dumps({"experiment_hash": "abc"}))
    assert outdir.migov_kind(old) == "claims"
    outdir.open_accumulating(old, "claims")
    assert json.loads((old / "manifest.json").read_text())["written_by"] == "migov"
    assert (old / "tiny" / "round-0" / "runs" / "manifest.json").is_file()


def test_replacing_removes_only_listed_files(capsys, tmp_path: Path):
    """Should a file appear between the last check and the swap, it is kept, not deleted."""
    old = tmp_path / ".res.partial-1-h-x"
    (old / "figures").mkdir(parents=True)
    for name in ("model.parquet", "figures/a.png", "late.txt"):
        (old / name).write_text(name)
    outdir._retire(old, ["model.parquet", "figures/a.png", "manifest.json"], tmp_path / "res")
    kept = [p for p in tmp_path.iterdir() if ".res.replaced-" in p.name]
    assert len(kept) == 1 and snapshot(kept[0]) == {"late.txt": b"late.txt"} and not old.exists()
    assert "held files its manifest did not list" in capsys.readouterr().err


def test_a_sweep_without_a_file_list_is_never_replaced(capsys, sweep_folder: Path):
    before = snapshot(sweep_folder)
    refused(capsys, [*RUN, "--out", str(sweep_folder), "--overwrite"], "manifest lists no files")
    assert snapshot(sweep_folder) == before


def test_swapping_without_renameat2(monkeypatch, tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "new").write_text("new")
    (b / "old").write_text("old")
    outdir._exchange(a, b)
    assert [p.name for p in b.iterdir()] == ["new"] and [p.name for p in a.iterdir()] == ["old"]
    monkeypatch.setattr(outdir.ctypes, "CDLL", lambda *a, **k: object())  # a C library without renameat2
    outdir._exchange(a, b)
    assert [p.name for p in b.iterdir()] == ["old"] and [p.name for p in a.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


# --------------------------------------------------------------------------- claims and the dashboard
def test_claims_folder_must_be_new_empty_or_a_claims_folder(capsys, earlier_run: Path, tmp_path: Path):
    folder = user_folder(tmp_path)
    before = snapshot(folder)
    refused(capsys, ["claims", "--only", "scale_concentrates_funding", "--out", str(folder), "-q"],
            "(it holds notes.txt)")
    refused(capsys, ["claims", "--where", "scale_concentrates_funding", "--out", str(folder), "-q"],
            "(it holds notes.txt)")
    refused(capsys, ["claims", "--only", "scale_concentrates_funding", "--out", str(earlier_run), "-q"],
            "holds a migov run result")
    refused(capsys, ["claims", "--out", str(ROOT / "experiments"), "-q"], "is migov's experiments/ folder")
    assert snapshot(folder) == before


def test_claims_folder_gets_a_manifest_and_resumes(tmp_path: Path):
    import yaml

    entry = {"id": "tiny", "claim": "c", "source": {"seed": "x.md", "passage": "p"},
             "measure": {"name": "uncertainty"}, "basis": "check", "mechanisms": ["environment.update_uncertainty"],
             "comparison": {"type": "contrast", "a": {"set": {"parameters.uncertainty": 0.1}},
                            "b": {"set": {"parameters.uncertainty": 0.8}}},
             "expected": "positive", "fails_if": "f", "steps": 2}
    reg = tmp_path / "claims.yaml"
    reg.write_text(yaml.safe_dump({"claims": [entry]}), encoding="utf-8")
    out = tmp_path / "claims"
    argv = ["claims", "--registry", str(reg), "--replicates", "2", "--workers", "1", "--executor", "serial",
            "--out", str(out), "-q"]
    assert cli.main(argv) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["written_by"] == "migov" and man["kind"] == "claims"
    assert {"tiny/", "report.md", "report.html", "verdicts.csv", "figures/tiny.png"} <= set(man["files"])
    assert cli.main(argv) == 0  # an earlier claims folder is resumed, no --overwrite needed


def test_dashboard_export_never_replaces_a_folder(capsys, earlier_run: Path, tmp_path: Path):
    from migov.experiments.analysis.run_folder import write_run
    from migov.experiments.sweep.runner import run_scenario
    from migov.model import load_scenario

    taken = tmp_path / "baseline-seed1-step2"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert outdir.fresh_subfolder(tmp_path, "baseline-seed1-step2") == tmp_path / "baseline-seed1-step2-2"
    sc = load_scenario(BASELINE)
    result = run_scenario(sc, 1, steps=2, collect_agents=False)
    with pytest.raises(outdir.OutputError, match="holds an earlier migov result"):
        write_run(result, sc, earlier_run, figures=False, kind="dashboard-export")
    folder = write_run(result, sc, outdir.fresh_subfolder(tmp_path, taken.name), figures=False,
                       kind="dashboard-export")
    assert outdir.migov_kind(folder) == "dashboard-export" and (taken / "notes.txt").read_text() == "mine"
