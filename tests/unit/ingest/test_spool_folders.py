"""Spool folders: one per ingest process, locked while it lives; folders whose lock
can be taken (their process is gone) are swept. The SIGKILL of a real ingest process
is tests/e2e/test_ingest_spool.py."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest

from ingest.spoolfolders import PROCESS_PREFIX, SpoolFolder, sweep_dead_folders


def _left_behind(root: Path) -> Path:
    """A process folder nobody holds, with a half-written upload in it."""
    folder = root / f"{PROCESS_PREFIX}dead"
    (folder / "upload-1").mkdir(parents=True)
    (folder / "upload-1" / "costs.csv").write_bytes(b"node,date,dim")
    return folder


def test_folders_nobody_holds_are_swept_and_held_ones_kept(tmp_path: Path) -> None:
    dead = _left_behind(tmp_path)
    other = SpoolFolder.acquire(tmp_path)  # another live process's folder
    (other.path / "upload.csv").write_bytes(b"in progress")
    mine = SpoolFolder.acquire(tmp_path)
    assert sweep_dead_folders(tmp_path, keep=mine.path) == [dead]
    assert not dead.exists()
    assert (other.path / "upload.csv").read_bytes() == b"in progress"
    assert mine.path.is_dir()
    other.release()
    mine.release()
    assert list(tmp_path.iterdir()) == []


def test_other_entries_of_the_spool_folder_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("kept")
    (tmp_path / "0123abcd").mkdir()
    assert sweep_dead_folders(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0123abcd", "notes.txt"]


def test_a_folder_swept_before_it_was_locked_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweeper can take a brand-new folder's lock before its maker does and remove
    it; the maker then finds its lock on a removed folder and makes another."""
    opened: list[int] = []
    real_open = os.open

    def open_then_swept(path: Path, flags: int, *args: int, **named: Any) -> int:
        fd = real_open(path, flags, *args, **named)
        if Path(path).parent == tmp_path and not named:
            opened.append(fd)
            if len(opened) == 1:  # a sweeper gets there first, once
                assert sweep_dead_folders(tmp_path) == [Path(path)]
        return fd

    monkeypatch.setattr(os, "open", open_then_swept)
    folder = SpoolFolder.acquire(tmp_path)
    monkeypatch.undo()
    # the sweeper's own open is the second; the maker's retry the third (the file
    # system may give the new folder the removed one's inode number)
    assert len(opened) == 3
    assert [p.name for p in tmp_path.iterdir()] == [folder.path.name]
    folder.release()


def test_the_lock_is_held_until_release(tmp_path: Path) -> None:
    folder = SpoolFolder.acquire(tmp_path)
    fd = os.open(folder.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        assert held
    finally:
        os.close(fd)
    folder.release()
    assert not folder.path.exists()
