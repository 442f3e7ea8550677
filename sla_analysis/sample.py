"""A deterministic, seeded sample CRM (leads, activities, deals, reps) with known truth.

The generating process, per lead:

* a source (the seeds' offers: white paper, webinar, online demo, tradeshow, contact sales),
  a segment, a tier and a score; 85% of leads become MQLs shortly after creation;
* each MQL is worked by its SDR up to a *planned cap* of attempts (calls and e-mails) that varies
  with the tier's protocol; a quarter of leads are abandoned after one or two attempts;
* at attempt ``k`` a lead still open converts to an opportunity with the per-attempt hazard
  ``h_k = min(0.95, h0[source] * tier_mult[tier] * decay ** (k - 1))``; the SDR stops calling;
* an opportunity is won with probability ``win_rate`` (seed 003: 15 demos -> 5 customers), for an
  amount with mean ``avg_revenue[source] * segment_mult[segment]``.

``h0[source]`` is solved so that each source's MQL-to-customer close rate under the historical
policy equals the seed's table (seed 000). The true figures are written beside the data in
``truth.json``: the analytic ones (close rates, MQL values, the per-attempt hazards and the profit
curve of capping at N attempts) and the ones read off the generated events (speed to lead).
Everything is vectorised with NumPy, so millions of leads take seconds.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

SOURCES = {  # seed 000's MQL value table: avg revenue per customer, MQL-to-customer close rate
    "white paper": (160_000.0, 0.010),
    "webinar": (100_000.0, 0.015),
    "online demo": (150_000.0, 0.020),
    "tradeshow": (125_000.0, 0.010),
    "contact sales": (110_000.0, 0.100),
}


@dataclass(frozen=True)
class SampleParams:
    """The generator's knobs; defaults give a 24,000-lead CRM for 2023-01 to 2024-12."""

    n_leads: int = 24_000
    start: str = "2023-01-01"
    end: str = "2025-01-01"  # exclusive: leads are created up to 2024-12-31
    seed: int = 20240101
    source_mix: dict = field(default_factory=lambda: {
        "white paper": 0.30, "webinar": 0.25, "online demo": 0.15, "tradeshow": 0.15,
        "contact sales": 0.15})
    segment_mix: dict = field(default_factory=lambda: {"enterprise": 0.2, "mid-market": 0.5, "smb": 0.3})
    segment_mult: dict = field(default_factory=lambda: {"enterprise": 1.5, "mid-market": 1.0, "smb": 2 / 3})
    tier_mix: dict = field(default_factory=lambda: {"high": 0.25, "moderate": 0.45, "low": 0.30})
    tier_mult: dict = field(default_factory=lambda: {"high": 1.6, "moderate": 1.0, "low": 0.5})
    tier_touches: dict = field(default_factory=lambda: {"high": 15, "moderate": 8, "low": 3})
    tier_timeframe_days: dict = field(default_factory=lambda: {"high": 90, "moderate": 60, "low": 30})
    tier_median_response_h: dict = field(default_factory=lambda: {"high": 2.0, "moderate": 10.0, "low": 30.0})
    response_sigma: float = 1.0       # lognormal spread of the time to first touch
    never_contacted: float = 0.04     # share of MQLs nobody ever contacts
    early_abandon: float = 0.25       # share of MQLs abandoned after 1 or 2 attempts
    decay: float = 0.5                # per-attempt hazard ratio between attempt k+1 and k
    win_rate: float = 1 / 3           # opportunity -> customer (seed 003: 15 demos -> 5 customers)
    mql_share: float = 0.85
    marketing_sourced_share: float = 0.9
    call_share: float = 0.65          # attempts that are calls (the rest e-mails)
    connect_rate: float = 0.25        # calls that reach a person
    calls_per_hour: float = 10.0      # true dialling pace inside a calling session
    emails_per_hour: float = 30.0
    n_sdrs: int = 8
    sdr_hourly_cost: float = 50.0


