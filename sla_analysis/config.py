"""Load and check ``config/sla.yml``: the SLA's assumptions.

Values out of range are refused before any data is read, with the key and the accepted range.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import math
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml

from sla_analysis import paths
from sla_analysis.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_day(value) -> int:
    text = str(value).strip().lower()[:3]
    if text not in WEEKDAYS:
        raise ValueError(f"business_hours: {value!r} is not a weekday (mon ... sun)")
    return WEEKDAYS.index(text)


def _parse_hour(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if ":" in text:
        h, m = text.split(":", 1)
        return int(h) + int(m) / 60
    return float(text)


@dataclass(frozen=True)
class BusinessHours:
    """When the clock of a business-hours SLA runs: on ``days`` (0 = Monday), from ``start_hour``
    to ``end_hour`` local time in ``timezone``, except on ``holidays`` (local dates)."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start_hour: float = 9.0
    end_hour: float = 17.0
    timezone: str = "UTC"
    holidays: tuple[date, ...] = ()

    def __post_init__(self):
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError(f"business_hours: hours must satisfy 0 <= start < end <= 24, "
                             f"got {self.start_hour}-{self.end_hour}")
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValueError(f"business_hours: days must be weekdays 0 (Mon) to 6 (Sun), got {self.days}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"business_hours: unknown time zone {self.timezone!r}") from None

    @classmethod
    def from_config(cls, raw: Mapping | None) -> "BusinessHours | None":
        """Build from the config shape ``{days: [mon, tue, wed, thu, fri] | "mon-fri",
        hours: [9, 17] | ["09:00", "17:30"] | "09:00-17:00", timezone: "Europe/Berlin",
        holidays: [2024-12-25, ...]}``; ``None`` when not configured."""
        if not raw:
            return None
        days = raw.get("days", ["mon", "tue", "wed", "thu", "fri"])
        if isinstance(days, str):
            if "-" in days:
                a, b = (_parse_day(x) for x in days.split("-", 1))
                days = list(range(a, b + 1)) if a <= b else list(range(a, 7)) + list(range(0, b + 1))
            else:
                days = [_parse_day(x) for x in days.split(",")]
        else:
            days = [_parse_day(x) for x in days]
        hours = raw.get("hours", [9, 17])
        if isinstance(hours, str):
            hours = hours.split("-", 1)
        if len(hours) != 2:
            raise ValueError(f"business_hours: hours must be [start, end], got {hours!r}")
        holidays = tuple(pd.Timestamp(h).date() for h in raw.get("holidays", []) or [])
        return cls(tuple(sorted(set(days))), _parse_hour(hours[0]), _parse_hour(hours[1]),
                   str(raw.get("timezone", "UTC")), holidays)



@dataclass(frozen=True)
class TierProtocol:
    """Follow-up protocol for one lead tier (seed 004): first call within ``response_hours``,
    ``touches`` calls and e-mails over ``timeframe_days``."""

    response_hours: float
    touches: int
    timeframe_days: int


DEFAULT_TIERS = {
    "high": TierProtocol(4, 15, 90),
    "moderate": TierProtocol(24, 8, 60),
    "low": TierProtocol(48, 3, 30),
}


#: SDR capacity bands (seeds 001/004): qualified leads and active MQLs an SDR can work, the MQL
#: conversion and the SQLs a month an SDR is expected to produce.
DEFAULT_SDR = {"qualified_leads_low": 200, "qualified_leads_high": 400, "active_mqls_low": 150,
               "active_mqls_high": 200, "mql_conversion": 0.08, "sqls_per_month": 15, "active_days": 90}

#: what makes the proposal a contract (sla_proposal.md sections 8-14): the owners by name and role,
#: when it starts and for how long, how fast sales accepts or rejects an MQL, when a missed promise
#: is escalated, and the monthly review meeting. A name left empty is a placeholder in the text.
DEFAULT_CONTRACT = {"sales_owner": None, "sales_role": "head of sales", "marketing_owner": None,
                    "marketing_role": "head of marketing", "revops_owner": None, "effective_date": None,
                    "term_months": 12, "accept_within_days": 2, "escalate_after_misses": 2,
                    "review_meeting": "the first week of each month"}
_CONTRACT_NUMBERS = {"term_months": (1, 120), "accept_within_days": (1, 60), "escalate_after_misses": (1, 12)}

GOAL_KEYS = ("leads_sourced", "qualified_leads", "mqls_created", "mqls_managed", "sqls")


@dataclass(frozen=True)
class SLAConfig:
    currency: str = "USD"
    rep_hourly_cost: float = 50.0
    calls_per_hour: float = 10.0
    attempts_per_hour: dict[str, float] = field(default_factory=lambda: {"email": 30.0, "meeting": 1.0})
    quota: float = 4_000_000.0
    marketing_share: float = 0.6
    stale_after_days: int = 120
    lookback_days: int = 365
    tiers: dict[str, TierProtocol] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    min_group_size: int = 30
    confidence_level: float = 0.95
    random_seed: int = 20240101
    business_hours: dict | None = None       # {days, hours, timezone, holidays}; None = clock hours only
    speed_to_lead_target: float = 0.9        # share of MQLs to reach within the tier's window
    cadence_target: float = 0.8              # share of leads to work to protocol (or convert sooner)
    breakup_touches: int = 1                 # touches allowed past the protocol before "over-worked"
    default_tier: str = "moderate"           # protocol for leads without a tier
    review_tolerance: float = 0.2            # relative drift of a measured figure that flags the SLA for review
    review_every_months: int = 6             # seeds: review the SLA every six months
    review_baseline: dict[str, float] = field(default_factory=dict)  # figures the SLA was written with
    sla_written: str | None = None           # date the SLA was agreed (YYYY-MM-DD), for the six-month review
    goals: dict[str, float] = field(default_factory=dict)   # monthly goals: leads_sourced, mqls_created, ...
    sdr: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SDR))
    mql_score_threshold: float | None = None  # lead score at which marketing hands a lead to sales; None = not set
    score_band_width: float | None = None     # width of the score bands on the qualification page; None = automatic
    lead_work_cost: float | None = None       # cost of working one MQL; None = measured (its attempts x cost per attempt)
    gross_margin: float = 1.0                 # share of revenue kept after cost of goods; profit of a cap = revenue x this - attempt costs
    min_gain_per_month: float | None = None   # smallest gain a month worth changing the SLA for; None = 0.5% of quota
    contract: dict = field(default_factory=lambda: dict(DEFAULT_CONTRACT))  # owners, term, acceptance: see DEFAULT_CONTRACT
    source_file: str = ""

    @property
    def min_gain_per_month_or_default(self) -> float:
        """The materiality rule: ``min_gain_per_month``, else 0.5% of the monthly ``quota``."""
        return float(self.min_gain_per_month) if self.min_gain_per_month is not None else 0.005 * self.quota

    @property
    def tier_protocols(self) -> dict[str, dict]:
        """Tiers as plain mappings (response_hours, touches, timeframe_days) for the compliance code."""
        return {t: {"response_hours": p.response_hours, "touches": p.touches, "timeframe_days": p.timeframe_days}
                for t, p in self.tiers.items()}


