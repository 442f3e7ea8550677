"""Adapters: map exports that are not in the canonical shape INTO the data contract.

Each adapter reads one kind of foreign export and writes the canonical ``leads``, ``activities``
and ``deals`` tables (see ``docs/data-contract.md``) to a folder that
:func:`sla_analysis.ingest.prepare_inputs` accepts. Adapters never bypass the contract: the
analyses only ever see validated canonical tables.

* :mod:`sla_analysis.adapters.bank_marketing`: the UCI Bank Marketing call history (``bank-full.csv``).
"""
from __future__ import annotations

from pathlib import Path


class AdapterError(ValueError):
    """A source export that cannot be adapted: names the file and, when one is at fault, the column.

    ``str(err)`` is one line: ``<file>: column '<column>': <problem>``.
    """

    def __init__(self, file: str | Path, column: str | None, problem: str):
        self.file, self.column, self.problem = str(file), column, problem
        where = f"column '{column}': " if column else ""
        super().__init__(f"{file}: {where}{problem}")
