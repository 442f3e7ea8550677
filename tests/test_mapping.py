"""Mapping files and messy exports: each conversion against a known answer, each mistake reported
with the mapping line or the file, column and rule; nothing misread."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest

from sla_analysis.errors import ContractError
from sla_analysis.io.engine import open_crm
from sla_analysis.io.ingest import connect, prepare_inputs
from sla_analysis.io.mapping import number_text, timestamp_text
from tests.helpers import ACTIVITIES, DEALS, LEADS, write_csv

AS_OF = datetime(2025, 1, 1)


def _texts(func, values, *args):
    con = connect()
    t = ibis.memtable({"v": values}, schema={"v": "string"})
    return con.execute(t.select(out=func(t.v, *args)))["out"].tolist()


def _prepare(data_dir, tmp_path, profile=None):
    return prepare_inputs(data_dir, as_of=AS_OF, cache_root=tmp_path / "cache", profile=profile)


def _error(data_dir, tmp_path, profile=None) -> ContractError:
    with pytest.raises(ContractError) as err:
        _prepare(data_dir, tmp_path, profile)
    assert not list((tmp_path / "cache").glob("crm-*")), "nothing may be cached for a bad export"
    return err.value


# --------------------------------------------------------------------------- conversions

def test_numbers_with_currency_and_separators_are_read_or_left_for_the_contract_to_refuse():
    values = ["$1,234.50", "€ 12", "1234", "-5.5", "1e3", "1,234,567", "1.234,50", "12,00", "12,3456", None]
    assert _texts(number_text, values) == [
        "1234.50", "12", "1234", "-5.5", "1e3", "1234567",
        "1.234,50", "12,00", "12,3456",  # grouping does not fit ',' thousands + '.' decimal: not misread
        None]
    # European style, declared in the mapping
    assert _texts(number_text, ["1.234,50", "12,00", "1234,5", "1,234.50"], ",", ".") == [
        "1234.50", "12.00", "1234.5", "1,234.50"]
    # no thousands separator at all; and a scale (milliseconds -> seconds)
    assert _texts(number_text, ["1,234"], ".", "") == ["1,234"]
    assert [float(x) for x in _texts(number_text, ["90500", "1,000"], ".", ",", 0.001)] == [90.5, 1.0]


def test_timestamps_in_every_documented_format():
    iso = ["2024-01-15T10:00:00+02:00", "2024-01-15T10:00:00Z", "2024-01-15T10:00:00.000+0000",
           "2024-01-15 10:00:00", "2024-01-15", "not a date", None]
    assert _texts(timestamp_text, iso, None, "UTC")[:5] == [
        "2024-01-15 08:00:00.000000", "2024-01-15 10:00:00.000000", "2024-01-15 10:00:00.000000",
        "2024-01-15 10:00:00.000000", "2024-01-15 00:00:00.000000"]
    assert _texts(timestamp_text, iso, None, "UTC")[5:] == ["not a date", None]  # left for the contract
    # wall times in a zone: winter (UTC+1) and summer (UTC+2) in Paris; offsets still honoured
    paris = ["2024-01-15 10:00:00", "2024-07-15 10:00:00", "2024-07-15T10:00:00Z"]
    assert _texts(timestamp_text, paris, None, "Europe/Paris") == [
        "2024-01-15 09:00:00.000000", "2024-07-15 08:00:00.000000", "2024-07-15 10:00:00.000000"]
    assert _texts(timestamp_text, ["15/01/2024 14:05", "31/02/2024 14:05"], "%d/%m/%Y %H:%M", "UTC") == [
        "2024-01-15 14:05:00.000000", "31/02/2024 14:05"]
    # Excel serial days: 45306 is 2024-01-15, .5 is noon
    assert _texts(timestamp_text, ["45306", "45306.5"], "excel", "UTC") == [
        "2024-01-15 00:00:00.000000", "2024-01-15 12:00:00.000000"]
    assert _texts(timestamp_text, ["1705312800000"], "epoch_ms", "UTC") == ["2024-01-15 10:00:00.000000"]
    assert _texts(timestamp_text, ["1705312800"], "epoch_s", "UTC") == ["2024-01-15 10:00:00.000000"]


# --------------------------------------------------------------------------- a whole mapping

MAPPING = """\
mapping: 1
name: test crm
timezone: Europe/Paris
lookups:
  lead_of_deal: {file: people.csv, key: Deal, value: Person}
