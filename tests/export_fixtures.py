"""Vendor-style CRM exports written from canonical tables, to test the built-in profiles.

Pure functions, no pytest fixtures: give them the tables :func:`sla_analysis.io.sample.generate`
returns (``leads``, ``activities``, ``deals``, optionally ``reps``) and a folder.

* :func:`write_salesforce_export` writes what Salesforce's Data Export Service writes (one CSV per
  object: ``Lead.csv``, ``Task.csv``, ``Event.csv``, ``Opportunity.csv``, ``Contact.csv``,
  ``User.csv``), read by ``sla_analysis/io/profiles/salesforce.yml``;
* :func:`write_hubspot_export` writes HubSpot CRM exports (``contacts.csv``, ``calls.csv``,
  ``emails.csv``, ``meetings.csv``, ``deals.csv``) with display labels or internal names as headers,
  read by ``sla_analysis/io/profiles/hubspot.yml``.

Both return the canonical tables *as the profile can express them*: vendor ids instead of the
sample's, the values the export can carry (dates that are date-only in the vendor, minutes where
the export drops the seconds, the vendor's source categories, no ``proposal_at``, no rep costs, ...)
and none of the rows the profile drops. A report on the export must reproduce a report on these
tables. Tier is returned lower-cased, as the contract reads it.

The exports also hold what a real one holds and the profile must leave out: names, e-mail
addresses, phone numbers, companies and free-text notes (fake, ``example.com``, ``555-01xx``
numbers), deleted records, open and to-do tasks, inbound calls and e-mails, activities on no one,
opportunities and deals not tied to a lead, activities on contacts that never were leads (left out
by the profiles' ``exclude: [unknown_lead]``), a HubSpot deal created before its contact
(``before_lead``). ``future_meetings=True`` (the default) adds a meeting booked for 2099, which the
profiles leave out with ``exclude: [future]``. ``custom_fields=False`` leaves out the custom fields
(tier, segment, MQL date; the Salesforce score), so the canonical columns they feed are absent.

Everything is derived from the row order and ids of the input: same tables, same bytes.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_salesforce_export", "write_hubspot_export", "HUBSPOT_COLUMNS"]

FIRST = ["Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemal",
         "Lena", "Marta", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Ugo", "Vera",
         "Wei", "Yara", "Zoe"]
LAST = ["Alvarez", "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ivanova",
        "Jensen", "Kowalski", "Lambert", "Moreau", "Nowak", "Olsen", "Petit", "Quist", "Rossi",
        "Schmidt", "Tanaka", "Urban", "Vidal", "Weber", "Young", "Zimmer"]
WORDS = ["Acme", "Blue Harbor", "Cobalt", "Delta Peak", "Evergreen", "Foxglove", "Granite", "Helix",
         "Ironwood", "Juniper", "Kestrel", "Lumen", "Meridian", "Northwind", "Orchid", "Pinnacle"]
SUFFIXES = ["Ltd", "GmbH", "Inc", "SAS", "BV", "AB", "LLC"]
REP_NAMES = ["Alex Morgan", "Sam Rivera", "Jordan Lee", "Taylor Brooks", "Casey Kim", "Riley Patel",
             "Jamie Chen", "Robin Novak", "Drew Santos", "Avery Quinn"]
FAR_FUTURE = pd.Timestamp("2099-01-05 15:00:00")   # a meeting scheduled long after any run

CANONICAL = {
    "leads": ["lead_id", "created_at", "source", "segment", "tier", "score", "mql_at", "sql_at", "owner_id"],
    "activities": ["activity_id", "lead_id", "occurred_at", "type", "rep_id", "outcome", "duration_s"],
    "deals": ["deal_id", "lead_id", "created_at", "stage", "closed_at", "amount"],
    "reps": ["rep_id", "team", "role"],
}


# --------------------------------------------------------------------------- shared helpers

def _people(index: np.ndarray) -> pd.DataFrame:
    """Fake, deterministic personal data for row numbers ``index``."""
    i = np.asarray(index, dtype=np.int64)
    first = np.array(FIRST)[i % len(FIRST)]
    last = np.array(LAST)[(i * 7 + i // len(FIRST)) % len(LAST)]
    company = np.char.add(np.char.add(np.array(WORDS)[(i * 3) % len(WORDS)], " "),
                          np.array(SUFFIXES)[(i // len(WORDS)) % len(SUFFIXES)])
    email = [f"{f.lower()}.{l.lower()}.{n}@example.com" for f, l, n in zip(first, last, i)]
    phone = [f"+1 202-555-01{n % 100:02d}" for n in i]
    return pd.DataFrame({"first": first, "last": last, "company": company, "email": email, "phone": phone})


def _utc(series: pd.Series) -> pd.Series:
    s = pd.to_datetime(series)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.astype("datetime64[s]")


def _iso_z(series: pd.Series) -> pd.Series:
    """``2024-01-15T14:05:00.000Z`` (empty for missing times)."""
    s = _utc(series)
    return s.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").fillna("")


def _day(series: pd.Series) -> pd.Series:
    """``2024-01-15`` (empty for missing)."""
    return _utc(series).dt.strftime("%Y-%m-%d").fillna("")


def _blank_none(values) -> pd.Series:
    """Empty text as missing."""
    s = pd.Series(values, dtype=object).reset_index(drop=True)
    return s.where(s.notna() & (s != ""), None)


def _bool(values) -> np.ndarray:
    return np.where(np.asarray(values, dtype=bool), "true", "false")


def _num(values) -> list[str]:
    """Numbers as an export writes them: ``61400`` or ``61400.5``; empty for missing."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif float(v).is_integer():
            out.append(str(int(v)))
        else:
            out.append(repr(float(v)))
    return out


def _write(df: pd.DataFrame, path: Path, quote_all: bool) -> None:
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n", na_rep="",
              quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)