def _planned_caps(rng: np.random.Generator, tiers: np.ndarray, p: SampleParams) -> np.ndarray:
    """Historical attempt policy: a spread around each tier's protocol, plus early abandonment."""
    touches = np.array([p.tier_touches[t] for t in tiers])
    low = np.maximum(2, np.ceil(touches / 2)).astype(int)
    high = touches + 4
    caps = rng.integers(low, high + 1)
    abandon = rng.random(len(tiers)) < p.early_abandon
    caps[abandon] = rng.integers(1, 3, abandon.sum())
    return caps


def cap_distribution(tier: str, p: SampleParams) -> dict[int, float]:
    """P(planned cap = n) for an MQL of ``tier`` that is contacted at all."""
    touches = p.tier_touches[tier]
    low, high = max(2, int(np.ceil(touches / 2))), touches + 4
    dist = {n: (1 - p.early_abandon) / (high - low + 1) for n in range(low, high + 1)}
    for n in (1, 2):
        dist[n] = dist.get(n, 0.0) + p.early_abandon / 2
    return dist


def hazard(h0: float, tier_mult: float, k: np.ndarray | int, decay: float) -> np.ndarray:
    """h_k = min(0.95, h0 * tier_mult * decay^(k-1))."""
    return np.minimum(0.95, h0 * tier_mult * decay ** (np.asarray(k) - 1.0))


def _p_deal_by_cap(h0: float, tier: str, p: SampleParams) -> float:
    """P(opportunity) for a contacted MQL of ``tier``: sum_n P(cap=n) (1 - prod_{k<=n} (1-h_k))."""
    dist = cap_distribution(tier, p)
    kmax = max(dist)
    surv = np.cumprod(1 - hazard(h0, p.tier_mult[tier], np.arange(1, kmax + 1), p.decay))
    return float(sum(w * (1 - surv[n - 1]) for n, w in dist.items()))


def close_rate(h0: float, p: SampleParams) -> float:
    """MQL-to-customer close rate of a source with base hazard ``h0`` under the historical policy."""
    contacted = 1 - p.never_contacted
    return contacted * p.win_rate * sum(p.tier_mix[t] * _p_deal_by_cap(h0, t, p) for t in p.tier_mix)


def solve_base_hazards(p: SampleParams) -> dict[str, float]:
    """Find h0 per source so that its close rate equals the seed's MQL-to-customer close rate."""
    return {s: brentq(lambda h: close_rate(h, p) - SOURCES[s][1], 1e-6, 0.95, xtol=1e-10)
            for s in p.source_mix}


def true_profit_curve(p: SampleParams, h0: dict[str, float], cost_per_attempt: float,
                      max_k: int = 30) -> pd.DataFrame:
    """Pi(N) = E_lead[ sum_{k<=N} S_k (r_k - c) ] over the MQL population, per contacted lead.

    ``S_k = prod_{j<k} (1 - h_j)`` (share still open when attempt k is due), ``r_k = h_k x win_rate
    x E[amount]`` (expected revenue of attempt k among leads reaching it), ``c`` cost per attempt.
    """
    k = np.arange(1, max_k + 1)
    seg_mean = sum(p.segment_mix[g] * p.segment_mult[g] for g in p.segment_mix)
    total = np.zeros(max_k)
    open_share = np.zeros(max_k)
    for s, ws in p.source_mix.items():
        value = SOURCES[s][0] * seg_mean * p.win_rate
        for t, wt in p.tier_mix.items():
            h = hazard(h0[s], p.tier_mult[t], k, p.decay)
            surv = np.concatenate([[1.0], np.cumprod(1 - h)[:-1]])
            total += ws * wt * surv * (h * value - cost_per_attempt)
            open_share += ws * wt * surv
    profit = np.cumsum(total)
    return pd.DataFrame({"attempts": k, "share_open": open_share, "marginal_profit": total,
                         "profit_per_lead": profit})


