"""What a payout is computed from, read from the data: credits, referrals, clawbacks and quotas.

One query per call (`_facts`): the won deals of the commission periods that matter, their credit
lines (each `deal_splits` share, else the owner with share 1), referral lines and clawed-back
deals, and the quotas, aggregated in the database per person, period and kind of fact; the long,
small result becomes `Facts`, held column by column for the arithmetic of `rows`. These facts
never depend on the view, so the store keeps those of every person and period
(`COMMISSION_FACTS`, for the configured plan's period and clawback days) and a reader only
selects its periods and people from them; elsewhere (Spark, another plan period) the same rows
are derived live.

Choices where the contract is silent:

* A deal is won by `_rules.is_won` (`status`, or derived from the stage when empty). Won deals
  without `closed_at` or without `amount` credit and refer nothing.
* Referral: paid to `referrer_id` when it is non-empty and differs from `owner_rep_id` (a deal
  without an owner pays its referrer). Any id counts, whatever the person's role.
* Clawback: the date part of `closed_at` is day 0; the account must have been active on some day
  of (day 0, day 0 + clawback_days] and not be active on day 0 + clawback_days (`_rules`' active
  on day d). A deal without an account is never clawed back; clawback_days = 0 claws nothing back.
  The reversal lands in the commission period containing day 0 + clawback_days.
* Which people's rows are shown: region by the person's `reps.region`, rep by id (ids missing
  from `reps` too); segment does not apply.

Money is exact from the table to the row. A credit line is amount × share, and shares have at most
10 decimal places (DECIMAL(12, 10)), so each line carries its weight = share × 10^10, an integer,
and the database sums amount × weight as DECIMAL(38, 4): a product both DuckDB and Spark keep
exact (a decimal times an integer keeps its 4 places), where amount × share would lose places on
Spark or overflow DECIMAL(18, 14) on DuckDB. Every value of the query is in that unit (referrals
and quotas × 10^10 too) and crosses as text that reads back as the exact amount (`_as_text`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters
from b2bmetrics.metrics._rules import (
    active_during,
    active_on,
    is_won,
    next_period_start,
    period_of,
    period_start_of,
    reps_in_regions,
)
from b2bmetrics.metrics.commission.plan import EXACT, ZERO
from b2bmetrics.store.materialize import Relation, lookup

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


# ---- expressions over deals (run in the database) --------------------------------------------

def _ts(day: dt.date) -> ir.TimestampValue:
    return ibis.timestamp(dt.datetime.combine(day, dt.time()))


def _won_deals(con: Backend, cfg: Config, lo: dt.date | None, hi: dt.date | None) -> ir.Table:
    """Won deals with an amount, closed on a day of [lo, hi) (None: that end open)."""
    d = con.table("deals")
    return d.filter(is_won(cfg.pipeline, d), d.amount.notnull(), d.closed_at.notnull(),
                    *_within(d.closed_at, None if lo is None else _ts(lo), None if hi is None else _ts(hi)))


def _paid(con: Backend, cfg: Config, lo: dt.date | None, hi: dt.date | None) -> ir.Table:
    """Under `basis = "collected"`: the payments of deals won now, paid on a day of [lo, hi), as
    rows shaped like `_won_deals`' (one per payment): the deal's deal_id, account_id, owner and
    referrer, `closed_at` the payment's `paid_at` (when it credits) and `amount` its `amount_paid`,
    plus `payment_id`. A payment without deal_id, paid_at or amount_paid credits nothing."""
    d = con.table("deals")
    d = d.filter(is_won(cfg.pipeline, d)).select(_w_deal="deal_id", _w_account="account_id",
                                                 _w_owner="owner_rep_id", _w_referrer="referrer_id")
    p = con.table("payments")
    p = p.filter(p.deal_id.notnull(), p.paid_at.notnull(), p.amount_paid.notnull(),
                 *_within(p.paid_at, None if lo is None else _ts(lo), None if hi is None else _ts(hi)))
    j = p.join(d, p.deal_id == d._w_deal)
    return j.select("payment_id", "deal_id", account_id=j._w_account, closed_at=j.paid_at, owner_rep_id=j._w_owner,
                    referrer_id=j._w_referrer, amount=j.amount_paid)


def _lines_source(con: Backend, cfg: Config, plan: Plan, lo: dt.date | None, hi: dt.date | None) -> ir.Table:
    """What credits under the plan's basis: won deals closed in [lo, hi) (booked), or the payments
    of won deals paid in it (collected)."""
    return _paid(con, cfg, lo, hi) if plan.basis == "collected" else _won_deals(con, cfg, lo, hi)


def claw_days(plan: Plan) -> int:
    """The plan's clawback days; 0 under `basis = "collected"` (no clawbacks: commission follows cash)."""
    return 0 if plan.basis == "collected" else plan.clawback_days


