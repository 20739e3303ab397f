"""Who is writing a sweep folder: one lock file per running coordinator, so two never run the same runs.

A coordinator holds ``locks/shard-I-of-N.json`` (``shard-1-of-1`` for a whole sweep) with its pid,
host, process start time and its workers' pids, and refreshes the file's time every few seconds.
Shards of one split never overlap and run side by side; a second coordinator whose runs overlap a
live one's is refused. A lock is *stale* when its process is gone (same host: the pid is dead or
now belongs to a process that started later) or, for a lock from another host, when it has not
been refreshed for ``STALE_S`` seconds. A stale lock is taken over, after the dead coordinator's
workers (if any outlived it) are gone.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

LOCKS = "locks"
HEARTBEAT_S = 5.0
STALE_S = 120.0


class LockError(Exception):
    """Another live coordinator writes the same runs into this folder."""


def start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot; Linux), to tell a pid from its reuse."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else int(fields[19])


def _alive(pid: int, ticks: int | None) -> bool:
    if Path("/proc").is_dir():
        now = start_ticks(pid)
        return now is not None and (ticks is None or now == ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Do shard ``a`` = (i, n) and shard ``b`` share a run? (run r is in (i, n) when r % n == i - 1)."""
    g = math.gcd(a[1], b[1])
    return (a[0] - 1) % g == (b[0] - 1) % g


@dataclass
class SweepLock:
    path: Path
    info: dict
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def record_workers(self, pids: list[int]) -> None:
        """Note the worker processes, so whoever takes over a stale lock can wait for them."""
        self.info["workers"] = [[p, start_ticks(p)] for p in pids]
        _write(self.path, self.info)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            if json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.info["token"]:
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def __enter__(self) -> SweepLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write(path: Path, info: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(info, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_live(info: dict, path: Path) -> bool:
    if info.get("host") == socket.gethostname():
        return _alive(int(info.get("pid", -1)), info.get("start"))
    try:
        return time.time() - path.stat().st_mtime < STALE_S
    except OSError:
        return False


def _wait_for_workers(info: dict, timeout: float = 10.0) -> None:
    """A dead coordinator's workers die with it (parent-death signal); any that did not (another
    platform, an older migov) are killed once they have had ``timeout`` seconds to go."""
    if info.get("host") != socket.gethostname():
        return
    workers = [(int(p), t) for p, t in info.get("workers", [])]
    deadline = time.monotonic() + timeout
    while any(_alive(p, t) for p, t in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p, t in workers:
        if _alive(p, t):
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def _take_over(path: Path, info: dict) -> None:
    """Remove a stale lock (only one of several racing coordinators wins the rename)."""
    _wait_for_workers(info)
    grave = path.with_name(f".stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return
    grave.unlink(missing_ok=True)


def acquire(out: Path, shard: tuple[int, int] | None) -> SweepLock:
    """Take the lock for ``shard`` (None: the whole sweep) in ``out``, or raise LockError naming
    the live coordinator it would collide with."""
    mine = shard or (1, 1)
    folder = Path(out) / LOCKS
    folder.mkdir(exist_ok=True)
    path = folder / f"shard-{mine[0]}-of-{mine[1]}.json"
    info = {"pid": os.getpid(), "host": socket.gethostname(), "start": start_ticks(os.getpid()),
            "shard": list(mine), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "token": uuid.uuid4().hex, "workers": []}
    for _ in range(20):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = _read(path)
            if held is not None and is_live(held, path):
                raise LockError(_held_message(held)) from None
            _take_over(path, held or {})
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=1)
        break
    else:
        raise LockError(f"could not take {path} (it keeps being recreated)")
    lock = SweepLock(path, info)
    for other in sorted(folder.glob("shard-*.json")):
        held = _read(other)
        if other == path or held is None:
            continue
        if overlaps(mine, tuple(held.get("shard", (1, 1)))):
            if is_live(held, other):
                lock.release()
                raise LockError(_held_message(held))
            _take_over(other, held)
    lock._thread = threading.Thread(target=lock._beat, name="migov-lock-heartbeat", daemon=True)
    lock._thread.start()
    return lock


def _held_message(held: dict) -> str:
    i, n = held.get("shard", (1, 1))
    what = "the whole sweep" if n == 1 else f"shard {i}/{n}"
    return (f"another migov sweep (pid {held.get('pid')} on {held.get('host')}, started {held.get('started_utc')}) "
            f"is running {what} in this folder; wait for it to finish or stop it")
