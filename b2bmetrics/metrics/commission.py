"""Sales commission (CONTRACT §5 "Commission"): credit, quota, tiers, cap, referrals, clawbacks.

A payout statement never depends on the view: every number is computed from all deals, and the
filters only choose which rows are shown (region: people whose `reps.region` is in it; rep: those
ids, also ids missing from `reps`; segment does not apply). Each row is one person and one
commission period (calendar quarter or month) overlapping the filter period, and counts that
whole commission period.

The aggregation over deals runs in the database and returns one long, small frame (one row per
person, period and kind of fact); the tier arithmetic then runs over those rows in numpy
(`tier_commissions`, the same operations as the scalar `tier_commission` a statement uses).

Choices where the contract is silent:

* A deal is won when `status` is "won" (or, with no status, its stage is the last pipeline stage).
  Won deals without `closed_at` or without `amount` credit and refer nothing.
* Tier bands are closed above: band i covers attainment (up_to[i-1], up_to[i]], so attainment
  exactly at an `up_to` is paid at that band's rate in retroactive mode (marginal mode is
  continuous there, so the rule does not matter).
* Referral: paid to `referrer_id` when it is non-empty and differs from `owner_rep_id` (a deal
  without an owner pays its referrer). Any id counts, whatever the person's role.
* Clawback: the date part of `closed_at` is day 0; the account must have been active on some day
  of (day 0, day 0 + clawback_days] and not be active on day 0 + clawback_days ("active": a
  contract with start_date ≤ d and (end_date empty or end_date > d)). A deal without an account
  is never clawed back; clawback_days = 0 claws nothing back. The reversal lands in the commission
  period containing day 0 + clawback_days and is credited share × that person's effective rate
  (commission / credited) in the deal's own period, plus the referral commission paid on it.
* A person with nothing credited, referred or clawed back in a period has no row there.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from b2bmetrics.config import Config, Plan, Tier
from b2bmetrics.filters import Filters, Period

# relative slack when comparing attainment with a band bound: 0.3 × quota must sit in the 0.3 band
_BOUND_EPS = 1e-12


# ---- commission periods ---------------------------------------------------------------------

def period_start_of(day: dt.date, unit: str) -> dt.date:
    """First day of the calendar quarter (or month) containing `day`."""
    if unit == "month":
        return day.replace(day=1)
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_period_start(start: dt.date, unit: str) -> dt.date:
    """First day of the commission period after the one starting at `start`."""
    months = 1 if unit == "month" else 3
    month0 = start.month - 1 + months
    return dt.date(start.year + month0 // 12, month0 % 12 + 1, 1)


def commission_periods(period: Period, unit: str) -> list[dt.date]:
    """Starts of the commission periods overlapping the filter period (empty when there is no data)."""
    if period.start is None or period.end is None or period.end < period.start:
        return []
    out = [period_start_of(period.start, unit)]
    while (nxt := next_period_start(out[-1], unit)) <= period.end:
        out.append(nxt)
    return out


def _period_of(value: ir.Value, unit: str) -> ir.DateValue:
    """The commission period (its first day) of a timestamp or date column."""
    return value.truncate("M" if unit == "month" else "Q").cast("date")


# ---- tier arithmetic (small results, Python) --------------------------------------------------

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


# ---- expressions over deals (run in the database) --------------------------------------------

def _ts(day: dt.date) -> ir.TimestampValue:
    return ibis.timestamp(dt.datetime.combine(day, dt.time()))


def _won_deals(con: Any, cfg: Config, lo: dt.date, hi: dt.date) -> ir.Table:
    """Won deals with an amount, closed on a day of [lo, hi)."""
    d = con.table("deals")
    won = (d.status == "won") | (d.status.isnull() & (d.stage == cfg.pipeline.won_stage))
    return d.filter(won, d.amount.notnull(), d.closed_at.notnull(),
                    d.closed_at >= _ts(lo), d.closed_at < _ts(hi))


def _credit_lines(con: Any, won: ir.Table) -> ir.Table:
    """One row per deal and credited person: its `deal_splits` shares, else the owner with share 1."""
    base = won.select("deal_id", "account_id", "closed_at", "amount", "owner_rep_id")
    sp = con.table("deal_splits")
    sp = sp.filter(sp.deal_id.notnull(), sp.rep_id.notnull(), sp.share.notnull()).select(
        _sp_deal="deal_id", _sp_rep="rep_id", _sp_share="share")
    split = base.join(sp, base.deal_id == sp._sp_deal)
    split = split.select("deal_id", "account_id", "closed_at", "amount", person=split._sp_rep,
                         share=split._sp_share.cast("float64"),
                         credited=(split.amount * split._sp_share).cast("float64"))
    has_split = sp.select(_sp_deal2=sp._sp_deal).distinct()
    whole = base.anti_join(has_split, base.deal_id == has_split._sp_deal2)
    whole = whole.filter(whole.owner_rep_id.notnull()).select(
        "deal_id", "account_id", "closed_at", "amount", person=whole.owner_rep_id,
        share=ibis.literal(1.0, type="float64"), credited=whole.amount.cast("float64"))
    return ibis.union(split, whole, distinct=False)


def _referral_lines(won: ir.Table) -> ir.Table:
    """Won deals whose referrer is someone other than the owner, one row per deal."""
    ref = won.filter(won.referrer_id.notnull(), won.referrer_id != "",
                     won.owner_rep_id.isnull() | (won.referrer_id != won.owner_rep_id))
    return ref.select("deal_id", "account_id", "closed_at", amount=ref.amount.cast("float64"),
                      person=ref.referrer_id)


def _clawed(con: Any, won: ir.Table, days: int) -> ir.Table:
    """(deal_id, clawback_date) of won deals whose account lapsed within `days` of closing."""
    w = won.filter(won.account_id.notnull())
    w = w.select("deal_id", "account_id", _d0=w.closed_at.date())
    w = w.mutate(clawback_date=w._d0 + ibis.interval(days=days), _d1=w._d0 + ibis.interval(days=1))
    c = con.table("contracts").select(_c_acc="account_id", _c_start="start_date", _c_end="end_date")
    j = w.join(c, w.account_id == c._c_acc)
    end = j.clawback_date
    # active on some day of [d0 + 1, end]: the contract's days [start, end_date) meet that range
    overlap = (j._c_start <= end) & (j._c_end.isnull() | ((j._c_end > j._c_start) & (j._c_end > j._d1)))
    active_at_end = (j._c_start <= end) & (j._c_end.isnull() | (j._c_end > end))
    g = j.group_by(["deal_id", "clawback_date"]).aggregate(_ov=overlap.any(), _end=active_at_end.any())
    return g.filter(g._ov, ~g._end).select("deal_id", "clawback_date")


def _view_conditions(con: Any, person: ir.StringValue, filters: Filters) -> list[ir.BooleanValue]:
    """Which people's rows are shown: region by reps.region; rep by id (ids missing from reps too)."""
    cond: list[ir.BooleanValue] = []
    if filters.regions:
        reps = con.table("reps")
        cond.append(person.isin(reps.filter(reps.region.isin(list(filters.regions))).rep_id))
    if filters.reps:
        cond.append(person.isin(list(filters.reps)))
    return cond


