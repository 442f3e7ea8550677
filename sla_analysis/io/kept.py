"""A value computed once among processes and kept in a file: the attempt cap of a period
(:mod:`sla_analysis.analyses.attempt_cap`), the one result kept across runs and periods.

The first process to ask computes the value and writes it (to a temporary name, then renamed, so a
reader never sees half a file); a process asking meanwhile waits on a lock beside it, then reads it.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, TypeVar

T = TypeVar("T")


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """``write(file)`` into a temporary file beside ``path``, then renamed to ``path``; nothing is
    left behind when it fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def computed_once(path: Path, compute: Callable[[], T], read: Callable[[Path], T | None],
                  keep: Callable[[T, Path], None]) -> T:
    """The value kept at ``path`` (``read(path)``; ``None`` when it cannot be used), else
    ``compute()``, kept there with ``keep(value, path)``. One process at a time per ``path`` (a lock
    file beside it): a second asker waits for the first and reads its value."""
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.is_file() and (kept := read(path)) is not None:
                return kept
            value = compute()
            keep(value, path)
            return value
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
