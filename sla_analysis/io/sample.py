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

Handoff columns (notebook 06) are added to the leads afterwards, from a separate random stream
(``seed + 8``) and from the events already generated, so every other column is the same as without
them. Their known effects:

* ``fit_score + interest_score = score`` exactly (a random split); the score works through the
  tier (tiers are centred on 40 / 60 / 80 points), so conversion by score band is known analytically
  (:func:`score_band_truth`);
* ``mql_type`` (the offer that made an MQL) is drawn given the source, so its close rate and MQL
  value are mixtures of the sources' (:func:`group_truth`);
* ``persona`` is drawn given whether the lead reached an opportunity (economic buyers more often
  do), so its conversion follows by Bayes' rule; ``segment`` changes deal size only;
* sales *rejects* a share of the contacted MQLs that got at most two attempts and no deal (a share
  that depends on the source) with a reason; MQLs worked to their tier's protocol without a deal
  are *recycled* to marketing and some come back as MQLs (``requalified_at``); an opportunity whose
  last attempt came after a silence of ``second_round_gap_days`` is read as recycled after the
  previous attempt and requalified before it (the return path that can end in a sale);
* every marketing-sourced lead is ``marketing_influenced``, and a share of the others is too.

Speed to lead (what answering faster is worth, :mod:`sla_analysis.analyses.speed_value`): the time
from MQL to the first attempt ``D`` is lognormal around the tier's median (high-tier leads are
answered faster: tier confounds speed and conversion). A contacted lead with planned cap ``n``
converts with probability ``q_n(s, t) x f_t(band(D))``, where ``q_n`` is the attempt process above
and ``f_t = speed_effect[t][band] / E_t[speed_effect[t][band(D)]]`` (mean 1 over the tier's delays),
so every conversion figure above is unchanged. It is drawn the other way round, with the same joint
law: the conversion first (as above), then ``D`` given it: its band with probability
``g_t(b) f_t(b)`` for a converting lead and ``g_t(b) (1 - q_n f_t(b)) / (1 - q_n)`` otherwise
(``g_t(b)`` = the lognormal's mass in the band), then ``D`` inside the band; from a random stream of
its own (``seed + 9``), so every other column is the same as without the effect. The effect is
stronger for high-tier leads. ``truth.json["speed_to_lead_value"]`` has, per tier, the mean of
``f_t`` over the leads whose *observed* first attempt falls in each band, and each tier's weight
``Σ q_n`` (per contacted MQL) for standardising over tiers. The observed first attempt is later than
``D`` when ``D`` ends outside working hours: SDRs work Monday to Friday, 08:00-18:00 (the CRM's
clock), so an attempt drawn at night or at the weekend is made the next working morning (a later
attempt, at a time of that day), and calls are re-spaced into dialling sessions inside their hour.
An MQL that arrives on Friday evening is therefore answered on Monday, as in a real CRM.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

#: lead score = round(N(centre of the tier, SCORE_SD)), clipped to 0-100
SCORE_CENTRE = {"high": 80.0, "moderate": 60.0, "low": 40.0}
SCORE_SD = 8.0

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
    work_hours: tuple = (8, 18)       # SDRs call and e-mail Monday to Friday, 08:00-18:00 (CRM clock, UTC)
    emails_per_hour: float = 30.0
    n_sdrs: int = 8
    sdr_hourly_cost: float = 50.0
    # handoff columns (notebook 06), drawn from their own random stream: default_rng(seed + 8)
    mql_type_by_source: dict = field(default_factory=lambda: {
        "white paper": {"content download": 0.85, "demo request": 0.10, "contact request": 0.05},
        "webinar": {"webinar registration": 0.80, "demo request": 0.15, "contact request": 0.05},
        "online demo": {"demo request": 0.85, "content download": 0.15},
        "tradeshow": {"event visit": 0.75, "demo request": 0.15, "contact request": 0.10},
        "contact sales": {"contact request": 0.85, "demo request": 0.15}})
    persona_given_deal: dict = field(default_factory=lambda: {
        "economic buyer": 0.40, "champion": 0.30, "influencer": 0.20, "end user": 0.10})
    persona_given_no_deal: dict = field(default_factory=lambda: {
        "economic buyer": 0.15, "champion": 0.25, "influencer": 0.30, "end user": 0.30})
    persona_missing: float = 0.08             # leads without a persona, at random
    influenced_if_not_sourced: float = 0.4    # sales-sourced leads marketing touched anyway
    rejection_by_source: dict = field(default_factory=lambda: {
        "white paper": 0.6, "webinar": 0.5, "online demo": 0.3, "tradeshow": 0.5, "contact sales": 0.2})
    rejection_reasons: dict = field(default_factory=lambda: {
        "bad fit": 0.35, "no budget": 0.25, "not the decision maker": 0.20, "no interest": 0.20})
    rejection_delay_days: float = 2.0         # mean (exponential) from the last attempt to the rejection
    recycle_share: float = 0.9                # MQLs worked to the protocol without a deal that are recycled
    recycle_delay_days: tuple = (1.0, 7.0)    # uniform, from the last attempt to the recycling
    requalify_recycled: float = 0.15          # recycled MQLs (no deal) that come back as MQLs ...
    requalify_rejected: float = 0.05          # ... and rejected ones
    requalify_delay_days: float = 60.0        # mean (exponential) from recycling / rejection to requalifying
    second_round_gap_days: float = 14.0       # a deal after this long a silence is a recycled lead's second round
    # speed to lead: conversion relative to a first attempt within an hour, per tier and band of the
    # time from MQL to the first attempt (see the module docstring); drawn from default_rng(seed + 9)
    speed_effect: dict = field(default_factory=lambda: {
        "high": {"< 5 min": 1.0, "5-60 min": 1.0, "1-4 h": 0.7, "4-24 h": 0.5, "1-3 days": 0.4, "later": 0.3},
        "moderate": {"< 5 min": 1.0, "5-60 min": 1.0, "1-4 h": 0.85, "4-24 h": 0.7, "1-3 days": 0.6, "later": 0.5},
        "low": {"< 5 min": 1.0, "5-60 min": 1.0, "1-4 h": 0.9, "4-24 h": 0.8, "1-3 days": 0.75, "later": 0.7}})


#: bands of the time from MQL to the first attempt, in hours: (label, from, to)
SPEED_BANDS: tuple[tuple[str, float, float], ...] = (
    ("< 5 min", 0.0, 5 / 60), ("5-60 min", 5 / 60, 1.0), ("1-4 h", 1.0, 4.0), ("4-24 h", 4.0, 24.0),
    ("1-3 days", 24.0, 72.0), ("later", 72.0, np.inf))


def speed_band_index(hours: np.ndarray) -> np.ndarray:
    """Index into :data:`SPEED_BANDS` of each delay in hours (a band includes its lower edge)."""
    edges = np.array([b[2] for b in SPEED_BANDS[:-1]])
    return np.searchsorted(edges, np.asarray(hours, dtype=float), side="right")


def band_mass(p: SampleParams, tier: str) -> np.ndarray:
    """g_t(b): P(first-attempt delay in band b | tier) for the lognormal delay of the tier."""
    med = p.tier_median_response_h[tier]
    lo = np.array([b[1] for b in SPEED_BANDS])
    hi = np.array([b[2] for b in SPEED_BANDS])
    with np.errstate(divide="ignore"):
        cdf = lambda x: norm.cdf((np.log(x) - np.log(med)) / p.response_sigma)  # noqa: E731
        return cdf(hi) - cdf(lo)


def speed_multipliers(p: SampleParams, tier: str) -> np.ndarray:
    """f_t(b) = speed_effect[t][b] / Σ_b g_t(b) speed_effect[t][b]: mean 1 over the tier's delays."""
    rr = np.array([p.speed_effect[tier][b[0]] for b in SPEED_BANDS])
    return rr / float(np.sum(band_mass(p, tier) * rr))


def _first_delays(p: SampleParams, tier: np.ndarray, q_n: np.ndarray, converts: np.ndarray) -> np.ndarray:
    """Hours from MQL to the first attempt given whether the lead converts (module docstring)."""
    rng = np.random.default_rng(p.seed + 9)
    n = len(tier)
    u_band, u_in = rng.random(n), rng.random(n)
    out = np.zeros(n)
    for t in p.tier_mix:
        rows = np.flatnonzero(tier == t)
        g, f = band_mass(p, t), speed_multipliers(p, t)
        qf = q_n[rows, None] * f[None, :]
        if (qf > 1).any():
            raise ValueError(f"speed_effect for tier {t!r} makes a conversion probability above 1")
        w = np.where(converts[rows, None], g * f, g * (1 - qf) / np.maximum(1 - q_n[rows, None], 1e-12))
        cdf = np.cumsum(w, axis=1)
        band = np.minimum((u_band[rows, None] * cdf[:, -1:] > cdf).sum(axis=1), len(SPEED_BANDS) - 1)
        z_lo = np.array([-np.inf if b[1] == 0 else (np.log(b[1]) - np.log(p.tier_median_response_h[t])) / p.response_sigma
                         for b in SPEED_BANDS])
        z_hi = np.array([np.inf if not np.isfinite(b[2]) else (np.log(b[2]) - np.log(p.tier_median_response_h[t])) / p.response_sigma
                         for b in SPEED_BANDS])
        a, b = norm.cdf(z_lo[band]), norm.cdf(z_hi[band])
        z = norm.ppf(np.clip(a + u_in[rows] * (b - a), 1e-15, 1 - 1e-15))
        out[rows] = p.tier_median_response_h[t] * np.exp(p.response_sigma * z)
    return out


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
                      max_k: int = 30, tier: str | None = None) -> pd.DataFrame:
    """Pi(N) = E_lead[ sum_{k<=N} S_k (r_k - c) ] over the MQL population (of one ``tier`` when
    given), per contacted lead.

    ``S_k = prod_{j<k} (1 - h_j)`` (share still open when attempt k is due), ``r_k = h_k x win_rate
    x E[amount]`` (expected revenue of attempt k among leads reaching it), ``c`` cost per attempt.
    """
    k = np.arange(1, max_k + 1)
    seg_mean = sum(p.segment_mix[g] * p.segment_mult[g] for g in p.segment_mix)
    total = np.zeros(max_k)
    open_share = np.zeros(max_k)
    tiers = p.tier_mix if tier is None else {tier: 1.0}
    for s, ws in p.source_mix.items():
        value = SOURCES[s][0] * seg_mean * p.win_rate
        for t, wt in tiers.items():
            h = hazard(h0[s], p.tier_mult[t], k, p.decay)
            surv = np.concatenate([[1.0], np.cumprod(1 - h)[:-1]])
            total += ws * wt * surv * (h * value - cost_per_attempt)
            open_share += ws * wt * surv
    profit = np.cumsum(total)
    return pd.DataFrame({"attempts": k, "share_open": open_share, "marginal_profit": total,
                         "profit_per_lead": profit})


def deal_probability(p: SampleParams, h0: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """P(opportunity | MQL, source, tier) = (1 - never_contacted) x P(converts within its planned cap)."""
    h0 = h0 or solve_base_hazards(p)
    return {s: {t: (1 - p.never_contacted) * _p_deal_by_cap(h0[s], t, p) for t in p.tier_mix} for s in p.source_mix}


def _score_at_least(a: float, tier: str) -> float:
    """P(score >= a | tier) for score = clip(round(N(centre, SCORE_SD)), 0, 100) (whole numbers)."""
    if a <= 0:
        return 1.0
    if a > 100:
        return 0.0
    return float(norm.sf((np.ceil(a) - 0.5 - SCORE_CENTRE[tier]) / SCORE_SD))


def score_band_truth(p: SampleParams, low: float, high: float) -> dict[str, float]:
    """True rates of the MQLs whose score lies in ``[low, high)``.

    ``P(tier | band) ∝ tier_mix x P(score in band | tier)``; ``sql_rate = Σ_t P(t | band) q_t`` with
    ``q_t = Σ_s source_mix_s P(opportunity | s, t)``; ``close_rate = sql_rate x win_rate``;
    ``value_per_mql = Σ_t P(t | band) Σ_s source_mix_s P(opportunity | s, t) x win_rate x revenue_s x
    E[segment multiplier]``; ``share`` = P(band) among MQLs.
    """
    q = deal_probability(p)
    seg_mean = sum(p.segment_mix[g] * p.segment_mult[g] for g in p.segment_mix)
    w = {t: p.tier_mix[t] * (_score_at_least(low, t) - _score_at_least(high, t)) for t in p.tier_mix}
    total = sum(w.values())
    if total <= 0:
        return {"share": 0.0, "sql_rate": float("nan"), "close_rate": float("nan"), "value_per_mql": float("nan")}
    sql = sum(w[t] / total * sum(p.source_mix[s] * q[s][t] for s in p.source_mix) for t in p.tier_mix)
    value = sum(w[t] / total * sum(p.source_mix[s] * q[s][t] * p.win_rate * SOURCES[s][0] * seg_mean
                                   for s in p.source_mix) for t in p.tier_mix)
    return {"share": total, "sql_rate": sql, "close_rate": sql * p.win_rate, "value_per_mql": value}


def group_truth(p: SampleParams, by: str) -> dict[str, dict[str, float]]:
    """True ``sql_rate``, ``close_rate`` and ``value_per_mql`` of the MQLs per ``by`` group, for
    ``source``, ``segment``, ``mql_type`` and ``persona`` (see the module docstring).

    * source s: close rate c_s (seed 000), value c_s x revenue_s x E[segment multiplier];
    * segment g: every source's close rate (segments do not change conversion), value x multiplier_g;
    * mql_type m: a mixture over ``P(s | m) ∝ source_mix_s P(m | s)``;
    * persona k: ``P(opp | k) = A_k π / (A_k π + B_k (1 - π))`` (Bayes), A / B its shares among MQLs
      with / without an opportunity, π = P(opportunity | MQL); revenue per customer as overall.
    A lead without a value (no persona, no MQL type) is ``(not recorded)``, which has the overall rates.
    """
    seg_mean = sum(p.segment_mix[g] * p.segment_mult[g] for g in p.segment_mix)
    close = {s: SOURCES[s][1] for s in p.source_mix}
    rev = {s: SOURCES[s][0] for s in p.source_mix}

    def mix(weights: dict[str, float], mult: float = seg_mean) -> dict[str, float]:
        total = sum(weights.values())
        c = sum(weights[s] * close[s] for s in weights) / total
        v = sum(weights[s] * close[s] * rev[s] for s in weights) / total * mult
        return {"sql_rate": c / p.win_rate, "close_rate": c, "value_per_mql": v}

    overall = mix(dict(p.source_mix))
    if by == "source":
        return {s: mix({s: 1.0}) for s in p.source_mix}
    if by == "segment":
        return {g: mix(dict(p.source_mix), p.segment_mult[g]) for g in p.segment_mix}
    if by == "mql_type":
        types = sorted({m for d in p.mql_type_by_source.values() for m in d})
        return {m: mix({s: p.source_mix[s] * p.mql_type_by_source[s].get(m, 0.0) for s in p.source_mix
                        if p.mql_type_by_source[s].get(m, 0.0) > 0}) for m in types}
    if by == "persona":
        pi = overall["sql_rate"]
        out = {}
        for k in p.persona_given_deal:
            a, b = p.persona_given_deal[k], p.persona_given_no_deal[k]
            sql = a * pi / (a * pi + b * (1 - pi))
            out[k] = {"sql_rate": sql, "close_rate": sql * p.win_rate,
                      "value_per_mql": sql / pi * overall["value_per_mql"]}
        out["(not recorded)"] = overall
        return out
    raise ValueError(f"no truth for groups {by!r}")


def rejection_truth(p: SampleParams) -> dict:
    """P(rejected | MQL) per source: ``(1 - never_contacted) x Σ_t tier_mix_t Σ_{n<=2} P(cap = n | t)
    x Π_{k<=n} (1 - h_k(s, t)) x rejection_by_source_s`` (contacted MQLs with one or two attempts and
    no opportunity); overall at the source mix; per reason, overall x the reason's share."""
    h0 = solve_base_hazards(p)
    by_source = {}
    for s in p.source_mix:
        cand = 0.0
        for t, wt in p.tier_mix.items():
            dist = cap_distribution(t, p)
            surv = np.cumprod(1 - hazard(h0[s], p.tier_mult[t], np.arange(1, 3), p.decay))
            cand += wt * sum(dist.get(n, 0.0) * surv[n - 1] for n in (1, 2))
        by_source[s] = (1 - p.never_contacted) * cand * p.rejection_by_source.get(s, 0.0)
    overall = sum(p.source_mix[s] * by_source[s] for s in p.source_mix)
    shares = {r: v / sum(p.rejection_reasons.values()) for r, v in p.rejection_reasons.items()}
    return {"rate_by_source": by_source, "rate": overall, "reason_share": shares,
            "rate_by_reason": {r: overall * v for r, v in shares.items()}}


def return_path_truth(tables: dict[str, pd.DataFrame], follow_days: int) -> dict:
    """Read off the generated leads and deals: of the leads rejected (recycled) at least
    ``follow_days`` before the export's last activity, the share back as MQLs within ``follow_days``
    (``requalified_at``) and the share with a deal created after the rejection (recycling) and won
    within ``follow_days`` of it."""
    leads, deals = tables["leads"], tables["deals"]
    horizon = tables["activities"].occurred_at.max()
    window = pd.Timedelta(days=follow_days)
    won = deals[deals.stage == "won"][["lead_id", "created_at", "closed_at"]]
    out = {}
    for kind, col in (("rejected", "rejected_at"), ("recycled", "recycled_at")):
        c = leads[leads[col].notna() & (leads[col] <= horizon - window)][["lead_id", col, "requalified_at"]]
        back = (c.requalified_at >= c[col]) & (c.requalified_at <= c[col] + window)
        w = won.merge(c[["lead_id", col]], on="lead_id")
        w = w[(w.created_at >= w[col]) & (w.closed_at <= w[col] + window)]
        n = len(c)
        out[kind] = {"leads": n, "requalified": int(back.sum()), "won": int(w.lead_id.nunique()),
                     "requalified_share": float(back.mean()) if n else float("nan"),
                     "won_share": w.lead_id.nunique() / n if n else float("nan")}
    return out


def handoff_truth(p: SampleParams, tables: dict[str, pd.DataFrame], follow_days: int = 120) -> dict:
    """Notebook 06's known answers: analytic rates by score band (10 points wide), MQL type, persona,
    segment and source, rejection rates, the marketing-sourced and -influenced shares (sourcing is
    independent of the outcome, so they are the same for leads, pipeline and won revenue); read off
    the data: days from MQL to rejection, and the return path of rejected and recycled leads."""
    leads = tables["leads"]
    rej = leads[leads.rejected_at.notna()]
    wait = (rej.rejected_at - rej.mql_at).dt.total_seconds() / 86400
    edges = list(range(0, 100, 10))
    sourced = p.marketing_sourced_share
    return {
        "score_bands": {f"{a}-{a + 9}" if a < 90 else "90+": score_band_truth(p, a, a + 10 if a < 90 else np.inf)
                        for a in edges},
        "by_source": group_truth(p, "source"),
        "by_segment": group_truth(p, "segment"),
        "by_mql_type": group_truth(p, "mql_type"),
        "by_persona": group_truth(p, "persona"),
        "rejection": {**rejection_truth(p), "median_days_mql_to_rejection": float(wait.median())},
        "return_path": {"follow_days": follow_days, **return_path_truth(tables, follow_days)},
        "marketing_sourced_share": sourced,
        "marketing_influenced_share": sourced + (1 - sourced) * p.influenced_if_not_sourced,
        "fit_plus_interest_is_score": True,
    }


def _pick(rng: np.random.Generator, mix: dict, n: int) -> np.ndarray:
    names = np.array(list(mix))
    probs = np.array(list(mix.values()), dtype=float)
    return names[rng.choice(len(names), size=n, p=probs / probs.sum())]


def generate(p: SampleParams = SampleParams()) -> dict[str, pd.DataFrame]:
    """Generate the four canonical tables. Same params, same output, byte for byte."""
    return _generate(p)[0]


def _generate(p: SampleParams) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """The four tables, and the generator's hidden draws the truth needs (``first_delay_h``: the
    hours to the first attempt before calls were re-spaced; ``contacted``)."""
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
    tier_center = np.select([tier == "high", tier == "moderate"], [SCORE_CENTRE["high"], SCORE_CENTRE["moderate"]],
                            SCORE_CENTRE["low"])
    score = np.clip(np.round(tier_center + rng.normal(0, SCORE_SD, n)), 0, 100).astype(int)
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
    rng.normal(0, p.response_sigma, n)  # the draw the delays were once made of: keeps the stream in step
    open_after = np.ones(n)  # P(no conversion within the planned cap), attempt by attempt
    for kk in range(1, int(caps.max(initial=0)) + 1):
        open_after *= np.where(kk <= caps, 1 - np.minimum(0.95, base * p.decay ** (kk - 1.0)), 1.0)
    q_n = 1 - open_after
    first_delay_h = _first_delays(p, tier, q_n, conv_k > 0)
    gap_days = np.array([p.tier_timeframe_days[t] / p.tier_touches[t] for t in tier])
    gaps = np.where(k == 1, first_delay_h[lead_idx] * 3600.0,
                    rng.exponential(gap_days[lead_idx] * 86400.0))
    offs = np.cumsum(gaps)
    starts = np.concatenate([[0], np.cumsum(n_attempts)[:-1]])[lead_idx]
    base_off = np.concatenate([[0.0], offs])[starts]
    occurred = mql_at[lead_idx] + (offs - base_off).astype(np.int64).astype("timedelta64[s]")
    occurred = _into_working_hours(occurred, lead_idx, k == 1, p)
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
    leads = pd.concat([leads, handoff_columns(p, leads, activities, deals)], axis=1)
    reps = pd.DataFrame({
        "rep_id": sdrs,
        "team": np.where(np.arange(p.n_sdrs) % 2 == 0, "east", "west"),
        "role": "SDR",
        "hourly_cost": p.sdr_hourly_cost,
    })
    return ({"leads": leads, "activities": activities, "deals": deals, "reps": reps},
            {"first_delay_h": first_delay_h, "contacted": contacted})


def _days(values: np.ndarray) -> np.ndarray:
    """Days (floats) as a ``timedelta64[s]`` array."""
    return (np.asarray(values, dtype=float) * 86400.0).astype(np.int64).astype("timedelta64[s]")


def _pick_rows(u: np.ndarray, groups: np.ndarray, dists: dict) -> np.ndarray:
    """Per row, the category of ``dists[group]`` (a mapping category -> probability) that the
    uniform draw ``u`` falls in (inverse CDF); ``None`` for rows whose group has no distribution."""
    out = np.full(len(u), None, dtype=object)
    for group, dist in dists.items():
        rows = groups == group
        names = np.array(list(dist), dtype=object)
        cdf = np.cumsum(np.array(list(dist.values()), dtype=float))
        cdf /= cdf[-1]
        out[rows] = names[np.minimum(np.searchsorted(cdf, u[rows], side="right"), len(names) - 1)]
    return out


def lead_attempt_facts(leads: pd.DataFrame, activities: pd.DataFrame, deals: pd.DataFrame) -> pd.DataFrame:
    """Per lead (in ``leads`` order): ``has_deal``, ``attempts`` before its first deal (all of them
    without a deal), the times of the ``last`` and the ``previous`` of those attempts."""
    first_deal = deals.groupby("lead_id").created_at.min()
    a = activities[["lead_id", "occurred_at"]].join(first_deal.rename("deal_at"), on="lead_id")
    a = a[a.deal_at.isna() | (a.occurred_at <= a.deal_at)].sort_values(["lead_id", "occurred_at"])
    g = a.groupby("lead_id").occurred_at
    facts = pd.DataFrame({"attempts": g.size(), "last": g.max(),
                          "previous": a[g.cumcount(ascending=False) == 1].set_index("lead_id").occurred_at})
    out = facts.reindex(leads.lead_id)
    out["attempts"] = out.attempts.fillna(0).astype(int)
    out["has_deal"] = leads.lead_id.isin(first_deal.index).to_numpy()
    return out.reset_index(drop=True)


def handoff_columns(p: SampleParams, leads: pd.DataFrame, activities: pd.DataFrame,
                    deals: pd.DataFrame) -> pd.DataFrame:
    """The leads' handoff columns (see the module docstring), from the generated events and a
    random stream of their own (``default_rng(seed + 8)``): every draw is made for every lead, in a
    fixed order, so the columns depend on the events only through the rules below.

    * ``fit_score = round(score x U(0.35, 0.65))``, ``interest_score = score - fit_score``;
    * ``mql_type`` ~ ``mql_type_by_source[source]`` for MQLs; ``persona`` ~ ``persona_given_deal``
      or ``persona_given_no_deal`` (missing for ``persona_missing`` of the leads);
    * ``marketing_influenced`` = sourced, or not sourced and U < ``influenced_if_not_sourced``;
    * rejected: a contacted MQL with 1-2 attempts and no deal, with probability
      ``rejection_by_source[source]``, at last attempt + Exp(``rejection_delay_days``), reason ~
      ``rejection_reasons``;
    * recycled: an MQL with at least its tier's protocol touches and no deal, with probability
      ``recycle_share``, at last attempt + U(``recycle_delay_days``); a lead whose deal followed an
      attempt that came ``second_round_gap_days`` or more after the previous one is recycled after
      the previous attempt (+ the same delay, at most 30% of the gap) and requalified in between;
    * requalified: recycled (no deal) with probability ``requalify_recycled``, rejected with
      ``requalify_rejected``, after Exp(``requalify_delay_days``).

    Events later than the export's last activity have not happened yet: they are left empty.
    """
    rng = np.random.default_rng(p.seed + 8)
    n = len(leads)
    u_split, u_type, u_persona, u_missing, u_influenced = (rng.random(n) for _ in range(5))
    u_reject, u_reason, u_recycle, u_requalify, u_second = (rng.random(n) for _ in range(5))
    reject_delay = rng.exponential(p.rejection_delay_days, n)
    recycle_delay = rng.uniform(*p.recycle_delay_days, n)
    requalify_delay = rng.exponential(p.requalify_delay_days, n)

    horizon = activities.occurred_at.max() if len(activities) else pd.Timestamp(p.end)
    horizon = np.datetime64(horizon, "s")
    nat = np.datetime64("NaT", "s")
    facts = lead_attempt_facts(leads, activities, deals)
    source = leads.source.to_numpy()
    score = leads.score.to_numpy()
    is_mql = leads.mql_at.notna().to_numpy()
    has_deal = facts.has_deal.to_numpy()
    attempts = facts.attempts.to_numpy()
    last = facts["last"].to_numpy().astype("datetime64[s]")
    previous = facts["previous"].to_numpy().astype("datetime64[s]")

    fit = np.round(score * (0.35 + 0.3 * u_split)).astype(int)
    mql_type = np.where(is_mql, _pick_rows(u_type, source, p.mql_type_by_source), None)
    persona = np.where(has_deal, _pick_rows(u_persona, np.full(n, "d"), {"d": p.persona_given_deal}),
                       _pick_rows(u_persona, np.full(n, "n"), {"n": p.persona_given_no_deal}))
    persona = np.where(u_missing < p.persona_missing, None, persona)
    sourced = leads.marketing_sourced.to_numpy().astype(bool)
    influenced = sourced | (u_influenced < p.influenced_if_not_sourced)

    reject_p = np.array([p.rejection_by_source.get(s, 0.0) for s in source])
    rejected = is_mql & ~has_deal & (attempts >= 1) & (attempts <= 2) & (u_reject < reject_p)
    rejected_at = np.where(rejected, last + _days(reject_delay), nat)
    rejected &= rejected_at <= horizon
    rejected_at = np.where(rejected, rejected_at, nat)
    reason = np.where(rejected, _pick_rows(u_reason, np.full(n, "r"), {"r": p.rejection_reasons}), None)

    touches = np.array([p.tier_touches.get(t, 1) for t in leads.tier])
    worked_out = is_mql & ~has_deal & (attempts >= touches) & ~rejected & (u_recycle < p.recycle_share)
    gap_days = ((facts["last"] - facts["previous"]).dt.total_seconds() / 86400.0).to_numpy()  # NaN: < 2 attempts
    second = has_deal & (attempts >= 2) & (gap_days >= p.second_round_gap_days)
    recycled_at = np.where(worked_out, last + _days(recycle_delay), nat)
    recycled_at = np.where(second, previous + _days(np.minimum(recycle_delay, 0.3 * np.nan_to_num(gap_days))),
                           recycled_at)
    recycled_at = np.where(recycled_at <= horizon, recycled_at, nat)
    back = (worked_out & (u_requalify < p.requalify_recycled)) | (rejected & (u_requalify < p.requalify_rejected))
    requalified_at = np.where(back, np.where(rejected, rejected_at, recycled_at) + _days(requalify_delay), nat)
    until_last = np.where(second, (last - recycled_at).astype("timedelta64[s]").astype(np.int64), 0)
    in_between = recycled_at + ((0.5 + 0.4 * u_second) * until_last).astype(np.int64).astype("timedelta64[s]")
    requalified_at = np.where(second, in_between, requalified_at)
    requalified_at = np.where(requalified_at <= horizon, requalified_at, nat)
    return pd.DataFrame({
        "fit_score": fit,
        "interest_score": score - fit,
        "mql_type": mql_type,
        "rejected_at": rejected_at.astype("datetime64[s]"),
        "rejection_reason": reason,
        "recycled_at": recycled_at.astype("datetime64[s]"),
        "requalified_at": requalified_at.astype("datetime64[s]"),
        "marketing_influenced": influenced,
        "persona": persona,
    })


def _into_working_hours(occurred: np.ndarray, lead_idx: np.ndarray, first: np.ndarray,
                        p: SampleParams) -> np.ndarray:
    """Attempts an SDR would make: Monday to Friday, ``work_hours`` (the CRM's clock, no holidays).

    An attempt drawn outside them moves to the next working day: a first attempt into the first
    hour of the morning (the overnight backlog, uniform in it), a later one to a uniform time of
    that day (of a uniform day of the next week when it fell at the weekend). An attempt inside
    working hours stays where it is. Each lead's times are then put back in order, so attempt k is
    still the k-th in time. From a random stream of its own (``seed + 10``), so every other column
    is the same as without it.
    """
    rng = np.random.default_rng(p.seed + 10)
    start_s, end_s = p.work_hours[0] * 3600, p.work_hours[1] * 3600
    day = occurred.astype("datetime64[D]")
    sec = (occurred - day).astype("timedelta64[s]").astype(np.int64)
    weekday = np.is_busday(day)
    inside = weekday & (sec >= start_s) & (sec < end_s)
    nxt = np.busday_offset(np.where(weekday & (sec < start_s), day, day + np.timedelta64(1, "D")), 0, roll="forward")
    u, spread = rng.random(len(occurred)), rng.integers(0, 5, len(occurred))
    # a follow-up due at the weekend is booked on a day of the next week, not all on Monday
    nxt = np.busday_offset(nxt, np.where(~first & ~weekday, spread, 0))
    offset = np.where(first, start_s + u * 3600.0, start_s + u * (end_s - start_s))
    moved = nxt.astype("datetime64[s]") + offset.astype(np.int64).astype("timedelta64[s]")
    out = np.where(inside, occurred, moved)
    return out[np.lexsort((out, lead_idx))]


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


def plateau_truth(curve: pd.DataFrame) -> dict:
    """The best cap of a true profit curve and the caps within 2% of its profit."""
    best = curve.loc[curve.profit_per_lead.idxmax()]
    band = curve[curve.profit_per_lead >= best.profit_per_lead - 0.02 * abs(best.profit_per_lead)]
    return {"optimal_attempts": int(best.attempts), "optimal_profit_per_lead": float(best.profit_per_lead),
            "band_2pct": [int(band.attempts.min()), int(band.attempts.max())]}


def speed_truth(p: SampleParams, tables: dict[str, pd.DataFrame], hidden: dict[str, np.ndarray]) -> dict:
    """What answering faster is worth, per tier (see the module docstring).

    ``multiplier[t][b]`` = mean of ``f_t(band(D))`` over the tier's contacted MQLs whose observed
    first attempt (earliest activity, ``max(0, first - mql_at)``) falls in band b: the conversion of
    those leads relative to the tier's average. ``relative_to_within_1h[t][b]`` = that / the same for
    the leads observed within an hour. ``weight[t] = tier_mix_t Σ_s source_mix_s P(opportunity |
    contacted, s, t)``: standardising over tiers T, ``RC(b) = Σ_T w_t m_t(b) / Σ_T w_t m_t(1 h)``.
    """
    h0 = solve_base_hazards(p)
    leads, acts = tables["leads"], tables["activities"]
    first = acts.groupby("lead_id").occurred_at.min()
    keep = hidden["contacted"]
    l = leads[keep]
    hours = ((first.reindex(l.lead_id).to_numpy() - l.mql_at.to_numpy()) / np.timedelta64(1, "s") / 3600.0)
    observed = speed_band_index(np.maximum(hours, 0.0))
    generated = speed_band_index(hidden["first_delay_h"][keep])
    tier = l.tier.to_numpy()
    labels = [b[0] for b in SPEED_BANDS]
    mult, rel, counts = {}, {}, {}
    for t in p.tier_mix:
        f = speed_multipliers(p, t)[generated[tier == t]]
        ob = observed[tier == t]
        m = {labels[i]: float(f[ob == i].mean()) if (ob == i).any() else None for i in range(len(labels))}
        hour = f[ob <= 1].mean() if (ob <= 1).any() else np.nan
        mult[t] = m
        rel[t] = {b: (v / hour if v is not None and np.isfinite(hour) else None) for b, v in m.items()}
        counts[t] = {labels[i]: int((ob == i).sum()) for i in range(len(labels))}
        m["within 1 hour"] = float(hour) if np.isfinite(hour) else None
    weight = {t: p.tier_mix[t] * sum(p.source_mix[s] * _p_deal_by_cap(h0[s], t, p) for s in p.source_mix)
              for t in p.tier_mix}
    return {"bands": labels, "effect": p.speed_effect, "multiplier": mult, "relative_to_within_1h": rel,
            "contacted_mqls_by_band": counts, "weight": weight,
            "multiplier_by_generated_band": {t: dict(zip(labels, speed_multipliers(p, t).tolist())) for t in p.tier_mix}}


def standardised_relative_conversion(speed: dict, tiers: list[str], band: str) -> float:
    """``Σ_T w_t m_t(band) / Σ_T w_t m_t(within 1 hour)`` from :func:`speed_truth`'s output."""
    num = sum(speed["weight"][t] * speed["multiplier"][t][band] for t in tiers)
    den = sum(speed["weight"][t] * speed["multiplier"][t]["within 1 hour"] for t in tiers)
    return num / den


def truth(p: SampleParams, tables: dict[str, pd.DataFrame], cost_per_attempt: float,
          hidden: dict[str, np.ndarray] | None = None) -> dict:
    """The true generating figures, analytic where possible, read off the events otherwise
    (the speed-to-lead truth needs the generator's ``hidden`` draws)."""
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
        "handoff": handoff_truth(p, tables),
        "plateau_by_tier": {t: plateau_truth(true_profit_curve(p, h0, cost_per_attempt, tier=t)) for t in p.tier_mix},
        **({"speed_to_lead_value": speed_truth(p, tables, hidden)} if hidden is not None else {}),
    }


def write_sample(out_dir: Path, p: SampleParams = SampleParams()) -> Path:
    """Generate the sample CRM as Parquet files plus ``truth.json`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, hidden = _generate(p)
    for name, df in tables.items():
        df.to_parquet(out_dir / f"{name}.parquet", index=False)
    mix_cost = p.call_share * (p.sdr_hourly_cost / p.calls_per_hour) + \
        (1 - p.call_share) * (p.sdr_hourly_cost / p.emails_per_hour)
    (out_dir / "truth.json").write_text(json.dumps(truth(p, tables, mix_cost, hidden), indent=2, sort_keys=True))
    return out_dir