# ---- facts: the aggregated, small result ----------------------------------------------------

Key = tuple[str, dt.date]
_EPOCH = dt.date(1970, 1, 1)
_KINDS = ("credit", "referral", "claw_credit", "claw_referral", "quota")


@dataclass
class Facts:
    """Aggregates per person and period, the input of the tier arithmetic, held column by column.

    Each (person, period) of the query's result is one key, and the key arrays are sorted by period,
    then person (the order of the rows). Keys with only a quota stay: a clawback needs its origin
    period's quota. Arrays, not dicts keyed by (person, period): at 200,000 accounts there are about
    80,000 keys, and building and reading such dicts cost more than the query.
    """

    unit: str
    periods: list[dt.date]  # the shown commission periods
    person: np.ndarray  # object: rep id of each key
    day: np.ndarray  # int64: first day of the key's period, in days since 1970-01-01
    credit: np.ndarray  # credited revenue
    referral: np.ndarray  # referred amount
    referral_deals: np.ndarray  # int64
    claw_referral: np.ndarray  # referred amount clawed back, landing in the key's period
    quota: np.ndarray  # the quotas row's amount; NaN without a quotas row
    has_row: np.ndarray  # bool: credited, referred or clawed back (a quota alone makes no row)
    # credited shares clawed back, one entry per person, landing period and origin period
    claw_key: np.ndarray  # int64: the landing key
    claw_origin: np.ndarray  # int64: the origin period's key, -1 when there is none
    claw_credit: np.ndarray  # the credited share amount

    @classmethod
    def empty(cls, unit: str, periods: list[dt.date]) -> Facts:
        floats, ints = np.zeros(0), np.zeros(0, dtype="int64")
        return cls(unit, periods, person=np.zeros(0, dtype=object), day=ints, credit=floats, referral=floats,
                   referral_deals=ints, claw_referral=floats, quota=floats, has_row=np.zeros(0, dtype=bool),
                   claw_key=ints, claw_origin=ints, claw_credit=floats)


