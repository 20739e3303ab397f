"""What every command shares: exit statuses, argument types, the one-line usage error."""

from __future__ import annotations

import argparse
from pathlib import Path

from migov.model.config import MAX_STEPS, library_dirs

EXIT_USAGE = 2
EXIT_FAILED_RUNS = 1  # a sweep finished, but some of its runs failed
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake in how the command was called."""


def scenario_dirs() -> list[Path]:
    """The scenario library folders (``model.config.library_dirs``, shared with ``extends``)."""
    return library_dirs()


def whole_number(low: int, what: str = "a number"):
    """An argparse type: a whole number of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what} >= {low}, got {value}")
        return value

    return parse


POSTERIOR_HELP = ("a calibration folder (migov calibrate): each replicate runs a parameter set drawn from its "
                  "posterior (weighted, seeded by --seed; recorded in the manifest), so results carry the "
                  "calibrated uncertainty; values given with --set win over drawn ones")

positive_int = whole_number(1)
seed_int = whole_number(0, "a seed")
ALLOW_LARGE_STEPS = f"accept --steps above {MAX_STEPS:,} (the schema's limit for simulation.steps)"
OVERWRITE_HELP = ("replace an earlier migov result in --out (atomically; refused if the folder holds anything "
                  "its manifest does not list)")


def shard_arg(text: str) -> tuple[int, int]:
    from migov.experiments.sweep.engine import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def check_steps(steps: int | None, allow_large: bool) -> None:
    """``--steps`` within the schema's limit, so a slip of the finger never runs for days in silence."""
    if steps is not None and steps > MAX_STEPS and not allow_large:
        raise UsageError(f"--steps: {steps:,} is more than {MAX_STEPS:,}, the limit for simulation.steps; expected "
                         f"at most {MAX_STEPS:,} (add --allow-large to run longer)")
