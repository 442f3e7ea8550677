"""The period's attempt cap: one computation, shared by the attempt-cap page and the SLA review.

The cap is the report's most expensive figure (a bootstrap that refits the whole procedure 200
times, per tier too). Both pages call :func:`period_cap`; the first to ask computes it and keeps the
result beside the validated tables (``<cache>/derived/attempt-cap-<key>.pkl``), the other waits for it
and reads it, so the two pages show the same number and interval from a single fit. The key covers
everything the result depends on: the validated data (its cache folder), ``as_of``, the config's
values, the number of resamples, the code of the analyses and of the engine's access, and the
versions of the numerical libraries.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import scipy
import statsmodels

from sla_analysis import settings
from sla_analysis.analyses import cohorts as co
from sla_analysis.analyses import plateau as pl
from sla_analysis.config import SLAConfig
from sla_analysis.io.engine import CRM
from sla_analysis.io.kept import computed_once, write_atomically
from sla_analysis.results import Result

#: bootstrap resamples of the cap (its interval), on the page and in the review alike
N_BOOT = 200


@dataclass
class PeriodCap:
    """The attempt cap as of a period's end and what it was learnt from."""

    profiles: pd.DataFrame      # lead profiles of the history (cohorts.lead_profiles)
    covariates: list[str]
    cost_per_attempt: float
    window_from: datetime
    cap: Result                 # Result[plateau.CapRecommendation]
    rule_of_thumb: Result       # Result[dict]: the seeds' cohort method on the settled leads
    leads_per_week: float | None

    @property
    def contacted(self) -> pd.DataFrame:
        return self.profiles[self.profiles.attempts >= 1]

    def summary(self, cfg: SLAConfig | None = None) -> dict:
        """``summary.json["plateau"]`` (:func:`plateau.plateau_summary`); with ``cfg``, also what
        moving from the SLA's cap (``review_baseline["attempt_cap"]``) is worth a lead and a month,
        against ``cfg``'s smallest gain worth a change (:func:`plateau.change_from_current`)."""
        out = pl.plateau_summary(self.cap, self.rule_of_thumb, self.profiles, self.covariates)
        per_month = self.leads_per_week * 52 / 12 if self.leads_per_week else None
        out["contacted_per_month"] = per_month
        if cfg is not None:
            out["change"] = pl.change_from_current(out, cfg.review_baseline.get("attempt_cap"), per_month,
                                                   cfg.min_gain_per_month_or_default)
        return out


def compute_period_cap(crm: CRM, cfg: SLAConfig, as_of: datetime, n_boot: int = N_BOOT) -> PeriodCap:
    """The cap from the history as of ``as_of`` (:func:`cohorts.plateau_history`): pooled with its
    bootstrap interval, per tier, the experiment when the history cannot judge, and the rule of thumb."""
    profiles, covariates, cost, window_from = co.plateau_history(crm, cfg, as_of)
    if "owner" in covariates and not _owner_matters(profiles, covariates, cost, cfg):
        covariates = [c for c in covariates if c != "owner"]
        profiles = co.regrouped(profiles.drop(columns="owner"))
    contacted = profiles[profiles.attempts >= 1]
    per_week = co.contacted_per_week(profiles, window_from, as_of)
    # a cap weighs what attempts cost against what conversions earn: it needs attempts, won deals and their amounts
    why = crm.profile.unmet("attempts", "won_deals", "amounts")
    if why:
        return PeriodCap(profiles, covariates, cost, window_from, Result.absent(why), Result.absent(why), per_week)
    cap = pl.recommend_cap_or_reason(contacted, cost, covariates, n_boot=n_boot, seed=cfg.random_seed % 2**32,
                                     min_at_risk=cfg.min_group_size, confidence=cfg.confidence_level,
                                     tier_column="tier" if "tier" in contacted else None,
                                     gross_margin=cfg.gross_margin, leads_per_week=per_week)
    seeds = pl.cohort_method_or_reason(contacted[contacted.stale], cost, cfg.min_group_size)
    return PeriodCap(profiles, covariates, cost, window_from, cap, seeds, per_week)


def _owner_matters(profiles: pd.DataFrame, covariates: list[str], cost: float, cfg: SLAConfig) -> bool:
    """Whether the cap must adjust for the lead's owner: reps convert differently
    (:func:`plateau.covariate_matters`) and adjusting changes the recommended cap (the point
    recommendation with and without the owner). Adjusting for a difference that does not move the
    cap would only slow its bootstrap (on the 2-million-lead bench, from about 30 s to 120 s).
    False when the history is too thin to fit either model: the cap then says so itself."""
    contacted = profiles[profiles.attempts >= 1]
    others = [c for c in covariates if c != "owner"]
    try:
        if not pl.covariate_matters(contacted, covariates, "owner"):
            return False
        point = {tuple(c): pl.recommend_cap(p, cost, c, n_boot=0, seed=0, min_at_risk=cfg.min_group_size,
                                            gross_margin=cfg.gross_margin).recommended_attempts
                 for c, p in ((covariates, contacted), (others, co.regrouped(contacted.drop(columns="owner"))))}
    except (ValueError, np.linalg.LinAlgError):
        return False
    return point[tuple(covariates)] != point[tuple(others)]


def _key(crm: CRM, cfg: SLAConfig, as_of: datetime, n_boot: int) -> str:
    assumptions = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "source_file"}
    digest = hashlib.sha256(json.dumps([str(crm.cache_dir.resolve()), as_of.isoformat(), n_boot, assumptions,
                                        settings.current().engine.split("://")[0]],
                                       sort_keys=True, default=str).encode())
    # the code it runs: every analysis module, the engine's access and the numerical libraries
    package = Path(co.__file__).resolve().parents[1]
    for path in sorted([*(package / "analyses").glob("*.py"), package / "io" / "engine.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(" ".join(f"{m.__name__} {m.__version__}" for m in (np, pd, scipy, statsmodels, ibis)).encode())
    return digest.hexdigest()[:20]


def period_cap(crm: CRM, cfg: SLAConfig, as_of: datetime, n_boot: int = N_BOOT) -> PeriodCap:
    """:func:`compute_period_cap`, computed once per data, config and ``as_of``: a second caller
    (another page of the same report, running alongside) waits for the first and reads its result."""
    folder = Path(crm.cache_dir) / "derived"
    try:
        folder.mkdir(exist_ok=True)
    except OSError:  # a read-only cache: compute, do not keep
        return compute_period_cap(crm, cfg, as_of, n_boot)
    target = folder / f"attempt-cap-{_key(crm, cfg, as_of, n_boot)}.pkl"
    return computed_once(target, lambda: compute_period_cap(crm, cfg, as_of, n_boot), _read_pickle, _write_pickle)


def _read_pickle(path: Path) -> PeriodCap:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _write_pickle(result: PeriodCap, path: Path) -> None:
    write_atomically(path, lambda fh: pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL))


def reviewable_cap(result: PeriodCap) -> PeriodCap | None:
    """The cap as a figure the SLA review may judge: None when there is no cap or when the history
    cannot judge caps above it (then "no drift" would be a claim the data cannot make)."""
    if not result.cap:
        return None
    return None if result.cap.get().cannot_judge_above is not None else result