def _window(periods: list[dt.date], unit: str, days: int) -> tuple[dt.date, dt.date]:
    """Deals closed in [lo, hi) matter: the shown periods and the periods clawbacks come from."""
    hi = next_period_start(periods[-1], unit)
    lo = period_start_of(periods[0] - dt.timedelta(days=max(days, 0)), unit)
    return lo, hi


def _facts(con: Any, cfg: Config, plan: Plan, periods: list[dt.date], filters: Filters,
           only: str | None = None) -> Facts:
    """One query: credit, referrals, clawbacks and quotas for the people in view (or person `only`)."""
    if not periods:
        return Facts.empty(plan.period, periods)
    unit = plan.period
    lo, hi = _window(periods, unit, plan.clawback_days)
    won = _won_deals(con, cfg, lo, hi)
    credit = _credit_lines(con, won)
    credit = credit.mutate(period_start=_period_of(credit.closed_at, unit))
    refs = _referral_lines(won)
    refs = refs.mutate(period_start=_period_of(refs.closed_at, unit))
    null_date = ibis.null().cast("date")

    def part(kind: str, t: ir.Table, value: ir.Value, origin: ir.Value | None = None) -> ir.Table:
        keys: dict[str, ir.Value] = {"person": t.person, "period_start": t.period_start}
        if origin is not None:  # never group by a NULL literal (Spark's GROUP BY ordinals dislike it)
            keys["origin"] = origin
        g = t.group_by(**keys).aggregate(value=value.sum().cast("float64"), n=t.count().cast("int64"))
        if origin is None:
            g = g.mutate(origin=null_date)
        return g.mutate(kind=ibis.literal(kind))

    parts = [part("credit", credit, credit.credited), part("referral", refs, refs.amount)]
    if plan.clawback_days > 0:
        clawed = _clawed(con, won, plan.clawback_days)
        clawed = clawed.select(_cl_deal="deal_id", _land=_period_of(clawed.clawback_date, unit))
        clawed = clawed.filter(clawed._land >= periods[0], clawed._land < hi)
        for kind, lines in (("claw_credit", credit), ("claw_referral", refs)):
            # a view per join: then ibis writes `clawed` once, as a CTE both joins read, and the
            # database checks the contracts once instead of once per join
            landing = clawed.view()
            j = lines.join(landing, lines.deal_id == landing._cl_deal)
            j = j.select(person=j.person, period_start=j._land, origin=j.period_start,
                         value=j.credited if kind == "claw_credit" else j.amount)
            parts.append(part(kind, j, j.value, j.origin))
    q = con.table("quotas")
    q = q.filter(q.rep_id.notnull(), q.period_start >= lo, q.period_start < hi)
    q = q.select(person=q.rep_id, period_start=q.period_start.cast("date"), amount=q.quota_amount)
    parts.append(part("quota", q, q.amount))

    cols = ["kind", "person", "period_start", "origin", "value", "n"]
    u = ibis.union(*[p.select(*cols) for p in parts], distinct=False)
    cond = _view_conditions(con, u.person, filters)
    if only is not None:
        cond.append(u.person == only)
    return _facts_of((u.filter(*cond) if cond else u).execute(), unit, periods)


