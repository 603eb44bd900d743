"""How the pipeline changed (pipeline flow, CONTRACT §5 "(v2) Pipeline change"): the open pipeline
expected to close in the period as it stood on two snapshot days, and what moved it from one to the other.

Days: `start_date` = the latest snapshot day on or before `from`, else the earliest snapshot day;
`end_date` = the latest snapshot day on or before `to`. The state of a day is `_rules.deals_on`
(the compact deal snapshots, expanded for that day only). A deal is *in window* on a day when it
is open then with `expected_close_at` on a day of the period. With A its state on `start_date` and
B on `end_date` (a deal absent from a day has none):

* `start` = Σ amount A over deals in window at A; `end` = Σ amount B over deals in window at B;
* deals in window at A: won at B → `won` += amount A; lost at B or absent from B → `lost` += amount A;
  open at B with `expected_close_at` outside the period or empty → `pushed_out` += amount A; in
  window at B → amount B − amount A to `increased` when positive, to `decreased` (positive) when negative;
* deals in window at B but not at A: absent from A → `created` += amount B; otherwise (open at A
  with a close date outside the period, or closed at A and reopened) → `pulled_in` += amount B.

So `end` = start + created + pulled_in + increased − decreased − pushed_out − won − lost.

Filters: the forecast's (region, segment, rep = the owner), applied through each deal's current
row in `deals` (its account and its owner there, not on the snapshot days); a deal missing from
`deals` counts only when no filter is given.

Choices where the contract is silent:

* A null amount counts as 0 throughout (the contract); sums are exact DECIMAL, printed exactly.
* Status on a snapshot day is `_rules.deal_status` of that day's row: its `status`, or derived from
  its stage when empty; "in the period" is `Period.contains` (a timestamp on a day from `from` to
  `to`, both inclusive).
* Without a snapshot day on or before `to`, or when both days are the same day, every amount is
  null (nothing to compare) while the days found are printed (`start_date` may then be a day after
  `to`: the earliest snapshot day). A dataset without any date (no period), or a database not yet
  written with snapshot days (one from before them, until its next write), prints every key null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import MONEY_ZERO, deal_status, deals_on, snapshot_days
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.filtering import deals_in_scope

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("start_date", "end_date", "start", "created", "pulled_in", "increased",
                                 "decreased", "pushed_out", "won", "lost", "end")
AMOUNTS: tuple[str, ...] = SUMMARY_KEYS[2:]


def _day(value: Any) -> dt.date | None:
    if value is None or value != value:  # NULL / NaT
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.date() if isinstance(value, dt.datetime) else value  # type: ignore[no-any-return]


def compared_days(con: Backend, period: Period) -> tuple[dt.date | None, dt.date | None]:
    """(start_date, end_date) for the period (one small query); None where there is none."""
    if period.empty_data or "snapshot_days" not in con.list_tables():  # a database from before snapshots
        return None, None
    d = snapshot_days(con)
    day = d.snapshot_date
    rec = d.aggregate(before_from=day.max(where=day <= period.start), first=day.min(),
                      before_to=day.max(where=day <= period.end)).execute().iloc[0]
    start = _day(rec["before_from"])
    return (start if start is not None else _day(rec["first"])), _day(rec["before_to"])


def _state(con: Backend, cfg: Config, filters: Filters, period: Period, day: dt.date, tag: str) -> ir.Table:
    """deal_id, amount (null as 0), status and "in window" of every deal in scope on `day`, columns tagged."""
    t = deals_on(con, day)
    if filters.regions or filters.segments or filters.reps:  # through the deal's current row in deals
        t = t.filter(t.deal_id.isin(deals_in_scope(con, cfg, filters).deal_id))
    status = deal_status(cfg.pipeline, t)
    in_window = (status == "open") & t.expected_close_at.notnull() & period.contains(t.expected_close_at)
    return t.select(**{f"{tag}_id": t.deal_id, f"{tag}_amount": ibis.coalesce(t.amount, MONEY_ZERO),
                       f"{tag}_status": status, f"{tag}_in": in_window, f"{tag}_close": t.expected_close_at,
                       f"{tag}_stage": t.stage})


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "pipeline_change" (two queries: the two days, then every amount in one row)."""
    start_date, end_date = compared_days(con, period)
    return compare(con, cfg, filters, period, start_date, end_date)