def _pick(rng: np.random.Generator, mix: dict, n: int) -> np.ndarray:
    names = np.array(list(mix))
    probs = np.array(list(mix.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=probs / probs.sum())]


def generate(p: SampleParams = SampleParams()) -> dict[str, pd.DataFrame]:
    """Generate the four canonical tables. Same params, same output, byte for byte."""
    rng = np.random.default_rng(p.seed)
    n = p.n_leads
    start, end = np.datetime64(p.start, "s"), np.datetime64(p.end, "s")
    span = (end - start).astype(np.int64)
    # Lead volume grows ~30% a year: inverse-CDF of a linear density over the span.
    u = rng.random(n)
    g = 0.3 * ((end - start).astype("timedelta64[D]").astype(int) / 365.0)
    frac = (np.sqrt(1 + g * (2 + g) * u) - 1) / g
    created = start + np.sort((frac * span).astype(np.int64)).astype("timedelta64[s]")
    source = _pick(rng, p.source_mix, n)
    segment = _pick(rng, p.segment_mix, n)
    tier = _pick(rng, p.tier_mix, n)
    tier_center = np.select([tier == "high", tier == "moderate"], [80.0, 60.0], 40.0)
    score = np.clip(np.round(tier_center + rng.normal(0, 8, n)), 0, 100).astype(int)
    is_mql = rng.random(n) < p.mql_share
    mql_at = created + (rng.random(n) * 48 * 3600).astype("timedelta64[s]")
    marketing_sourced = rng.random(n) < p.marketing_sourced_share
    sdrs = np.array([f"sdr-{i:02d}" for i in range(1, p.n_sdrs + 1)])
    owner = sdrs[rng.integers(0, p.n_sdrs, n)]
    lead_ids = np.array([f"L{i:07d}" for i in range(1, n + 1)])

    h0 = solve_base_hazards(p)
    contacted = is_mql & (rng.random(n) >= p.never_contacted)
    caps = np.where(contacted, _planned_caps(rng, tier, p), 0)
    base = np.array([h0[s] for s in source]) * np.array([p.tier_mult[t] for t in tier])
    # Conversion attempt: first k <= cap with U_k < h_k; drawn per attempt, vectorised by row.
    lead_idx = np.repeat(np.arange(n), caps)
    k = np.arange(caps.sum()) - np.repeat(np.cumsum(caps) - caps, caps) + 1
    h_att = np.minimum(0.95, base[lead_idx] * p.decay ** (k - 1.0))
    hit = rng.random(len(k)) < h_att
    conv_k = np.zeros(n, dtype=int)
    first_hit = np.flatnonzero(hit)
    # keep the first hit per lead
    _, first_pos = np.unique(lead_idx[first_hit], return_index=True)
    conv_rows = first_hit[first_pos]
    conv_k[lead_idx[conv_rows]] = k[conv_rows]
    n_attempts = np.where(conv_k > 0, conv_k, caps)
    # Attempt times: first touch after a lognormal delay, then gaps spreading the protocol's
    # touches over its timeframe.
    keep = k <= n_attempts[lead_idx]
    lead_idx, k = lead_idx[keep], k[keep]
    med = np.array([p.tier_median_response_h[t] for t in tier])
    first_delay_h = med * np.exp(rng.normal(0, p.response_sigma, n))
    gap_days = np.array([p.tier_timeframe_days[t] / p.tier_touches[t] for t in tier])
    gaps = np.where(k == 1, first_delay_h[lead_idx] * 3600.0,
                    rng.exponential(gap_days[lead_idx] * 86400.0))
    offs = np.cumsum(gaps)
    starts = np.concatenate([[0], np.cumsum(n_attempts)[:-1]])[lead_idx]
    base_off = np.concatenate([[0.0], offs])[starts]
    occurred = mql_at[lead_idx] + (offs - base_off).astype(np.int64).astype("timedelta64[s]")
    is_call = rng.random(len(k)) < p.call_share
    rep = owner[lead_idx]
    occurred = _space_calls_in_sessions(rng, occurred, rep, is_call, p.calls_per_hour)
    connected = is_call & (rng.random(len(k)) < p.connect_rate)
    # A converting call is a conversation.
    conv_att = k == conv_k[lead_idx]
    connected |= conv_att & is_call
    outcome = np.where(~is_call, "sent", np.where(connected, "connected",
                       np.where(rng.random(len(k)) < 0.5, "no_answer", "voicemail")))
    duration = np.where(~is_call, np.nan, np.where(connected, rng.uniform(120, 900, len(k)),
                        rng.uniform(15, 45, len(k)))).round()
    order = np.lexsort((occurred, lead_idx))
    activities = pd.DataFrame({
        "activity_id": [f"A{i:08d}" for i in range(1, len(k) + 1)],
        "lead_id": lead_ids[lead_idx[order]],
        "occurred_at": occurred[order],
        "type": np.where(is_call, "call", "email")[order],
        "rep_id": rep[order],
        "outcome": outcome[order],
        "duration_s": duration[order],
    })
    # Opportunities: created 0-3 days after the converting attempt.
    conv_leads = np.flatnonzero(conv_k > 0)
    conv_time = pd.Series(occurred[conv_att], index=lead_idx[conv_att]).groupby(level=0).min()
    t_conv = conv_time.reindex(conv_leads).to_numpy().astype("datetime64[s]")
    sql_at = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    sql_at[conv_leads] = t_conv
    d_created = t_conv + (rng.random(len(conv_leads)) * 3 * 86400).astype("timedelta64[s]")
    won = rng.random(len(conv_leads)) < p.win_rate
    cycle = rng.uniform(20, 90, len(conv_leads)) * 86400
    closed = d_created + cycle.astype(np.int64).astype("timedelta64[s]")
    still_open = closed >= end
    stage = np.where(still_open, "open", np.where(won, "won", "lost"))
    mean_amt = np.array([SOURCES[s][0] for s in source[conv_leads]]) * \
        np.array([p.segment_mult[g] for g in segment[conv_leads]])
    sigma = 0.5
    amount = np.round(mean_amt * np.exp(rng.normal(-sigma ** 2 / 2, sigma, len(conv_leads))), -2)
    proposal = (won | (rng.random(len(conv_leads)) < 0.5)) & ~still_open
    proposal_at = np.where(proposal, d_created + (cycle * 0.5).astype(np.int64).astype("timedelta64[s]"),
                           np.datetime64("NaT"))
    deals = pd.DataFrame({
        "deal_id": [f"D{i:07d}" for i in range(1, len(conv_leads) + 1)],
        "lead_id": lead_ids[conv_leads],
        "created_at": d_created,
        "stage": stage,
        "closed_at": np.where(still_open, np.datetime64("NaT"), closed).astype("datetime64[s]"),
        "amount": amount,
        "proposal_at": proposal_at.astype("datetime64[s]"),
    })
    leads = pd.DataFrame({
        "lead_id": lead_ids,
        "created_at": created,
        "source": source,
        "segment": segment,
        "tier": tier,
        "score": score,
        "mql_at": np.where(is_mql, mql_at, np.datetime64("NaT")).astype("datetime64[s]"),
        "sql_at": sql_at,
        "owner_id": owner,
        "marketing_sourced": marketing_sourced,
    })
    reps = pd.DataFrame({
        "rep_id": sdrs,
        "team": np.where(np.arange(p.n_sdrs) % 2 == 0, "east", "west"),
        "role": "SDR",
        "hourly_cost": p.sdr_hourly_cost,
    })
    return {"leads": leads, "activities": activities, "deals": deals, "reps": reps}


