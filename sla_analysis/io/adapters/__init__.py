"""Adapters: map exports that are not in the canonical shape INTO the data contract.

Each adapter reads one kind of foreign export and writes the canonical ``leads``, ``activities``
and ``deals`` tables (see ``docs/data-contract.md``) to a folder that
:func:`sla_analysis.io.ingest.prepare_inputs` accepts. Adapters never bypass the contract: the
analyses only ever see validated canonical tables.

* :mod:`sla_analysis.io.adapters.bank_marketing`: the UCI Bank Marketing call history (``bank-full.csv``).
"""
from __future__ import annotations

from sla_analysis.errors import AdapterError

__all__ = ["AdapterError"]
