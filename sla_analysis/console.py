"""The console a scheduler reads: one progress line at a time on stderr, whole lines only (the
notebooks run in threads, so each line is written under a lock)."""
from __future__ import annotations

import sys
import threading

_LOCK = threading.Lock()


def log(msg: str, quiet: bool = False) -> None:
    """Write ``msg`` as one whole line on stderr unless ``quiet``."""
    if quiet:
        return
    with _LOCK:
        sys.stderr.write(msg.rstrip("\n") + "\n")
        sys.stderr.flush()
