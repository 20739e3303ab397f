"""Where migov may write: the one place that decides whether an output folder can be written.

migov never destroys what it did not write. It writes only into a folder that is new, empty, or
one migov itself wrote; "migov wrote it" means the folder's ``manifest.json`` carries
:func:`marker` (``written_by: migov`` and a ``kind``) and lists the files migov put there.
Results from before the marker are recognised by a manifest whose ``versions`` name migov or a
sweep's ``experiment_hash``, an analysis folder without a manifest by its ``summary.md`` (whose
Files section lists what it wrote), and a claims folder by the migov sweeps inside it.

Replacing an earlier result needs ``overwrite``; the new result is then complete in a hidden
sibling before the two are swapped (one atomic ``renameat2`` exchange on Linux), and only the
files the old manifest lists are removed: a folder holding anything else is refused, naming it.
Refused whatever the flags: the working folder, the home folder, migov's repository and its
source folders (and every folder containing one of them, the filesystem root included), a folder
holding an input of the command, a path that is a file, and a read-only folder.

*Read-only* means the operating system refuses to write (``os.access``) or the folder's owner
write bit is off (``chmod 555``, ``chmod a-w``). The second rule is what lets ``chmod`` protect a
folder from migov running as root, whom the operating system lets write anywhere.

Temporary siblings are named ``.NAME.partial-PID-HOST-RANDOM`` and removed on failure; one left
by a crash (its process on this host is gone) is removed the next time NAME is written. The host
in the name keeps a job on another node of a shared filesystem from losing its folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from migov.experiments import __version__
from migov.model import ScenarioError

KINDS = ("run", "compare", "analysis", "claims", "sweep", "dashboard-export", "validate", "calibration", "explore",
         "classroom")
MANIFEST = "manifest.json"
REPO = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("scenarios", "experiments", "model", "docs", "tests")


class OutputError(ScenarioError):
    """A refused output folder. A ScenarioError, so every command already reports it as one line
    (``migov: error: --out DIR: ...``) with exit status 2."""

    def __init__(self, out: Path | str, message: str, option: str = "--out"):
        super().__init__(f"{option} {out}", "", message)


@dataclass(frozen=True)
class Found:
    """An earlier migov result: its kind, the date it was written, and the files it lists
    (None when its manifest lists none, so migov cannot tell its files from others)."""

    kind: str
    date: str
    files: tuple[str, ...] | None


def marker(kind: str) -> dict:
    """What every manifest migov writes carries, so a later command knows migov wrote the folder."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of output folder '{kind}'; expected one of {KINDS}")
    return {"written_by": "migov", "kind": kind}


# --------------------------------------------------------------------------- recognising
def read_manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def recognise(folder: Path) -> Found | None:
    """What migov wrote in ``folder``, or None if migov did not write it (or it is missing)."""
    folder = Path(folder)
    man = read_manifest(folder)
    if man is not None:
        if man.get("written_by") == "migov":
            kind = str(man.get("kind") or "result")
        elif "experiment_hash" in man:
            kind = "sweep"
        elif "migov" in (man.get("versions") or {}):
            kind = ("compare" if man.get("command") == "compare"
                    else "dashboard-export" if man.get("source") == "dashboard" else "run")
        else:
            return None
        files = man.get("files")
        listed = (*map(str, files), MANIFEST) if isinstance(files, list) else None
        return Found(kind, str(man.get("created_utc") or "")[:10] or _mtime_date(folder / MANIFEST), listed)
    return _legacy_analysis(folder) or _legacy_claims(folder)


def migov_kind(folder: Path) -> str | None:
    """The kind of migov result in ``folder`` (run, compare, analysis, claims, sweep, validate,
    dashboard-export), or None if migov did not write it."""
    found = recognise(folder)
    return found.kind if found else None