def _facts_of(df: pd.DataFrame, unit: str, periods: list[dt.date]) -> Facts:
    """The query's long result (one row per kind, person and period; claw_credit also per origin)
    as Facts, with array operations only: at 200,000 accounts the result has over 100,000 rows."""
    # number the people in sorted order, so that day × people + person orders keys by period, then person
    person_code, people = pd.factorize(df["person"].astype(str), sort=True)
    people = np.asarray(people, dtype=object)
    width = max(len(people), 1)
    key_code, key_of_row = np.unique(_days(df["period_start"]) * width + person_code, return_inverse=True)
    size = len(key_code)
    value = df["value"].astype("float64").fillna(0.0).to_numpy()
    n = df["n"].fillna(0).astype("int64").to_numpy()
    is_kind = {kind: (df["kind"] == kind).to_numpy(dtype=bool) for kind in _KINDS}

    def per_key(kind: str, values: np.ndarray, missing: float) -> np.ndarray:
        """The kind's value of each key (the query groups by key: at most one row per kind)."""
        out = np.full(size, missing, dtype=values.dtype)
        out[key_of_row[is_kind[kind]]] = values[is_kind[kind]]
        return out

    # a person's referrals clawed back in one period may come from several origin periods: added up
    # in row order, as a running sum from 0.0 (np.add.at is unbuffered and goes in index order)
    claw_referral = np.zeros(size)
    np.add.at(claw_referral, key_of_row[is_kind["claw_referral"]], value[is_kind["claw_referral"]])
    has_row = np.zeros(size, dtype=bool)
    has_row[key_of_row[~is_kind["quota"]]] = True

    claws = is_kind["claw_credit"]
    origin_code = _days(df["origin"][claws]) * width + person_code[claws]
    return Facts(
        unit, periods, person=people[key_code % width], day=key_code // width,
        credit=per_key("credit", value, 0.0), referral=per_key("referral", value, 0.0),
        referral_deals=per_key("referral", n, 0), claw_referral=claw_referral,
        quota=per_key("quota", value, math.nan), has_row=has_row,
        claw_key=key_of_row[claws], claw_origin=_positions(key_code, origin_code), claw_credit=value[claws])