def _joined(con: Backend, cfg: Config, filters: Filters, period: Period, start_date: dt.date,
            end_date: dt.date) -> ir.Table:
    """The deals in scope in window on either day: state A (a_*) and B (b_*), outer-joined by
    deal_id (a side's columns null when the deal is absent that day)."""
    a = _state(con, cfg, filters, period, start_date, "a")
    b = _state(con, cfg, filters, period, end_date, "b")
    # only a deal in window on one of the days moves anything: join just those (a fraction of all the
    # deals a snapshot holds, most of them closed long ago)
    moving = ibis.union(a.filter(a.a_in).select(_m_id=a.a_id), b.filter(b.b_in).select(_m_id=b.b_id),
                        distinct=True)
    a = a.filter(a.a_id.isin(moving._m_id))
    b = b.filter(b.b_id.isin(moving._m_id))
    return a.outer_join(b, a.a_id == b.b_id)


def compare(con: Backend, cfg: Config, filters: Filters, period: Period, start_date: dt.date | None,
            end_date: dt.date | None) -> dict[str, Any]:
    """The §4 "pipeline_change" keys for two given snapshot days (`summary` with the days it finds;
    the page lets a user choose others). Amounts are null when a day is missing or both are equal."""
    out: dict[str, Any] = {"start_date": start_date.isoformat() if start_date else None,
                           "end_date": end_date.isoformat() if end_date else None,
                           **dict.fromkeys(AMOUNTS)}
    if start_date is None or end_date is None or start_date == end_date:
        return out
    j = _joined(con, cfg, filters, period, start_date, end_date)
    in_a = j.a_id.notnull() & j.a_in
    in_b = j.b_id.notnull() & j.b_in
    both = in_a & in_b
    delta = j.b_amount - j.a_amount
    sums: dict[str, ir.Value] = {
        "start": j.a_amount.sum(where=in_a),
        "created": j.b_amount.sum(where=in_b & j.a_id.isnull()),
        "pulled_in": j.b_amount.sum(where=in_b & j.a_id.notnull() & ~j.a_in),
        "increased": delta.sum(where=both & (delta > 0)),
        "decreased": (-delta).sum(where=both & (delta < 0)),
        "pushed_out": j.a_amount.sum(where=in_a & j.b_id.notnull() & (j.b_status == "open") & ~j.b_in),
        "won": j.a_amount.sum(where=in_a & j.b_id.notnull() & (j.b_status == "won")),
        "lost": j.a_amount.sum(where=in_a & (j.b_id.isnull() | (j.b_status == "lost"))),
        "end": j.b_amount.sum(where=in_b),
    }
    rec = j.aggregate(**sums).execute().iloc[0]
    for key in AMOUNTS:
        value = money(rec[key])
        out[key] = Decimal(0) if value is None else value
    return out


# ---- drill-down: the deals behind each bucket, and the slipped deals ------------------------------

BUCKETS: tuple[str, ...] = ("created", "pulled_in", "increased", "decreased", "pushed_out", "won", "lost")
CHANGE_COLUMNS: tuple[str, ...] = ("deal_id", "bucket", "change", "amount_start", "amount_end", "close_start",
                                   "close_end", "stage_end", "status_end", "account_id", "owner_rep_id")