WEIGHT_DIGITS = 10  # a share has at most 10 decimal places
WEIGHT_ONE = 10**WEIGHT_DIGITS  # the weight of share 1 (a deal credited wholly, a referral, a quota)


def _money(value: ir.Value) -> ir.DecimalValue:
    """An amount as DECIMAL(38, 4), the type the database multiplies and sums it in."""
    return value.cast("decimal(38, 4)")


def _weight(share: ir.Value) -> ir.IntegerValue:
    """share × 10^10 as an integer (exact for a DECIMAL(12, 10) share; a float share is rounded to it)."""
    return (share.cast("decimal(38, 10)") * WEIGHT_ONE).round(0).cast("int64")


def _scaled(value: ir.Value, weight: ir.Value | int = WEIGHT_ONE) -> ir.DecimalValue:
    """value × weight, exact: the unit of every value the commission queries return."""
    w = ibis.literal(weight, type="int64") if isinstance(weight, int) else weight
    return _money(value) * w


def _unscale(value: Any) -> Decimal:
    """A value of the query (an amount × 10^10: a DECIMAL(38, 4), or its text) as the exact
    Decimal; NULL -> 0."""
    if value is None or value != value:  # NULL (None, or NaN from a backend that reads it so)
        return ZERO
    return Decimal(value).scaleb(-WEIGHT_DIGITS, context=EXACT)


def _as_text(value: ir.Value) -> ir.StringValue:
    """An exact sum (an amount × 10^10) as the text of the amount itself, e.g. '1000100000000.0000E-10'
    for 100.01; NULL as '0'. A result column of tens of thousands of decimals crosses into Python
    several times faster as text than as decimals (Arrow's and ibis's conversions build each
    Decimal in Python), and `Decimal(text)` reads it exactly (a DECIMAL(38, 4) is written plainly,
    on DuckDB and Spark alike)."""
    text = value.cast("decimal(38, 4)").cast("string").concat(f"E-{WEIGHT_DIGITS}")
    return text.fill_null("0")


def _credit_lines(con: Backend, won: ir.Table) -> ir.Table:
    """One row per deal and credited person: its `deal_splits` shares, else the owner with share 1;
    `amount` as DECIMAL(38, 4), `weight` = share × 10^10 and `scaled` = amount × weight (the
    credited amount × 10^10)."""
    extra = [c for c in ("payment_id",) if c in won.columns]  # a payment's line (basis = "collected")
    base = won.select(*extra, "deal_id", "account_id", "closed_at", "owner_rep_id", amount=_money(won.amount))
    sp = con.table("deal_splits")
    sp = sp.filter(sp.deal_id.notnull(), sp.rep_id.notnull(), sp.share.notnull()).select(
        _sp_deal="deal_id", _sp_rep="rep_id", _sp_weight=_weight(sp.share))
    split = base.join(sp, base.deal_id == sp._sp_deal)
    split = split.select(*extra, "deal_id", "account_id", "closed_at", "amount", person=split._sp_rep,
                         weight=split._sp_weight, scaled=_scaled(split.amount, split._sp_weight))
    has_split = sp.select(_sp_deal2=sp._sp_deal).distinct()
    whole = base.anti_join(has_split, base.deal_id == has_split._sp_deal2)
    whole = whole.filter(whole.owner_rep_id.notnull()).select(
        *extra, "deal_id", "account_id", "closed_at", "amount", person=whole.owner_rep_id,
        weight=ibis.literal(WEIGHT_ONE, type="int64"), scaled=_scaled(whole.amount))
    return ibis.union(split, whole, distinct=False)


def _referral_lines(won: ir.Table) -> ir.Table:
    """Won deals whose referrer is someone other than the owner, one row per deal (`scaled` = the
    amount × 10^10)."""
    ref = won.filter(won.referrer_id.notnull(), won.referrer_id != "",
                     won.owner_rep_id.isnull() | (won.referrer_id != won.owner_rep_id))
    extra = [c for c in ("payment_id",) if c in won.columns]  # a payment's line (basis = "collected")
    return ref.select(*extra, "deal_id", "account_id", "closed_at", amount=_money(ref.amount),
                      scaled=_scaled(ref.amount), person=ref.referrer_id)


