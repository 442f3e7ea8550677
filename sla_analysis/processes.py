"""Helper processes that must not outlive the process that started them (Linux ``prctl``).

A forked process holds every file its parent had open, locks among them: a bootstrap worker that
outlived its killed kernel kept the attempt cap's lock, and a notebook kernel that outlived its
killed run kept running. Elsewhere than Linux these are no-ops, and the processes end as their
pools and servers end them.
"""
from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG, _PR_SET_NAME = 1, 15  # linux/prctl.h


def _prctl(option: int, value) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value)
    except (OSError, AttributeError):  # not Linux
        pass


def die_with_parent(parent: int) -> None:
    """Have the kernel deliver SIGKILL to this process when its parent ``parent`` dies; exit at once
    if it died before the request took effect."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def name_process(name: str) -> None:
    """This process's name as ``ps`` and ``/proc/<pid>/comm`` show it (at most 15 bytes)."""
    _prctl(_PR_SET_NAME, name.encode())
