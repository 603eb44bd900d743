"""Commission rows: one per person and commission period (CONTRACT §4 "commission"), and their total.

Money is exact (CONTRACT §4 "(v2) Money in the JSON"): `credited_revenue` and `quota` are the exact
decimals of the data; `commission` (the tiers, `plan.tier_commissions`), `referral_commission`
(referral_rate × referred amount) and `clawback` are each computed exactly and then rounded to
cents half away from zero (`plan.cents`); `payout` = the rounded commission + the rounded referral
commission − the rounded clawback, so a printed row adds up; `total_payout` = Σ payout of the rows.
`attainment` is a float.

A clawback reverses, in the period containing day 0 + clawback_days, the deal's credited share ×
the person's effective rate in the deal's own period (the exact commission / credited, a
`Fraction`) plus the referral commission paid on it; the sum is exact and rounded once. A person
with nothing credited, referred or clawed back in a period has no row there (a quota alone makes
none). Rows are ordered by person, then period. `attainment` and `all_rows` are the rows as the
pages read them, with the person's name, region and role; `in_view` picks a view's people from
everyone's rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics.commission.facts import _EPOCH, Facts, Key, _facts
from b2bmetrics.metrics.commission.plan import (
    EXACT,
    ZERO,
    cents,
    cents_of_ratio,
    commission_periods,
    exact_sum,
    numbers,
    ratio,
    tier_commissions,
)

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

_ZERO_CENTS = Decimal("0.00")


@dataclass(frozen=True)
class Row:
    """One person and commission period (CONTRACT §4 "commission" rows)."""

    rep_id: str
    period_start: dt.date
    credited_revenue: Decimal
    quota: Decimal
    attainment: float | None
    commission: Decimal
    referral_commission: Decimal
    clawback: Decimal
    payout: Decimal


def _quotas(facts: Facts, plan: Plan, keys: list[int]) -> list[Decimal]:
    # only a quotas row starting on the period's first day counts
    return facts.quota_of(keys, numbers(plan).default_quota)


def _key_index(facts: Facts, key: Key) -> int | None:
    """Position of (person, period) among the keys, None when absent (a statement's facts are one
    person's few keys, so a scan costs nothing)."""
    hits = np.flatnonzero((facts.day == (key[1] - _EPOCH).days) & (facts.person == key[0]))
    return int(hits[0]) if len(hits) else None


def effective_rate(facts: Facts, plan: Plan, key: Key) -> Fraction | None:
    """commission / credited of a person and period, exact (the commission before rounding); None
    when nothing was credited."""
    i = _key_index(facts, key)
    if i is None:
        return None
    credited = facts.credit[i]
    return ratio(tier_commissions([credited], _quotas(facts, plan, [i]), plan)[0], credited)


def _clawbacks(facts: Facts, plan: Plan, commission: np.ndarray) -> dict[int, tuple[int, int]]:
    """Per key with anything clawed back, the exact clawback as a ratio of integers (p, q): each
    credited share × its origin period's effective rate (commission / credited), plus the referral
    commission clawed back. Integer ratios, not Fractions: thousands of keys at scale, and a
    Fraction normalises (a gcd) at every step."""
    rate = numbers(plan).referral_rate
    out: dict[int, tuple[int, int]] = {}

    def add(key: int, p: int, q: int) -> None:
        if key in out:
            p0, q0 = out[key]
            p, q = p0 * q + p * q0, q0 * q
        out[key] = (p, q)

    for key, origin, amount in zip(facts.claw_key.tolist(), facts.claw_origin.tolist(), facts.claw_credit.tolist(),
                                   strict=True):
        if origin < 0 or not facts.credit[origin] or not commission[origin]:
            continue  # nothing was paid on it
        ap, aq = amount.as_integer_ratio()
        cp, cq = commission[origin].as_integer_ratio()
        kp, kq = facts.credit[origin].as_integer_ratio()
        add(key, ap * cp * kq, aq * cq * kp)
    for key in np.flatnonzero(facts.claw_referral != ZERO).tolist():
        add(key, *EXACT.multiply(rate, facts.claw_referral[key]).as_integer_ratio())
    return out


def _row_columns(facts: Facts, plan: Plan, *, referral_facts: bool = False) -> dict[str, list[Any]]:
    """Every shown person-period row, column by column (Row's fields), sorted by person then period."""
    shown_days = np.array(facts.periods, dtype="datetime64[D]").astype("int64")
    shown = np.flatnonzero(facts.has_row & np.isin(facts.day, shown_days))
    shown = shown[np.lexsort((facts.day[shown], facts.person[shown].astype(str)))]
    # the commission of the shown keys, and of the origin periods whose rates clawbacks reverse at
    needed = np.union1d(shown, facts.claw_origin[facts.claw_origin >= 0])
    quota_all = np.full(len(facts.credit), None, dtype=object)
    quota_all[needed] = _quotas(facts, plan, needed.tolist())
    commission_all = np.full(len(facts.credit), ZERO, dtype=object)
    commission_all[needed] = tier_commissions(facts.credit[needed].tolist(), quota_all[needed].tolist(), plan)
    clawback_all = _clawbacks(facts, plan, commission_all)
    rate = numbers(plan).referral_rate
    keys = shown.tolist()
    credited = facts.credit[shown].tolist()
    quota = quota_all[shown].tolist()
    commission = [cents(c) for c in commission_all[shown].tolist()]
    with localcontext(EXACT):
        referral = [cents(rate * amount) if amount else _ZERO_CENTS for amount in facts.referral[shown].tolist()]
    clawback = [cents_of_ratio(*clawback_all[i]) if i in clawback_all else _ZERO_CENTS for i in keys]
    # a float: credited / quota over float arrays (None without a quota)
    credited_f = facts.credit_f[shown]
    quota_f = np.where(np.isnan(facts.quota_f[shown]), float(numbers(plan).default_quota), facts.quota_f[shown])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ratio_f = credited_f / np.where(quota_f > 0, quota_f, 1.0)
    attainment = [r if q > 0 else None for r, q in zip(ratio_f.tolist(), quota_f.tolist(), strict=True)]
    with localcontext(EXACT):
        payout = [c + r - b if r or b else c for c, r, b in zip(commission, referral, clawback, strict=True)]
    out: dict[str, list[Any]] = {
        "rep_id": facts.person[shown].tolist(),
        "period_start": facts.day[shown].astype("datetime64[D]").tolist(),
        "credited_revenue": credited,
        "quota": quota,
        "attainment": attainment,
        "commission": commission,
        "referral_commission": referral,
        "clawback": clawback,
        "payout": payout,
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
    """CONTRACT §4 "commission": {"total_payout", "rows": [...]} (one query); money as Decimal."""
    cols = _shown_columns(con, cfg, filters, period, plan)
    return {"total_payout": total_payout(cols["payout"]), "rows": _records(cols)}


def total_payout(payouts: Iterable[Decimal]) -> Decimal:
    """`total_payout` = Σ payout over the rows shown (CONTRACT §5), exact: the JSON, the tiles, the
    page and the what-if totals all show the same number (0.00 without rows)."""
    return exact_sum(payouts, _ZERO_CENTS)


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
    that has these rows derives its referral and what-if views without another query. Money
    columns hold Decimals (object columns); attainment is float64 (NaN without a quota)."""
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
