"""The process table, read from /proc: which processes a test started are still alive.

Used by the fault tests (a killed coordinator must take its workers with it) and by the
session check that the suite leaves no process behind. Zombies count as gone: they hold no
resources and are reaped by whoever inherits them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2])


def processes() -> dict[int, tuple[int, int]]:
    """Every live (non-zombie) process: pid -> (parent pid, process group)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] != "Z":
                out[int(entry)] = (st[1], st[2])
    return out


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` in the process tree."""
    table = processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier and p not in found}
        found |= frontier
    return found


def in_group(pgid: int) -> set[int]:
    """Live processes in a process group (a session started with ``start_new_session``)."""
    return {p for p, (_, g) in processes().items() if g == pgid}


def wait_gone(pids: set[int], timeout: float = 60.0) -> set[int]:
    """Wait until none of ``pids`` is alive (polling the table); return those still alive."""
    deadline = time.monotonic() + timeout
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {p for p in left if alive(p)}
    return left


def cmdline(pid: int) -> str:
    """A process's command line, spaces between arguments ('' once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def tree(pid: int) -> dict[int, str]:
    """``pid`` and its live descendants, each with its command line (to kill only these, later)."""
    return {p: cmdline(p) for p in {pid} | descendants(pid) if alive(p)}


def kill_all(recorded: dict[int, str]) -> None:
    """SIGKILL each recorded process still alive with the same command line (so a reused pid is spared)."""
    for pid, cmd in recorded.items():
        if alive(pid) and cmdline(pid) == cmd:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def adopt_orphans() -> bool:
    """Make this process a child subreaper (Linux), so a process orphaned below it (its parent killed)
    is re-parented here rather than to init and still counts among ``descendants``. False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def sigint_as_from_a_terminal() -> None:
    """``preexec_fn`` for a command a test stops with Ctrl-C: SIGINT back to its default, as a
    terminal's shell leaves it. A shell that runs the tests in the background (``nohup``, ``&``)
    ignores SIGINT, every process it starts inherits that, and Python then installs no handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
