"""Commission rows: one per person and commission period (CONTRACT §4 "commission"), and their total.

The tier arithmetic runs over the `Facts` arrays (`plan.tier_commissions`); an effective rate
(commission / credited) is what a clawback reverses in the deal's own period, credited share ×
that rate, plus the referral commission paid on it. A person with nothing credited, referred or
clawed back in a period has no row there (a quota alone makes none). `total_payout` is Σ payout,
the one sum every view shows. `attainment` and `all_rows` are the rows as the pages read them,
with the person's name, region and role; `in_view` picks a view's people from everyone's rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics.commission.facts import _EPOCH, Facts, Key, _facts
from b2bmetrics.metrics.commission.plan import commission_periods, tier_commission, tier_commissions

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


@dataclass(frozen=True)
class Row:
    """One person and commission period (CONTRACT §4 "commission" rows)."""

    rep_id: str
    period_start: dt.date
    credited_revenue: float
    quota: float
    attainment: float | None
    commission: float
    referral_commission: float
    clawback: float
    payout: float


def _quotas(facts: Facts, plan: Plan) -> np.ndarray:
    # only a quotas row starting on the period's first day counts
    return np.where(np.isnan(facts.quota), plan.default_quota, facts.quota)


def _key_index(facts: Facts, key: Key) -> int | None:
    """Position of (person, period) among the keys, None when absent (a statement's facts are one
    person's few keys, so a scan costs nothing)."""
    hits = np.flatnonzero((facts.day == (key[1] - _EPOCH).days) & (facts.person == key[0]))
    return int(hits[0]) if len(hits) else None


def effective_rate(facts: Facts, plan: Plan, key: Key) -> float | None:
    """commission / credited of a person and period; None when nothing was credited."""
    i = _key_index(facts, key)
    if i is None or facts.credit[i] == 0:
        return None
    credited = float(facts.credit[i])
    return tier_commission(credited, float(_quotas(facts, plan)[i]), plan) / credited


def _paid_rates(credited: np.ndarray, commission: np.ndarray) -> np.ndarray:
    """`effective_rate(...) or 0.0` of every key: commission / credited, 0.0 where nothing was credited."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(credited != 0, commission / np.where(credited != 0, credited, 1.0), 0.0)


def _clawbacks(facts: Facts, plan: Plan, commission: np.ndarray) -> np.ndarray:
    """Per key: each credited share clawed back at its origin period's effective rate, plus the
    referral commission clawed back, summed with math.fsum (few keys have any, so a loop is cheap)."""
    rate = _paid_rates(facts.credit, commission)
    origin_rate = np.where(facts.claw_origin >= 0, rate[facts.claw_origin], 0.0)
    credit_terms: dict[int, list[float]] = defaultdict(list)
    for key, amount in zip(facts.claw_key.tolist(), (facts.claw_credit * origin_rate).tolist(), strict=True):
        credit_terms[key].append(amount)
    claw_referral = facts.claw_referral.tolist()
    # math.fsum of zeros is 0.0, whatever their signs: a key with nothing clawed back keeps the 0.0
    # it starts with, and a -0.0 rate (nothing paid on a negative credit) needs no `or 0.0`
    clawed = set(credit_terms) | set(np.flatnonzero(facts.claw_referral).tolist())
    out = np.zeros(len(commission))
    for key in clawed:
        out[key] = math.fsum([*credit_terms.get(key, []), plan.referral_rate * claw_referral[key]])
    return out


def _row_columns(facts: Facts, plan: Plan, *, referral_facts: bool = False) -> dict[str, list[Any]]:
    """Every shown person-period row, column by column (Row's fields), sorted by period then person.

    The tier arithmetic runs over arrays: at 200,000 accounts there are tens of thousands of rows."""
    quota_all = _quotas(facts, plan)
    commission_all = tier_commissions(facts.credit, quota_all, plan)  # origin periods' rates need all
    clawback_all = _clawbacks(facts, plan, commission_all)
    shown_days = np.array(facts.periods, dtype="datetime64[D]").astype("int64")
    shown = np.flatnonzero(facts.has_row & np.isin(facts.day, shown_days))
    credited, quota, commission = facts.credit[shown], quota_all[shown], commission_all[shown]
    referral = plan.referral_rate * facts.referral[shown]
    clawback = clawback_all[shown]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio = np.where(quota > 0, credited / np.where(quota > 0, quota, 1.0), np.nan)
    attainment = ratio.astype(object)
    attainment[np.isnan(ratio)] = None  # undefined without a quota
    out: dict[str, list[Any]] = {
        "rep_id": facts.person[shown].tolist(),
        "period_start": facts.day[shown].astype("datetime64[D]").tolist(),
        "credited_revenue": credited.tolist(),
        "quota": quota.tolist(),
        "attainment": attainment.tolist(),
        "commission": commission.tolist(),
        "referral_commission": referral.tolist(),
        "clawback": clawback.tolist(),
        "payout": (commission + referral - clawback).tolist(),
    }
    if referral_facts:  # what the referral view sums, so it needs no query of its own
        out["referred_deals"] = facts.referral_deals[shown].tolist()
        out["referred_amount"] = facts.referral[shown].tolist()
        out["referral_clawed_amount"] = facts.claw_referral[shown].tolist()
    return out


def _rows(facts: Facts, plan: Plan) -> list[Row]:
    return [Row(*values) for values in zip(*_row_columns(facts, plan).values(), strict=True)]


def _shown_columns(con: Backend, cfg: Config, filters: Filters, period: Period, plan: Plan | None,
                   *, referral_facts: bool = False) -> dict[str, list[Any]]:
    plan = plan or cfg.commission
    periods = commission_periods(period, plan.period)
    return _row_columns(_facts(con, cfg, plan, periods, filters), plan, referral_facts=referral_facts)


def summary(con: Backend, cfg: Config, filters: Filters, period: Period, plan: Plan | None = None) -> dict[str, Any]:
    """CONTRACT §4 "commission": {"total_payout", "rows": [...]} (one query)."""
    cols = _shown_columns(con, cfg, filters, period, plan)
    return {"total_payout": total_payout(cols["payout"]), "rows": _records(cols)}


def total_payout(payouts: Iterable[float]) -> float:
    """`total_payout` = Σ payout over the rows shown (CONTRACT §5), summed exactly (math.fsum), so
    the JSON, the tiles, the page and the what-if totals all show the same number."""
    return math.fsum(payouts)


def _records(cols: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts with Row's keys in order (a dict display per row builds them in
    half the time of dict(zip(names, values)), which shows at tens of thousands of rows)."""
    iso = {day: day.isoformat() for day in set(cols["period_start"])}  # a few periods, many rows
    return [{"rep_id": rep_id, "period_start": iso[day], "credited_revenue": credited, "quota": quota,
             "attainment": attainment, "commission": commission, "referral_commission": referral,
             "clawback": clawback, "payout": payout}
            for rep_id, day, credited, quota, attainment, commission, referral, clawback, payout in zip(
                cols["rep_id"], cols["period_start"], cols["credited_revenue"], cols["quota"], cols["attainment"],
                cols["commission"], cols["referral_commission"], cols["clawback"], cols["payout"], strict=True)]



# ---- the rows as the pages read them ------------------------------------------------------------

def _people(con: Backend, ids: list[str]) -> pd.DataFrame:
    """rep_name, region and role of the given ids (one small query); role defaults to sales."""
    cols = ["rep_id", "rep_name", "region", "role"]
    if not ids:
        return pd.DataFrame(columns=cols)
    # the people table is small (one row per person): read its four columns and pick the ids here;
    # an IN list of thousands of literals costs ibis about half a second to compile
    df = con.table("reps").select(*cols).execute()
    df = df[df["rep_id"].isin(ids)].assign(role=lambda d: d["role"].fillna("sales"))
    return df.drop_duplicates("rep_id").reset_index(drop=True)


def attainment(con: Backend, cfg: Config, filters: Filters, period: Period, plan: Plan | None = None) -> pd.DataFrame:
    """The shown rows with the person's name, region and role (people missing from reps: NULL), and
    the referral facts behind them (referred_deals, referred_amount, referral_clawed_amount): a page
    that has these rows derives its referral and what-if views without another query."""
    cols = _shown_columns(con, cfg, filters, period, plan, referral_facts=True)
    frame = pd.DataFrame(cols, columns=list(cols))
    frame["rep_id"] = frame["rep_id"].astype(object)  # an empty result would type it float64: no merge
    frame["attainment"] = frame["attainment"].astype("float64")  # NaN when there is no quota, whatever the rows
    people = _people(con, sorted(set(frame["rep_id"])))
    return frame.merge(people, on="rep_id", how="left")


def all_rows(con: Backend, cfg: Config, period: Period, plan: Plan | None = None) -> pd.DataFrame:
    """`attainment` of everyone: what a view filters with `in_view` instead of asking again.

    A payout never depends on the view, so a page keeps these rows per period and plan and a change
    of region or rep costs no query.
    """
    return attainment(con, cfg, Filters(), period, plan)


def in_view(rows: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The `all_rows` a view shows: region by the person's `reps.region`, rep by id (ids missing
    from reps too), as the database-side view conditions; segment does not apply."""
    keep = pd.Series(True, index=rows.index)
    if filters.regions:
        keep &= rows["region"].isin(list(filters.regions))
    if filters.reps:
        keep &= rows["rep_id"].isin(list(filters.reps))
    return rows[keep].reset_index(drop=True)

