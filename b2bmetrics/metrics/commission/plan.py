"""A commission plan's arithmetic: the periods it pays by, its tier bands, cap and rates.

Plain Python on small numbers (the database has already summed the credits): `tier_commission`
for one person and period, `tier_commissions` the same over arrays, element for element equal.
Tier bands are closed above: band i covers attainment (up_to[i-1], up_to[i]], so attainment exactly
at an `up_to` is paid at that band's rate in retroactive mode (marginal mode is continuous there).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from b2bmetrics.config import Plan, Tier
from b2bmetrics.filters import Period
from b2bmetrics.metrics._rules import next_period_start, period_start_of

__all__ = ["commission_periods", "next_period_start", "period_start_of", "tier_commission", "tier_commissions"]

# relative slack when comparing attainment with a band bound: 0.3 × quota must sit in the 0.3 band
_BOUND_EPS = 1e-12


def commission_periods(period: Period, unit: str) -> list[dt.date]:
    """Starts of the commission periods overlapping the filter period (empty when there is no data)."""
    if period.start is None or period.end is None or period.end < period.start:
        return []
    out = [period_start_of(period.start, unit)]
    while (nxt := next_period_start(out[-1], unit)) <= period.end:
        out.append(nxt)
    return out


def _band(attainment: float, tiers: tuple[Tier, ...]) -> Tier:
    """The band attainment falls in: band i covers (up_to[i-1], up_to[i]]; the last is open."""
    for tier in tiers:
        if tier.up_to is None or attainment <= tier.up_to * (1 + _BOUND_EPS):
            return tier
    return tiers[-1]


def tier_commission(credited: float, quota: float, plan: Plan) -> float:
    """Commission on `credited` revenue against `quota` under `plan` (tiers, mode, cap).

    Marginal: each slice of revenue between band bounds (× quota) at its band's rate. Retroactive:
    all of it at the rate of the band attainment falls in. Quota 0: all at the last band's rate.
    Limited to `plan.cap` when the cap is above 0.
    """
    if credited <= 0:
        return 0.0
    tiers = plan.tiers
    if quota <= 0:
        raw = credited * tiers[-1].rate
    elif plan.mode == "retroactive":
        raw = credited * _band(credited / quota, tiers).rate
    else:
        raw, lower = 0.0, 0.0
        for tier in tiers:
            upper = math.inf if tier.up_to is None else tier.up_to * quota
            if credited > lower:
                raw += (min(credited, upper) - lower) * tier.rate
            lower = upper
    return min(raw, plan.cap) if plan.cap > 0 else raw


def tier_commissions(credited: np.ndarray, quota: np.ndarray, plan: Plan) -> np.ndarray:
    """`tier_commission` over arrays: the same float operations per element, in the same order, so
    each result equals the scalar one exactly (adding 0.0 for a slice not reached changes nothing)."""
    tiers = plan.tiers
    # a tiny quota makes attainment inf, as in the scalar arithmetic; inf - inf slices are never taken
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if plan.mode == "retroactive":
            attainment = credited / np.where(quota > 0, quota, 1.0)
            rate = np.full(len(credited), tiers[-1].rate)
            open_ = np.ones(len(credited), dtype=bool)
            for tier in tiers:
                hit = open_.copy() if tier.up_to is None else open_ & (attainment <= tier.up_to * (1 + _BOUND_EPS))
                rate[hit] = tier.rate
                open_ &= ~hit
            raw = credited * rate
        else:
            raw = np.zeros(len(credited))
            lower = np.zeros(len(credited))
            for tier in tiers:
                upper = np.full(len(credited), math.inf) if tier.up_to is None else tier.up_to * quota
                raw = raw + np.where(credited > lower, (np.minimum(credited, upper) - lower) * tier.rate, 0.0)
                lower = upper
        raw = np.where(quota <= 0, credited * tiers[-1].rate, raw)
    if plan.cap > 0:
        raw = np.minimum(raw, plan.cap)
    return np.where(credited > 0, raw, 0.0)
