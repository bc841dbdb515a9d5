"""Directories a process works in for a while and then removes: an upload's staging directory, a job's
scratch directory.

Each holds a lock file, locked for as long as the directory is in use. A process killed outright
(`kill -9`, a lost machine's power) cannot remove its directory, but the kernel releases its lock, so
a sweep can tell a directory left behind from one in use, whatever its age: a job may sit for hours
on a scratch directory without writing to it, and an upload's staging file may be minutes old.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("dit.storage")

LOCK_FILE = ".lock"
# A directory without a lock file is one whose maker died between making it and locking it (or one
# being made this instant): left alone for this long, so as never to race the maker.
UNLOCKED_GRACE_SECONDS = 300


@contextlib.contextmanager
def workdir(parent: Path, name: str | None = None) -> Iterator[Path]:
    """A new directory `parent/name` (a random name unless given), locked while the block runs and
    removed afterwards, whatever happened."""
    directory = parent / (name or str(uuid.uuid4()))
    parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir()
    try:
        # The lock goes with the open file: closing it (or the process dying) releases it.
        with open(directory / LOCK_FILE, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _abandoned(directory: Path) -> bool:
    try:
        lock = open(directory / LOCK_FILE)
    except FileNotFoundError:
        try:
            return time.time() - directory.stat().st_mtime > UNLOCKED_GRACE_SECONDS
        except FileNotFoundError:
            return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        # Taken: nobody holds it. Released on closing, before the directory goes.
        return True


def sweep_workdirs(parent: Path) -> int:
    """Remove the directories under `parent` that no living process holds; returns how many."""
    removed = 0
    if not parent.is_dir():
        return 0
    for directory in parent.iterdir():
        if directory.is_dir() and not directory.is_symlink() and _abandoned(directory):
            shutil.rmtree(directory, ignore_errors=True)
            removed += not directory.exists()
    if removed:
        log.info("removed %d abandoned working director%s under %s", removed, "y" if removed == 1 else "ies", parent)
    return removed
