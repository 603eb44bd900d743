"""Targets and pacing (业绩目标, CONTRACT §5 "(v2) Targets"): each target of the period against what
was booked or collected towards it, and whether that is on the target's straight-line path.

One row per `targets` row whose period (a month, quarter or year from `period_start`) overlaps the
filter period. `actual` counts the span from `period_start` to min(`to`, the period's last day):

* basis `booked`: each won deal with `closed_at` in the span credits its amount to its
  `deal_splits` shares, else wholly to its owner (the commission's credit on the booked basis);
* basis `collected`: each payment with `paid_at` in the span credits its `amount_paid` the same
  way through the payment's deal, whatever the deal's status;

and a target counts the credit of its people: `rep` that rep, `team` the reps whose `reps.team` is
the key, `region` the reps whose `reps.region` is the key (whatever `region_of`). Level `company`
counts every won deal's amount, or every payment, in the span. The filters choose rows, never what a
row counts (as for commission): region keeps region rows of its regions, rep rows of its people and
team rows of teams with one of its people; rep keeps rep rows of those reps; company rows only
without either; segment does not apply.

Choices where the contract is silent:

* A won deal without `amount` or `closed_at` credits nothing; a payment without `paid_at` (or
  `amount_paid`) is not received. A payment credits people only through its `deal_id`: that
  deal's `deal_splits` shares, else the deal's owner in `deals`; the payment's own `rep_id`
  credits nobody, and a payment without a deal (or of a deal with neither splits nor a row in
  `deals`) counts for the company only. Split rows without a person or share are left out, as in
  commission.
* A person who is not in `reps` (an owner id nobody loaded) still counts for a `rep` target with
  that key, but for no team or region.
* `target` and `actual` are exact Decimals (amount × share is exact: see `_credit_lines`); the
  ratios `attainment` and `pace` and the money × ratio `expected_to_date` = target × e / n are
  floats, computed from the nearest floats of the exact target and actual for all rows at once
  (as commission's attainment): no sum is involved, so nothing depends on the order of rows.
* Rows are ordered by level (company, region, team, rep), then key, period_start, period (month,
  quarter, year) and basis (booked, collected).

The work is one query: the credit of each month, per basis and per rep, team, region and company
(only months up to `to`, so the month of `to` holds only its days up to `to`), joined to the kept
targets by month number; a target's span is then exactly the months from its first to its last or
to the month of `to`. The day counts e and n are calendar arithmetic in Python.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import is_won, person_in_regions
from b2bmetrics.metrics.cells import Decimal

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

ROW_KEYS: tuple[str, ...] = ("level", "key", "period", "period_start", "basis", "target", "actual", "attainment",
                             "expected_to_date", "pace")
LEVELS: tuple[str, ...] = ("company", "region", "team", "rep")
PERIODS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}  # months in a target's period
BASES: tuple[str, ...] = ("booked", "collected")

# amount × share is exact as amount × (share × 10^10), an integer (a share has at most 10 places):
# DECIMAL(38, 4) × BIGINT keeps its 4 places on DuckDB and Spark alike; the sums are unscaled in Python
_WEIGHT_DIGITS = 10
_WEIGHT_ONE = 10**_WEIGHT_DIGITS
# adding the two parts of an actual exactly (each has at most 14 integer and 14 decimal digits)
_EXACT = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation])
_COMPANY_KEY = ""  # the join key of company rows (a NULL would match nothing)


# ---- calendar arithmetic (Python) -------------------------------------------------------------

def month_number(day: dt.date) -> int:
    """Months since year 0 (`year × 12 + month − 1`): what the query numbers months by."""
    return day.year * 12 + day.month - 1


def _first_of(number: int) -> dt.date:
    return dt.date(number // 12, number % 12 + 1, 1)


def period_last_day(period_start: dt.date, period: str) -> dt.date:
    """The last day of a target's period: `period_start` plus one month, quarter or year, less a day."""
    return _first_of(month_number(period_start) + PERIODS[period]) - dt.timedelta(days=1)


def _days_elapsed(period_start: dt.date, last: dt.date, to: dt.date) -> int:
    """e: the days from `period_start` to min(`to`, last), both inclusive; 0 when `to` is before the period."""
    if to < period_start:
        return 0
    return (min(to, last) - period_start).days + 1


# ---- expressions ------------------------------------------------------------------------------

Tables = Callable[[str], ir.Table]


