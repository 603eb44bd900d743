"""The domain rules every metric family, the access scope and the sidebar share, each written once.

* Active on day d (CONTRACT §5 "Churn"): a contract counts on d when `start_date ≤ d` and
  (`end_date` empty or `end_date > d`); an account is active when one of its contracts is, and its
  MRR on d is the sum over those contracts. A contract ending on d is already over on d.
* Deal status: `status`, or, when it is empty, derived from the current stage as ingest derives
  it (the won stage -> won, the lost stage -> lost, anything else -> open).
* Region (`[filters] region_of`): with "account" an account's region is `accounts.region` and a
  deal's is its account's; with "rep" both are their owner's `reps.region`. A person's region is
  always `reps.region`.
* Commission period of a date: the first day of its calendar month or quarter.
* Durations: exact fractional days or hours between two timestamps, counted in whole
  microseconds (every backend computes that exactly; Spark's `epoch_seconds` drops the fraction of
  a second), never a count of calendar-day boundaries. A mean of durations is the exact sum of
  their microseconds (`exact_sum`, DECIMAL(38,0)) divided once (`cells.mean`), so it never depends
  on the order in which a backend adds the rows; money is summed as DECIMAL the same way.

Only ibis expressions here (and the date arithmetic of periods); nothing is executed. This module
imports nothing of b2bmetrics but the config and the backend protocol, so every layer may use it.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

import ibis
import ibis.expr.datatypes as dt_
import ibis.expr.types as ir

from b2bmetrics.config import Pipeline

if TYPE_CHECKING:
    import pandas as pd

    from b2bmetrics.backend import Backend

DAY_S = 86400
MICROS_PER_HOUR = _MICROS_PER_HOUR = 3_600_000_000
MICROS_PER_DAY = _MICROS_PER_DAY = DAY_S * 1_000_000
EXACT_INT = dt_.Decimal(38, 0)  # sums of integers that must not depend on the order of the rows
MONEY = dt_.Decimal(18, 4)  # schema kind "money"
# survey scores (DOUBLE) summed exactly for a mean: each score as a decimal of 10 places, then a decimal sum
SCORE_SUM = dt_.Decimal(38, 10)
# a money 0 (coalesce an empty sum with it and the column stays DECIMAL; a float 0.0 would make it DOUBLE)
MONEY_ZERO = ibis.literal(decimal.Decimal(0), type=MONEY)

# ---- active on day d, MRR on d ----------------------------------------------------------------


@overload
def active_on(start: ir.Value, end: ir.Value, day: ir.Value | dt.date) -> ir.BooleanValue: ...
@overload
def active_on(start: pd.Series, end: pd.Series, day: object) -> pd.Series: ...
def active_on(start: Any, end: Any, day: Any) -> Any:
    """A contract with these `start_date` and `end_date` counts on `day`: start ≤ day and (no end
    or end > day). Takes ibis columns, or pandas Series (a frame of one account's contracts)."""
    return (start <= day) & (end.isnull() | (end > day))


def contract_active_on(contracts: ir.Table, day: ir.Value | dt.date) -> ir.BooleanValue:
    """`active_on` of the `start_date` and `end_date` columns of a contracts table."""
    return active_on(contracts.start_date, contracts.end_date, day)


def mrr_on(contracts: ir.Table, day: ir.Value | dt.date) -> ir.NumericValue:
    """MRR on `day` (an aggregate): the sum of `mrr` over the contracts active then; NULL when none is."""
    return contracts.mrr.sum(where=contract_active_on(contracts, day))


def contract_has_days(start: ir.Value, end: ir.Value) -> ir.BooleanValue:
    """The contract counts on some day at all: no end, or an end after its start (one ending on or
    before its start is never active)."""
    return end.isnull() | (end > start)


def active_during(start: ir.Value, end: ir.Value, first: ir.Value, last: ir.Value) -> ir.BooleanValue:
    """The contract counts on some day of [first, last]: it starts by `last` and its days
    [start, end) are not empty and reach past `first`."""
    return (start <= last) & (end.isnull() | ((end > start) & (end > first)))


# ---- deal status ------------------------------------------------------------------------------


def deal_status(pipeline: Pipeline, deals: ir.Table) -> ir.StringValue:
    """`status`, or derived from the current stage when empty (as ingest derives it)."""
    derived = ibis.cases((deals.stage == pipeline.won_stage, "won"), (deals.stage == pipeline.lost_stage, "lost"),
                         else_="open")
    return ibis.coalesce(deals.status, derived)


def is_won(pipeline: Pipeline, deals: ir.Table) -> ir.BooleanValue:
    """The deal is won (`deal_status` is "won")."""
    return deal_status(pipeline, deals) == "won"


# ---- region of an account, a deal, a person ----------------------------------------------------


def person_in_regions(reps: ir.Table, regions: Sequence[str]) -> ir.BooleanValue:
    """The person (a row of `reps`) lies in one of `regions`: by `reps.region`, whatever `region_of`."""
    return reps.region.isin(list(regions))


def reps_in_regions(con: Backend, regions: Sequence[str]) -> ir.Table:
    """The `reps` rows of the people of `regions` (`person_in_regions`)."""
    reps = con.table("reps")
    return reps.filter(person_in_regions(reps, regions))


def account_in_regions(con: Backend, region_of: str, accounts: ir.Table, regions: Sequence[str]) -> ir.BooleanValue:
    """The account (a row of `accounts`) lies in one of `regions`: by `accounts.region`, or with
    `region_of = "rep"` by its owner's `reps.region`."""
    if region_of == "rep":
        return accounts.owner_rep_id.isin(reps_in_regions(con, regions).rep_id)
    return accounts.region.isin(list(regions))


def deal_in_regions(con: Backend, region_of: str, deals: ir.Table, regions: Sequence[str]) -> ir.BooleanValue:
    """The deal (a row with the `deals` columns) lies in one of `regions`: by its account's region,
    or with `region_of = "rep"` by its owner's `reps.region`."""
    if region_of == "rep":
        return deals.owner_rep_id.isin(reps_in_regions(con, regions).rep_id)
    acc = con.table("accounts")
    return deals.account_id.isin(acc.filter(account_in_regions(con, region_of, acc, regions)).account_id)


def with_region(con: Backend, region_of: str, rows: ir.Table, *, name: str,
                owner: str | None = None) -> ir.Table:
    """`rows` with a column `name`: the region of each row's account (`account_id`), or with
    `region_of = "rep"` of its owner: the rep named by column `owner` when given (a deal's
    `owner_rep_id`), else the account's owner. NULL when unknown."""
    reps = con.table("reps").select(_rg_rep="rep_id", _rg_rep_region="region")
    if region_of == "rep" and owner is not None:
        j = rows.left_join(reps, rows[owner] == reps._rg_rep)
        return j.mutate(**{name: j._rg_rep_region}).drop("_rg_rep", "_rg_rep_region")
    acc = con.table("accounts").select(_rg_acc="account_id", _rg_acc_region="region", _rg_owner="owner_rep_id")
    j = rows.left_join(acc, rows.account_id == acc._rg_acc)
    if region_of != "rep":
        return j.mutate(**{name: j._rg_acc_region}).drop("_rg_acc", "_rg_acc_region", "_rg_owner")
    j = j.left_join(reps, j._rg_owner == reps._rg_rep)
    return j.mutate(**{name: j._rg_rep_region}).drop("_rg_acc", "_rg_acc_region", "_rg_owner", "_rg_rep",
                                                      "_rg_rep_region")


# ---- the commission period of a date -----------------------------------------------------------


def period_start_of(day: dt.date, unit: str) -> dt.date:
    """First day of the calendar quarter (or month, `unit = "month"`) containing `day`."""
    if unit == "month":
        return day.replace(day=1)
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_period_start(start: dt.date, unit: str) -> dt.date:
    """First day of the period after the one starting at `start`."""
    months = 1 if unit == "month" else 3
    month0 = start.month - 1 + months
    return dt.date(start.year + month0 // 12, month0 % 12 + 1, 1)


def period_of(value: ir.Value, unit: str) -> ir.DateValue:
    """`period_start_of` of a timestamp or date column, in the database."""
    return value.truncate("M" if unit == "month" else "Q").cast("date")


# ---- durations ---------------------------------------------------------------------------------


def micros_between(start: ir.Value, end: ir.Value) -> ir.IntegerValue:
    """Whole microseconds from `start` to `end` (timestamps); NULL when either is NULL."""
    return end.delta(start, unit="microsecond")


def exact_sum(value: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.NumericValue:
    """The sum of integers (microseconds, counts) as DECIMAL(38,0): exact whatever the order of the
    rows, and no BIGINT overflow (10 M durations of a year in microseconds pass 2^63)."""
    return value.cast(EXACT_INT).sum(where=where)


def days_between(start: ir.Value, end: ir.Value) -> ir.FloatingValue:
    """Exact fractional days from `start` to `end` (timestamps); NULL when either is NULL."""
    return micros_between(start, end) / _MICROS_PER_DAY


def hours_between(start: ir.Value, end: ir.Value) -> ir.FloatingValue:
    """Exact fractional hours from `start` to `end` (timestamps); NULL when either is NULL."""
    return end.delta(start, unit="microsecond") / _MICROS_PER_HOUR


# ---- deal snapshots (compact storage, CONTRACT §1 v2 deal_snapshots) ----------------------------

SNAPSHOT_COLUMNS = ("snapshot_date", "deal_id", "stage", "status", "amount", "expected_close_at", "owner_rep_id",
                    "forecast_category")


def snapshot_days(con: Backend) -> ir.Table:
    """Every snapshot day (`snapshot_date`, one row each; a day may hold no deal)."""
    return con.table("snapshot_days")


def deals_on(con: Backend, day: dt.date) -> ir.Table:
    """The deals' state on snapshot day `day`, one row per deal present then, with the canonical
    deal_snapshots columns (`snapshot_date` = `day`). A stored row holds its state on every snapshot
    day d with snapshot_date ≤ d < valid_until (valid_until NULL: through the latest day); so on a day
    that is no snapshot day this is the state of the latest snapshot day before it (none before the first)."""
    s = con.table("deal_snapshots")
    on = s.filter((s.snapshot_date <= day) & (s.valid_until.isnull() | (s.valid_until > day)))
    return on.select(snapshot_date=ibis.literal(day, type="date"),
                     **{c: on[c] for c in SNAPSHOT_COLUMNS if c != "snapshot_date"})
