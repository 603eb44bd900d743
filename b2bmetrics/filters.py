"""Filters (period, regions, segments, reps): one object for the CLI and the pages alike.

`Filters` is what the user asked for; `resolve_period` fills its open ends from the data
(CONTRACT §5 "Period", v2): `--to` the latest day something happened, `--from` the 12 months
ending on `--to` (`twelve_months_ending`, the one home of the "one year back" rule). How the filters select rows (region and segment select accounts, rep
selects owners) is the metrics' business: `metrics/filtering.py`, on the region rule of
`metrics/_rules.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from b2bmetrics.errors import B2BError
from b2bmetrics.schema import EVENT_DATES, TABLES
from b2bmetrics.store.materialize import Relation, lookup

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend


@dataclass(frozen=True)
class Filters:
    """What the user asked for; `None` dates mean the default period (`resolve_period`)."""

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


def date_range_expr(con: Backend) -> ir.Table:
    """One row: `lo` and `hi`, the earliest and latest date in any date column of any table (the
    data's whole range), and `as_of`, the latest day something happened
    (`schema.EVENT_DATES`: the default `--to`)."""
    parts = []
    for table in TABLES.values():
        t = con.table(table.name)
        for col in table.columns:
            event = (table.name, col.name) in EVENT_DATES
            if col.kind in DATE_KINDS and (col.in_date_range or event):
                parts.append(t.select(d=t[col.name].cast("date"), r=ibis.literal(col.in_date_range),
                                      e=ibis.literal(event)).filter(lambda r: r.d.notnull()))
    union = ibis.union(*parts, distinct=False)
    return union.aggregate(lo=union.d.min(where=union.r), hi=union.d.max(where=union.r),
                           as_of=union.d.max(where=union.e))


# kept by the store beside the data (store.materialize): every date column of every table, scanned
DATE_RANGE = Relation("date_range", lambda con, cfg: date_range_expr(con))


def data_date_range(con: Backend) -> tuple[dt.date | None, dt.date | None]:
    """Earliest and latest date found in any date column of any loaded table, in one query
    (a store keeps the answer beside the data: `DATE_RANGE`)."""
    row = _date_row(con)
    return (_as_date(row["lo"].iloc[0]), _as_date(row["hi"].iloc[0]))


def _date_row(con: Backend) -> Any:
    stored = lookup(con, DATE_RANGE)
    return (stored if stored is not None else date_range_expr(con)).execute()


def _as_date(value: Any) -> dt.date | None:
    if value is None or value != value:  # None or NaT/NaN
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def year_before(day: dt.date) -> dt.date:
    """The same calendar day one year earlier; 29 February falls back to 28 February."""
    if day.month == 2 and day.day == 29:
        return dt.date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def twelve_months_ending(end: dt.date) -> tuple[dt.date, dt.date]:
    """The 12 months ending on `end`, both days inclusive: from the day after `year_before(end)`
    (CONTRACT §5 v2: `--to 2025-06-30` -> 2024-07-01; `--to 2024-02-29` -> 2023-03-01)."""
    return year_before(end) + dt.timedelta(days=1), end


def default_end(con: Backend) -> dt.date | None:
    """The default `--to`: the latest day something happened (`schema.EVENT_DATES`); data with no
    such date but other dates ends on its latest date of any kind (the day `data_as_of` calls now);
    None when no table has a date."""
    row = _date_row(con)
    return _as_date(row["as_of"].iloc[0]) or _as_date(row["hi"].iloc[0])


def resolve_period(con: Backend, filters: Filters) -> Period:
    """Fill the open ends of the period (CONTRACT §5 "Period", v2).

    `--to` defaults to `default_end` (the latest day something happened), `--from` to the 12 months
    ending on `--to`, given or default (`twelve_months_ending`). Only `--from` given: `--to` is the
    default, and a `--from` after it is refused (B2BError, naming the data's latest day) rather than
    answered with an empty period. No date in any table and no `--to`: both ends None (`empty_data`).
    """
    start, end = filters.date_from, filters.date_to
    if end is None:
        end = default_end(con)
        if start is not None and end is not None and start > end:
            raise B2BError(f"--from {start} is after the data's latest day {end} (the default --to): "
                           "nothing happened in that period",
                           fix=f"choose a --from on or before {end}, or give --to as well")
    if start is None and end is not None:
        start = twelve_months_ending(end)[0]
    return Period(start, end, filters.period_given)


def data_as_of(con: Backend) -> dt.date:
    """"Now" for the data: the latest day something happened (CONTRACT §5 v2, `schema.EVENT_DATES`),
    else its latest date of any kind, else today.

    What the accounts page reads MRR now and health on, so both describe the same day; a database
    loaded last month is described as it was then, not as if every contract had run on since, and a
    contract ending next year is active "now" (its end is a plan, not something that happened).
    """
    return data_dates(con)[2]


def data_dates(con: Backend) -> tuple[dt.date | None, dt.date | None, dt.date]:
    """`data_date_range` and `data_as_of` from one query (what the sidebar asks once per version)."""
    row = _date_row(con)
    lo, hi = _as_date(row["lo"].iloc[0]), _as_date(row["hi"].iloc[0])
    return lo, hi, _as_date(row["as_of"].iloc[0]) or hi or dt.date.today()