def _clawed(con: Backend, won: ir.Table, days: int) -> ir.Table:
    """(deal_id, clawback_date) of won deals whose account lapsed within `days` of closing."""
    w = won.filter(won.account_id.notnull())
    w = w.select("deal_id", "account_id", _d0=w.closed_at.date())
    w = w.mutate(clawback_date=w._d0 + ibis.interval(days=days), _d1=w._d0 + ibis.interval(days=1))
    c = con.table("contracts").select(_c_acc="account_id", _c_start="start_date", _c_end="end_date")
    j = w.join(c, w.account_id == c._c_acc)
    # active on some day of [d0 + 1, clawback_date], and on clawback_date itself
    overlap = active_during(j._c_start, j._c_end, j._d1, j.clawback_date)
    active_at_end = active_on(j._c_start, j._c_end, j.clawback_date)
    g = j.group_by(["deal_id", "clawback_date"]).aggregate(_ov=overlap.any(), _end=active_at_end.any())
    return g.filter(g._ov, ~g._end).select("deal_id", "clawback_date")


def _view_conditions(con: Backend, person: ir.StringValue, filters: Filters) -> list[ir.BooleanValue]:
    """Which people's rows are shown: region by reps.region; rep by id (ids missing from reps too)."""
    cond: list[ir.BooleanValue] = []
    if filters.regions:
        cond.append(person.isin(reps_in_regions(con, filters.regions).rep_id))
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
    then person. Keys with only a quota stay: a clawback needs its origin period's quota. Arrays,
    not dicts keyed by (person, period): at 200,000 accounts there are about 80,000 keys, and
    building and reading such dicts cost more than the query. Money arrays hold exact `Decimal`s
    (numpy object arrays).
    """

    unit: str
    periods: list[dt.date]  # the shown commission periods
    person: np.ndarray  # object: rep id of each key
    day: np.ndarray  # int64: first day of the key's period, in days since 1970-01-01
    credit: np.ndarray  # Decimal: credited revenue
    referral: np.ndarray  # Decimal: referred amount
    referral_deals: np.ndarray  # int64
    claw_referral: np.ndarray  # Decimal: referred amount clawed back, landing in the key's period
    quota: np.ndarray  # str: the quotas row's amount as the query's text (`quota_of` reads it); None without a row
    has_row: np.ndarray  # bool: credited, referred or clawed back (a quota alone makes no row)
    # credited shares clawed back, one entry per person, landing period and origin period
    claw_key: np.ndarray  # int64: the landing key
    claw_origin: np.ndarray  # int64: the origin period's key, -1 when there is none
    claw_credit: np.ndarray  # Decimal: the credited share amount
    # float64: credited revenue and the quotas row's amount as the nearest floats (NaN without a
    # row), for attainment, a float (a Decimal's float() costs a detour through its text)
    credit_f: np.ndarray
    quota_f: np.ndarray

    def quota_of(self, keys: list[int], default: Decimal) -> list[Decimal]:
        """The quota of each key: its quotas row's amount, else `default`."""
        return [default if q is None else Decimal(q) for q in self.quota[keys].tolist()]

    @classmethod
    def empty(cls, unit: str, periods: list[dt.date]) -> Facts:
        money, ints = np.zeros(0, dtype=object), np.zeros(0, dtype="int64")
        floats = np.zeros(0)
        return cls(unit, periods, person=np.zeros(0, dtype=object), day=ints, credit=money, referral=money,
                   referral_deals=ints, claw_referral=money, quota=money, has_row=np.zeros(0, dtype=bool),
                   claw_key=ints, claw_origin=ints, claw_credit=money, credit_f=floats, quota_f=floats)


def _window(periods: list[dt.date], unit: str, days: int) -> tuple[dt.date, dt.date]:
    """Deals closed in [lo, hi) matter: the shown periods and the periods clawbacks come from."""
    hi = next_period_start(periods[-1], unit)
    lo = period_start_of(periods[0] - dt.timedelta(days=max(days, 0)), unit)
    return lo, hi