tables:
  leads:
    file: people.csv
    csv: {delimiter: ";", encoding: latin-1}
    drop:
      - {column: Deleted, equals: "yes", reason: deleted in the CRM}
    columns:
      lead_id: Person
      created_at: {column: Created, format: "%d/%m/%Y %H:%M"}
      source: {column: [Origin, hs_analytics_source], default: unknown}
      tier: {column: Level, map: {A: high, B: moderate, C: low}}
      owner_id: {column: Owner, optional: true}
  activities:
    - file: calls.csv
      columns:
        activity_id: Id
        lead_id: {column: Who, split: ";"}
        occurred_at: {column: When, format: excel}
        type: {value: call}
        duration_s: {column: Millis, scale: 0.001}
    - file: emails.xlsx
      columns:
        activity_id: Id
        lead_id: Who
        occurred_at: When
        type: {value: email}
  deals:
    file: deals.csv
    columns:
      deal_id: Id
      lead_id: {column: Id, lookup: lead_of_deal}
      created_at: Created
      stage:
        when:
          - {column: Won, equals: "true", then: won}
          - {column: Closed, equals: ["true", "1"], then: lost}
        else: open
      amount: {column: Amount, number: {decimal: ",", thousands: "."}}
    drop:
      - {field: lead_id, missing: true, reason: deal not created from a lead}
