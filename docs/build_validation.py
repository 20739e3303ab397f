"""Rebuild the generated tables in docs/validation.md by running ``migov validate``.

    python docs/build_validation.py [--replicates 20] [--workers N]
    python docs/build_validation.py --calibration results/calibrate/history


Validates the history scenario with every mechanism switched off in turn (the ablations) and the
baseline, and replaces what stands between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` in
the page (history-run, history-in, history-out, history-ablations, baseline-run, baseline-in,
baseline-out). With ``--calibration DIR`` it runs nothing and fills the calibrated-history blocks
(CAL_BLOCKS) from a ``migov calibrate`` folder instead. The prose around the blocks is written by
hand from these tables: re-read it after a rebuild.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments.validation.validate import (  # noqa: E402
    ablation_markdown,
    ablation_table,
    markdown,
    validate_scenario,
)
from migov.model.config import Mechanisms  # noqa: E402

PAGE = ROOT / "docs" / "validation.md"
BLOCKS = ("history-run", "history-in", "history-out", "history-ablations", "baseline-run", "baseline-in",
          "baseline-out")
CAL_BLOCKS = ("calibrated-run", "calibrated-generations", "calibrated-identification", "calibrated-in",
              "calibrated-untargeted", "calibrated-out", "calibrated-beside")


def run_line(prov: dict, command: str) -> str:
    return (f"`{command}` (base seed {prov['base_seed']}, {prov['steps']} steps; code hash {prov['code_hash']}, "
            f"scenario hash {prov['scenario_hash']}, migov {prov['migov_version']}).")


def blocks(replicates: int, workers: int | None) -> dict[str, str]:
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        hist = ROOT / "scenarios" / "history.yaml"
        val, prov = validate_scenario(hist, replicates, workers=workers, quiet=True, store=store / "history")
        for name in Mechanisms.model_fields:
            print(f"history without {name}", file=sys.stderr)
            val.ablations[name], _ = validate_scenario(hist, replicates, workers=workers, quiet=True,
                                                       store=store / f"history-{name}",
                                                       overrides={f"mechanisms.{name}": False})
        out["history-run"] = run_line(prov, f"migov validate history --replicates {replicates} --ablations")
        out["history-in"] = markdown(val.table, "in-sample", sources=False)
        out["history-out"] = markdown(val.table, "out-of-sample", sources=False)
        out["history-ablations"] = ablation_markdown(ablation_table(val))
        print("baseline", file=sys.stderr)
        base, bprov = validate_scenario(ROOT / "scenarios" / "baseline.yaml", replicates, workers=workers,
                                        quiet=True, store=store / "baseline")
        out["baseline-run"] = run_line(bprov, f"migov validate baseline --replicates {replicates}")
        out["baseline-in"] = markdown(base.table, "in-sample", sources=False)
        out["baseline-out"] = markdown(base.table, "out-of-sample", sources=False)
    return out


def calibration_blocks(folder: Path) -> dict[str, str]:
    """The calibrated-history blocks from a calibration folder's report (its sections, verbatim)."""
    import json

    import pandas as pd

    report = (folder / "report.md").read_text(encoding="utf-8")

    def section(title: str) -> str:
        m = re.search(rf"^#+ {re.escape(title)}\n\n(.*?)(?=\n#+ |\Z)", report, re.S | re.M)
        if not m:
            raise SystemExit(f"{folder / 'report.md'}: no section '{title}'")
        return "\n".join(line for line in m.group(1).strip().splitlines() if not line.startswith("!["))

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    prov = manifest["provenance"]
    diag = pd.read_csv(folder / "diagnostics.csv")
    first = report.split("\n## ")[0].strip().splitlines()
    summary = " ".join(line for line in first[1:] if line.strip())
    return {
        "calibrated-run": f"`migov calibrate {prov['calibration']}` (calibration hash {prov['calibration_hash']}, "
                          f"code hash {prov['code_hash']}, scenario hash {prov['scenario_hash']}, migov "
                          f"{prov['migov_version']}, pyabc {prov['versions'].get('pyabc')}; "
                          f"{int(diag['runs'].sum())} runs). {summary}",
        "calibrated-generations": section("Generations"),
        "calibrated-identification": section("What the record identifies"),
        "calibrated-in": section("In-sample, targeted"),
        "calibrated-untargeted": section("In-sample, not targeted"),
        "calibrated-out": section("Out-of-sample (never seen by the calibration)"),
        "calibrated-beside": section("Beside the defaults"),
    }


def fill(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n)(?:.*?\n)?(<!-- end:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{PAGE}: no block '{name}' (expected <!-- begin:{name} --> ... <!-- end:{name} -->)")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--calibration", type=Path, default=None,
                    help="fill only the calibrated-history blocks, from this migov calibrate folder")
    args = ap.parse_args()
    text = PAGE.read_text(encoding="utf-8")
    if args.calibration:
        PAGE.write_text(fill(text, calibration_blocks(args.calibration)), encoding="utf-8")
        print(PAGE)
        return
    fill(text, {name: "" for name in BLOCKS})  # every block is there before anything runs
    PAGE.write_text(fill(text, blocks(args.replicates, args.workers)), encoding="utf-8")
    print(PAGE)


if __name__ == "__main__":
    main()
