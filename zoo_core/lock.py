"""One writer per run folder: ``run_lock(folder)`` holds an exclusive lock on
``folder/.zoo/lock`` (which names the owner's pid) for as long as a training writes there.

The operating system drops the lock when its process dies, however it dies, so a killed run
never blocks the next one; a lock file that still names a pid but is not held was left by a
run that did not end cleanly, and the next run says so and takes over.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ZooError

LOCK_FILE = ".zoo/lock"


class RunFolderBusy(ZooError):
    """Another process is training into the folder."""


def prepare_folder(folder: Path) -> None:
    """Create the run folder, or say in one line why it cannot be one."""
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"--out {folder}: that is a file, not a folder; choose a folder path for the run")
    try:
        (folder / ".zoo").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ZooError(f"--out {folder}: cannot create the run folder there ({e.strerror or e}); choose a "
                       f"writable place") from None


@contextmanager
def run_lock(folder: str | Path) -> Iterator[None]:
    folder = Path(folder)
    prepare_folder(folder)
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): one writer is the user's job there
        yield
        return
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            check_not_busy(folder)
            raise RunFolderBusy(f"--out {folder}: another zoo train is writing there; wait for it to end, or choose "
                                f"another --out") from None
        stale = _owner(fd)
        if stale and stale != os.getpid():
            warnings.warn(f"{folder}: the run that held this folder (pid {stale}) ended without releasing it "
                          f"(killed or crashed); its last complete checkpoint is kept and this run takes over",
                          stacklevel=2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released cleanly: no pid left behind
    finally:
        os.close(fd)


def busy(folder: str | Path) -> int | None:
    """The pid of another process training into ``folder`` right now, else None."""
    path = Path(folder) / LOCK_FILE
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        return _owner(fd) or -1
    finally:
        os.close(fd)


def check_not_busy(folder: str | Path) -> None:
    pid = busy(folder)
    if pid is not None:
        raise RunFolderBusy(f"--out {folder}: another zoo train (pid {pid if pid > 0 else '?'}) is writing there; "
                            f"wait for it to end, or choose another --out")


def _owner(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