def _positions(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of each code in `sorted_codes`, -1 where it is missing."""
    at = np.searchsorted(sorted_codes, codes)
    found = at < len(sorted_codes)
    found[found] = sorted_codes[at[found]] == codes[found]
    return np.where(found, at, -1)


def _days(column: pd.Series) -> np.ndarray:
    """A date column of a result (dates or timestamps, by backend) as int64 days since 1970-01-01."""
    days: np.ndarray = pd.to_datetime(column).to_numpy(dtype="datetime64[D]").astype("int64")
    return days


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


# ---- rows -----------------------------------------------------------------------------------

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


def _shown_columns(con: Any, cfg: Config, filters: Filters, period: Period, plan: Plan | None,
                   *, referral_facts: bool = False) -> dict[str, list[Any]]:
    plan = plan or cfg.commission
    periods = commission_periods(period, plan.period)
    return _row_columns(_facts(con, cfg, plan, periods, filters), plan, referral_facts=referral_facts)


def summary(con: Any, cfg: Config, filters: Filters, period: Period, plan: Plan | None = None) -> dict[str, Any]:
    """CONTRACT §4 "commission": {"total_payout", "rows": [...]} (one query)."""
    cols = _shown_columns(con, cfg, filters, period, plan)
    return {"total_payout": math.fsum(cols["payout"]), "rows": _records(cols)}


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


# ---- a person's statement ---------------------------------------------------------------------

LINE_ORDER = {"credit": 0, "referral": 1, "clawback": 2, "referral_clawback": 3}
STATEMENT_COLUMNS = ["line", "deal_id", "account_id", "account_name", "closed_at", "origin_period", "amount",
                     "share", "credited", "rate", "commission", "referral", "clawback"]


def statement(con: Any, cfg: Config, rep_id: str, period_start: dt.date, plan: Plan | None = None) -> pd.DataFrame:
    """Deal by deal, what one person earns in one commission period; its columns sum to the row.

    `line` is "credit" (a deal credited to the person; `rate` is the period's effective rate and
    `commission` credited × rate, so with a cap the commission is allocated pro rata), "referral"
    (`rate` = referral_rate), "clawback" or "referral_clawback" (a deal of an earlier period,
    `origin_period`, reversed here at that period's rate). Σ credited = credited_revenue,
    Σ commission = commission, Σ referral = referral_commission, Σ clawback = clawback of the
    person's row. Two queries: the person's aggregates (for the rates) and the deal lines.
    """
    plan = plan or cfg.commission
    unit = plan.period
    start = period_start_of(period_start, unit)
    facts = _facts(con, cfg, plan, [start], Filters(), only=rep_id)
    key = (rep_id, start)

    lo, hi = _window([start], unit, plan.clawback_days)
    won = _won_deals(con, cfg, lo, hi)
    credit = _credit_lines(con, won)
    credit = credit.filter(credit.person == rep_id).mutate(origin=_period_of(credit.closed_at, unit))
    refs = _referral_lines(won)
    refs = refs.filter(refs.person == rep_id).mutate(share=ibis.null().cast("float64"),
                                                     credited=ibis.null().cast("float64"))
    refs = refs.mutate(origin=_period_of(refs.closed_at, unit))
    cols = ["line", "deal_id", "account_id", "closed_at", "origin", "amount", "share", "credited"]
    in_period = [credit.filter(credit.origin == start).mutate(line=ibis.literal("credit")).select(*cols),
                 refs.filter(refs.origin == start).mutate(line=ibis.literal("referral")).select(*cols)]
    if plan.clawback_days > 0:
        clawed = _clawed(con, won, plan.clawback_days)
        clawed = clawed.filter(_period_of(clawed.clawback_date, unit) == start).select(_cl_deal="deal_id")
        for line, t in (("clawback", credit), ("referral_clawback", refs)):
            j = t.join(clawed, t.deal_id == clawed._cl_deal)
            in_period.append(j.mutate(line=ibis.literal(line)).select(*cols))
    lines = ibis.union(*in_period, distinct=False)
    acc = con.table("accounts").select(_acc_id="account_id", account_name="account_name").distinct()
    lines = lines.left_join(acc, lines.account_id == acc._acc_id).drop("_acc_id")
    df = lines.order_by(["closed_at", "deal_id"]).execute()
    # credits first, then referrals, then the reversals of earlier periods
    df = df.sort_values("line", key=lambda c: c.map(LINE_ORDER), kind="stable").reset_index(drop=True)

    rate = effective_rate(facts, plan, key)
    out = pd.DataFrame({
        "line": df["line"], "deal_id": df["deal_id"], "account_id": df["account_id"],
        "account_name": df["account_name"], "closed_at": df["closed_at"],
        "origin_period": [_as_date(v) for v in df["origin"]], "amount": df["amount"].astype("float64"),
        "share": df["share"].astype("float64"),
        # only credit lines carry credited revenue, so the column sums to the row's credited_revenue
        "credited": df["credited"].astype("float64").where(df["line"] == "credit"),
    })
    rates: list[float | None] = []
    commission: list[float] = []
    referral: list[float] = []
    clawback: list[float] = []
    for rec in out.to_dict("records"):
        line = rec["line"]
        if line == "credit":
            rates.append(rate)
            commission.append(rec["credited"] * (rate or 0.0))
            referral.append(0.0)
            clawback.append(0.0)
        elif line == "referral":
            rates.append(plan.referral_rate)
            commission.append(0.0)
            referral.append(plan.referral_rate * rec["amount"])
            clawback.append(0.0)
        elif line == "clawback":
            origin_rate = effective_rate(facts, plan, (rep_id, rec["origin_period"]))
            rates.append(origin_rate)
            commission.append(0.0)
            referral.append(0.0)
            clawback.append(rec["amount"] * rec["share"] * (origin_rate or 0.0))
        else:
            rates.append(plan.referral_rate)
            commission.append(0.0)
            referral.append(0.0)
            clawback.append(plan.referral_rate * rec["amount"])
    out["rate"] = pd.Series(rates, dtype="float64")
    row = next(iter(_rows(facts, plan)), None)
    # allocate rounding residue to the largest line, so the columns sum to the row exactly
    out["commission"] = _settle(commission, row.commission if row else 0.0)
    out["referral"] = _settle(referral, row.referral_commission if row else 0.0)
    out["clawback"] = _settle(clawback, row.clawback if row else 0.0)
    return out[STATEMENT_COLUMNS]


def _settle(values: list[float], total: float) -> list[float]:
    """`values` with the largest nudged so that math.fsum equals `total` (a float-rounding residue)."""
    if not values:
        return values
    out = list(values)
    i = max(range(len(out)), key=lambda k: abs(out[k]))
    out[i] += total - math.fsum(out)
    return out


# ---- views for the pages ----------------------------------------------------------------------

def _people(con: Any, ids: list[str]) -> pd.DataFrame:
    """rep_name, region and role of the given ids (one small query); role defaults to sales."""
    cols = ["rep_id", "rep_name", "region", "role"]
    if not ids:
        return pd.DataFrame(columns=cols)
    # the people table is small (one row per person): read its four columns and pick the ids here;
    # an IN list of thousands of literals costs ibis about half a second to compile
    df = con.table("reps").select(*cols).execute()
    df = df[df["rep_id"].isin(ids)].assign(role=lambda d: d["role"].fillna("sales"))
    return df.drop_duplicates("rep_id").reset_index(drop=True)


def attainment(con: Any, cfg: Config, filters: Filters, period: Period, plan: Plan | None = None) -> pd.DataFrame:
    """The shown rows with the person's name, region and role (people missing from reps: NULL), and
    the referral facts behind them (referred_deals, referred_amount, referral_clawed_amount): a page
    that has these rows derives its referral and what-if views without another query."""
    cols = _shown_columns(con, cfg, filters, period, plan, referral_facts=True)
    frame = pd.DataFrame(cols, columns=list(cols))
    frame["rep_id"] = frame["rep_id"].astype(object)  # an empty result would type it float64: no merge
    frame["attainment"] = frame["attainment"].astype("float64")  # NaN when there is no quota, whatever the rows
    people = _people(con, sorted(set(frame["rep_id"])))
    return frame.merge(people, on="rep_id", how="left")


def all_rows(con: Any, cfg: Config, period: Period, plan: Plan | None = None) -> pd.DataFrame:
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


def leaderboard(con: Any, cfg: Config, filters: Filters, period: Period, plan: Plan | None = None) -> pd.DataFrame:
    """Per person over the shown periods: sums, attainment Σcredited/Σquota (None when Σquota is 0),
    ranked by payout (rank 1 = highest)."""
    return leaderboard_of(attainment(con, cfg, filters, period, plan))


def leaderboard_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard of already computed `attainment` rows (a page that has them asks no query)."""
    money = ["credited_revenue", "quota", "commission", "referral_commission", "clawback", "payout"]
    per = rows.groupby("rep_id", as_index=False)[money].sum()
    per["attainment"] = [c / q if q > 0 else None for c, q in zip(per["credited_revenue"], per["quota"], strict=True)]
    people = rows.drop_duplicates("rep_id").set_index("rep_id")
    for col in ("rep_name", "region", "role"):
        per[col] = per["rep_id"].map(people[col]) if col in people else None
    per = per.sort_values(["payout", "rep_id"], ascending=[False, True]).reset_index(drop=True)
    per["rank"] = range(1, len(per) + 1)
    return per


def referral_earnings(con: Any, cfg: Config, filters: Filters, period: Period,
                      plan: Plan | None = None) -> pd.DataFrame:
    """Referral income by the referrer's role (sales / employee / partner; NULL = not in reps):
    people, referred_deals, referred_amount, referral_commission, referral_clawback, net."""
    plan = plan or cfg.commission
    return referral_earnings_of(attainment(con, cfg, filters, period, plan), plan)


def referral_earnings_of(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """`referral_earnings` of already computed `attainment` rows (no query)."""
    cols = ["role", "people", "referred_deals", "referred_amount", "referral_commission", "referral_clawback", "net"]
    refs = rows[(rows["referred_deals"] > 0) | (rows["referred_amount"] != 0) | (rows["referral_clawed_amount"] != 0)]
    if refs.empty:
        return pd.DataFrame(columns=cols)
    per = refs.groupby("rep_id", sort=True).agg(
        role=("role", "first"), referred_deals=("referred_deals", "sum"), referred_amount=("referred_amount", "sum"),
        clawed=("referral_clawed_amount", "sum"))
    per["role"] = per["role"].astype(object).where(per["role"].notna(), None)
    per["people"] = ((per["referred_amount"] != 0) | (per["referred_deals"] != 0)).astype("int64")
    per["referral_commission"] = plan.referral_rate * per["referred_amount"]
    per["referral_clawback"] = plan.referral_rate * per["clawed"]
    out = per.groupby("role", dropna=False, sort=False).agg(
        people=("people", "sum"), referred_deals=("referred_deals", "sum"), referred_amount=("referred_amount", "sum"),
        referral_commission=("referral_commission", "sum"), referral_clawback=("referral_clawback", "sum"),
    ).reset_index()
    out["role"] = out["role"].astype(object).where(out["role"].notna(), None)
    out["net"] = out["referral_commission"] - out["referral_clawback"]
    out["people"] = out["people"].astype("int64")
    out["referred_deals"] = out["referred_deals"].astype("int64")
    return out.sort_values("referral_commission", ascending=False).reset_index(drop=True)[cols]


def what_if(con: Any, cfg: Config, filters: Filters, period: Period, plan_b: Plan) -> pd.DataFrame:
    """Payout per person and period under the configured plan (`payout_a`) and `plan_b`
    (`payout_b`), with `difference` = b − a; a last row (`rep_id` "TOTAL", `period_start` None,
    `is_total` True) holds the totals. A person-period missing under one plan pays 0 there (with
    different period units the rows of the two plans do not line up and both appear)."""
    plan_a = cfg.commission
    facts_a = _facts(con, cfg, plan_a, commission_periods(period, plan_a.period), filters)
    same_facts = (plan_b.period, plan_b.clawback_days) == (plan_a.period, plan_a.clawback_days)
    facts_b = facts_a if same_facts else _facts(con, cfg, plan_b, commission_periods(period, plan_b.period),
                                                filters)
    return what_if_of(pd.DataFrame(_row_columns(facts_a, plan_a)), pd.DataFrame(_row_columns(facts_b, plan_b)))


def what_if_of(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> pd.DataFrame:
    """`what_if` of already computed rows under each plan (no query)."""
    a = dict(zip(zip(rows_a["rep_id"], rows_a["period_start"], strict=True), rows_a["payout"], strict=True))
    b = dict(zip(zip(rows_b["rep_id"], rows_b["period_start"], strict=True), rows_b["payout"], strict=True))
    keys = sorted(set(a) | set(b), key=lambda k: (k[1], k[0]))
    records: list[dict[str, Any]] = [
        {"rep_id": k[0], "period_start": k[1], "payout_a": a.get(k, 0.0), "payout_b": b.get(k, 0.0),
         "is_total": False} for k in keys]
    records.append({"rep_id": "TOTAL", "period_start": None, "payout_a": math.fsum(a.values()),
                    "payout_b": math.fsum(b.values()), "is_total": True})
    out = pd.DataFrame(records, columns=["rep_id", "period_start", "payout_a", "payout_b", "is_total"])
    out["difference"] = out["payout_b"] - out["payout_a"]
    return out[["rep_id", "period_start", "payout_a", "payout_b", "difference", "is_total"]]
