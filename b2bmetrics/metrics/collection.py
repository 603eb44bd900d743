"""Collection, 回款 (CONTRACT §5 "(v2) Collection"): what was due, what came in, what is overdue.

A `payments` row is one installment of a payment plan (`due_date`, `amount_due`) and what was
received against it (`paid_at`, `amount_paid`); a receipt without a plan has neither due date nor
amount due. For the period [from, to]:

* due rows: `due_date` (a DATE) from `from` to `to`, both inclusive; `due` = Σ amount_due;
* `collected_against_due` = Σ over due rows of amount_paid when paid on or before the day `to`;
  `collection_rate` (回款率) = collected_against_due / due (None when due = 0);
* `collected` = Σ amount_paid of rows paid on a day of the period, planned or not (a receipt
  without a plan, and an installment due before or after the period, count);
* `overdue` on `to` = Σ over rows with due_date < to of amount_due − (amount_paid when paid on or
  before `to`, else 0), where that is > 0, whatever the period's start: an installment paid after
  `to` is overdue on `to` in full; `overdue_aging` splits it by the whole days `to` − due_date:
  "1_30" (1–30 days), "31_60", "61_90", "over_90" (91 days or more). An installment due on `to`
  itself is due, not overdue.

`paid_at` is a TIMESTAMP: "paid on or before the day `to`" means before midnight after `to`, and
"paid in the period" from midnight of `from` to before midnight after `to`, exactly as the other
families compare timestamps with the inclusive period (`Period.contains`, `Period.end_exclusive_ts`).
Rows without `amount_due` (or `amount_paid`) add nothing to a sum that needs it.

Filters: region and segment select accounts (`region_of = "rep"`: by the owner's region), rep
selects accounts whose `owner_rep_id` is the rep (`filtering.accounts_in_scope(with_rep=True)`);
payments follow their `account_id`. Without a filter every payment counts, also one whose account
is not in `accounts`. Every amount is an exact Decimal (DECIMAL sums); one aggregate query.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ibis

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import MONEY_ZERO
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import accounts_in_scope, scope_by_account

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("due", "collected_against_due", "collection_rate", "collected", "overdue",
                                 "overdue_aging")
# aging buckets: key, fewest and most days overdue (None = no limit)
AGING: tuple[tuple[str, int, int | None], ...] = (("1_30", 1, 30), ("31_60", 31, 60), ("61_90", 61, 90),
                                                  ("over_90", 91, None))


def payments_in_scope(con: Backend, cfg: Config, filters: Filters) -> ir.Table:
    """The `payments` rows of the accounts the filters select (all rows without a filter)."""
    return scope_by_account(con.table("payments"), accounts_in_scope(con, cfg, filters, with_rep=True))


def with_overdue(payments: ir.Table, period: Period) -> ir.Table:
    """`payments` rows with `paid_by_to` (amount_paid when paid on or before the day `to`, else 0)
    and `outstanding` (amount_due − paid_by_to for rows due before `to` with something left,
    else NULL). Nothing is executed."""
    assert period.end is not None
    t = payments
    paid_by_to = ibis.ifelse(t.paid_at.notnull() & (t.paid_at < period.end_exclusive_ts()),
                             ibis.coalesce(t.amount_paid, MONEY_ZERO), MONEY_ZERO)
    t = t.mutate(paid_by_to=paid_by_to)
    left = t.amount_due - t.paid_by_to
    overdue = t.due_date.notnull() & (t.due_date < ibis.date(period.end)) & (left > 0)
    return t.mutate(outstanding=ibis.ifelse(overdue, left, ibis.null().cast(left.type())))


def _bucket(t: ir.Table, end: dt.date, lo: int, hi: int | None) -> ir.BooleanValue:
    """`to` − due_date is from `lo` to `hi` days (dates compared with dates: no day arithmetic in the
    database). Only asked of rows due before `to`."""
    cond = t.due_date <= ibis.date(end - dt.timedelta(days=lo))
    if hi is not None:
        cond = cond & (t.due_date >= ibis.date(end - dt.timedelta(days=hi)))
    return cond


def _money(value: Any) -> Decimal:
    m = money(value)
    return Decimal(0) if m is None else m


def _numbers(rec: dict[str, Any]) -> dict[str, Any]:
    due, against = _money(rec.get("due")), _money(rec.get("collected_against_due"))
    return {
        "due": due,
        "collected_against_due": against,
        "collection_rate": _ratio(against, due),
        "collected": _money(rec.get("collected")),
        "overdue": _money(rec.get("overdue")),
        "overdue_aging": {key: _money(rec.get(f"aging_{key}")) for key, _, _ in AGING},
    }


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "collection" for the period, in one query."""
    if period.empty_data or period.start is None or period.end is None:
        return _numbers({})
    t = with_overdue(payments_in_scope(con, cfg, filters), period)
    due_row = t.due_date.notnull() & t.due_date.between(ibis.date(period.start), ibis.date(period.end))
    paid_in = t.paid_at.notnull() & period.contains(t.paid_at)
    agg = t.aggregate(
        due=t.amount_due.sum(where=due_row),
        collected_against_due=t.paid_by_to.sum(where=due_row),
        collected=t.amount_paid.sum(where=paid_in),
        overdue=t.outstanding.sum(),
        **{f"aging_{key}": t.outstanding.sum(where=_bucket(t, period.end, lo, hi)) for key, lo, hi in AGING},
    )
    out = agg.execute()
    return _numbers(out.iloc[0].to_dict() if len(out) else {})