"""


def _write_export(d: Path) -> Path:
    import openpyxl

    d.mkdir(parents=True, exist_ok=True)
    people = ("Person;Created;Origin;Level;Deleted;Deal;Email\n"
              "P1;15/01/2024 10:00;Café webinar;A;no;O1;a@b.c\n"
              "P2;15/07/2024 10:00;;c;no;;\n"
              "P3;16/07/2024 10:00;tradeshow;B;yes;;\n")
    (d / "people.csv").write_bytes(people.encode("latin-1"))
    (d / "calls.csv").write_text("Id,Who,When,Millis,,\nC1,P1;P2,45307.5,90500,,\nC2,P2,45489.25,,,\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Id", "Who", "When"])
    sheet.append(["E1", "P1", datetime(2024, 1, 16, 9, 30)])
    book.save(d / "emails.xlsx")
    (d / "deals.csv").write_text('\ufeffId,Created,Won,Closed,Amount\n'
                                 'O1,2024-02-01T09:00:00Z,true,true,"€ 1.234,50"\n'
                                 'O2,2024-02-02T09:00:00Z,false,false,\n', encoding="utf-8")
    return d


def test_a_mapping_reads_a_messy_export_into_the_contract(tmp_path):
    data = _write_export(tmp_path / "export")
    (tmp_path / "m.yml").write_text(MAPPING)
    crm = open_crm(_prepare(data, tmp_path, tmp_path / "m.yml"))
    leads = crm.leads.order_by("lead_id").execute()
    assert leads.lead_id.tolist() == ["P1", "P2"]  # P3 deleted
    assert leads.source.tolist() == ["Café webinar", "unknown"]  # Latin-1 read; empty -> default
    assert leads.tier.tolist() == ["high", "low"]  # value map ignores case
    assert leads.created_at.tolist() == [pd.Timestamp("2024-01-15 09:00"), pd.Timestamp("2024-07-15 08:00")]
    assert not crm.has("leads", "owner_id")  # optional and absent
    acts = crm.activities.order_by("activity_id").execute()
    assert acts.activity_id.tolist() == ["C1", "C2", "E1"]
    assert acts.lead_id.tolist() == ["P1", "P2", "P1"]  # first of a list-valued cell
    # Excel serial 45307.5 = 2024-01-16 12:00 Paris = 11:00 UTC; 45489.25 = 2024-07-16 06:00 Paris
    assert acts.occurred_at.tolist() == [pd.Timestamp("2024-01-16 11:00"), pd.Timestamp("2024-07-16 04:00"),
                                         pd.Timestamp("2024-01-16 08:30")]
    assert acts.type.tolist() == ["call", "call", "email"]
    assert acts.duration_s.tolist()[0] == pytest.approx(90.5)
    deals = crm.deals.execute()
    assert deals.deal_id.tolist() == ["O1"]  # O2 has no lead
    assert deals.lead_id.tolist() == ["P1"] and deals.stage.tolist() == ["won"]
    assert deals.amount.tolist() == [pytest.approx(1234.50)]
    excluded = {(e["table"], e["reason"]): e["rows"] for e in crm.manifest["excluded"]}
    assert excluded == {("leads", "deleted in the CRM"): 1, ("deals", "deal not created from a lead"): 1}
    assert crm.manifest["mapping"]["name"] == "test crm"


def test_a_value_the_mapping_cannot_convert_is_reported_with_its_file_and_row(tmp_path):
    data = _write_export(tmp_path / "export")
    (data / "deals.csv").write_text("Id,Created,Won,Closed,Amount\nO1,2024-02-01T09:00:00Z,true,true,\"1,234.50\"\n")
    (tmp_path / "m.yml").write_text(MAPPING)
    err = _error(data, tmp_path, tmp_path / "m.yml")
    [v] = [v for v in err.violations if v.column == "amount"]
    assert v.file.endswith("deals.csv") and "valid" in v.rule and v.examples[0]["row"] == 1
    assert v.examples[0]["amount"] == "1,234.50"  # the text as written, refused not misread


@pytest.mark.parametrize("edit, line, column, words", [
    (("source: {column: [Origin, hs_analytics_source], default: unknown}", "source: Source"),
     15, "leads.source", "source column 'Source' is not in people.csv"),
    (("      owner_id: {column: Owner, optional: true}", "      owner: Owner"),
     17, "leads.owner", "not a column of leads"),
    (("    file: deals.csv\n", "    file: opportunities.csv\n"), 33, "deals", "file 'opportunities.csv' is not in"),
    (("lookup: lead_of_deal}", "lookup: lead_of_opp}"), 36, "deals.lead_id", "unknown lookup 'lead_of_opp'"),
    (("mapping: 1\n", "mapping: 2\n"), 1, "mapping", "format version"),
    (("  deals:\n    file", "  opportunities:\n    file"), 32, "opportunities", "not a canonical table"),
    (("      - {field: lead_id, missing", "      - {field: rep_id, missing"), 45, "deals.drop", "not mapped"),
    (("        type: {value: call}", "        type: {vale: call}"), 24, "activities.type.vale", "unknown key"),
])
def test_mapping_mistakes_name_the_mapping_line(tmp_path, edit, line, column, words):
    data = _write_export(tmp_path / "export")
    assert edit[0] in MAPPING
    (tmp_path / "m.yml").write_text(MAPPING.replace(edit[0], edit[1]))
    err = _error(data, tmp_path, tmp_path / "m.yml")
    assert any(v.file == f"m.yml line {line}" and v.column == column and words in v.rule
               for v in err.violations), str(err)


def test_unknown_profile_is_refused(tmp_path, crm_dir):
    err = _error(crm_dir(), tmp_path, "no-such-crm")
    assert "no such profile or mapping file" in str(err) and "salesforce" in str(err)


def test_lookup_keeps_unmatched_values_when_asked(tmp_path):
    data = _write_export(tmp_path / "export")
    text = MAPPING.replace("lookup: lead_of_deal}", "lookup: lead_of_deal, keep_unmatched: true}")
    (data / "people.csv").write_bytes((data / "people.csv").read_bytes() + b"O2;01/01/2024 10:00;x;A;no;;\n")
    (tmp_path / "m.yml").write_text(text)
    crm = open_crm(_prepare(data, tmp_path, tmp_path / "m.yml"))
    # O1 -> P1 through the lookup; O2 is not a key, kept as it is (and is a lead id here)
    assert sorted(crm.deals.execute()[["deal_id", "lead_id"]].itertuples(index=False, name=None)) == [
        ("O1", "P1"), ("O2", "O2")]


# --------------------------------------------------------------------------- messy canonical CSVs

def _export(tmp_path, leads_text: str | bytes) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    path = d / "leads.csv"
    path.write_bytes(leads_text if isinstance(leads_text, bytes) else leads_text.encode("utf-8"))
    write_csv(d / "activities.csv", ACTIVITIES)
    write_csv(d / "deals.csv", DEALS)
    return d


def _leads_text(sep=",", newline="\n", bom=False, trailing=""):
    rows = [["lead_id", "created_at", "source", "tier"]] + [[r["lead_id"], r["created_at"], r["source"], r["tier"]]
                                                          for r in LEADS]
    text = newline.join(sep.join(r) + trailing for r in rows) + newline
    return ("\ufeff" if bom else "") + text


@pytest.mark.parametrize("kind, text", [
    ("utf-8 with BOM", _leads_text(bom=True)),
    ("semicolons", _leads_text(sep=";")),
    ("tabs and CRLF", _leads_text(sep="\t", newline="\r\n")),
    ("trailing empty columns", _leads_text(trailing=",,")),
    ("quoted newline", _leads_text().replace("white paper", '"white\npaper"')),
    ("mixed time zones", _leads_text().replace("2024-01-02 09:00:00", "2024-01-02T10:00:00+01:00")
                                      .replace("2024-01-03 10:00:00", "2024-01-03T10:00:00Z")),
])
def test_messy_csv_variants_are_read_correctly(tmp_path, kind, text):
    crm = open_crm(_prepare(_export(tmp_path, text), tmp_path))
    leads = crm.leads.order_by("lead_id").execute()
    assert leads.lead_id.tolist() == ["L1", "L2", "L3"], kind
    assert leads.created_at.tolist() == [pd.Timestamp("2024-01-02 09:00"), pd.Timestamp("2024-01-03 10:00"),
                                         pd.Timestamp("2024-01-04 11:00")]
    expected = ["webinar", "white\npaper" if kind == "quoted newline" else "white paper", "webinar"]
    assert leads.source.tolist() == expected


@pytest.mark.parametrize("kind, text, column, words", [
    ("latin-1", _leads_text().replace("webinar", "séminaire").encode("latin-1"), "-", "not UTF-8"),
    ("duplicate header", _leads_text().replace("tier", "source"), "source", "more than once"),
    ("excel serial dates", _leads_text().replace("2024-01-02 09:00:00", "45293.375"), "created_at",
     "must be a valid timestamp"),
    ("empty file", b"", "-", "is empty"),
])
def test_messy_csv_variants_the_contract_cannot_read_are_refused_clearly(tmp_path, kind, text, column, words):
    err = _error(_export(tmp_path, text), tmp_path)
    assert any(v.file.endswith("leads.csv") and v.column == column and words in v.rule for v in err.violations), str(err)


def test_a_duplicate_header_on_an_unused_column_is_harmless(tmp_path):
    text = _leads_text().replace("tier", "notes,notes").replace("high", "x,y").replace("low", "x,y") \
        .replace("moderate", "x,y")
    crm = open_crm(_prepare(_export(tmp_path, text), tmp_path))
    assert crm.row_counts["leads"] == 3 and not crm.has("leads", "tier")


def test_amounts_with_currency_need_a_mapping(tmp_path, crm_dir):
    """The canonical contract takes plain numbers; '$1,000' is refused there, read through a mapping."""
    deals = [dict(DEALS[0], amount="$1,000")]
    err = _error(crm_dir(deals=deals), tmp_path)
    assert any(v.column == "amount" and "valid" in v.rule for v in err.violations)
    mapping = tmp_path / "identity.yml"
    mapping.write_text("mapping: 1\ntables:\n" + "".join(
        f"  {t}:\n    file: {t}.csv\n    columns: {{{', '.join(f'{c}: {c}' for c in cols)}}}\n"
        for t, cols in {"leads": ["lead_id", "created_at", "source", "tier"],
                        "activities": ["activity_id", "lead_id", "occurred_at", "type"],
                        "deals": ["deal_id", "lead_id", "created_at", "stage", "amount"]}.items()))
    crm = open_crm(_prepare(crm_dir(deals=deals), tmp_path, mapping))
    assert crm.deals.amount.execute().tolist() == [1000.0]


def test_a_row_two_exclusions_leave_out_is_counted_once(tmp_path):
    """An activity on an unknown person booked in the future fails both excluded rules: it is one
    row left out (under the first rule), not two, so the data-quality count is the rows dropped."""
    data = tmp_path / "export"
    data.mkdir()
    write_csv(data / "people.csv", [{"Id": "P1", "Created": "2024-01-02 09:00", "Origin": "web"}])
    write_csv(data / "calls.csv", [
        {"Id": "C1", "Who": "P1", "When": "2024-01-03 10:00"},
        {"Id": "C2", "Who": "P9", "When": "2024-01-03 10:00"},    # unknown person
        {"Id": "C3", "Who": "P1", "When": "2099-01-01 10:00"},    # future
        {"Id": "C4", "Who": "P9", "When": "2099-01-01 10:00"},    # both
        {"Id": "C5", "Who": "P8", "When": "2099-02-01 10:00"}])   # both
    write_csv(data / "deals.csv", [{"Id": "D1", "Person": "P1", "Created": "2024-01-05 10:00", "Stage": "won"}])
    (tmp_path / "m.yml").write_text("""\
mapping: 1
name: two exclusions
tables:
  leads:
    file: people.csv
    columns: {lead_id: Id, created_at: Created, source: Origin}
  activities:
    file: calls.csv
    exclude: [unknown_lead, future]
    columns: {activity_id: Id, lead_id: Who, occurred_at: When, type: {value: call}}
  deals:
    file: deals.csv
    columns: {deal_id: Id, lead_id: Person, created_at: Created, stage: Stage}
""")
    crm = open_crm(_prepare(data, tmp_path, tmp_path / "m.yml"))
    assert crm.activities.count().execute() == 1
    rows = {e["rule"]: e["rows"] for e in crm.manifest["excluded"] if e["table"] == "activities"}
    assert sorted(rows.values()) == [1, 3] and sum(rows.values()) == 4  # C2, C4, C5 unknown; C3 future
