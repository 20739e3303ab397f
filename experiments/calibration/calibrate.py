"""``migov calibrate``: ABC-SMC on a calibration file into a folder that is new, empty or an earlier
calibration of the same file (``--resume``), then the report.

The folder holds pyabc's database from the first generation on, so a stop at any point (Ctrl-C,
``kill -9``, a lost machine) keeps every finished generation; ``--resume`` continues from the last
one under the same file, scenario and code, and refuses anything else.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from migov.experiments.calibration.engine import DB_FILE, SCALE_LOG, run_abc
from migov.experiments.calibration.report import (
    calibrated_scenario,
    diagnostics,
    diagnostics_figure,
    failures,
    identification,
    marginals_figure,
    pairs_figure,
    posterior_table,
    report_markdown,
    scale_weights,
    targeted,
)
from migov.experiments.calibration.simulate import FAILURES, Simulator
from migov.experiments.calibration.spec import Budget, LoadedCalibration
from migov.experiments.common.outdir import OutputError, open_accumulating, read_manifest, record_files
from migov.experiments.common.storage import write_parquet
from migov.experiments.sweep.engine import SweepInterrupted
from migov.experiments.sweep.kept import run_store
from migov.experiments.sweep.loaded import code_hash
from migov.experiments.sweep.posterior import POSTERIOR_FILE
from migov.experiments.sweep.provenance import provenance
from migov.experiments.sweep.runner import package_versions
from migov.experiments.validation.facts import LAST_IN_SAMPLE_YEAR

KIND = "calibration"


@dataclass
class Outcome:
    out: Path
    generations: int
    runs: int
    stop: str
    identification: object
    predictive: object | None


def identity(loaded: LoadedCalibration, budget_name: str) -> dict:
    """What decides a calibration's numbers: its file, the scenario, the facts it fits, the model's and
    the calibration's code, the budget. ``--resume`` under any other is refused."""
    import hashlib

    from migov.experiments.calibration import engine, simulate, spec

    calibration_code = hashlib.sha256("".join(Path(m.__file__).read_text(encoding="utf-8")
                                              for m in (spec, simulate, engine)).encode()).hexdigest()[:16]
    return {"calibration_hash": loaded.cal.content_hash(), "scenario_hash": loaded.base.content_hash(),
            "facts_hash": hashlib.sha256(Path(loaded.facts_path).read_bytes()).hexdigest()[:16],
            "code_hash": code_hash(), "calibration_code_hash": calibration_code, "budget": budget_name}


def open_folder(loaded: LoadedCalibration, out: Path, resume: bool, budget_name: str) -> None:
    """New, empty or migov's calibration of this same file (with ``--resume``); else one line."""
    open_accumulating(out, KIND, [loaded.path, loaded.scenario_path])
    has_db = (out / DB_FILE).exists()
    mine = identity(loaded, budget_name)
    if resume and not has_db:
        raise OutputError(out, "has no calibration to resume (no calibration.db); run without --resume to start one")
    if not resume and has_db:
        raise OutputError(out, "holds a calibration already; continue it with --resume, or choose another --out")
    if resume:
        old = (read_manifest(out) or {}).get("identity", {})
        changed = [k for k in mine if old.get(k) != mine[k]]
        if changed:
            what = {"calibration_hash": "the calibration file", "scenario_hash": "the scenario",
                    "facts_hash": "the facts file", "code_hash": "the model's code",
                    "calibration_code_hash": "the calibration's code",
                    "budget": "the budget (--quick or not)"}[changed[0]]
            raise OutputError(out, f"was calibrated under other settings ({what} changed since); a calibration "
                                   "cannot mix them: start a new one in another --out")
    record_files(out, [DB_FILE], {"identity": mine, "calibration_file": str(loaded.path)})


def stop_reason(message: str, diag, budget: Budget) -> str:
    """Why the calibration stopped: pyabc's own words, or (nothing left to run on a resume) the
    budget that was already spent."""
    if message:
        return f"{message[0].lower()}{message[1:]} (pyabc)"
    d = diag[diag["generation"] >= 0]
    if len(d) >= budget.generations:
        return f"the generation limit ({budget.generations}), reached before this invocation"
    return "a budget spent before this invocation (runs or wall time)"


