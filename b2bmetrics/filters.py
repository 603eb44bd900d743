"""Filters (period, regions, segments, reps): one object for the CLI and the pages alike.

CONTRACT §5: region and segment select accounts, and every metric keeps only rows of those
accounts (with `region_of = "rep"`, region selects deals and accounts by their owner's
`reps.region` instead). Rep selects deals owned by the rep (funnel), accounts whose owner is the
rep (churn, satisfaction), and the rep's own rows (commission). The helpers here build ibis
expressions; nothing is executed until a metric asks for its small result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from b2bmetrics.config import Config
from b2bmetrics.schema import TABLES
from b2bmetrics.store.materialize import Relation, lookup


@dataclass(frozen=True)
class Filters:
    """What the user asked for; `None` dates mean "from the earliest / to the latest date found"."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()

    @property
    def period_given(self) -> bool:
        return self.date_from is not None or self.date_to is not None

    @property
    def scopes_accounts(self) -> bool:
        return bool(self.regions or self.segments)

    def cache_key(self) -> tuple[Any, ...]:
        return (self.date_from, self.date_to, self.regions, self.segments, self.reps)


@dataclass(frozen=True)
class Period:
    """The resolved, inclusive period; `start`/`end` are None only when no table has a date."""

    start: dt.date | None
    end: dt.date | None
    given: bool  # the user named --from or --to

    @property
    def empty_data(self) -> bool:
        return self.start is None or self.end is None

    def start_ts(self) -> ir.Value:
        return ibis.timestamp(dt.datetime.combine(self.start or dt.date.min, dt.time()))

    def end_exclusive_ts(self) -> ir.Value:
        """Midnight after the last day: `ts < end_exclusive_ts()` keeps the whole last day."""
        end = (self.end or dt.date.min) + dt.timedelta(days=1)
        return ibis.timestamp(dt.datetime.combine(end, dt.time()))

    def contains(self, ts: ir.Value) -> ir.BooleanValue:
        """`ts` (a timestamp column) falls on a day of the period."""
        return (ts >= self.start_ts()) & (ts < self.end_exclusive_ts())


DATE_KINDS = ("timestamp", "date")


def date_range_expr(con: Any) -> ir.Table:
    """One row: `lo` and `hi`, the earliest and latest date in any date column of any table."""
    parts = []
    for table in TABLES.values():
        t = con.table(table.name)
        for col in table.columns:
            if col.kind in DATE_KINDS and col.in_date_range:
                parts.append(t.select(d=t[col.name].cast("date")).filter(lambda r: r.d.notnull()))
    union = ibis.union(*parts)
    return union.aggregate(lo=union.d.min(), hi=union.d.max())


# kept by the store beside the data (store.materialize): every date column of every table, scanned
DATE_RANGE = Relation("date_range", lambda con, cfg: date_range_expr(con))


def data_date_range(con: Any) -> tuple[dt.date | None, dt.date | None]:
    """Earliest and latest date found in any date column of any loaded table, in one query
    (a store keeps the answer beside the data: `DATE_RANGE`)."""
    stored = lookup(con, DATE_RANGE)
    row = (stored if stored is not None else date_range_expr(con)).execute()
    lo, hi = row["lo"].iloc[0], row["hi"].iloc[0]
    return (_as_date(lo), _as_date(hi))


def _as_date(value: Any) -> dt.date | None:
    if value is None or value != value:  # None or NaT/NaN
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def resolve_period(con: Any, filters: Filters) -> Period:
    """Fill the open ends of the period from the data (CONTRACT §5 "Period")."""
    start, end = filters.date_from, filters.date_to
    if start is None or end is None:
        lo, hi = data_date_range(con)
        start = start if start is not None else lo
        end = end if end is not None else hi
    return Period(start, end, filters.period_given)


def accounts_in_scope(con: Any, cfg: Config, filters: Filters, *, with_rep: bool) -> ir.Table | None:
    """Account ids selected by region/segment (and, when `with_rep`, by owner rep); None = all accounts."""
    if not (filters.scopes_accounts or (with_rep and filters.reps)):
        return None
    acc = con.table("accounts")
    cond = []
    if filters.segments:
        cond.append(acc.segment.isin(list(filters.segments)))
    if filters.regions:
        if cfg.region_of == "rep":
            reps = con.table("reps")
            owners = reps.filter(reps.region.isin(list(filters.regions))).select("rep_id")
            cond.append(acc.owner_rep_id.isin(owners.rep_id))
        else:
            cond.append(acc.region.isin(list(filters.regions)))
    if with_rep and filters.reps:
        cond.append(acc.owner_rep_id.isin(list(filters.reps)))
    return acc.filter(*cond).select("account_id").distinct()


def scope_by_account(table: ir.Table, scope: ir.Table | None) -> ir.Table:
    """Keep the rows of `table` whose account_id is in `scope` (all rows when scope is None)."""
    if scope is None:
        return table
    return table.filter(table.account_id.isin(scope.account_id))


def deals_in_scope(con: Any, cfg: Config, filters: Filters, deals: ir.Table | None = None) -> ir.Table:
    """Deals selected by region, segment and rep for the funnel (rep = the deal's owner), from
    `deals` (a table with the `deals` columns; the `deals` table itself by default)."""
    deals = con.table("deals") if deals is None else deals
    cond = []
    if filters.segments or (filters.regions and cfg.region_of == "account"):
        acc = con.table("accounts")
        acc_cond = []
        if filters.segments:
            acc_cond.append(acc.segment.isin(list(filters.segments)))
        if filters.regions and cfg.region_of == "account":
            acc_cond.append(acc.region.isin(list(filters.regions)))
        cond.append(deals.account_id.isin(acc.filter(*acc_cond).account_id))
    if filters.regions and cfg.region_of == "rep":
        reps = con.table("reps")
        cond.append(deals.owner_rep_id.isin(reps.filter(reps.region.isin(list(filters.regions))).rep_id))
    if filters.reps:
        cond.append(deals.owner_rep_id.isin(list(filters.reps)))
    return deals.filter(*cond) if cond else deals


def people_in_view(con: Any, filters: Filters) -> ir.Table | None:
    """People whose commission rows are shown (region: reps.region; rep: those ids); None = all."""
    if not (filters.regions or filters.reps):
        return None
    reps = con.table("reps")
    cond = []
    if filters.regions:
        cond.append(reps.region.isin(list(filters.regions)))
    if filters.reps:
        cond.append(reps.rep_id.isin(list(filters.reps)))
    return reps.filter(*cond).select("rep_id")