def _legacy_analysis(folder: Path) -> Found | None:
    summary = folder / "summary.md"
    try:
        lines = summary.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if not lines or not lines[0].startswith("# Analysis of sweep") or "## Files" not in lines:
        return None
    tail = lines[lines.index("## Files") + 1:]
    files = [ln.split("](", 1)[1].rstrip(")") for ln in tail if ln.startswith("- [") and "](" in ln]
    return Found("analysis", _mtime_date(summary), (*files, "summary.md"))


def _legacy_claims(folder: Path) -> Found | None:
    sweeps = [*folder.glob("*/round-*/runs"), *folder.glob("*/where/runs")]
    if any(migov_kind(s) == "sweep" for s in sweeps):
        return Found("claims", _mtime_date(folder), None)
    return None


def _mtime_date(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d")
    except OSError:
        return "date unknown"


def entries(folder: Path) -> list[str]:
    """Every file, symbolic link and empty folder under ``folder``, as sorted relative paths
    (an empty folder ends in ``/``); links are not followed."""
    out = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]
        dirs[:] = sorted(d for d in dirs if d not in links)
        rel = here.relative_to(folder)
        out += [(rel / n).as_posix() for n in sorted([*files, *links])]
        if not dirs and not files and not links and here != Path(folder):
            out.append(rel.as_posix() + "/")
    return sorted(out)


def unlisted(folder: Path, files: Iterable[str]) -> list[str]:
    """The entries of ``folder`` its manifest does not list (an entry ending in ``/`` lists a
    whole subfolder)."""
    listed = set(files) | {MANIFEST}
    subtrees = tuple(f for f in listed if f.endswith("/"))
    return [e for e in entries(folder) if e not in listed and not e.startswith(subtrees)]


