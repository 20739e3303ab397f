"""How many worker processes to use by default: the cores this process may run on."""

from __future__ import annotations

import os


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
