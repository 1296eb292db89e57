"""Each ingest process spools under a folder of its own, locked while it lives; at
start, the folders of dead processes (SIGKILL, a crash) are removed.

Several processes may share one spool folder. A process folder is locked with
`flock` on the folder itself for as long as its process runs; the kernel drops the
lock when the process dies, however it dies. So a folder whose lock can be taken
belongs to nobody and is removed, while the lock is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Final

__all__ = ["PROCESS_PREFIX", "SpoolFolder", "sweep_dead_folders"]

_log = logging.getLogger(__name__)
PROCESS_PREFIX: Final = "process-"
_ATTEMPTS: Final = 20


class SpoolFolder:
    """This process's spool folder under a shared root, locked until `release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, root: Path) -> SpoolFolder:
        """Make and lock a new process folder under `root`.

        A sweeping process may lock (and remove) the folder between its creation
        and our lock; then the folder we locked is no longer the one at the path,
        and we try again under a new name.
        """
        root.mkdir(parents=True, exist_ok=True)
        for _ in range(_ATTEMPTS):
            path = root / f"{PROCESS_PREFIX}{uuid.uuid4().hex}"
            path.mkdir()
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            if _lock(fd) and _same_folder(fd, path):
                return cls(path, fd)
            os.close(fd)
        raise OSError(f"cannot hold a spool folder under {root}")

    def release(self) -> None:
        """Remove the folder and what is in it, then drop the lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)


def sweep_dead_folders(root: Path, *, keep: Path | None = None) -> list[Path]:
    """Remove every process folder under `root` whose lock can be taken (its process
    is gone); returns them. Folders of live processes (locked) are left alone."""
    removed: list[Path] = []
    for entry in sorted(root.glob(f"{PROCESS_PREFIX}*")):
        if entry == keep or not entry.is_dir():
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # another process swept it meanwhile
            continue
        try:
            if _lock(fd) and _same_folder(fd, entry):
                shutil.rmtree(entry, ignore_errors=True)
                if not entry.exists():
                    removed.append(entry)
                else:  # e.g. a file we may not delete: tried again next start
                    _log.warning("could not remove the spool folder %s", entry)
        finally:
            os.close(fd)
    if removed:
        _log.info("removed %d spool folder(s) of dead ingest processes", len(removed))
    return removed


def _lock(fd: int) -> bool:
    """Take the folder's exclusive lock without waiting; False if it is held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_folder(fd: int, path: Path) -> bool:
    """Whether the open folder is still the one at `path` (not removed, replaced)."""
    with contextlib.suppress(FileNotFoundError):
        held, there = os.fstat(fd), os.stat(path)
        return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)
    return False