def _fact_rows(con: Backend, cfg: Config, plan: Plan, lo: dt.date | None, hi: dt.date | None,
               first: dt.date | None) -> ir.Table:
    """The long facts of everyone: one row per kind, person and period (claw_credit also per origin
    period) with `value` (an exact sum as `_as_text`) and `n`. Deals closed in [lo, hi) and quotas
    starting in it, clawbacks landing in [first, hi); None leaves that end open (every period: what
    the store keeps, `COMMISSION_FACTS`)."""
    unit = plan.period
    won = _lines_source(con, cfg, plan, lo, hi)
    credit = _credit_lines(con, won)
    credit = credit.mutate(period_start=period_of(credit.closed_at, unit))
    refs = _referral_lines(won)
    refs = refs.mutate(period_start=period_of(refs.closed_at, unit))
    null_date = ibis.null().cast("date")

    def part(kind: str, t: ir.Table, value: ir.Value, origin: ir.Value | None = None,
             n: ir.IntegerValue | None = None) -> ir.Table:
        keys: dict[str, ir.Value] = {"person": t.person, "period_start": t.period_start}
        if origin is not None:  # never group by a NULL literal (Spark's GROUP BY ordinals dislike it)
            keys["origin"] = origin
        g = t.group_by(**keys).aggregate(value=_as_text(value.sum()), n=(t.count() if n is None else n).cast("int64"))
        if origin is None:
            g = g.mutate(origin=null_date)
        return g.mutate(kind=ibis.literal(kind))

    # referral `n` counts deals (under basis = "collected" a deal may pay in several payments)
    refs_n = refs.deal_id.nunique() if plan.basis == "collected" else None
    parts = [part("credit", credit, credit.scaled), part("referral", refs, refs.scaled, n=refs_n)]
    if claw_days(plan) > 0:
        clawed = _clawed(con, won, plan.clawback_days)
        clawed = clawed.select(_cl_deal="deal_id", _land=period_of(clawed.clawback_date, unit))
        bounds = ([clawed._land >= first] if first is not None else []) + ([clawed._land < hi] if hi is not None else [])
        if bounds:
            clawed = clawed.filter(*bounds)
        for kind, lines in (("claw_credit", credit), ("claw_referral", refs)):
            # a view per join: then ibis writes `clawed` once, as a CTE both joins read, and the
            # database checks the contracts once instead of once per join
            landing = clawed.view()
            j = lines.join(landing, lines.deal_id == landing._cl_deal)
            j = j.select(person=j.person, period_start=j._land, origin=j.period_start, value=j.scaled)
            parts.append(part(kind, j, j.value, j.origin))
    q = con.table("quotas")
    q = q.filter(q.rep_id.notnull(), *_within(q.period_start, lo, hi))
    q = q.select(person=q.rep_id, period_start=q.period_start.cast("date"), scaled=_scaled(q.quota_amount))
    parts.append(part("quota", q, q.scaled))
    return ibis.union(*[p.select(*_COLUMNS) for p in parts], distinct=False)


_COLUMNS = ("kind", "person", "period_start", "origin", "value", "n")


def _within(value: Any, lo: Any, hi: Any) -> list[ir.BooleanValue]:
    """lo <= value < hi, without the ends that are None."""
    return ([value >= lo] if lo is not None else []) + ([value < hi] if hi is not None else [])


def _facts_key(cfg: Config) -> tuple[object, ...]:
    """What of the configuration the kept facts read: the won rule's pipeline and the plan's period
    and clawback days (rates, tiers, cap and quotas' default apply after, in Python)."""
    p, plan = cfg.pipeline, cfg.commission
    return (tuple(p.stages), p.won_stage, p.lost_stage, plan.period, plan.clawback_days, plan.basis)


def _all_facts(con: Backend, cfg: Config) -> ir.Table:
    return _fact_rows(con, cfg, cfg.commission, None, None, None)


# The facts of every person and period, kept by the store beside the data (they never depend on
# the view): a reader selects its periods and people from them instead of compiling and running
# the query above (about 0.5 s + 0.3 s at 200,000 accounts).
COMMISSION_FACTS = Relation("commission_facts", _all_facts,
                            inputs=frozenset({"deals", "deal_splits", "contracts", "quotas", "payments"}),
                            config_key=_facts_key, needs_rows=frozenset({"deals"}))


def _stored_facts(con: Backend, cfg: Config, plan: Plan) -> ir.Table | None:
    """The kept facts when the store holds them for this plan's period and clawback days."""
    kept = cfg.commission
    if (plan.period, plan.clawback_days, plan.basis) != (kept.period, kept.clawback_days, kept.basis):
        cfg = dataclasses.replace(cfg, commission=plan)
    return lookup(con, COMMISSION_FACTS, cfg)