# --------------------------------------------------------------------------- refusing
def read_only(folder: Path) -> bool:
    """True if migov must not write in ``folder``: the system refuses, or its owner write bit is off."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return True
    return not os.access(folder, os.W_OK | os.X_OK) or not mode & stat.S_IWUSR


def _resolve(path: Path) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _places() -> list[tuple[Path, str]]:
    """Folders never written, nor any folder containing them, most specific name first."""
    places = [(REPO / name, f"migov's {name}/ folder") for name in SOURCE_FOLDERS]
    places.append((REPO, "migov's repository folder"))
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder known
        places.append((_resolve(Path.home()), "the home folder"))
    with contextlib.suppress(OSError):  # the working folder was deleted
        places.append((_resolve(Path.cwd()), "the working folder"))
    return places


def _protected(target: Path) -> str | None:
    if target == Path(target.anchor):
        return "is the filesystem root"
    places = _places()
    for place, what in places:
        if target == place:
            return f"is {what}"
    for place, what in reversed(places):  # the working folder first: `..` contains it
        if target in place.parents:
            return f"contains {what}"
    return None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def refuse_unsafe(out: Path, inputs: Iterable[Path] = (), option: str = "--out") -> Path:
    """Refuse, whatever the flags: a protected folder (the working or home folder, migov's
    repository or its scenarios/, experiments/, model/, docs/, tests/, or a folder containing
    one of them, the root included), a file, a folder holding an input, a read-only folder
    (or, when it must be created, a read-only folder to create it in). Returns the resolved path."""
    target = _resolve(Path(out))
    why = _protected(target)
    if why:
        raise OutputError(out, f"{why}; choose a new folder for the results", option)
    if target.exists() and not target.is_dir():
        raise OutputError(out, "exists and is not a folder", option)
    for p in inputs:
        src = _resolve(Path(p))
        if src == target or target in src.parents:
            raise OutputError(out, f"holds an input of this command ({p}); choose another folder", option)
    if target.exists():
        if read_only(target):
            raise OutputError(out, "is read-only, and migov does not write there; choose another folder", option)
    else:
        base = _nearest_existing(target.parent)
        if read_only(base):
            raise OutputError(out, f"cannot be created: {base} is read-only; choose another folder", option)
    return target


def _foreign(out: Path, target: Path, option: str) -> OutputError:
    first = sorted(os.listdir(target))[0]
    return OutputError(out, f"is not empty and was not written by migov (it holds {first}); choose a new or empty "
                            "folder", option)


def check_destination(out: Path, inputs: Iterable[Path] = (), overwrite: bool = False,
                      option: str = "--out") -> Found | None:
    """Decide whether :func:`write_folder` may write ``out``, before any work is done. Returns the
    earlier migov result it would replace (None when ``out`` is new or empty); raises
    :class:`OutputError` otherwise."""
    target = refuse_unsafe(out, inputs, option)
    if not target.exists():
        return None
    if read_only(target.parent):
        raise OutputError(out, f"cannot be written: its folder {target.parent} is read-only; choose another folder",
                          option)
    held = sorted(os.listdir(target))
    if not held:
        return None
    found = recognise(target)
    if found is None:
        raise _foreign(out, target, option)
    if not overwrite:
        raise OutputError(out, f"holds an earlier migov result ({found.kind}, {found.date}); add --overwrite to "
                               "replace it, or choose another folder", option)
    if found.files is None:
        raise OutputError(out, f"holds a migov {found.kind} whose manifest lists no files, so migov cannot tell its "
                               "files from others and will not replace it; choose another folder", option)
    foreign = unlisted(target, found.files)
    if foreign:
        raise OutputError(out, f"holds {foreign[0]}, which migov did not write (its manifest does not list it); "
                               "nothing was replaced: move it away or choose another folder", option)
    locked = [Path(r) for r, _, _ in os.walk(target) if read_only(Path(r))]
    if locked:
        raise OutputError(out, f"is read-only ({locked[0]}), and migov does not replace it; choose another folder",
                          option)
    return found


# --------------------------------------------------------------------------- writing
def write_folder(out: Path, fill: Callable[[Path], None], kind: str, inputs: Iterable[Path] = (),
                 overwrite: bool = False, option: str = "--out") -> Path:
    """Write a result folder all or nothing: ``fill`` writes into a hidden sibling, whose manifest
    is stamped with :func:`marker` and the files written, and which then takes ``out``'s place
    (replacing an earlier migov result only with ``overwrite``; see the module docstring)."""
    out, inputs = Path(out), list(inputs)
    check_destination(out, inputs, overwrite, option)
    target = _resolve(out)
    created = _make_parents(target.parent)
    clean_partials(target)
    tmp = _new_sibling(target)
    swapped = False
    try:
        fill(tmp)
        _stamp(tmp, kind)
        old = check_destination(out, inputs, overwrite, option)  # again: the folder may have changed meanwhile
        if target.exists():
            tmp.chmod(stat.S_IMODE(target.stat().st_mode))
        if old is not None:
            _exchange(tmp, target)
            swapped = True
        else:
            _move_into_place(tmp, target, out, option)
    except BaseException:
        if not swapped:
            shutil.rmtree(tmp, ignore_errors=True)
            for d in reversed(created):
                _try(d.rmdir)
        raise
    if swapped:
        _retire(tmp, old.files or (), out)
    return out


def open_accumulating(out: Path, kind: str, inputs: Iterable[Path] = (), option: str = "--out") -> Path:
    """Make ``out`` ready for a folder migov adds to over several calls (claims): it must be new,
    empty, or a migov folder of this kind; a new or unmarked one gets its manifest now."""
    target = refuse_unsafe(out, inputs, option)
    if target.exists() and os.listdir(target):
        found = recognise(target)
        if found is None:
            raise _foreign(out, target, option)
        if found.kind != kind:
            raise OutputError(out, f"holds a migov {found.kind} result ({found.date}), not a {kind} folder; "
                                   "choose another folder", option)
        if (read_manifest(target) or {}).get("written_by") == "migov":
            return out
    target.mkdir(parents=True, exist_ok=True)
    _write_json(target / MANIFEST, {**marker(kind), "created_utc": _now(), "migov_version": __version__,
                                    "files": [MANIFEST]})
    return out


def record_files(folder: Path, files: Iterable[str], update: dict | None = None) -> None:
    """Add what migov just wrote into an accumulating folder to its manifest's list of files, and
    set the manifest's fields in ``update`` (the provenance of what was just written)."""
    man = read_manifest(folder)
    if man is None or man.get("written_by") != "migov":
        raise ValueError(f"{folder}: not a folder opened with open_accumulating")
    man.update(update or {})
    man["files"] = sorted(set(man.get("files") or []) | set(files))
    _write_json(Path(folder) / MANIFEST, man)


