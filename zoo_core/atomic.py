"""One checkpoint, one atomic unit: every file of a save lands together or not at all.

A folder written by zoo looks like this (the top-level names are what users, ``zoo_core.load``
and the Hub see; they are relative symlinks through one pointer)::

    model.safetensors -> .zoo/current/model.safetensors     (also config.json, README.md,
    training_state    -> .zoo/current/training_state         metrics.jsonl)
    .zoo/current      -> gen-000007                          the pointer
    .zoo/gen-000007/  model.safetensors config.json README.md metrics.jsonl training_state/...

``generation(folder)`` stages a new generation in ``.zoo/tmp-*``: the current generation's
files are hard-linked in (never written in place; writers replace names), the caller writes
the new files, everything is fsync'd, the folder is renamed to ``gen-N`` and the pointer is
switched with ONE ``rename``. A crash at any moment leaves either the old or the new
generation current, never a mix (tests/test_faults.py kills ``zoo train`` at every rename,
link and unlink of a run and at random moments). Readers go through ``resolve()``: the
weights are read from the folder config.json really lives in, so a reader sees one
generation even if a save switches the pointer meanwhile; folders written by older zoo
versions (plain files at the top) still load and are migrated by their next save.
Nested ``generation`` calls for the same folder share the outer one (the trainer saves the
best model and its resume state as one unit).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ZooError

STORE = ".zoo"
POINTER = "current"
GENERATION = re.compile(r"gen-(\d+)$")
LEGACY = ("model.safetensors", "config.json", "README.md", "metrics.jsonl", "training_state")

_open: dict[str, Path] = {}  # folder -> its staging folder, while a generation is being written


def current(folder: str | Path) -> Path:
    """The folder's current generation, or the folder itself (an older zoo's layout, a Hub snapshot)."""
    folder = Path(folder)
    pointed = folder / STORE / POINTER
    return pointed if pointed.is_dir() else folder


def resolve(folder: str | Path, name: str) -> Path:
    """Where to read ``name`` of a checkpoint folder: a plain top-level entry as it is (an older
    zoo's layout, a file someone edited or copied there, a Hub snapshot's own links), else —
    our link, or none yet (a save killed before its first link appeared) — the entry of the
    generation the pointer names now, so that files read next to it come from that generation."""
    folder = Path(folder)
    path = folder / name
    ours = path.is_symlink() and os.readlink(path) == f"{STORE}/{POINTER}/{name}"
    pointer = folder / STORE / POINTER
    if (os.path.lexists(path) and not ours) or not pointer.is_dir():
        return path
    return Path(os.path.realpath(pointer)) / name


def has_checkpoint(folder: str | Path) -> bool:
    """True when the folder holds a saved model or resume state (any layout)."""
    return resolve(folder, "config.json").is_file() or (resolve(folder, "training_state") / "state.json").is_file()


@contextmanager
def generation(folder: str | Path) -> Iterator[Path]:
    """Yield a staging folder; on a clean exit its files become the folder's checkpoint at once."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _open:  # nested: the outermost call commits
        yield _open[key]
        return
    staging = _guard(folder, lambda: _begin(folder))
    _open[key] = staging
    try:
        try:
            yield staging
        except OSError as e:  # a writer ran out of space (or permission) in the staging folder
            raise _saving_failed(folder, e) from None
        _guard(folder, lambda: _commit(folder, staging))
    finally:
        del _open[key]
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _guard(folder: Path, step):
    try:
        return step()
    except OSError as e:
        raise _saving_failed(folder, e) from None


def _saving_failed(folder: Path, e: OSError) -> ZooError:
    why = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else (e.strerror or str(e))
    return ZooError(f"{folder}: saving failed ({why}); the previous checkpoint there, if any, is intact — "
                    f"free space or fix the folder's permissions, then run again")


def _begin(folder: Path) -> Path:
    store = folder / STORE
    store.mkdir(parents=True, exist_ok=True)
    live = os.path.realpath(store / POINTER)
    for old in store.iterdir():  # what a killed save left behind
        if (old.name.startswith("tmp-") or GENERATION.match(old.name)) and os.path.realpath(old) != live:
            shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix="tmp-", dir=store))
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would hide the model from other users
    source = current(folder)
    names = [p.name for p in source.iterdir()] if source != folder else [n for n in LEGACY if (folder / n).exists()]
    for name in names:
        _link_tree(source / name, staging / name)
    return staging


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy) a file or folder: files of a generation are never changed in place."""
    if src.is_dir():
        dst.mkdir()
        for child in src.iterdir():
            _link_tree(child, dst / child.name)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _commit(folder: Path, staging: Path) -> None:
    store = folder / STORE
    for d in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
        fsync_dir(d)
    numbers = [int(m.group(1)) for p in store.iterdir() if (m := GENERATION.match(p.name))]
    gen = store / f"gen-{max(numbers, default=0) + 1:06d}"
    os.rename(staging, gen)
    fsync_dir(store)
    names = sorted(p.name for p in gen.iterdir())
    for name in names:  # new names get their link first (dangling until the switch: "not there yet")
        if not os.path.lexists(folder / name):
            _place_link(folder, name)
    _replace_with_link(store / POINTER, gen.name)  # THE switch
    fsync_dir(store)
    for name in sorted(names, key=lambda n: n != "config.json"):  # an older zoo's plain files, replaced only
        if not (folder / name).is_symlink():  # now; config.json first: it names the weights read beside it
            _place_link(folder, name)
    for link in folder.iterdir():  # a name the new generation dropped (resume state after a normal end)
        if link.is_symlink() and link.name not in names and os.readlink(link) == f"{STORE}/{POINTER}/{link.name}":
            os.unlink(link)
    fsync_dir(folder)
    for old in store.iterdir():
        if old != gen and GENERATION.match(old.name):
            shutil.rmtree(old, ignore_errors=True)


def _place_link(folder: Path, name: str) -> None:
    path = folder / name
    if path.is_dir() and not path.is_symlink():  # an older zoo's training_state/ folder
        aside = Path(tempfile.mkdtemp(prefix="tmp-", dir=folder / STORE))
        os.rename(path, aside / name)
    _replace_with_link(path, f"{STORE}/{POINTER}/{name}")


def _replace_with_link(path: Path, target: str) -> None:
    tmp = path.with_name(f".{path.name}.link-{os.getpid()}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)
