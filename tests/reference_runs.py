"""Reference runs: the model's full output at a fixed commit, for checking that work on speed
changes nothing but speed (issue 15).

    python tests/reference_runs.py [CASE...]   # rewrite tests/data/reference_runs/ from the code as it is

Each case (scenario, seed, steps) keeps the model table, the agent table and the event log.
``test_reference_runs.py`` reruns every case and requires the same numbers (within 1e-12) and
the same events. Regenerate only when a change is meant to change results (a mechanism, a
scenario's data), and say so in the commit; never to make a speed-up pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

FOLDER = Path(__file__).resolve().parent / "data" / "reference_runs"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# a venue, a trust fund, the history world from data, the baseline at two seeds, and a world of
# three times the baseline's hosts and NGOs ("baseline*3", benchmarks/worlds.py)
CASES = [("baseline", 0, 60), ("baseline", 7, 60), ("eutf_2015", 3, 100), ("gmg_rotating_chair", 5, 60),
         ("history", 11, 40), ("baseline*3", 2, 40)]


def case_name(scenario: str, seed: int, steps: int) -> str:
    """The case's file stem: 'baseline-seed0-60', 'baseline-x3-seed2-40' (file names stay portable)."""
    return f"{scenario.replace('*', '-x')}-seed{seed}-{steps}"


def run_case(scenario: str, seed: int, steps: int) -> dict[str, pd.DataFrame]:
    from migov.model import MigovModel, load_scenario

    name, _, k = scenario.partition("*")
    world = load_scenario(name)
    if k:
        sys.path.insert(0, str(BENCHMARKS))
        from worlds import scaled

        world = scaled(world, int(k))
    m = MigovModel(world, seed=seed, steps=steps, collect_agents=True)
    while m.running:
        m.step()
    return {"model": m.model_frame(), "agents": m.agent_frame(), "events": m.events_frame()}


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=FOLDER).stdout.strip()
    only = sys.argv[1:]  # case names to write (default: all)
    record = FOLDER / "made_at.json"
    made = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}  # case -> commit
    for case in CASES:
        if only and case_name(*case) not in only:
            continue
        for table, frame in run_case(*case).items():
            frame.to_parquet(FOLDER / f"{case_name(*case)}.{table}.parquet", compression="zstd")
        made[case_name(*case)] = commit
    (FOLDER / "made_at.json").write_text(json.dumps(made, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