def _facts(con: Backend, cfg: Config, plan: Plan, periods: list[dt.date], filters: Filters,
           only: str | None = None) -> Facts:
    """One query: credit, referrals, clawbacks and quotas for the people in view (or person `only`)."""
    if not periods:
        return Facts.empty(plan.period, periods)
    unit = plan.period
    lo, hi = _window(periods, unit, claw_days(plan))
    stored = _stored_facts(con, cfg, plan)
    if stored is None:
        u = _fact_rows(con, cfg, plan, lo, hi, periods[0])
    else:  # the same rows: a clawback landing on or after periods[0] comes from a deal closed on or after lo
        claw = stored.kind.isin(["claw_credit", "claw_referral"])
        u = stored.filter((claw & (stored.period_start >= periods[0])) | (~claw & (stored.period_start >= lo)),
                          stored.period_start < hi)
    cond = _view_conditions(con, u.person, filters)
    if only is not None:
        cond.append(u.person == only)
    return _facts_of((u.filter(*cond) if cond else u).to_pyarrow(), unit, periods)


def _facts_of(result: pa.Table | pd.DataFrame, unit: str, periods: list[dt.date]) -> Facts:
    """The query's long result (one row per kind, person and period; claw_credit also per origin)
    as Facts, with array operations only: at 200,000 accounts the result has about 100,000 rows.
    Read as Arrow (`to_pyarrow`: no pandas frame in between); a frame is taken too."""
    if isinstance(result, pd.DataFrame):
        result = pa.Table.from_pandas(result, preserve_index=False)
    # number the people in sorted order, so that day × people + person orders keys by period, then person
    person = pc.cast(result["person"], pa.string())
    distinct = pc.unique(person)
    people_arrow = pc.take(distinct, pc.array_sort_indices(distinct))
    person_code = pc.index_in(person, value_set=people_arrow).to_numpy(zero_copy_only=False).astype("int64")
    people = np.asarray(people_arrow.to_pylist(), dtype=object)
    width = max(len(people), 1)
    key_code, key_of_row = np.unique(_days(result["period_start"]) * width + person_code, return_inverse=True)
    size = len(key_code)
    n = pc.fill_null(pc.cast(result["n"], pa.int64()), 0).to_numpy(zero_copy_only=False)
    kinds = result["kind"]
    is_kind = {kind: pc.fill_null(pc.equal(kinds, kind), False).to_numpy(zero_copy_only=False) for kind in _KINDS}
    # amounts as Decimals; quotas stay text until a row or a clawback rate needs them (most do not)
    text_arrow = pc.cast(result["value"], pa.string())
    text = np.asarray(text_arrow.to_pylist(), dtype=object)
    value = text.copy()
    money = ~is_kind["quota"]
    value[money] = [Decimal(v) for v in text[money].tolist()]
    # the text read as the nearest float: attainment's operands
    as_float = pc.cast(text_arrow, pa.float64()).to_numpy(zero_copy_only=False)

    def per_key(kind: str, values: np.ndarray, missing: Any) -> np.ndarray:
        """The kind's value of each key (the query groups by key: at most one row per kind)."""
        out = np.full(size, missing, dtype=values.dtype)
        out[key_of_row[is_kind[kind]]] = values[is_kind[kind]]
        return out

    # a person's referrals clawed back in one period may come from several origin periods: added up
    claw_referral = np.full(size, ZERO, dtype=object)
    for key, amount in zip(key_of_row[is_kind["claw_referral"]].tolist(), value[is_kind["claw_referral"]].tolist(),
                           strict=True):
        claw_referral[key] = EXACT.add(claw_referral[key], amount)
    has_row = np.zeros(size, dtype=bool)
    has_row[key_of_row[~is_kind["quota"]]] = True

    claws = is_kind["claw_credit"]
    origin_code = _days(result["origin"].filter(pa.array(claws))) * width + person_code[claws]
    return Facts(
        unit, periods, person=people[key_code % width], day=key_code // width,
        credit=per_key("credit", value, ZERO), referral=per_key("referral", value, ZERO),
        referral_deals=per_key("referral", n, 0), claw_referral=claw_referral,
        quota=per_key("quota", value, None), has_row=has_row,
        credit_f=per_key("credit", as_float, 0.0), quota_f=per_key("quota", as_float, math.nan),
        claw_key=key_of_row[claws], claw_origin=_positions(key_code, origin_code), claw_credit=value[claws])


def _positions(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of each code in `sorted_codes`, -1 where it is missing."""
    at = np.searchsorted(sorted_codes, codes)
    found = at < len(sorted_codes)
    found[found] = sorted_codes[at[found]] == codes[found]
    return np.where(found, at, -1)


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A date column of a result (dates or timestamps, by backend) as int64 days since 1970-01-01."""
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.date32())
    days: np.ndarray = pc.cast(column, pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False).astype("int64")
    return days


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()
