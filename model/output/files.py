"""Files of a run: written to a temporary name and renamed, or staged in a folder and moved
into place together, so that a failure leaves the previous files whole."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

from model.interrupts import deferred_interrupt
from model.processes import running


def display_path(path) -> str:
    """``path`` relative to the working directory when it lies below it (so that reference
    outputs do not carry the machine's folders), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are for sharing
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LockError(RuntimeError):
    """Another run holds the output folder."""


@contextmanager
def folder_lock(folder: Path):
    """Hold ``folder/.lock`` (the process id) while a run writes there: a second run on the
    same folder fails at once naming the first; a lock whose process is gone is taken over.
    Holding it, remove what killed runs left behind (staging folders, temporary files)."""
    folder = Path(folder)
    lock = folder / ".lock"
    for _ in range(2):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and running(pid):
                raise LockError(f"{folder}: another run (process {pid}) is writing here; wait "
                                f"for it, or remove {lock} if that process is not a run") from None
            lock.unlink(missing_ok=True)  # a stale lock: its process is gone
        except OSError as exc:  # read-only, full, not a folder: found before solving
            raise LockError(f"{folder}: cannot write there ({exc.strerror or exc})") from None
    else:
        raise LockError(f"{folder}: cannot take the lock {lock}")
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        recover(folder)
        yield
    finally:
        lock.unlink(missing_ok=True)


def recover(folder: Path) -> None:
    """Clean up after runs killed while writing into ``folder`` (the lock held): a staging
    folder whose set was complete (it holds :data:`COMPLETE`) was being moved into place, so
    the rest of its files are moved now and the new set is whole; any other staging folder and
    any temporary file is removed."""
    for stale in sorted(folder.glob(".staging-*")):
        if (stale / COMPLETE).is_file():
            _move_into(stale, folder)
        _remove(stale)
    for stale in folder.glob(".*.tmp"):
        stale.unlink()


def _move_into(stage: Path, folder: Path) -> None:
    """Rename every file of ``stage`` but its marker into ``folder``, in name order."""
    for item in sorted(stage.iterdir()):
        if item.name != COMPLETE:
            os.replace(item, folder / item.name)


def _remove(stage: Path) -> None:
    """Delete a staging folder and what is left in it (hidden files included)."""
    for item in stage.iterdir():
        item.unlink()
    stage.rmdir()


class Stage:
    """A staging folder (``path``); :meth:`abandon` keeps its files from being committed."""

    def __init__(self, path: Path):
        self.path = path
        self.commit = True

    def abandon(self) -> None:
        self.commit = False


#: the marker of a staging folder whose files are complete and are being moved into place
COMPLETE = ".complete"


@contextmanager
def staged_folder(folder: Path):
    """Yield a :class:`Stage`, a temporary folder beside ``folder``; on success (unless
    abandoned) move every file written there into ``folder``, else delete it, so a failure
    leaves the previous set of outputs as it was rather than a mix of new and old files.

    The move is one rename per file: first :data:`COMPLETE` is written into the stage, then
    the files are renamed with Ctrl-C deferred until the last one.  A process killed between
    two renames leaves the marked stage behind, and the next run on the folder
    (:func:`recover`) moves the rest, so readers after it see the whole new set."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = Stage(Path(tempfile.mkdtemp(prefix=".staging-", dir=folder)))
    committing = False
    try:
        yield stage
        if stage.commit:
            with deferred_interrupt():
                (stage.path / COMPLETE).write_bytes(b"")
                committing = True
                _move_into(stage.path, folder)
                committing = False
    finally:
        if not committing:  # a failed move stays marked: the next run finishes it
            _remove(stage.path)


def write_netcdf(result: xr.Dataset, path: Path) -> None:
    """Write ``result`` to netCDF-4 atomically (temporary file, then rename)."""
    with deferred_interrupt(), atomic_path(path) as tmp:  # an interrupt mid-write would
        result.to_netcdf(tmp, engine="netcdf4")        # leave the netCDF library's lock held


def write_text(text: str, path: Path) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
