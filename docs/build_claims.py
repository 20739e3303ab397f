"""Build docs/claims.md (and docs/figures/claims/) from a full run of the claims registry.

    python docs/build_claims.py [--replicates 20] [--seed 0] [--workers N] [--samples 24]

Three parts: the verdicts at the scenarios' parameters (``migov claims``, Holm-adjusted across the
registry), every claim over a Latin hypercube of the behavioural parameters (``migov claims
--design lhs``: the share of the space where it holds, and PRIM's box), and the hand-written
discussion in ``docs/claims_discussion.md``, which says what the numbers mean and must be reread
whenever they change. The page states the commands, replicate counts and seed that produced it.
Runs are kept in ``--runs`` (default results/claims-docs) and resumed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migov.experiments.claims.registry import REGISTRY, adjust, load_registry, run_claim  # noqa: E402
from migov.experiments.claims.report import write_report  # noqa: E402
from migov.experiments.claims.where import run_where, where_text, write_where_overview  # noqa: E402
from migov.experiments.sweep.parallel import default_workers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=None, help="replicates per arm (default: each claim's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--runs", type=Path, default=ROOT / "results" / "claims-docs")
    ap.add_argument("--samples", type=int, default=24, help="Latin hypercube samples per claim")
    ap.add_argument("--lhs-replicates", type=int, default=2, help="replicates per arm at each sample")
    ap.add_argument("--figures", nargs="*", default=["knowledge_pays_under_uncertainty", "malleable_iom_grows_share"],
                    help="claims whose PRIM figure and box are shown in full")
    args = ap.parse_args()
    claims = load_registry(REGISTRY).claims
    workers = args.workers or default_workers()
    verdicts = adjust([run_claim(c, args.runs, args.replicates, workers, seed=args.seed, quiet=True) for c in claims])
    reps = f" --replicates {args.replicates}" if args.replicates else ""
    command = (f"python docs/build_claims.py{reps} --seed {args.seed} --samples {args.samples} "
               f"--lhs-replicates {args.lhs_replicates} --figures {' '.join(args.figures)}")
    md, _ = write_report(verdicts, args.runs, command, args.seed)
    figs = ROOT / "docs" / "figures" / "claims"
    figs.mkdir(parents=True, exist_ok=True)
    for png in (args.runs / "figures").glob("*.png"):
        shutil.copy(png, figs / png.name)
    text = re.sub(r"\]\(figures/", "](figures/claims/", md.read_text(encoding="utf-8"))
    over = [run_where(c, args.runs, args.samples, args.lhs_replicates, workers, seed=args.seed, quiet=True)
            for c in claims]
    overview = write_where_overview(over, args.runs, f"migov claims --design lhs --samples {args.samples} "
                                                     f"--replicates {args.lhs_replicates} --seed {args.seed}")
    space = overview.read_text(encoding="utf-8").replace("# Claims", "## Claims", 1)
    # each claim links to its own section of this page
    space = re.sub(r"\]\(([a-z0-9_]+)/where/[^)]*where\.md\)", r"](#\1)", space)  # anchors keep underscores
    discussion = (ROOT / "docs" / "claims_discussion.md").read_text(encoding="utf-8")
    # the discussion and the space come before the per-claim sections, after the verdict tables
    head, sep, tail = text.partition("\n## ")
    text = head + "\n" + discussion + "\n" + space + sep + tail
    for w in over:
        if w.claim.id in args.figures:
            shutil.copy(args.runs / w.claim.id / w.folder / "where.png", figs / f"where_{w.claim.id}.png")
            section = where_text(w).replace("# Where", "## Where", 1)
            text += "\n" + section.replace("](where.png)", f"](figures/claims/where_{w.claim.id}.png)") + "\n"
    (ROOT / "docs" / "claims.md").write_text(text, encoding="utf-8")
    print(ROOT / "docs" / "claims.md")


if __name__ == "__main__":
    main()