def _ordered(df: pd.DataFrame, table: str) -> pd.DataFrame:
    cols = [c for c in CANONICAL[table] if c in df.columns]
    out = df[cols].reset_index(drop=True)
    for c in cols:
        if c.endswith("_at"):
            out[c] = _utc(out[c])
        elif c in ("score", "duration_s", "amount"):
            out[c] = pd.to_numeric(out[c]).astype("float64")
        else:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _n_extra(n: int) -> int:
    """How many of each odd case to add: a few, growing slowly with the export's size."""
    return max(2, n // 500)


def _owners(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Every rep id the tables use: the reps table's order first, then any other owner or rep."""
    seen = list(tables["reps"]["rep_id"]) if "reps" in tables and len(tables["reps"]) else []
    others = pd.concat([tables["leads"].get("owner_id", pd.Series(dtype=object)),
                        tables["activities"].get("rep_id", pd.Series(dtype=object))]).dropna().unique()
    return list(dict.fromkeys(seen + sorted(map(str, others))))


# --------------------------------------------------------------------------- Salesforce

def _sfid(prefix: str, numbers) -> np.ndarray:
    """18-character Salesforce-style ids: key prefix (00Q lead, 003 contact, 001 account, 006
    opportunity, 00T task, 00U event, 005 user) + a running number."""
    return np.array([f"{prefix}Hs{int(n):010d}AAC" for n in np.asarray(numbers)], dtype=object)


SF_DISPOSITION = {"connected": "Connected", "no_answer": "No Answer", "voicemail": "Left Voicemail",
                  "busy": "Busy", "wrong_number": "Wrong Number"}
SF_STAGE = {"won": ("Closed Won", 100, "Closed", True, True), "lost": ("Closed Lost", 0, "Omitted", True, False),
            "open": ("Proposal/Price Quote", 75, "Pipeline", False, False)}


def _inputs(tables: dict[str, pd.DataFrame], out_dir: Path):
    """Create ``out_dir``; the leads, activities and deals renumbered from 0, the number of leads and
    how many of each odd case to add."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    leads = tables["leads"].reset_index(drop=True)
    acts = tables["activities"].reset_index(drop=True)
    deals = tables["deals"].reset_index(drop=True)
    return leads, acts, deals, len(leads), _n_extra(len(leads))


def write_salesforce_export(tables: dict[str, pd.DataFrame], out_dir: Path, *, custom_fields: bool = True,
                            future_meetings: bool = True) -> dict[str, pd.DataFrame]:
    """Write a Salesforce Data Export Service folder for the canonical ``tables``; return the
    canonical tables the ``salesforce`` profile reads back from it."""
    out_dir = Path(out_dir)
    leads, acts, deals, n, k = _inputs(tables, out_dir)

    # Users (reps)
    owners = _owners(tables)
    user_id = dict(zip(owners, _sfid("005", np.arange(1, len(owners) + 1))))
    reps_in = tables.get("reps")
    rep_info = reps_in.set_index("rep_id") if reps_in is not None and len(reps_in) else pd.DataFrame()
    up = _people(np.arange(len(owners)) + 90_000)
    users = pd.DataFrame({
        "Id": [user_id[o] for o in owners],
        "Username": [f"{f.lower()}.{l.lower()}@crm.example.com" for f, l in zip(up["first"], up["last"])],
        "LastName": up["last"], "FirstName": up["first"], "Name": up["first"] + " " + up["last"],
        "Email": up["email"],
        "Department": [rep_info["team"].get(o, "") if "team" in rep_info else "" for o in owners],
        "Title": [rep_info["role"].get(o, "") if "role" in rep_info else "" for o in owners],
        "IsActive": "true", "UserType": "Standard",
        "CreatedDate": "2022-06-01T08:00:00.000Z",
    })

    # Leads, conversion
    lead_id = dict(zip(leads["lead_id"], _sfid("00Q", np.arange(1, n + 1))))
    first_deal = deals.drop_duplicates("lead_id", keep="first")
    opp_id = dict(zip(deals["deal_id"], _sfid("006", np.arange(1, len(deals) + 1))))
    conv = leads["lead_id"].map(first_deal.set_index("lead_id")["deal_id"])
    converted = conv.notna().to_numpy()
    conv_rank = np.cumsum(converted)
    contact_id = np.where(converted, _sfid("003", conv_rank), "")
    account_id = np.where(converted, _sfid("001", conv_rank), "")
    deal_created = conv.map(deals.set_index("deal_id")["created_at"])
    conv_time = leads["sql_at"].where(leads["sql_at"].notna(), deal_created) if "sql_at" in leads else deal_created
    conv_time = conv_time.where(converted)
    ppl = _people(np.arange(n))
    owner_sf = leads["owner_id"].map(user_id).fillna("") if "owner_id" in leads else pd.Series("", index=leads.index)
    last_act = acts.groupby("lead_id")["occurred_at"].max()
    touched = leads["lead_id"].isin(last_act.index).to_numpy()
    status = np.where(converted, "Closed - Converted", np.where(touched, "Working - Contacted", "Open - Not Contacted"))
    modified = pd.concat([_utc(leads["created_at"]), _utc(leads["lead_id"].map(last_act))], axis=1).max(axis=1)
    lead_csv = pd.DataFrame({
        "Id": leads["lead_id"].map(lead_id), "IsDeleted": "false", "MasterRecordId": "",
        "LastName": ppl["last"], "FirstName": ppl["first"], "Salutation": "",
        "Name": ppl["first"] + " " + ppl["last"], "Title": "Head of Operations", "Company": ppl["company"],
        "City": "Springfield", "Country": "US", "Phone": ppl["phone"], "Email": ppl["email"],
        "LeadSource": leads["source"].str.title(), "Status": status, "Industry": "Manufacturing",
        "Rating": "", "NumberOfEmployees": "", "OwnerId": owner_sf, "HasOptedOutOfEmail": "false",
        "IsConverted": _bool(converted), "ConvertedDate": _day(conv_time),
        "ConvertedAccountId": account_id, "ConvertedContactId": contact_id,
        "ConvertedOpportunityId": conv.map(opp_id).fillna(""), "IsUnreadByOwner": "false",
        "CreatedDate": _iso_z(leads["created_at"]), "CreatedById": owner_sf,
        "LastModifiedDate": _iso_z(modified), "SystemModstamp": _iso_z(modified),
        "LastActivityDate": _day(leads["lead_id"].map(last_act)), "DoNotCall": "false",
    })
    if custom_fields:
        for col, src in (("Tier__c", "tier"), ("Segment__c", "segment")):
            if src in leads:
                lead_csv[col] = leads[src].fillna("").str.title() if src == "tier" else leads[src].fillna("")
        if "mql_at" in leads:
            lead_csv["MQL_Date__c"] = _iso_z(leads["mql_at"])
        if "score" in leads:
            lead_csv["pi__score__c"] = _num(leads["score"])
    # Deleted leads (Recycle Bin), with their deleted tasks
    del_rows = np.arange(k) * max(1, n // k) % max(n, 1)
    del_ids = _sfid("00Q", np.arange(n + 1, n + k + 1))
    deleted = lead_csv.iloc[del_rows].copy()
    dp = _people(np.arange(k) + 50_000)
    deleted = deleted.assign(Id=del_ids, IsDeleted="true", IsConverted="false", ConvertedDate="",
                             ConvertedAccountId="", ConvertedContactId="", ConvertedOpportunityId="",
                             Status="Open - Not Contacted", FirstName=dp["first"].values,
                             LastName=dp["last"].values, Email=dp["email"].values, Phone=dp["phone"].values)
    lead_out = pd.concat([lead_csv, deleted], ignore_index=True)

    # Contacts: one per converted lead, plus a few that never were leads
    cidx = np.flatnonzero(converted)
    contact_csv = pd.DataFrame({
        "Id": contact_id[cidx], "IsDeleted": "false", "AccountId": account_id[cidx],
        "LastName": ppl["last"].values[cidx], "FirstName": ppl["first"].values[cidx],
        "Name": (ppl["first"] + " " + ppl["last"]).values[cidx], "Email": ppl["email"].values[cidx],
        "Phone": ppl["phone"].values[cidx], "Title": "Head of Operations",
        "LeadSource": lead_csv["LeadSource"].values[cidx], "OwnerId": owner_sf.values[cidx],
        "CreatedDate": _iso_z(conv_time.iloc[cidx]).values,
    })
    other_contacts = _sfid("003", np.arange(len(cidx) + 1, len(cidx) + k + 1))   # never leads
    op = _people(np.arange(k) + 70_000)
    contact_csv = pd.concat([contact_csv, pd.DataFrame({
        "Id": other_contacts, "IsDeleted": "false", "AccountId": _sfid("001", np.arange(k) + 900_000),
        "LastName": op["last"], "FirstName": op["first"], "Name": op["first"] + " " + op["last"],
        "Email": op["email"], "Phone": op["phone"], "Title": "Buyer", "LeadSource": "",
        "OwnerId": users["Id"].iloc[0], "CreatedDate": "2023-03-01T10:00:00.000Z"})], ignore_index=True)

    # Tasks (calls, e-mails, other) and events (meetings) from the activities
    lead_row = pd.Series(np.arange(n), index=leads["lead_id"])
    a_row = acts["lead_id"].map(lead_row).to_numpy()
    a_conv = converted[a_row]
    who = np.where(a_conv, contact_id[a_row], leads["lead_id"].map(lead_id).to_numpy()[a_row])
    what = np.where(a_conv, conv.map(opp_id).fillna("").to_numpy()[a_row], "")
    acc = np.where(a_conv, account_id[a_row], "")
    rep_sf = acts["rep_id"].map(user_id).fillna("").to_numpy() if "rep_id" in acts else np.full(len(acts), "")
    kind = acts["type"].str.lower().to_numpy()
    is_meet = kind == "meeting"
    t_idx = np.flatnonzero(~is_meet)
    e_idx = np.flatnonzero(is_meet)
    ta = acts.iloc[t_idx]
    tkind = kind[t_idx]
    is_call, is_mail = tkind == "call", tkind == "email"
    outcome = ta["outcome"] if "outcome" in ta else pd.Series(np.nan, index=ta.index)
    dispo = np.where(is_call, outcome.map(lambda o: SF_DISPOSITION.get(o, o.title() if isinstance(o, str) else "")).fillna(""), "")
    dur = ta["duration_s"].round() if "duration_s" in ta else pd.Series(np.nan, index=ta.index)
    first_names = ppl["first"].to_numpy()[a_row[t_idx]]
    last_names = ppl["last"].to_numpy()[a_row[t_idx]]
    subject = np.where(is_call, "Call", np.where(is_mail, [f"Email: {f}, your enquiry" for f in first_names],
                                                 [str(t).title() for t in tkind]))
    description = np.where(is_call & (outcome.to_numpy() == "connected"),
                           [f"Spoke with {f} {l} about next steps" for f, l in zip(first_names, last_names)],
                           np.where(is_call, "No reply", ""))
    task_ids = _sfid("00T", np.arange(1, len(t_idx) + 1))
    completed = _iso_z(ta["occurred_at"]).to_numpy().copy()
    completed[::50] = ""                          # tasks closed before CompletedDateTime existed
    task_csv = pd.DataFrame({
        "Id": task_ids, "WhoId": who[t_idx], "WhatId": what[t_idx], "Subject": subject,
        "ActivityDate": _day(ta["occurred_at"]).to_numpy(), "Status": "Completed", "Priority": "Normal",
        "OwnerId": rep_sf[t_idx], "Description": description,
        "Type": np.where(is_call, "Call", np.where(is_mail, "Email", [str(t).title() for t in tkind])),
        "IsDeleted": "false", "AccountId": acc[t_idx], "IsClosed": "true",
        "CreatedDate": _iso_z(ta["occurred_at"]).to_numpy(), "CreatedById": rep_sf[t_idx],
        "LastModifiedDate": _iso_z(ta["occurred_at"]).to_numpy(),
        "CallDurationInSeconds": np.where(is_call, _num(dur), ""),
        "CallType": np.where(is_call, "Outbound", ""), "CallDisposition": dispo, "CallObject": "",
        "TaskSubtype": np.where(is_call, "Call", np.where(is_mail, "Email", "Task")),
        "CompletedDateTime": completed,
    })
    kept_task = is_call | is_mail                 # other task types map to `other` and are dropped
    exp_tasks = pd.DataFrame({
        "activity_id": task_ids, "lead_id": ta["lead_id"].map(lead_id).to_numpy(),
        "occurred_at": _utc(ta["occurred_at"]).to_numpy(), "type": tkind, "rep_id": _blank_none(rep_sf[t_idx]),
        "outcome": np.where(is_mail, "sent", pd.Series(dispo).str.lower().replace({
            "connected": "connected", "no answer": "no_answer", "left voicemail": "voicemail",
            "busy": "busy", "wrong number": "wrong_number", "": None}).to_numpy()),
        "duration_s": np.where(is_call, dur.to_numpy(), np.nan),
    })[kept_task]

    # Odd tasks the profile must drop
    live = np.arange(k) * max(1, n // k) % max(n, 1)          # leads the odd rows hang on
    live_who = leads["lead_id"].map(lead_id).to_numpy()[live]
    live_who = np.where(converted[live], contact_id[live], live_who)
    live_owner = owner_sf.to_numpy()[live]
    base_t = _utc(leads["created_at"]).iloc[live].reset_index(drop=True) + pd.Timedelta(hours=30)
    def odd(offset: int, who_ids, **fields) -> pd.DataFrame:
        m = len(who_ids)
        row = {c: "" for c in task_csv.columns}
        row.update(Id=list(_sfid("00T", np.arange(m) + 10_000_000 + offset * 100_000)), WhoId=list(who_ids),
                   Subject="Call", Status="Completed", Priority="Normal", OwnerId=list(live_owner[:m]),
                   IsDeleted="false", IsClosed="true", CreatedDate=list(_iso_z(base_t[:m])),
                   CompletedDateTime=list(_iso_z(base_t[:m])), ActivityDate=list(_day(base_t[:m])),
                   LastModifiedDate=list(_iso_z(base_t[:m])), Type="Call", TaskSubtype="Call",
                   CallType="Outbound", CallDurationInSeconds="42", CallDisposition="Connected")
        row.update(fields)
        return pd.DataFrame(row)
    odd_tasks = [
        odd(1, del_ids, IsDeleted="true"),                                       # deleted leads' tasks
        odd(2, live_who, IsDeleted="true", Description="Logged twice"),         # deleted task
        odd(3, live_who, IsClosed="false", Status="Not Started", CompletedDateTime="",
            Subject="Call back", CallDurationInSeconds="", CallDisposition=""),  # open task
        odd(4, live_who, TaskSubtype="Task", Type="Other", Subject="Send pricing sheet",
            CallType="", CallDurationInSeconds="", CallDisposition=""),          # to-do
        odd(5, live_who, CallType="Inbound"),                                    # inbound call
        odd(6, [""] * k, TaskSubtype="Email", Type="Email", Subject="Email: newsletter",
            CallType="", CallDurationInSeconds="", CallDisposition=""),          # on no one
    ]
    odd_tasks.append(odd(7, other_contacts))                                     # contact, never a lead
    task_out = pd.concat([task_csv, *odd_tasks], ignore_index=True)

    # Events (meetings)
    ea = acts.iloc[e_idx]
    minutes = (ea["duration_s"] / 60).round().fillna(30) if "duration_s" in ea else pd.Series(30.0, index=ea.index)
    start = _utc(ea["occurred_at"])
    ev_ids = _sfid("00U", np.arange(1, len(e_idx) + 1))
    event_csv = pd.DataFrame({
        "Id": ev_ids, "WhoId": who[e_idx], "WhatId": what[e_idx], "Subject": "Meeting",
        "Location": "Video call", "IsAllDayEvent": "false", "ActivityDateTime": _iso_z(start).to_numpy(),
        "ActivityDate": _day(start).to_numpy(), "DurationInMinutes": _num(minutes),
        "StartDateTime": _iso_z(start).to_numpy(),
        "EndDateTime": _iso_z(start + pd.to_timedelta(minutes.to_numpy(), unit="m")).to_numpy(),
        "Description": "", "AccountId": acc[e_idx], "OwnerId": rep_sf[e_idx], "Type": "Meeting",
        "IsPrivate": "false", "ShowAs": "Busy", "IsDeleted": "false", "IsChild": "false",
        "IsGroupEvent": "false", "CreatedDate": _iso_z(start - pd.Timedelta(days=2)).to_numpy(),
        "CreatedById": rep_sf[e_idx], "LastModifiedDate": _iso_z(start).to_numpy(), "EventSubtype": "Event",
    }, columns=["Id", "WhoId", "WhatId", "Subject", "Location", "IsAllDayEvent", "ActivityDateTime",
                "ActivityDate", "DurationInMinutes", "StartDateTime", "EndDateTime", "Description",
                "AccountId", "OwnerId", "Type", "IsPrivate", "ShowAs", "IsDeleted", "IsChild",
                "IsGroupEvent", "CreatedDate", "CreatedById", "LastModifiedDate", "EventSubtype"])
    exp_events = pd.DataFrame({
        "activity_id": ev_ids, "lead_id": ea["lead_id"].map(lead_id).to_numpy(),
        "occurred_at": start.to_numpy(), "type": "meeting", "rep_id": _blank_none(rep_sf[e_idx]), "outcome": None,
        "duration_s": minutes.to_numpy() * 60.0,
    })
    odd_events = []
    for j, (when, deleted_flag) in enumerate([(base_t.iloc[0], "true")] + ([(FAR_FUTURE, "false")] if future_meetings else [])):
        row = {c: "" for c in event_csv.columns}
        row.update(Id=_sfid("00U", [20_000_000 + j])[0], WhoId=live_who[0], Subject="Demo", IsAllDayEvent="false",
                   ActivityDateTime=_iso_z(pd.Series([when])).iloc[0], StartDateTime=_iso_z(pd.Series([when])).iloc[0],
                   ActivityDate=_day(pd.Series([when])).iloc[0], DurationInMinutes="30", OwnerId=live_owner[0],
                   Type="Meeting", IsDeleted=deleted_flag, EventSubtype="Event",
                   CreatedDate=_iso_z(pd.Series([base_t.iloc[0]])).iloc[0])
        odd_events.append(row)
    event_out = pd.concat([event_csv, pd.DataFrame(odd_events, columns=event_csv.columns)], ignore_index=True)

    # Opportunities
    d_lead_row = deals["lead_id"].map(lead_row).to_numpy()
    linked = deals["deal_id"].isin(first_deal["deal_id"]).to_numpy()   # a lead converts into one opportunity
    stage = deals["stage"].str.lower()
    st = stage.map(SF_STAGE)
    closed = stage.isin(["won", "lost"]).to_numpy()
    expected_close = _utc(deals["created_at"]) + pd.Timedelta(days=60)
    close_day = np.where(closed, _day(deals["closed_at"]), _day(expected_close))
    d_owner = owner_sf.to_numpy()[d_lead_row]
    opp_csv = pd.DataFrame({
        "Id": deals["deal_id"].map(opp_id), "IsDeleted": "false",
        "AccountId": np.where(converted[d_lead_row], account_id[d_lead_row], ""),
        "Name": ppl["company"].to_numpy()[d_lead_row] + " - New Business", "Description": "",
        "StageName": [s[0] for s in st], "Amount": _num(deals["amount"]) if "amount" in deals else "",
        "Probability": [s[1] for s in st], "CloseDate": close_day, "Type": "New Business", "NextStep": "",
        "LeadSource": lead_csv["LeadSource"].to_numpy()[d_lead_row],
        "IsClosed": _bool([s[3] for s in st]), "IsWon": _bool([s[4] for s in st]),
        "ForecastCategory": [s[2] for s in st], "ForecastCategoryName": [s[2] for s in st],
        "HasOpportunityLineItem": "false", "OwnerId": d_owner,
        "CreatedDate": _iso_z(deals["created_at"]), "CreatedById": d_owner,
        "LastModifiedDate": _iso_z(deals["closed_at"].where(deals["closed_at"].notna(), deals["created_at"])),
    })
    odd_opps = opp_csv.iloc[[0] * 2].copy() if len(opp_csv) else opp_csv.copy()
    if len(odd_opps):
        odd_opps["Id"] = _sfid("006", [30_000_000, 30_000_001])
        odd_opps["IsDeleted"] = ["true", "false"]          # a deleted one; one made from an account
        odd_opps["Name"] = ["Duplicate - delete", "Renewal 2024"]
    opp_out = pd.concat([opp_csv, odd_opps], ignore_index=True)
    exp_deals = pd.DataFrame({
        "deal_id": deals["deal_id"].map(opp_id), "lead_id": deals["lead_id"].map(lead_id),
        "created_at": _utc(deals["created_at"]), "stage": stage,
        "closed_at": pd.to_datetime(pd.Series(np.where(closed, close_day, None)), format="%Y-%m-%d"),
        "amount": deals["amount"] if "amount" in deals else np.nan,
    })[linked]

    # Write
    _write(lead_out, out_dir / "Lead.csv", True)
    _write(contact_csv, out_dir / "Contact.csv", True)
    _write(task_out, out_dir / "Task.csv", True)
    _write(event_out, out_dir / "Event.csv", True)
    _write(opp_out, out_dir / "Opportunity.csv", True)
    _write(users, out_dir / "User.csv", True)

    exp_leads = pd.DataFrame({
        "lead_id": lead_csv["Id"], "created_at": _utc(leads["created_at"]),
        "source": lead_csv["LeadSource"].replace("", "unknown").fillna("unknown"),
        "owner_id": _blank_none(owner_sf),
        "sql_at": pd.to_datetime(_blank_none(lead_csv["ConvertedDate"]), format="%Y-%m-%d"),
    })
    if custom_fields:
        if "tier" in leads:
            exp_leads["tier"] = leads["tier"].str.lower()
        if "segment" in leads:
            exp_leads["segment"] = leads["segment"]
        if "mql_at" in leads:
            exp_leads["mql_at"] = _utc(leads["mql_at"])
        if "score" in leads:
            exp_leads["score"] = leads["score"].astype(float)
    exp_acts = pd.concat([exp_tasks, exp_events], ignore_index=True)
    exp_reps = pd.DataFrame({"rep_id": users["Id"], "team": _blank_none(users["Department"]),
                             "role": _blank_none(users["Title"])})
    return {"leads": _ordered(exp_leads, "leads"), "activities": _ordered(exp_acts, "activities"),
            "deals": _ordered(exp_deals, "deals"), "reps": _ordered(exp_reps, "reps")}


# --------------------------------------------------------------------------- HubSpot

# (internal name, display label) per file; the display labels are those of an export from the app.
HUBSPOT_COLUMNS = {
    "contacts": [
        ("hs_object_id", "Record ID"), ("firstname", "First Name"), ("lastname", "Last Name"),
        ("email", "Email"), ("phone", "Phone Number"), ("company", "Company Name"), ("jobtitle", "Job Title"),
        ("createdate", "Create Date"), ("lastmodifieddate", "Last Modified Date"),
        ("hubspot_owner_id", "Contact owner"), ("lifecyclestage", "Lifecycle Stage"),
        ("hs_lead_status", "Lead Status"), ("hs_analytics_source", "Original Source"),
        ("hs_analytics_source_data_1", "Original Source Drill-Down 1"),
        ("hs_lifecyclestage_lead_date", "Became a Lead Date"),
        ("hs_lifecyclestage_marketingqualifiedlead_date", "Became a Marketing Qualified Lead Date"),
        ("hs_lifecyclestage_salesqualifiedlead_date", "Became a Sales Qualified Lead Date"),
        ("hs_lifecyclestage_opportunity_date", "Became an Opportunity Date"),
        ("hs_lifecyclestage_customer_date", "Became a Customer Date"),
        ("hubspotscore", "HubSpot Score"), ("tier", "Tier"), ("segment", "Segment")],
    "calls": [
        ("hs_object_id", "Record ID"), ("hs_timestamp", "Activity date"), ("hs_call_title", "Call title"),
        ("hs_call_body", "Call notes"), ("hs_call_direction", "Call direction"),
        ("hs_call_disposition", "Call outcome"), ("hs_call_duration", "Call duration"),
        ("hs_call_status", "Call status"), ("hubspot_owner_id", "Activity assigned to"),
        ("Associated Contact", "Associated Contact"), ("Associated Contact IDs", "Associated Contact IDs")],
    "emails": [
        ("hs_object_id", "Record ID"), ("hs_timestamp", "Activity date"), ("hs_email_subject", "Email subject"),
        ("hs_email_direction", "Email direction"), ("hs_email_status", "Email send status"),
        ("hubspot_owner_id", "Activity assigned to"),
        ("Associated Contact", "Associated Contact"), ("Associated Contact IDs", "Associated Contact IDs")],
    "meetings": [
        ("hs_object_id", "Record ID"), ("hs_timestamp", "Activity date"), ("hs_meeting_title", "Meeting name"),
        ("hs_meeting_start_time", "Meeting start time"), ("hs_meeting_end_time", "Meeting end time"),
        ("hs_meeting_outcome", "Meeting outcome"), ("hubspot_owner_id", "Activity assigned to"),
        ("Associated Contact", "Associated Contact"), ("Associated Contact IDs", "Associated Contact IDs")],
    "deals": [
        ("hs_object_id", "Record ID"), ("dealname", "Deal Name"), ("pipeline", "Pipeline"),
        ("dealstage", "Deal Stage"), ("amount", "Amount"), ("closedate", "Close Date"),
        ("createdate", "Create Date"), ("hubspot_owner_id", "Deal owner"),
        ("hs_is_closed_won", "Is Closed Won"), ("hs_is_closed", "Is Deal Closed?"),
        ("Associated Contact", "Associated Contact"), ("Associated Contact IDs", "Associated Contact IDs")],
}
# Original source: sample offer -> HubSpot channel (internal value, display label, canonical value)
HS_SOURCE = {"white paper": ("ORGANIC_SEARCH", "Organic search", "organic search"),
             "webinar": ("EMAIL_MARKETING", "Email marketing", "email marketing"),
             "online demo": ("PAID_SEARCH", "Paid search", "paid search"),
             "tradeshow": ("OFFLINE", "Offline sources", "offline sources"),
             "contact sales": ("DIRECT_TRAFFIC", "Direct traffic", "direct traffic")}
HS_OTHER_SOURCE = ("REFERRALS", "Referrals", "referrals")
HS_DISPOSITION = {"connected": ("f240bbac-87c9-4f6e-bf70-924b57d47db7", "Connected"),
                  "no_answer": ("73a0d17f-1163-4015-bdd5-ec830791da20", "No answer"),
                  "voicemail": ("b2cf5968-551e-4856-9783-52b3da59a7d0", "Left voicemail"),
                  "live_message": ("a4c4c377-d246-4b32-a13b-75a56a4cd0ff", "Left live message"),
                  "busy": ("9d9162e7-6cf3-4944-bf63-4dff82258764", "Busy"),
                  "wrong_number": ("17b47fee-58de-441e-a44c-c6300d46f273", "Wrong number")}
HS_STAGE = {"won": ("closedwon", "Closed Won"), "lost": ("closedlost", "Closed Lost"),
            "open": ("contractsent", "Contract Sent")}
HS_LIFECYCLE = {"lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
                "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity", "customer": "Customer"}


def write_hubspot_export(tables: dict[str, pd.DataFrame], out_dir: Path, headers: str = "display", *,
                         custom_fields: bool = True, future_meetings: bool = True,
                         timezone: str = "UTC") -> dict[str, pd.DataFrame]:
    """Write HubSpot CRM exports for the canonical ``tables``; return the canonical tables the
    ``hubspot`` profile reads back from them.

    ``headers="display"``: an export from the app: display labels as headers and values, owners by
    name, times as ``2024-01-15 14:05`` (no seconds) in the account's ``timezone`` (the profile's
    ``timezone`` must then be the same). ``headers="api"``: internal names and internal values
    (owner ids, ``closedwon``, call outcome ids), times as ``2024-01-15T14:05:00.000Z``.
    Durations are milliseconds and amounts plain numbers in both."""
    if headers not in ("display", "api"):
        raise ValueError("headers must be 'display' or 'api'")
    display = headers == "display"
    out_dir = Path(out_dir)
    leads, acts, deals, n, k = _inputs(tables, out_dir)

    def when(series) -> pd.Series:
        s = _utc(pd.Series(series).reset_index(drop=True))
        if not display:
            return _iso_z(s)
        local = s.dt.tz_localize("UTC").dt.tz_convert(timezone)
        return local.dt.strftime("%Y-%m-%d %H:%M").fillna("")

    def read_back(series) -> pd.Series:
        """The UTC time the profile reads from what ``when`` wrote."""
        s = _utc(pd.Series(series).reset_index(drop=True))
        return s.dt.floor("min") if display else s

    owners = _owners(tables)
    owner_name = {o: (REP_NAMES[i] if i < len(REP_NAMES) else f"Rep {i + 1:02d}") for i, o in enumerate(owners)}
    owner_num = {o: str(71_100_001 + i) for i, o in enumerate(owners)}
    owner_of = owner_name if display else owner_num

    def pick(pair):
        return pair[1] if display else pair[0]

    # Contacts
    cid = {l: str(5_100_000_001 + i) for i, l in enumerate(leads["lead_id"])}
    ppl = _people(np.arange(n))
    src = leads["source"].map(lambda s: HS_SOURCE.get(s, HS_OTHER_SOURCE))
    has_deal = leads["lead_id"].isin(deals["lead_id"]).to_numpy()
    won_leads = deals.loc[deals["stage"].str.lower() == "won", "lead_id"]
    first_deal_at = deals.groupby("lead_id")["created_at"].min()
    mql = leads["mql_at"] if "mql_at" in leads else pd.Series(pd.NaT, index=leads.index)
    sql = leads["sql_at"] if "sql_at" in leads else pd.Series(pd.NaT, index=leads.index)
    stage_key = np.select([leads["lead_id"].isin(won_leads).to_numpy(), has_deal, sql.notna().to_numpy(),
                           mql.notna().to_numpy()],
                          ["customer", "opportunity", "salesqualifiedlead", "marketingqualifiedlead"], "lead")
    touched = leads["lead_id"].isin(acts["lead_id"]).to_numpy()
    status = np.where(has_deal, pick(("OPEN_DEAL", "Open Deal")),
                      np.where(touched, pick(("ATTEMPTED_TO_CONTACT", "Attempted to Contact")), pick(("NEW", "New"))))
    contacts = pd.DataFrame({
        "hs_object_id": leads["lead_id"].map(cid), "firstname": ppl["first"], "lastname": ppl["last"],
        "email": ppl["email"], "phone": ppl["phone"], "company": ppl["company"], "jobtitle": "Head of Operations",
        "createdate": when(leads["created_at"]), "lastmodifieddate": when(leads["created_at"]),
        "hubspot_owner_id": leads["owner_id"].map(owner_of).fillna("") if "owner_id" in leads else "",
        "lifecyclestage": [HS_LIFECYCLE[s] if display else s for s in stage_key], "hs_lead_status": status,
        "hs_analytics_source": [s[1] if display else s[0] for s in src],
        "hs_analytics_source_data_1": np.where(leads["source"] == "tradeshow", "IMPORT", ""),
        "hs_lifecyclestage_lead_date": when(leads["created_at"]),
        "hs_lifecyclestage_marketingqualifiedlead_date": when(mql),
        "hs_lifecyclestage_salesqualifiedlead_date": when(sql),
        "hs_lifecyclestage_opportunity_date": when(leads["lead_id"].map(first_deal_at)),
        "hs_lifecyclestage_customer_date": when(leads["lead_id"].map(
            deals[deals["stage"].str.lower() == "won"].groupby("lead_id")["closed_at"].min())),
        "hubspotscore": _num(leads["score"]) if "score" in leads else "",
    })
    if custom_fields:
        contacts["tier"] = leads["tier"].fillna("").str.title() if "tier" in leads else ""
        contacts["segment"] = leads["segment"].fillna("") if "segment" in leads else ""

    lead_row = pd.Series(np.arange(n), index=leads["lead_id"])
    contact_label = (ppl["first"] + " " + ppl["last"] + " (" + ppl["email"] + ")").to_numpy()

    def assoc(lead_ids: pd.Series, with_second: bool) -> tuple[np.ndarray, np.ndarray]:
        rows = lead_ids.map(lead_row).to_numpy()
        ids = lead_ids.map(cid).to_numpy().astype(object)
        labels = contact_label[rows].astype(object)
        if with_second and n > 1:     # every 40th also with a second contact: the first is the lead
            other = (rows + 1) % n
            sel = np.arange(len(rows)) % 40 == 7
            ids[sel] = [f"{a};{cid[leads['lead_id'].iat[o]]}" for a, o in zip(ids[sel], other[sel])]
            labels[sel] = [f"{a};{contact_label[o]}" for a, o in zip(labels[sel], other[sel])]
        return ids, labels

    kind = acts["type"].str.lower().to_numpy()
    rep_of = acts["rep_id"].map(owner_of).fillna("").to_numpy() if "rep_id" in acts else np.full(len(acts), "")
    live = leads["lead_id"].iloc[np.arange(k) * max(1, n // k) % max(n, 1)].reset_index(drop=True)
    live_t = _utc(leads.set_index("lead_id").loc[live, "created_at"]).reset_index(drop=True) + pd.Timedelta(hours=30)
    live_owner = leads.set_index("lead_id").loc[live, "owner_id"].map(owner_of).fillna("").to_numpy() \
        if "owner_id" in leads else np.full(k, "")
    ghost = [str(5_999_000_001 + j) for j in range(k)]      # contacts not in contacts.csv
    expected_parts = []

    # Calls
    c = acts[kind == "call"].reset_index(drop=True)
    c_ids = [str(30_000_000_001 + i) for i in range(len(c))]
    c_assoc, c_label = assoc(c["lead_id"], True)
    out = c["outcome"] if "outcome" in c else pd.Series(None, index=c.index, dtype=object)
    ms = (c["duration_s"] * 1000).round() if "duration_s" in c else pd.Series(np.nan, index=c.index)
    calls = pd.DataFrame({
        "hs_object_id": c_ids, "hs_timestamp": when(c["occurred_at"]),
        "hs_call_title": [f"Call with {lab.split(' (')[0]}" for lab in c_label],
        "hs_call_body": np.where(out == "connected", [f"Talked to {lab.split(' (')[0]} about a demo" for lab in c_label], ""),
        "hs_call_direction": pick(("OUTBOUND", "Outbound")),
        "hs_call_disposition": [pick(HS_DISPOSITION[o]) if o in HS_DISPOSITION else ("" if not isinstance(o, str) else o)
                                for o in out],
        "hs_call_duration": _num(ms), "hs_call_status": pick(("COMPLETED", "Completed")),
        "hubspot_owner_id": rep_of[kind == "call"], "Associated Contact": c_label, "Associated Contact IDs": c_assoc,
    })
    expected_parts.append(pd.DataFrame({
        "activity_id": c_ids, "lead_id": c["lead_id"].map(cid), "occurred_at": read_back(c["occurred_at"]),
        "type": "call", "rep_id": _blank_none(rep_of[kind == "call"]),
        "outcome": [o if isinstance(o, str) else None for o in out], "duration_s": ms * 0.001}))
    odd = pd.DataFrame({
        "hs_object_id": [str(30_900_000_001 + j) for j in range(3 * k)],
        "hs_timestamp": when(pd.concat([live_t] * 3, ignore_index=True)),
        "hs_call_title": "Call", "hs_call_body": "",
        "hs_call_direction": [pick(("INBOUND", "Inbound"))] * k + [pick(("OUTBOUND", "Outbound"))] * 2 * k,
        "hs_call_disposition": pick(HS_DISPOSITION["connected"]), "hs_call_duration": "65000",
        "hs_call_status": pick(("COMPLETED", "Completed")), "hubspot_owner_id": list(live_owner) * 3,
        "Associated Contact": "",
        "Associated Contact IDs": list(live.map(cid)) + [""] * k + ghost,
    })                      # inbound calls, calls on no one, calls on contacts not exported
    calls = pd.concat([calls, odd], ignore_index=True)

    # E-mails
    e = acts[kind == "email"].reset_index(drop=True)
    e_ids = [str(31_000_000_001 + i) for i in range(len(e))]
    e_assoc, e_label = assoc(e["lead_id"], False)
    emails = pd.DataFrame({
        "hs_object_id": e_ids, "hs_timestamp": when(e["occurred_at"]),
        "hs_email_subject": [f"{lab.split(' ')[0]}, your enquiry" for lab in e_label],
        "hs_email_direction": pick(("EMAIL", "Email")), "hs_email_status": pick(("SENT", "Sent")),
        "hubspot_owner_id": rep_of[kind == "email"], "Associated Contact": e_label, "Associated Contact IDs": e_assoc,
    })
    expected_parts.append(pd.DataFrame({
        "activity_id": e_ids, "lead_id": e["lead_id"].map(cid), "occurred_at": read_back(e["occurred_at"]),
        "type": "email", "rep_id": _blank_none(rep_of[kind == "email"]), "outcome": "sent",
        "duration_s": np.nan}))
    odd = pd.DataFrame({
        "hs_object_id": [str(31_900_000_001 + j) for j in range(2 * k)],
        "hs_timestamp": when(pd.concat([live_t] * 2, ignore_index=True)), "hs_email_subject": "Re: your enquiry",
        "hs_email_direction": [pick(("INCOMING_EMAIL", "Incoming email"))] * k + [pick(("EMAIL", "Email"))] * k,
        "hs_email_status": [""] * k + [pick(("SCHEDULED", "Scheduled"))] * k,
        "hubspot_owner_id": list(live_owner) * 2, "Associated Contact": "",
        "Associated Contact IDs": list(live.map(cid)) * 2,
    })                      # replies from the contact, e-mails scheduled but not sent
    emails = pd.concat([emails, odd], ignore_index=True)

    # Meetings
    mt = acts[kind == "meeting"].reset_index(drop=True)
    m_ids = [str(32_000_000_001 + i) for i in range(len(mt))]
    m_assoc, m_label = assoc(mt["lead_id"], False)
    mins = (mt["duration_s"] / 60).round().fillna(30) if "duration_s" in mt else pd.Series(30.0, index=mt.index)
    meetings = pd.DataFrame({
        "hs_object_id": m_ids, "hs_timestamp": when(mt["occurred_at"]), "hs_meeting_title": "Discovery call",
        "hs_meeting_start_time": when(mt["occurred_at"]),
        "hs_meeting_end_time": when(_utc(mt["occurred_at"]) + pd.to_timedelta(mins.to_numpy(), unit="m")),
        "hs_meeting_outcome": pick(("COMPLETED", "Completed")), "hubspot_owner_id": rep_of[kind == "meeting"],
        "Associated Contact": m_label, "Associated Contact IDs": m_assoc,
    }, columns=[c for c, _ in HUBSPOT_COLUMNS["meetings"]])
    expected_parts.append(pd.DataFrame({
        "activity_id": m_ids, "lead_id": mt["lead_id"].map(cid), "occurred_at": read_back(mt["occurred_at"]),
        "type": "meeting", "rep_id": _blank_none(rep_of[kind == "meeting"]),
        "outcome": "completed", "duration_s": np.nan}))
    odd_t = [live_t.iloc[0]] + ([FAR_FUTURE] if future_meetings else [])
    odd = pd.DataFrame({
        "hs_object_id": [str(32_900_000_001 + j) for j in range(len(odd_t))],
        "hs_timestamp": when(odd_t), "hs_meeting_title": "Demo", "hs_meeting_start_time": when(odd_t),
        "hs_meeting_end_time": when(pd.Series(odd_t) + pd.Timedelta(minutes=30)),
        "hs_meeting_outcome": [pick(("CANCELED", "Canceled"))] + [pick(("SCHEDULED", "Scheduled"))] * (len(odd_t) - 1),
        "hubspot_owner_id": live_owner[0], "Associated Contact": "", "Associated Contact IDs": cid[live.iloc[0]],
    })                      # a canceled meeting, (extra) a meeting booked for 2099
    meetings = pd.concat([meetings, odd], ignore_index=True)

    # Deals
    did = [str(9_000_000_001 + i) for i in range(len(deals))]
    stage = deals["stage"].str.lower()
    d_assoc, d_label = assoc(deals["lead_id"], False)
    closed = stage.isin(["won", "lost"]).to_numpy()
    close = np.where(closed, when(deals["closed_at"]), when(_utc(deals["created_at"]) + pd.Timedelta(days=60)))
    d_rows = deals["lead_id"].map(lead_row).to_numpy()
    deals_csv = pd.DataFrame({
        "hs_object_id": did, "dealname": ppl["company"].to_numpy()[d_rows] + " - New Business",
        "pipeline": pick(("default", "Sales Pipeline")), "dealstage": [pick(HS_STAGE[s]) for s in stage],
        "amount": _num(deals["amount"]) if "amount" in deals else "", "closedate": close,
        "createdate": when(deals["created_at"]),
        "hubspot_owner_id": leads["owner_id"].map(owner_of).fillna("").to_numpy()[d_rows] if "owner_id" in leads else "",
        "hs_is_closed_won": [pick(("true", "Yes")) if s == "won" else pick(("false", "No")) for s in stage],
        "hs_is_closed": [pick(("true", "Yes")) if s in ("won", "lost") else pick(("false", "No")) for s in stage],
        "Associated Contact": d_label, "Associated Contact IDs": d_assoc,
    })
    odd = deals_csv.iloc[[0, 0, 0]].copy() if len(deals_csv) else deals_csv.copy()
    if len(odd):            # on no one; on a contact not exported; created before its contact
        early = when(pd.Series([_utc(leads["created_at"]).iat[0] - pd.Timedelta(days=3)])).iat[0]
        odd["hs_object_id"] = [str(9_900_000_001 + j) for j in range(len(odd))]
        odd["dealname"] = "Renewal"
        odd["Associated Contact"] = ""
        odd["Associated Contact IDs"] = ["", ghost[0], cid[leads["lead_id"].iat[0]]]
        odd["createdate"] = [odd["createdate"].iat[0], odd["createdate"].iat[0], early]
    deals_csv = pd.concat([deals_csv, odd], ignore_index=True)
    exp_deals = pd.DataFrame({
        "deal_id": did, "lead_id": deals["lead_id"].map(cid), "created_at": read_back(deals["created_at"]),
        "stage": stage, "closed_at": read_back(pd.Series(deals["closed_at"]).where(closed)),
        "amount": deals["amount"] if "amount" in deals else np.nan})

    for name, df in (("contacts", contacts), ("calls", calls), ("emails", emails), ("meetings", meetings),
                     ("deals", deals_csv)):
        cols = [(api, lab) for api, lab in HUBSPOT_COLUMNS[name] if api in df.columns]
        frame = df[[api for api, _ in cols]]
        if display:
            frame = frame.rename(columns=dict(cols))
        _write(frame, out_dir / f"{name}.csv", False)

    exp_leads = pd.DataFrame({
        "lead_id": leads["lead_id"].map(cid), "created_at": read_back(leads["created_at"]),
        "source": [s[2] for s in src], "mql_at": read_back(mql), "sql_at": read_back(sql),
        "owner_id": leads["owner_id"].map(owner_of) if "owner_id" in leads else None,
    })
    if "score" in leads:
        exp_leads["score"] = leads["score"].astype(float)
    if custom_fields:
        if "tier" in leads:
            exp_leads["tier"] = leads["tier"].str.lower()
        if "segment" in leads:
            exp_leads["segment"] = leads["segment"]
    exp_acts = pd.concat(expected_parts, ignore_index=True)
    return {"leads": _ordered(exp_leads, "leads"), "activities": _ordered(exp_acts, "activities"),
            "deals": _ordered(exp_deals, "deals")}
