"""Hand-written CRM exports for the tests: three tables small enough to check by hand."""
from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs

LEADS = [
    {"lead_id": "L1", "created_at": "2024-01-02 09:00:00", "source": "webinar", "tier": "high"},
    {"lead_id": "L2", "created_at": "2024-01-03 10:00:00", "source": "white paper", "tier": "low"},
    {"lead_id": "L3", "created_at": "2024-01-04 11:00:00", "source": "webinar", "tier": "moderate"},
]
ACTIVITIES = [
    {"activity_id": "A1", "lead_id": "L1", "occurred_at": "2024-01-02 10:00:00", "type": "call"},
    {"activity_id": "A2", "lead_id": "L1", "occurred_at": "2024-01-03 10:00:00", "type": "email"},
    {"activity_id": "A3", "lead_id": "L2", "occurred_at": "2024-01-05 10:00:00", "type": "call"},
]
DEALS = [
    {"deal_id": "D1", "lead_id": "L1", "created_at": "2024-01-10 00:00:00", "stage": "won", "amount": "1000"},
]


def only_required_columns(leads: list[dict], activities: list[dict], deals: list[dict]) -> tuple[list, list, list]:
    """The same rows with only the contract's required columns (an export with nothing optional)."""
    def keep(rows, cols):
        return [{c: r[c] for c in cols} for r in rows]
    return (keep(leads, ("lead_id", "created_at", "source")),
            keep(activities, ("activity_id", "lead_id", "occurred_at", "type")),
            keep(deals, ("deal_id", "lead_id", "created_at", "stage")))


def open_export(folder: Path, leads: list[dict], activities: list[dict], deals: list[dict],
                as_of: datetime = datetime(2024, 7, 1)):
    """Write a three-table export under ``folder``, validate it and open it (a CRM)."""
    d = folder / "export"
    d.mkdir(parents=True)
    write_csv(d / "leads.csv", leads)
    write_csv(d / "activities.csv", activities)
    write_csv(d / "deals.csv", deals)
    return open_crm(prepare_inputs(d, as_of=as_of, cache_root=folder / "cache"))


def write_csv(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> Path:
    fieldnames = fieldnames or list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return path
