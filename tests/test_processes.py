"""Child processes never outlive migov (``migov.experiments.common.processes``), checked on stand-in servers.

A small Python program plays the server (so these run in a second, without Solara): one that
starts a process of its own, one that ignores SIGTERM. The supervisor is ``run_supervised`` in a
process of its own, signalled as a user or a batch system would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from migov.experiments.common.processes import run_supervised
from procs import kill_all, tree, wait_gone

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
DEADLINE_S = 60  # generous: only reached when something is wrong
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux only")

SUPERVISOR = ("import sys\nfrom migov.experiments.common.processes import run_supervised\n"
              "sys.exit(run_supervised([sys.executable, '-c', sys.argv[1]], grace=float(sys.argv[2])))")
SLEEPER = "import time; time.sleep(600)"
SERVER = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {SLEEPER!r}])\ntime.sleep(600)"
STUBBORN = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SERVER  # its child ignores it too


def until(ready, what: str) -> None:
    """Poll ``ready()`` until true (the deadline only guards against a hang)."""
    deadline = time.monotonic() + DEADLINE_S
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def supervise(server: str, processes: int, grace: float = 10.0) -> tuple[subprocess.Popen, dict[int, str]]:
    """Start the supervisor on ``server`` and wait until ``processes`` processes run (it included)."""
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, server, str(grace)], cwd=ROOT, env=ENV)
    try:
        until(lambda: len(tree(proc.pid)) >= processes or proc.poll() is not None, "the stand-in server")
    except BaseException:
        kill_all(tree(proc.pid))
        raise
    return proc, tree(proc.pid)


def finish(proc: subprocess.Popen, started: dict[int, str]) -> None:
    kill_all(started)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_stops_the_server_and_the_processes_it_started(sig):
    if sig == signal.SIGHUP and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        pytest.skip("SIGHUP is ignored here (nohup?), so the supervisor rightly keeps ignoring it")
    proc, started = supervise(SERVER, 3)
    try:
        assert len(started) == 3, started  # supervisor, server, the server's own child
        proc.send_signal(sig)
        status = proc.wait(timeout=DEADLINE_S)
        assert not wait_gone(set(started), timeout=DEADLINE_S)
        # SIGINT and SIGTERM are how a user stops it: success. After SIGHUP the server's own status
        # (here the stand-in died of the SIGTERM it was sent: 128 + 15).
        assert status == (128 + signal.SIGTERM if sig == signal.SIGHUP else 0)
    finally:
        finish(proc, started)


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_period():
    proc, started = supervise(STUBBORN, 3, grace=0.5)
    try:
        proc.terminate()
        assert proc.wait(timeout=DEADLINE_S) == 0
        assert not wait_gone(set(started), timeout=DEADLINE_S)
    finally:
        finish(proc, started)


@linux_only
def test_the_server_goes_when_the_supervisor_is_killed():
    proc, started = supervise(SLEEPER, 2)
    try:
        assert len(started) == 2, started
        proc.kill()
        assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
        assert not wait_gone(set(started), timeout=DEADLINE_S)
    finally:
        finish(proc, started)


def test_the_servers_own_exit_status_is_passed_on_and_the_handlers_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert run_supervised([sys.executable, "-c", "raise SystemExit(3)"]) == 3
    assert run_supervised([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]) == 137
    assert {s: signal.getsignal(s) for s in before} == before


@linux_only
def test_die_with_parent_at_a_workers_start(tmp_path):
    armed = tmp_path / "armed"
    worker = ("import sys, time\nfrom migov.experiments.common.processes import die_with_parent\ndie_with_parent()\n"
              "open(sys.argv[1], 'w').close()\ntime.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {worker!r}, {str(armed)!r}])\n"
                               f"time.sleep(600)"], cwd=ROOT, env=ENV)
    started: dict[int, str] = {}
    try:
        until(lambda: armed.exists() or parent.poll() is not None, "the worker to arm its signal")
        started = tree(parent.pid)
        assert len(started) == 2, started
        parent.kill()
        parent.wait(timeout=DEADLINE_S)
        assert not wait_gone(set(started), timeout=DEADLINE_S)
    finally:
        finish(parent, started)


@linux_only
def test_die_with_parent_when_the_parent_is_already_gone():
    # the parent died between fork and arming: getppid is no longer the expected parent, so it goes at once
    code = ("from migov.experiments.common.processes import die_with_parent\ndie_with_parent(parent=1)\n"
            "import time; time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=ENV)
    try:
        assert proc.wait(timeout=DEADLINE_S) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
