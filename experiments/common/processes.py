"""Child processes that never outlive migov.

``die_with_parent`` asks the kernel to signal a process when its parent dies, so a child does not
outlive even a ``kill -9`` of migov; ``run_supervised`` runs a long-lived server in its own process
group and stops the whole group on Ctrl-C, SIGTERM or SIGHUP. Linux has the parent-death signal;
elsewhere ``die_with_parent`` is a no-op and only the catchable signals stop the child.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` on Linux, else None. Loaded at import, in the parent: a ``preexec_fn`` runs
    between fork and exec, where loading a library is not safe."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies, even by SIGKILL.

    Call it at a worker's start, or pass it as ``subprocess.Popen(preexec_fn=die_with_parent)``: the
    setting survives ``exec``. ``parent`` is the pid the caller expects as parent (default: the
    current one); if that parent is already gone when the signal is armed, ``sig`` is sent at once.
    The kernel fires on the death of the parent *thread* that forked, so start children from a
    thread that lives as long as they should (the main thread). Linux only; a no-op elsewhere
    (macOS and Windows have no parent-death signal).
    """
    if _PRCTL is None:
        return
    expected = os.getppid() if parent is None else parent
    if _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != expected:  # the parent died before the signal was armed
        os.kill(os.getpid(), sig)


class _Stop(Exception):
    """Raised by the signal handler to break out of waiting for the child."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def exit_status(returncode: int) -> int:
    """A child's return code as a process exit status: death by signal N is 128 + N, as in a shell."""
    return 128 - returncode if returncode < 0 else returncode


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to ``proc``'s process group (just ``proc`` where there are none); gone is fine."""
    try:
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> int:
    """Stop ``proc`` and its process group (it must lead one: ``start_new_session=True``): SIGTERM,
    then SIGKILL after ``grace`` seconds; wait for it. Returns its return code."""
    if proc.poll() is None:
        signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)
            proc.wait()
    if os.name == "posix":
        signal_group(proc, signal.SIGKILL)  # any member of the group that outlived its leader
    return proc.returncode


def run_supervised(cmd: Sequence[str], env: Mapping[str, str] | None = None, grace: float = 10.0) -> int:
    """Run ``cmd`` until it exits or migov is asked to stop, and never leave it running.

    The child runs in its own session and process group (so it and anything it spawns are stopped
    together, and a terminal's Ctrl-C reaches only migov, which stops it in order) with the
    parent-death signal armed (so it goes even if migov is killed with SIGKILL). On SIGINT or SIGTERM
    the child's group is stopped and the status is 0; on SIGHUP (unless migov was started with it
    ignored, as under ``nohup``) the group is stopped and the status is the child's. When the child
    exits by itself, its status is returned (128 + N if signal N killed it). After a SIGKILL of migov
    nobody is left to stop the group: the child gets SIGTERM from the kernel, and processes it started
    go only if it stops them on SIGTERM (the parent-death signal is not inherited across fork).
    """
    stops = [signal.SIGINT, signal.SIGTERM]
    hup = getattr(signal, "SIGHUP", None)  # POSIX only
    if hup is not None and signal.getsignal(hup) is not signal.SIG_IGN:
        stops.append(hup)
    proc: subprocess.Popen | None = None
    stopping: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if not stopping:
            stopping.append(signum)
            raise _Stop(signum)
        if proc is not None:  # a second Ctrl-C while the server shuts down: kill it now
            signal_group(proc, signal.SIGKILL)

    previous = {s: signal.signal(s, on_signal) for s in stops}
    try:
        try:
            # a signal before Popen returns leaves a child that the parent-death signal ends
            arm = functools.partial(die_with_parent, parent=os.getpid()) if _PRCTL is not None else None
            proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=arm)
            return exit_status(proc.wait())
        except _Stop as stop:
            if proc is None:
                return 0
            code = stop_group(proc, grace)
            return exit_status(code) if stop.signum == hup else 0
    finally:
        if proc is not None and proc.returncode is None:  # an unexpected error while waiting
            stop_group(proc, grace)
        for s, handler in previous.items():
            signal.signal(s, handler)