def _tables(con: Backend) -> Tables:
    """`con.table`, asked once per name (each lookup asks the catalog: about 10 ms)."""
    seen: dict[str, ir.Table] = {}

    def table(name: str) -> ir.Table:
        if name not in seen:
            seen[name] = con.table(name)
        return seen[name]

    return table


def _month_of(value: ir.Value) -> ir.IntegerValue:
    """`month_number` of a date or timestamp column, in the database."""
    return (value.year().cast("int64") * 12 + value.month().cast("int64") - 1).cast("int64")


def _ts(day: dt.date) -> ir.TimestampValue:
    return ibis.timestamp(dt.datetime.combine(day, dt.time()))


def _money(amount: ir.Value) -> ir.DecimalValue:
    return amount.cast("decimal(38, 4)")


_NO_MONEY = ibis.null().cast("decimal(38, 4)")


def _credit_lines(table: Tables, src: ir.Table) -> ir.Table:
    """`src` (basis, deal_id, owner_rep_id, month, amount) credited to people: one row per
    `deal_splits` share of the deal, else one for the owner: basis, person, month, and the credit
    either as `whole` (the amount, credited wholly to the owner) or as `parts` (amount × share ×
    10^10, a split's share), the other NULL. Most credit is whole, and sums of small decimals are
    several times cheaper for the database (and to print) than sums of amounts × 10^10.

    The credit rule of commission on the booked basis (`commission.facts`), written here over any
    source of amounts (won deals, or payments through their deal)."""
    sp = table("deal_splits")
    sp = sp.filter(sp.deal_id.notnull(), sp.rep_id.notnull(), sp.share.notnull()).select(
        _sp_deal="deal_id", _sp_rep="rep_id",
        _sp_weight=(sp.share.cast("decimal(38, 10)") * _WEIGHT_ONE).round(0).cast("int64"))
    split = src.join(sp, src.deal_id == sp._sp_deal)
    split = split.select("basis", "month", person=split._sp_rep, whole=_NO_MONEY,
                         parts=_money(split.amount) * split._sp_weight)
    whole = src.filter(src.owner_rep_id.notnull(), ~src.deal_id.isin(sp._sp_deal))
    whole = whole.select("basis", "month", person=whole.owner_rep_id, whole=_money(whole.amount), parts=_NO_MONEY)
    return ibis.union(split, whole, distinct=False)


def _sources(table: Tables, cfg: Config, lo: dt.date, end: dt.date) -> ir.Table:
    """The amounts received on a day of [lo, end), both bases in one table: basis, deal_id,
    owner_rep_id (of the deal), month (`month_number` of the day), amount."""
    d = table("deals")
    won = d.filter(is_won(cfg.pipeline, d), d.amount.notnull(), d.closed_at.notnull(),
                   d.closed_at >= _ts(lo), d.closed_at < _ts(end))
    booked = won.select(basis=ibis.literal("booked"), deal_id=won.deal_id, owner_rep_id=won.owner_rep_id,
                        month=_month_of(won.closed_at), amount=won.amount)
    p = table("payments")
    p = p.filter(p.paid_at.notnull(), p.amount_paid.notnull(), p.paid_at >= _ts(lo), p.paid_at < _ts(end))
    owners = d.select(_d_id="deal_id", _d_owner="owner_rep_id")
    j = p.left_join(owners, p.deal_id == owners._d_id)
    collected = j.select(basis=ibis.literal("collected"), deal_id=j.deal_id, owner_rep_id=j._d_owner,
                         month=_month_of(j.paid_at), amount=j.amount_paid)
    return ibis.union(booked, collected, distinct=False)