def fresh_subfolder(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``... if taken: a new folder for each export."""
    root = Path(root)
    path, k = root / name, 2
    while path.exists() or path.is_symlink():
        path, k = root / f"{name}-{k}", k + 1
    return path


# --------------------------------------------------------------------------- temporary siblings
def partial_prefix(target: Path) -> str:
    return f".{target.name}.partial-{os.getpid()}-{socket.gethostname()}-"


def _new_sibling(target: Path) -> Path:
    """A new hidden temporary folder beside ``target`` (made with the user's umask, not 0700)."""
    while True:
        tmp = target.with_name(partial_prefix(target) + secrets.token_hex(4))
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


def clean_partials(target: Path) -> list[Path]:
    """Remove temporary siblings of ``target`` that a crashed migov process on this host left."""
    stem, host, removed = f".{target.name}.partial-", socket.gethostname(), []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        pid, _, rest = name.removeprefix(stem).partition("-")
        if name.startswith(stem) and pid.isdigit() and rest.startswith(f"{host}-") and not _alive(int(pid)):
            shutil.rmtree(target.parent / name, ignore_errors=True)
            removed.append(target.parent / name)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stamp(tmp: Path, kind: str) -> None:
    man = read_manifest(tmp) or {}
    man.update(marker(kind))
    man.setdefault("created_utc", _now())
    man["files"] = sorted({*entries(tmp), MANIFEST})
    _write_json(tmp / MANIFEST, man)


def _exchange(a: Path, b: Path) -> None:
    """Swap two folders: atomically with Linux's renameat2(RENAME_EXCHANGE), else by two renames
    (``b`` is missing only between them, and is put back if the second fails)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(b))
    except AttributeError:  # no renameat2 in this C library
        pass
    aside = b.with_name(partial_prefix(b) + secrets.token_hex(4))
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except BaseException:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def _move_into_place(tmp: Path, target: Path, out: Path, option: str) -> None:
    """Rename ``tmp`` to ``target`` (new, or an empty folder it replaces in one step). An empty
    folder that cannot be renamed over (a mount point) is filled entry by entry, manifest last."""
    try:
        os.rename(tmp, target)
        return
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise OutputError(out, "changed while migov was writing it; nothing was replaced", option) from None
        if err.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM) or not target.is_dir():
            raise
    names = sorted(os.listdir(tmp), key=lambda n: n == MANIFEST)
    for name in names:
        shutil.move(tmp / name, target / name)
    tmp.rmdir()


def _retire(old: Path, files: Iterable[str], out: Path) -> None:
    """Remove the files an earlier result listed, then its emptied folders; anything else that
    appeared meanwhile is kept in a hidden ``.NAME.replaced-*`` sibling and reported."""
    for rel in files:
        p = old / rel
        if p.is_symlink() or p.is_file():
            _try(p.unlink)
    for root, dirs, _ in os.walk(old, topdown=False):
        for d in dirs:
            _try((Path(root) / d).rmdir)
    if _try(old.rmdir):
        return
    keep = old.with_name(f".{_resolve(out).name}.replaced-{datetime.now(UTC):%Y%m%d%H%M%S}")
    old.rename(keep)
    print(f"migov: note: {out} held files its manifest did not list when it was replaced; they are in {keep}",
          file=sys.stderr)


def _make_parents(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
    return list(reversed(missing))


def _try(action: Callable[[], object]) -> bool:
    try:
        action()
    except OSError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