def calibrate(loaded: LoadedCalibration, out: Path, quick: bool = False, resume: bool = False,
              executor: str = "processes", workers: int = 1, scheduler: str | None = None, quiet: bool = False,
              predictive: bool = True) -> Outcome:
    import matplotlib

    matplotlib.use("Agg")
    from migov.experiments.analysis.figures import save_figures
    from migov.experiments.validation.validate import plot_fact, validate_scenario

    out = Path(out)
    budget_name = "quick" if quick else "default"
    budget = loaded.cal.quick if quick else loaded.cal.budget
    open_folder(loaded, out, resume, budget_name)
    try:
        history, message = run_abc(loaded, out, budget, resume, executor, workers, scheduler, quiet)
    except KeyboardInterrupt:
        raise SweepInterrupted(f"interrupted; every finished generation is kept in {out / DB_FILE}; continue with: "
                               f"migov calibrate {loaded.path} --out {out} --resume"
                               + (" --quick" if quick else "")) from None
    sim = Simulator.of(loaded)
    prov = {**provenance(loaded.base.content_hash(), loaded.cal.seed), "command": "calibrate",
            "calibration": loaded.cal.name, "calibration_file": str(loaded.path),
            "calibration_hash": loaded.cal.content_hash(), "scenario_file": str(loaded.scenario_path),
            "facts_file": str(loaded.facts_path), "budget": budget_name,
            "last_in_sample_year": LAST_IN_SAMPLE_YEAR,
            "versions": {**package_versions(), "pyabc": metadata.version("pyabc")}}
    post = posterior_table(history, sim)
    if post.empty:
        raise SweepInterrupted(f"no generation finished; continue with: migov calibrate {loaded.path} --out {out} "
                               "--resume")
    diag = diagnostics(history, loaded.cal.replicates)
    ident = identification(post, sim)
    stop = stop_reason(message, diag, budget)
    weights = scale_weights(out / SCALE_LOG, {k: math.sqrt(w) for k, (*_, w) in zip(sim.keys(), loaded.rows,
                                                                                     strict=True)})
    failed = failures(out / FAILURES)
    write_parquet(post, out / POSTERIOR_FILE, prov)
    diag.to_csv(out / "diagnostics.csv", index=False)
    ident.to_csv(out / "identification.csv", index=False)
    files = [POSTERIOR_FILE, "diagnostics.csv", "identification.csv"]
    figs_dir = out / "figures"
    figs_dir.mkdir(exist_ok=True)
    title = f"{loaded.cal.name}: generation {int(post['generation'].max())}"
    figs = {"diagnostics": diagnostics_figure(diag, loaded.cal.name), "marginals": marginals_figure(post, sim, title)}
    if len(sim.paths) > 1:
        figs["pairs"] = pairs_figure(post, sim, title)
    files += [f"figures/{n}" for n in save_figures(figs, figs_dir, prov)]
    pred_table = default_table = None
    if predictive:
        n = budget.predictive
        store = run_store(out).with_name(f".{out.name}.predictive")
        val, vprov = validate_scenario(loaded.scenario_path, n, loaded.facts_path, workers, None, loaded.cal.seed,
                                       quiet, store, None, out)
        default_store = store.with_name(f".{out.name}.defaults")
        default, _ = validate_scenario(loaded.scenario_path, n, loaded.facts_path, workers, None, loaded.cal.seed,
                                       quiet, default_store)
        pred_table = targeted(val, sim)
        default_table = default.table
        write_parquet(pred_table, out / "predictive.parquet", {**prov, "posterior": vprov.get("posterior")})
        write_parquet(val.values, out / "predictive_values.parquet", prov)
        files += ["predictive.parquet", "predictive_values.parquet"]
        for fact in val.facts.facts:
            fig = {f"fact_{fact.id}": plot_fact(fact, val.annual, f"{val.scenario}, calibrated")}
            files += [f"figures/{x}" for x in save_figures(fig, figs_dir, prov)]
        prov["predictive_draws"] = n
        prov["predictive_posterior"] = vprov.get("posterior")
        for kept in (store, default_store):
            shutil.rmtree(kept, ignore_errors=True)
    (out / "report.md").write_text(report_markdown(loaded, diag, ident, pred_table, default_table, budget_name,
                                                   stop, prov, weights, failed), encoding="utf-8")
    (out / "calibrated.yaml").write_text(calibrated_scenario(loaded, ident, out), encoding="utf-8")
    files += ["report.md", "calibrated.yaml", *[f for f in (SCALE_LOG, FAILURES) if (out / f).exists()]]
    record_files(out, files, {"provenance": json.loads(json.dumps(prov, default=str)), "stopped": stop})
    return Outcome(out, int(post["generation"].max()) + 1, int(diag["runs"].sum()), stop, ident, pred_table)