def _buckets(table: Tables, cfg: Config, lo: dt.date, end: dt.date) -> ir.Table:
    """The credit of each month: _b_basis, _b_level, _b_key, _b_month, _b_whole (Σ whole credit),
    _b_parts (Σ split credit × 10^10)."""
    src = _sources(table, cfg, lo, end)
    lines = _credit_lines(table, src)
    per_rep = lines.group_by(["basis", "person", "month"]).aggregate(whole=lines.whole.sum(),
                                                                     parts=lines.parts.sum())
    reps = table("reps")
    members = ibis.union(
        reps.select(_m_level=ibis.literal("team"), _m_key=reps.team, _m_person=reps.rep_id),
        reps.select(_m_level=ibis.literal("region"), _m_key=reps.region, _m_person=reps.rep_id),
        distinct=False)
    members = members.filter(members._m_key.notnull(), members._m_person.notnull())
    g = per_rep.join(members, per_rep.person == members._m_person)
    groups = g.group_by(_b_basis=g.basis, _b_level=g._m_level, _b_key=g._m_key, _b_month=g.month).aggregate(
        _b_whole=g.whole.sum(), _b_parts=g.parts.sum())
    reps_part = per_rep.select(_b_basis=per_rep.basis, _b_level=ibis.literal("rep"), _b_key=per_rep.person,
                               _b_month=per_rep.month, _b_whole=per_rep.whole, _b_parts=per_rep.parts)
    company = src.group_by(_b_basis=src.basis, _b_month=src.month).aggregate(_b_whole=_money(src.amount).sum())
    company = company.select("_b_basis", _b_level=ibis.literal("company"), _b_key=ibis.literal(_COMPANY_KEY),
                             _b_month=company._b_month, _b_whole=company._b_whole, _b_parts=_NO_MONEY)
    return ibis.union(reps_part, groups, company, distinct=False)


def _row_filter(table: Tables, t: ir.Table, filters: Filters) -> ir.BooleanValue:
    """Which rows the region and rep filters keep (CONTRACT §5: segment does not apply)."""
    regions, reps = filters.regions, filters.reps
    if not (regions or reps):
        return ibis.literal(True)
    keep: dict[str, ir.BooleanValue] = {level: ibis.literal(True) for level in LEVELS}
    if regions or reps:
        keep["company"] = ibis.literal(False)
    if reps:
        keep["region"] = keep["team"] = ibis.literal(False)
        keep["rep"] = t.key.isin(list(reps))
    if regions:
        reps_ = table("reps")
        people = reps_.filter(person_in_regions(reps_, regions))
        keep["region"] = keep["region"] & t.key.isin(list(regions))
        keep["team"] = keep["team"] & t.key.isin(people.filter(people.team.notnull()).team)
        keep["rep"] = keep["rep"] & t.key.isin(people.rep_id)
    return ibis.or_(*[(t.level == level) & cond for level, cond in keep.items()])


def _kept_targets(table: Tables, filters: Filters, period: Period) -> ir.Table:
    """The targets whose period overlaps the filter period and that the filters keep, with _mi (the
    month number of period_start) and _mk (months in the period)."""
    t = table("targets")
    t = t.filter(t.level.isin(list(LEVELS)), t.period.isin(list(PERIODS)), t.basis.isin(list(BASES)),
                 t.period_start.notnull())
    t = t.mutate(_mi=_month_of(t.period_start),
                 _mk=t.period.cases(*PERIODS.items(), else_=ibis.null()).cast("int64"))
    assert period.start is not None and period.end is not None
    # overlap: it starts by `to` (period_start is a first of month) and its last month reaches `from`'s
    t = t.filter(t._mi <= month_number(period.end), t._mi + t._mk - 1 >= month_number(period.start),
                 _row_filter(table, t, filters))
    return t


def _rank(column: ir.StringValue, values: tuple[str, ...]) -> ir.IntegerValue:
    return column.cases(*[(v, i) for i, v in enumerate(values)], else_=len(values)).cast("int64")


def _text(value: ir.Value) -> ir.StringValue:
    """An exact amount as its text (a DECIMAL(38, 4) is written plainly on DuckDB and Spark alike):
    a column of tens of thousands of decimals crosses into Python several times faster as text."""
    return value.cast("decimal(38, 4)").cast("string")


