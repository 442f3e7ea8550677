"""The built-in profiles: a Salesforce-style and a HubSpot-style export (written from the vendors'
documented field names, tests/export_fixtures.py) read into exactly the tables the fixtures say the
export carries, and the same summary figures as that CRM written in the canonical contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import prepare_inputs
from sla_analysis.io.sample import SampleParams, generate
from tests.export_fixtures import write_hubspot_export, write_salesforce_export

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"leads": "lead_id", "activities": "activity_id", "deals": "deal_id", "reps": "rep_id"}
EXPORTS = {
    "salesforce": lambda t, d: write_salesforce_export(t, d),
    "salesforce, no custom fields": lambda t, d: write_salesforce_export(t, d, custom_fields=False),
    "hubspot display headers": lambda t, d: write_hubspot_export(t, d, headers="display"),
    "hubspot API names": lambda t, d: write_hubspot_export(t, d, headers="api"),
    "hubspot, account in New York": lambda t, d: write_hubspot_export(t, d, headers="display",
                                                                       timezone="America/New_York"),
}


@pytest.fixture(scope="module")
def tables():
    return generate(replace(SampleParams(), n_leads=3000))


def _same(got: pd.DataFrame, expected: pd.DataFrame, key: str) -> list[str]:
    """Columns where ``got`` differs from ``expected`` (rows matched on ``key``)."""
    got = got.sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    if len(got) != len(expected) or not got[key].astype(str).equals(expected[key].astype(str)):
        return [f"rows: {len(got)} read, {len(expected)} expected"]
    bad = []
    for c in expected.columns:
        a, b = got[c], expected[c]
        if b.dtype.kind == "M":
            same = a.astype("datetime64[us]").equals(b.astype("datetime64[us]"))
        elif b.dtype.kind == "f":
            same = bool(((a.astype(float) - b).abs().fillna(0) < 1e-6).all() and (a.isna() == b.isna()).all())
        else:
            same = a.astype(object).where(a.notna(), None).tolist() == b.astype(object).where(b.notna(), None).tolist()
        if not same:
            bad.append(c)
    return bad


#: one export in the fast loop; the others (each a full validation round trip) with the slow tests
FAST_EXPORT = "hubspot display headers"


@pytest.mark.parametrize("export", [e if e == FAST_EXPORT else pytest.param(e, marks=pytest.mark.slow) for e in EXPORTS])
def test_profile_reads_the_export_into_the_tables_it_carries(tables, tmp_path, export):
    expected = EXPORTS[export](tables, tmp_path / "export")
    profile = export.split()[0].rstrip(",")
    if "New York" in export:  # HubSpot writes the account's zone: a copy of the profile says which
        text = (ROOT / "sla_analysis" / "io" / "profiles" / "hubspot.yml").read_text()
        profile = tmp_path / "hubspot-ny.yml"
        profile.write_text(text.replace("timezone: UTC", "timezone: America/New_York", 1))
    crm = open_crm(prepare_inputs(tmp_path / "export", cache_root=tmp_path / "cache", profile=profile))
    for table, frame in expected.items():
        assert _same(crm.tables[table].execute(), frame, KEYS[table]) == [], f"{export}: {table}"
    # optional custom fields: absent from the export -> absent columns, not empty ones
    assert crm.has("leads", "tier") == ("no custom fields" not in export)
    # names, e-mails and phone numbers in the export never reach the canonical tables
    columns = {c for t in crm.tables.values() for c in t.columns}
    assert not columns & {"FirstName", "LastName", "Email", "Phone", "First Name", "email", "phone"}
    # every row the profile leaves out is counted, with its reason
    excluded = crm.manifest["excluded"]
    assert all(e["reason"] and e["rows"] >= 0 for e in excluded)
    assert sum(e["rows"] for e in excluded if e["table"] == "activities") > 0


def _report(data: Path, out: Path, profile: str | None = None) -> dict:
    args = [sys.executable, "-m", "sla_analysis", "report", "--period", "2024Q1", "--data", str(data),
            "--out", str(out), "--quiet"] + (["--profile", profile] if profile else [])
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "2024Q1" / "summary.json").read_text())
    summary.pop("inputs")  # file names and hashes differ by construction;
    summary.pop("data_quality", None)  # the rows the profile left out exist only in the vendor export
    return summary


@pytest.mark.slow
@pytest.mark.parametrize("export", ["salesforce"])
def test_a_vendor_export_gives_the_same_report_as_the_canonical_crm(tables, tmp_path, export):
    """Two full reports, one through the profile and one from the same tables in the contract, give
    the same summary.json. One vendor is enough for the report's path (--profile through the
    orchestrator to every page); every profile's reading is checked table by table above, and a
    HubSpot round trip cost three minutes of `make test` for no path the Salesforce one misses."""
    expected = EXPORTS[export](tables, tmp_path / "export")
    canonical = tmp_path / "canonical"
    canonical.mkdir()
    for table, frame in expected.items():
        frame.to_parquet(canonical / f"{table}.parquet", index=False)
    via_profile = _report(tmp_path / "export", tmp_path / "out-profile", export.split()[0])
    via_contract = _report(canonical, tmp_path / "out-canonical")
    assert via_profile == via_contract
    assert via_profile["plateau"].get("recommended_attempts") is not None  # a real report, not an empty one


def test_make_passes_profile_as_one_quoted_argument(tmp_path):
    """PROFILE= reaches the CLI as a single argument, never as shell or make syntax."""
    # A make started from another make (as CI may do) prints "Entering/Leaving directory" lines; turn them off
    # and read the line that runs the CLI.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    res = subprocess.run(["make", "--no-print-directory", "-n", "report", "PERIOD=2024Q1",
                          "PROFILE=salesforce; touch pwned", "DATA=$(shell touch pwned)"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if "--period" in ln)
    assert "--profile 'salesforce; touch pwned'" in line and "--data '$(shell touch pwned)'" in line
    assert not (ROOT / "pwned").exists()
    res = subprocess.run(["make", "--no-print-directory", "-n", "validate", "PROFILE=hubspot"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, env=env)
    assert "--profile 'hubspot'" in res.stdout