def _space_calls_in_sessions(rng: np.random.Generator, occurred: np.ndarray, rep: np.ndarray,
                             is_call: np.ndarray, calls_per_hour: float) -> np.ndarray:
    """Re-space each rep's calls inside the clock hour they fall in, one every 3600/pace seconds
    (+-20%), as a dialling session would. Moves a call by less than an hour."""
    out = occurred.copy()
    idx = np.flatnonzero(is_call)
    hour = occurred[idx].astype("datetime64[h]")
    order = np.lexsort((occurred[idx], hour, rep[idx]))
    idx, hour = idx[order], hour[order]
    new_group = np.ones(len(idx), dtype=bool)
    new_group[1:] = (hour[1:] != hour[:-1]) | (rep[idx][1:] != rep[idx][:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(idx)), 0))
    rank = np.arange(len(idx)) - group_start
    spacing = 3600.0 / calls_per_hour * rng.uniform(0.8, 1.2, len(idx))
    sec = np.minimum(3599, rank * spacing + rng.uniform(0, 60, len(idx))).astype(np.int64)
    out[idx] = hour.astype("datetime64[s]") + sec.astype("timedelta64[s]")
    return out


def truth(p: SampleParams, tables: dict[str, pd.DataFrame], cost_per_attempt: float) -> dict:
    """The true generating figures, analytic where possible, read off the events otherwise."""
    h0 = solve_base_hazards(p)
    seg_mean = sum(p.segment_mix[g] * p.segment_mult[g] for g in p.segment_mix)
    curve = true_profit_curve(p, h0, cost_per_attempt)
    best = curve.loc[curve.profit_per_lead.idxmax()]
    band = curve[curve.profit_per_lead >= best.profit_per_lead - 0.02 * abs(best.profit_per_lead)]
    leads, acts = tables["leads"], tables["activities"]
    first = acts.groupby("lead_id").occurred_at.min()
    mql = leads.dropna(subset=["mql_at"]).set_index("lead_id")
    delay_h = (first.reindex(mql.index) - mql.mql_at).dt.total_seconds() / 3600
    windows = {"high": 4, "moderate": 24, "low": 48}
    # never-contacted MQLs have a NaN delay and count as misses
    within = {t: float((delay_h[mql.tier == t] <= windows[t]).mean()) for t in p.tier_mix}
    return {
        "params": asdict(p),
        "base_hazard_by_source": h0,
        "close_rate_by_source": {s: SOURCES[s][1] for s in p.source_mix},
        "avg_revenue_by_source": {s: SOURCES[s][0] * seg_mean for s in p.source_mix},
        "mql_value_by_source": {s: SOURCES[s][0] * seg_mean * SOURCES[s][1] for s in p.source_mix},
        "calls_per_hour": p.calls_per_hour,
        "cost_per_call": p.sdr_hourly_cost / p.calls_per_hour,
        "cost_per_attempt_used_for_plateau": cost_per_attempt,
        "plateau": {
            "optimal_attempts": int(best.attempts),
            "optimal_profit_per_lead": float(best.profit_per_lead),
            "band_2pct": [int(band.attempts.min()), int(band.attempts.max())],
            "curve": curve.round(6).to_dict(orient="list"),
        },
        "first_touch_within_window": within,
    }


def write_sample(out_dir: Path, p: SampleParams = SampleParams()) -> Path:
    """Generate the sample CRM as Parquet files plus ``truth.json`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = generate(p)
    for name, df in tables.items():
        df.to_parquet(out_dir / f"{name}.parquet", index=False)
    mix_cost = p.call_share * (p.sdr_hourly_cost / p.calls_per_hour) + \
        (1 - p.call_share) * (p.sdr_hourly_cost / p.emails_per_hour)
    (out_dir / "truth.json").write_text(json.dumps(truth(p, tables, mix_cost), indent=2, sort_keys=True))
    return out_dir