def targets_rows(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """The kept targets with their actual, one row each in the order of the JSON: level, key,
    period, period_start (ISO text), basis, target (the amount as text), and the actual in two
    parts: whole (Σ of whole credit as text) and parts (Σ split credit × 10^10 as the text of the
    amount itself, e.g. '1000100000000.0000E-10' for 100.01), each '0' when nothing counts; plus the
    order columns. Nothing is executed."""
    assert period.start is not None and period.end is not None
    table = _tables(con)
    t = _kept_targets(table, filters, period)
    # credit from the first month a kept target can start (a year ending in `from`'s month) to `to`
    lo = _first_of(month_number(period.start) - 11)
    b = _buckets(table, cfg, lo, period.end + dt.timedelta(days=1))
    t = t.mutate(_jkey=ibis.ifelse(t.level == "company", ibis.literal(_COMPANY_KEY), t.key))
    j = t.left_join(b, [t.basis == b._b_basis, t.level == b._b_level, t._jkey == b._b_key,
                        b._b_month >= t._mi, b._b_month <= t._mi + t._mk - 1])
    g = j.group_by(["level", "key", "_jkey", "period", "period_start", "basis", "amount"]).aggregate(
        _whole=j._b_whole.sum(), _parts=j._b_parts.sum())
    g = g.select("level", "key", "period", "basis", period_start=g.period_start.cast("date").cast("string"),
                 target=g.amount.cast("decimal(18, 4)").cast("string"),
                 # a sum that fits DECIMAL(18, 4) is written several times faster from it than from (38, 4)
                 whole=ibis.coalesce(g._whole.try_cast("decimal(18, 4)").cast("string"), _text(g._whole), "0"),
                 parts=ibis.ifelse(g._parts.isnull(), "0", _text(g._parts).concat(f"E-{_WEIGHT_DIGITS}")),
                 _o_level=_rank(g.level, LEVELS), _o_key=g._jkey, _o_start=g.period_start,
                 _o_period=_rank(g.period, tuple(PERIODS)), _o_basis=_rank(g.basis, BASES))
    return g.order_by(["_o_level", "_o_key", "_o_start", "_o_period", "_o_basis"])


# ---- the JSON section ---------------------------------------------------------------------------

def _days(period_start: str, period: str, to: dt.date) -> tuple[dt.date, int, int]:
    """The target's first day, n (days in its period) and e (days from its start to min(`to`, its end))."""
    start = dt.date.fromisoformat(period_start[:10])
    last = period_last_day(start, period)
    return start, (last - start).days + 1, _days_elapsed(start, last, to)


def _floats(values: np.ndarray) -> list[float | None]:
    """Python floats, None where NaN or infinite (a division by 0)."""
    return [None if not math.isfinite(v) else v for v in values.tolist()]


def rows_of(result: pa.Table, to: dt.date) -> list[dict[str, Any]]:
    """The JSON rows of a `targets_rows` result (an Arrow table, already in order).

    The money is exact (a Decimal from each text); the ratios are divisions of the nearest floats
    of the exact values (Arrow parses each text correctly rounded), done for all rows at once (as
    commission's attainment): tens of thousands of rows at 200,000 accounts, where a Decimal
    division per figure would cost seconds.
    """
    cols = {c: result.column(c).to_pylist() for c in ("level", "key", "period", "period_start", "basis",
                                                     "target", "whole", "parts")}
    spans: dict[tuple[str, str], tuple[dt.date, int, int]] = {}
    starts, n, e = [], [], []
    for start_text, period_ in zip(cols["period_start"], cols["period"], strict=True):
        span = spans.get((start_text, period_))
        if span is None:
            span = spans[(start_text, period_)] = _days(start_text, period_, to)
        starts.append(span[0])
        n.append(span[1])
        e.append(span[2])
    target_text = ["0" if v is None else v for v in cols["target"]]

    def floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")

    target_f = floats(pa.array(target_text, pa.string()))
    # the actual: whole credit + split credit, exact (the parts' text is already the amount itself)
    add = _EXACT.add
    actual = [w if p == "0" else add(w, Decimal(p)) for w, p in
              zip(map(Decimal, cols["whole"]), cols["parts"], strict=True)]
    actual_f = floats(result.column("whole")) + floats(result.column("parts"))
    n_f, e_f = np.asarray(n, dtype="float64"), np.asarray(e, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = target_f * e_f / n_f
        attainment = _floats(actual_f / target_f)
        pace = _floats(actual_f * n_f / (target_f * e_f))  # actual / (target × e / n)
    expected_l = expected.tolist()
    return [
        {"level": level, "key": None if level == "company" or key is None else key,
         "period": period_, "period_start": start, "basis": basis,
         "target": Decimal(target), "actual": exact,
         "attainment": att, "expected_to_date": exp, "pace": pc_}
        for level, key, period_, start, basis, target, exact, att, exp, pc_ in zip(
            cols["level"], cols["key"], cols["period"], starts, cols["basis"], target_text, actual,
            attainment, expected_l, pace, strict=True)
    ]


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "targets": {"rows": [...]}, one row per kept target (keys `ROW_KEYS`), in one query."""
    if period.empty_data:
        return {"rows": []}
    assert period.end is not None
    return {"rows": rows_of(targets_rows(con, cfg, filters, period).to_pyarrow(), period.end)}
