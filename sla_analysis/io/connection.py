"""The in-process DuckDB connection every read, validation and analysis starts from, and the name of
the validated cache's manifest."""
from __future__ import annotations

import contextlib
import itertools
import os

import duckdb
import ibis

from sla_analysis import paths, settings

#: the validated cache's description of what it holds (inputs, hashes, rows, exclusions)
MANIFEST = "manifest.json"

_CONNECTIONS = itertools.count()

def connect() -> ibis.BaseBackend:
    """An in-process DuckDB connection with a fixed time zone and thread count (same inputs, same
    figures), a memory budget, its own spill folder and no progress bar. The budget is the settings'
    ``duckdb_memory`` (per connection, e.g. ``4GB``); beyond it, joins, sorts and materialised tables
    spill to ``data/processed/.duckdb-spill/`` (out of core)."""
    # One spill folder per connection: DuckDB names its spill files without a process id, and it
    # empties the folder when it closes, so processes must not share one. DuckDB creates the
    # folder only when it spills, and removes it when it closes.
    root = paths.PROCESSED_DIR / ".duckdb-spill"
    root.mkdir(parents=True, exist_ok=True)
    spill = root / f"{os.getpid()}-{next(_CONNECTIONS)}"
    con = ibis.duckdb.connect(threads=os.cpu_count() or 2, memory_limit=settings.current().duckdb_memory,
                              temp_directory=str(spill))
    con.raw_sql("SET TimeZone = 'UTC'")
    # No progress bar: DuckDB draws one for a query past 2 s when it believes it runs in a terminal
    # (it decides when it is imported, so a kernel forked from the warm process believes it), and a
    # page or a scheduler's log would show it. In a kernel started as a new process DuckDB knows it
    # is in Jupyter, refuses the setting without ipywidgets, and draws nothing.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.raw_sql("SET enable_progress_bar = false")
    return con