def _number(raw: dict, key: str, default: float, *, low: float, high: float,
            low_open: bool = False, integer: bool = False) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"config key {key!r} must be a number, got {value!r}")
    if not math.isfinite(value):  # .nan would pass every comparison below
        raise ConfigError(f"config key {key!r} must be a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        left = "(" if low_open else "["
        raise ConfigError(f"config key {key!r} = {value!r} is out of range {left}{low}, {high}]")
    if integer and int(value) != value:
        raise ConfigError(f"config key {key!r} must be a whole number, got {value!r}")
    return int(value) if integer else float(value)


def _optional_number(raw: dict, key: str, *, low: float, high: float, low_open: bool = False) -> float | None:
    """A number in range, or ``None`` when the key is absent or empty."""
    if raw.get(key) is None:
        return None
    return _number(raw, key, 0, low=low, high=high, low_open=low_open)


def _known_keys() -> set[str]:
    return {f.name for f in fields(SLAConfig)} - {"source_file"}


def config_from_dict(raw: dict[str, Any], source_file: str = "") -> SLAConfig:
    """Check every value's range and build an :class:`SLAConfig`."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a YAML mapping of keys to values")
    unknown = sorted(str(k) for k in raw if str(k) not in _KNOWN_KEYS)
    if unknown:  # a misspelt key would silently leave its default in force
        hints = [f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, _KNOWN_KEYS, 1)) else "")
                 for k in unknown]
        raise ConfigError(f"config key{'s' if len(unknown) > 1 else ''} {', '.join(hints)} "
                          f"{'are' if len(unknown) > 1 else 'is'} not known (known keys: {', '.join(sorted(_KNOWN_KEYS))})")
    base = SLAConfig()
    tiers_raw = raw.get("tiers", {}) or {}
    if not isinstance(tiers_raw, dict):
        raise ConfigError("config key 'tiers' must map tier names to protocols")
    # Tiers in the config replace the defaults (a CRM with gold/silver tiers has no "high" tier);
    # a tier named like a default takes that default's figures for the keys it leaves out.
    tiers = {} if tiers_raw else dict(DEFAULT_TIERS)
    for name, spec in tiers_raw.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"config tier {name!r} must be a mapping")
        d = DEFAULT_TIERS.get(name, TierProtocol(24, 8, 60))
        tiers[str(name)] = TierProtocol(
            _number(spec, "response_hours", d.response_hours, low=0, high=24 * 90, low_open=True),
            _number(spec, "touches", d.touches, low=1, high=1000, integer=True),
            _number(spec, "timeframe_days", d.timeframe_days, low=1, high=3650, integer=True),
        )
    per_hour_raw = raw.get("attempts_per_hour", base.attempts_per_hour) or {}
    if not isinstance(per_hour_raw, dict):
        raise ConfigError("config key 'attempts_per_hour' must map attempt types to rates")
    per_hour = {str(k): _number(per_hour_raw, k, 1, low=0, high=10_000, low_open=True)
                for k in per_hour_raw}
    business_hours = raw.get("business_hours") or None
    if business_hours is not None:
        if not isinstance(business_hours, dict):
            raise ConfigError("config key 'business_hours' must be a mapping (days, hours, timezone)")
        try:
            BusinessHours.from_config(business_hours)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config key {exc}") from None
    goals_raw = raw.get("goals") or {}
    if not isinstance(goals_raw, dict) or set(goals_raw) - set(GOAL_KEYS):
        raise ConfigError(f"config key 'goals' must map some of {list(GOAL_KEYS)} to monthly numbers")
    goals = {k: _number(goals_raw, k, 0, low=0, high=1e9) for k in goals_raw}
    sdr_raw = raw.get("sdr") or {}
    if not isinstance(sdr_raw, dict) or set(sdr_raw) - set(DEFAULT_SDR):
        raise ConfigError(f"config key 'sdr' must map some of {list(DEFAULT_SDR)} to numbers")
    sdr = {k: _number({**DEFAULT_SDR, **sdr_raw}, k, v, low=0, high=1e6) for k, v in DEFAULT_SDR.items()}
    baseline_raw = raw.get("review_baseline") or {}
    if not isinstance(baseline_raw, dict):
        raise ConfigError("config key 'review_baseline' must map figures (e.g. 'close_rate:webinar') to numbers")
    baseline = {str(k): _number(baseline_raw, k, 0, low=0, high=1e12) for k in baseline_raw}
    contract = _contract(raw.get("contract"))
    sla_written = raw.get("sla_written")
    if sla_written is not None:
        sla_written = _iso_date(sla_written, "sla_written")
    default_tier = str(raw.get("default_tier", base.default_tier))
    if "default_tier" not in raw and default_tier not in tiers:
        raise ConfigError(f"config key 'default_tier' is needed: the tiers {list(tiers)} replace the default ones, "
                          f"so say which protocol leads without a tier get")
    if default_tier not in tiers:
        raise ConfigError(f"config key 'default_tier' = {default_tier!r} is not one of the tiers {list(tiers)}")
    currency = raw.get("currency", base.currency)
    if not isinstance(currency, str) or not currency.isalpha() or len(currency) > 5:
        raise ConfigError(f"config key 'currency' must be a currency code such as USD, got {currency!r}")
    return SLAConfig(
        currency=currency,
        rep_hourly_cost=_number(raw, "rep_hourly_cost", base.rep_hourly_cost, low=0, high=1e5, low_open=True),
        calls_per_hour=_number(raw, "calls_per_hour", base.calls_per_hour, low=0, high=1000, low_open=True),
        attempts_per_hour=per_hour,
        quota=_number(raw, "quota", base.quota, low=0, high=1e12),
        marketing_share=_number(raw, "marketing_share", base.marketing_share, low=0, high=1, low_open=True),
        stale_after_days=_number(raw, "stale_after_days", base.stale_after_days, low=0, high=3650, integer=True),
        lookback_days=_number(raw, "lookback_days", base.lookback_days, low=1, high=36500, integer=True),
        tiers=tiers,
        min_group_size=_number(raw, "min_group_size", base.min_group_size, low=1, high=1e6, integer=True),
        confidence_level=_number(raw, "confidence_level", base.confidence_level, low=0.5, high=0.999),
        random_seed=_number(raw, "random_seed", base.random_seed, low=0, high=2**32 - 1, integer=True),
        business_hours=business_hours,
        speed_to_lead_target=_number(raw, "speed_to_lead_target", base.speed_to_lead_target, low=0, high=1),
        cadence_target=_number(raw, "cadence_target", base.cadence_target, low=0, high=1),
        breakup_touches=_number(raw, "breakup_touches", base.breakup_touches, low=0, high=100, integer=True),
        default_tier=default_tier,
        review_tolerance=_number(raw, "review_tolerance", base.review_tolerance, low=0, high=10, low_open=True),
        review_every_months=_number(raw, "review_every_months", base.review_every_months, low=1, high=120, integer=True),
        review_baseline=baseline,
        sla_written=sla_written,
        goals=goals,
        sdr=sdr,
        mql_score_threshold=_optional_number(raw, "mql_score_threshold", low=-1e9, high=1e9),
        score_band_width=_optional_number(raw, "score_band_width", low=0, high=1e9, low_open=True),
        lead_work_cost=_optional_number(raw, "lead_work_cost", low=0, high=1e9),
        gross_margin=_number(raw, "gross_margin", base.gross_margin, low=0, high=1, low_open=True),
        min_gain_per_month=_optional_number(raw, "min_gain_per_month", low=0, high=1e12),
        contract=contract,
        source_file=source_file,
    )


def _iso_date(value: Any, key: str) -> str:
    """A date of the config as ``YYYY-MM-DD`` (YAML reads ``2024-04-01`` as a date and
    ``2024-04-01 09:00`` as a datetime: the day is kept)."""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    try:
        return (value if isinstance(value, _dt.date) else _dt.date.fromisoformat(str(value))).isoformat()
    except ValueError:
        raise ConfigError(f"config key {key!r} must be a date YYYY-MM-DD, got {value!r}") from None


def _contract(raw: Any) -> dict:
    """The ``contract`` key checked: known keys, whole numbers in range, a date, names as text; a
    key left empty takes its default."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config key 'contract' must be a mapping of some of {list(DEFAULT_CONTRACT)}, got {raw!r}")
    unknown = sorted(str(k) for k in set(raw) - set(DEFAULT_CONTRACT))
    if unknown:
        raise ConfigError(f"config key 'contract' has unknown key(s) {unknown} (known: {list(DEFAULT_CONTRACT)})")
    out = {**DEFAULT_CONTRACT, **{k: v for k, v in raw.items() if v is not None}}
    for key, (low, high) in _CONTRACT_NUMBERS.items():
        out[key] = _number({f"contract.{key}": out[key]}, f"contract.{key}", DEFAULT_CONTRACT[key], low=low, high=high,
                           integer=True)
    if out["effective_date"] is not None:
        out["effective_date"] = _iso_date(out["effective_date"], "contract.effective_date")
    for key in ("sales_owner", "sales_role", "marketing_owner", "marketing_role", "revops_owner", "review_meeting"):
        if out[key] is not None and not isinstance(out[key], str):
            raise ConfigError(f"config key 'contract.{key}' must be text, got {out[key]!r}")
    return out


_KNOWN_KEYS = _known_keys()


def config_to_dict(cfg: SLAConfig) -> dict[str, Any]:
    """The config in the shape of ``config/sla.yml``, derived from the fields of :class:`SLAConfig`
    (every key, in the order declared), so that ``config_from_dict(config_to_dict(c))`` gives back
    ``c``: a proposal adopted as the next period's config keeps every setting it did not change."""
    raw: dict[str, Any] = {}
    for f in fields(SLAConfig):
        if f.name == "source_file":
            continue
        value = getattr(cfg, f.name)
        if f.name == "tiers":
            value = cfg.tier_protocols
        elif isinstance(value, dict):
            value = dict(value)
        raw[f.name] = value
    return raw


def load_config(path: str | Path | None = None) -> SLAConfig:
    """Read a YAML config (default ``config/sla.yml``) and check it."""
    path = Path(path) if path else paths.DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {what}") from None
    return config_from_dict(raw, source_file=str(path))