def changes(con: Backend, cfg: Config, filters: Filters, period: Period, start_date: dt.date,
            end_date: dt.date, bucket: str | None = None) -> ir.Table:
    """One row per deal that moves the pipeline between the two days (of `bucket` only, when given):
    `deal_id`, `bucket` (one of BUCKETS, by the rules of `compare`), `change` (what it adds to its
    bucket, ≥ 0; Σ change per bucket = that bucket of `compare`), `amount_start`/`amount_end`
    (null when absent that day; a null amount shows as 0), `close_start`/`close_end` (its
    expected close date), `stage_end`/`status_end` (on `end_date`), and its current `account_id`
    and `owner_rep_id` in `deals` (null for a deal no longer there). A deal in window both days
    with the same amount is in no bucket and not listed. Largest change first, then deal_id.
    Nothing is executed."""
    j = _joined(con, cfg, filters, period, start_date, end_date)
    in_a = j.a_id.notnull() & j.a_in
    in_b = j.b_id.notnull() & j.b_in
    delta = j.b_amount - j.a_amount
    kind = ibis.cases(
        (in_a & j.b_id.notnull() & (j.b_status == "won"), "won"),
        (in_a & (j.b_id.isnull() | (j.b_status == "lost")), "lost"),
        (in_a & (j.b_status == "open") & ~j.b_in, "pushed_out"),
        (in_a & in_b & (delta > 0), "increased"),
        (in_a & in_b & (delta < 0), "decreased"),
        (~in_a & in_b & j.a_id.isnull(), "created"),
        (~in_a & in_b & j.a_id.notnull(), "pulled_in"),
        else_=ibis.null("string"))
    change = ibis.cases(
        (kind.isin(["won", "lost", "pushed_out"]), j.a_amount),
        (kind.isin(["created", "pulled_in"]), j.b_amount),
        (kind == "increased", delta),
        else_=-delta)
    rows = j.select(deal_id=ibis.coalesce(j.a_id, j.b_id), bucket=kind, change=change,
                    amount_start=ibis.ifelse(j.a_id.notnull(), j.a_amount, ibis.null(j.a_amount.type())),
                    amount_end=ibis.ifelse(j.b_id.notnull(), j.b_amount, ibis.null(j.b_amount.type())),
                    close_start=j.a_close, close_end=j.b_close, stage_end=j.b_stage,
                    status_end=ibis.ifelse(j.b_id.notnull(), j.b_status, ibis.null("string")))
    rows = rows.filter(rows.bucket.notnull() if bucket is None else rows.bucket == bucket)
    d = con.table("deals").select(_d_id="deal_id", account_id="account_id", owner_rep_id="owner_rep_id")
    out = rows.left_join(d, rows.deal_id == d._d_id).select(*CHANGE_COLUMNS)
    return out.order_by([ibis.desc("change"), "deal_id"])


def push_counts(con: Backend, deal_ids: Sequence[str] | ir.Column, start_date: dt.date,
                end_date: dt.date) -> ir.Table:
    """`deal_id`, `times_pushed` of each of `deal_ids` pushed at least once between the two days: the
    deal's snapshot days after `start_date` up to `end_date` whose expected close date is later than
    on its previous snapshot day, or cleared. Nothing is executed."""
    s = con.table("deal_snapshots")
    ids = list(deal_ids) if not isinstance(deal_ids, ir.Column) else deal_ids
    # the rows covering a day of [start_date, end_date]: the one holding state A comes first, so each
    # later row's previous row is among them (a pushed-out deal is present on start_date)
    s = s.filter(s.snapshot_date <= end_date, s.valid_until.isnull() | (s.valid_until > start_date),
                 s.deal_id.isin(ids))
    w = ibis.window(group_by=s.deal_id, order_by=s.snapshot_date)
    s = s.mutate(_prev=s.expected_close_at.lag().over(w))
    pushed = s.filter(s.snapshot_date > start_date, s.snapshot_date <= end_date, s._prev.notnull(),
                      s.expected_close_at.isnull() | (s.expected_close_at > s._prev))
    return pushed.group_by("deal_id").aggregate(times_pushed=pushed.count())


def slipped(con: Backend, cfg: Config, filters: Filters, period: Period, start_date: dt.date,
            end_date: dt.date) -> ir.Table:
    """The deals pushed out between the two days (bucket `pushed_out`), with `times_pushed`
    (`push_counts`, 0 when its close date never moved later on a snapshot day in between: it can
    leave the window by moving earlier). Columns: CHANGE_COLUMNS and `times_pushed`; most pushes
    first, then largest amount, then deal_id. Nothing is executed."""
    out = changes(con, cfg, filters, period, start_date, end_date, "pushed_out")
    counts = push_counts(con, out.deal_id, start_date, end_date).rename(_p_id="deal_id")
    j = out.left_join(counts, out.deal_id == counts._p_id)
    j = j.select(*CHANGE_COLUMNS, times_pushed=ibis.coalesce(j.times_pushed, 0))
    return j.order_by([ibis.desc("times_pushed"), ibis.desc("change"), "deal_id"])


def order_slipped(frame: pd.DataFrame) -> pd.DataFrame:
    """`slipped`'s order on a frame of its rows (most pushes, largest change, deal_id)."""
    return frame.sort_values(["times_pushed", "change", "deal_id"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)
