"""Access to a validated CRM inside the engine (DuckDB through Ibis).

Notebooks get Ibis table expressions, never raw event frames: each analysis aggregates in the
engine and only its small result is turned into pandas.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir

from .contract import CONTRACT
from .ingest import MANIFEST, connect


@dataclass
class CRM:
    """A validated CRM: canonical tables as Ibis expressions plus what the export contained."""

    cache_dir: Path
    manifest: dict
    tables: dict[str, ir.Table]

    @property
    def leads(self) -> ir.Table:
        return self.tables["leads"]

    @property
    def activities(self) -> ir.Table:
        return self.tables["activities"]

    @property
    def deals(self) -> ir.Table:
        return self.tables["deals"]

    @property
    def reps(self) -> ir.Table | None:
        return self.tables.get("reps")

    def has(self, table: str, column: str | None = None) -> bool:
        """Whether the export had ``table`` (and ``column`` in it, with at least one value's slot)."""
        info = self.manifest["inputs"].get(table)
        if info is None:
            return False
        return column is None or column in info["columns"]

    @property
    def input_hashes(self) -> dict[str, str]:
        return {n: i["sha256"] for n, i in self.manifest["inputs"].items()}

    @property
    def row_counts(self) -> dict[str, int]:
        return {n: i["rows"] for n, i in self.manifest["inputs"].items()}

    def last_event_at(self):
        """The latest lead creation or activity in the export: how far the data reaches (a period
        ending later is still in progress). ``None`` for an empty export."""
        values = [self.leads.created_at.max().execute(), self.activities.occurred_at.max().execute()]
        values = [v for v in values if v is not None and v == v]
        return max(values).to_pydatetime().replace(tzinfo=None) if values else None

    def first_event_at(self):
        """The earliest lead creation in the export (``None`` when it has no leads)."""
        v = self.leads.created_at.min().execute()
        return None if v is None or v != v else v.to_pydatetime().replace(tzinfo=None)

    def limits(self) -> dict[str, str]:
        """What this export cannot support, each with the reason in plain words:

        * ``attempts``: no contact attempts (an empty activities table, or one the mapping says the
          export does not have: then the mapping's own reason): cohorts by attempts, cost per call measured, the attempt cap, speed
          to lead and cadence cannot be computed;
        * ``revenue``: the deals have no amounts: revenue, MQL values and marketing's delivered value
          cannot be computed.
        """
        out = {}
        unavailable = self.manifest.get("unavailable") or {}
        if "activities" in unavailable:
            out["attempts"] = str(unavailable["activities"])
        elif not self.row_counts.get("activities"):
            out["attempts"] = "the export has no contact attempts (the activities table is empty)"
        if not self.has("deals", "amount"):
            out["revenue"] = "the deals have no amounts, so revenue and the value of a lead are unknown"
        return out

    @property
    def is_sample(self) -> bool:
        return bool(self.manifest.get("sample"))


def open_crm(cache_dir: str | Path) -> CRM:
    """Open a cache folder written by :func:`sla_analysis.ingest.prepare_inputs`."""
    cache_dir = Path(cache_dir)
    manifest = json.loads((cache_dir / MANIFEST).read_text())
    con = connect()
    tables = {name: con.read_parquet(str(cache_dir / f"{name}.parquet"), table_name=name)
              for name in CONTRACT if (cache_dir / f"{name}.parquet").is_file()}
    return CRM(cache_dir, manifest, tables)
