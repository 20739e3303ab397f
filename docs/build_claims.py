"""Build docs/claims.md (and docs/figures/claims/) from a full run of the claims registry.

    python docs/build_claims.py [--replicates 20] [--seed 0] [--workers N]

The page states the command, the replicate count and the seed that produced it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments.claims.registry import REGISTRY, load_registry, run_claim  # noqa: E402
from migov.experiments.claims.report import write_report  # noqa: E402
from migov.experiments.claims.where import run_where  # noqa: E402
from migov.experiments.sweep.parallel import default_workers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--runs", type=Path, default=ROOT / "results" / "claims-docs")
    ap.add_argument("--where", nargs="*", default=["knowledge_pays_under_uncertainty", "malleable_iom_grows_share"],
                    help="claims to locate with PRIM (migov claims --where)")
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args()
    claims = load_registry(REGISTRY).claims
    workers = args.workers or default_workers()
    verdicts = [run_claim(c, args.runs, args.replicates, workers, seed=args.seed, quiet=True) for c in claims]
    command = (f"python docs/build_claims.py --replicates {args.replicates} --seed {args.seed} --samples {args.samples}"
               f" --where {' '.join(args.where)}")
    md, _ = write_report(verdicts, args.runs, command, args.seed)
    figs = ROOT / "docs" / "figures" / "claims"
    figs.mkdir(parents=True, exist_ok=True)
    for png in (args.runs / "figures").glob("*.png"):
        shutil.copy(png, figs / png.name)
    text = re.sub(r"\]\(figures/", "](figures/claims/", md.read_text(encoding="utf-8"))
    by_id = {c.id: c for c in claims}
    for cid in args.where:
        run_where(by_id[cid], args.runs, args.samples, 3, workers, seed=args.seed, quiet=True)
        folder = args.runs / cid / "where"
        shutil.copy(folder / "where.png", figs / f"where_{cid}.png")
        section = (folder / "where.md").read_text(encoding="utf-8").replace("# Where", "## Where", 1)
        text += "\n" + section.replace("](where.png)", f"](figures/claims/where_{cid}.png)")
    (ROOT / "docs" / "claims.md").write_text(text, encoding="utf-8")
    print(ROOT / "docs" / "claims.md")


if __name__ == "__main__":
    main()
