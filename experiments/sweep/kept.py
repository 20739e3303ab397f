"""Runs kept while a command that writes its folder whole at the end (``compare``, ``validate``)
is running: a resumable sweep in a hidden sibling of the output folder. Ctrl-C keeps its finished
runs and the same command resumes them; the command removes the store once its folder is written.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from migov.experiments.common.outdir import MANIFEST, migov_kind
from migov.experiments.sweep.engine import SweepInterrupted, load_results, run_sweep
from migov.experiments.sweep.loaded import LoadedExperiment
from migov.experiments.sweep.parallel import default_workers
from migov.experiments.sweep.store import SweepResults


def run_store(out: Path) -> Path:
    """Where the runs of a command writing ``out`` are kept: ``.NAME.runs`` beside it."""
    out = Path(out)
    return out.parent / f".{out.name}.runs"


def _stale(store: Path, loaded: LoadedExperiment) -> bool:
    """An earlier run of the same command under other settings (seeds, replicates, steps,
    scenarios or code): migov's own unfinished store, which cannot be resumed and is started again."""
    if migov_kind(store) != "sweep":
        return False
    old = json.loads((store / MANIFEST).read_text(encoding="utf-8"))
    return old.get("experiment", {}).get("name") == loaded.exp.name and old.get("experiment_hash") != loaded.hash


def run_kept(make: Callable[[Path], LoadedExperiment], store: Path | None, workers: int | None = None,
             quiet: bool = False, **load) -> SweepResults:
    """Build the experiment for ``store`` (``make``), run it there and read it back (``load``:
    ``load_results``' options). Without ``store`` a temporary one is used and removed."""
    with contextlib.ExitStack() as stack:
        if store is None:
            store = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migov-runs-"))) / "runs"
        store = Path(store)
        loaded = make(store)
        if _stale(store, loaded):
            shutil.rmtree(store)
        try:
            run_sweep(loaded, store, workers=workers or default_workers(), quiet=quiet)
        except SweepInterrupted:
            status = load_results(store, series=False).runs["status"]
            raise SweepInterrupted(f"interrupted; {int((status != 'pending').sum())} of {len(status)} runs are "
                                   f"finished and kept in {store}; run the same command again to resume") from None
        return load_results(store, **load)
