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
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import MONEY_ZERO, period_of, with_region
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


# ---- what the Cash page breaks the summary into (each figure adds up to the summary's) ---------

GroupBy = Literal["region", "rep"]
GROUPS: tuple[GroupBy, ...] = ("region", "rep")
AGING_COLUMNS: tuple[str, ...] = tuple(f"aging_{key}" for key, _, _ in AGING)
MONTH_COLUMNS: tuple[str, ...] = ("month", "due", "collected_against_due", "collection_rate", "collected")
GROUP_COLUMNS: tuple[str, ...] = ("group", "rep_name", "due", "collected_against_due", "collection_rate",
                                  "collected", "overdue", *AGING_COLUMNS)
OVERDUE_COLUMNS: tuple[str, ...] = ("payment_id", "account_id", "account_name", "deal_id", "owner_rep_id",
                                    "owner_name", "due_date", "amount_due", "paid_by_to", "outstanding",
                                    "days_overdue", "aging")


def _scoped(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table | None:
    """`with_overdue` of the payments in scope; None without data."""
    if period.empty_data or period.start is None or period.end is None:
        return None
    return with_overdue(payments_in_scope(con, cfg, filters), period)


def _due_row(t: ir.Table, period: Period) -> ir.BooleanValue:
    assert period.start is not None and period.end is not None
    return t.due_date.notnull() & t.due_date.between(ibis.date(period.start), ibis.date(period.end))


def _paid_in(t: ir.Table, period: Period) -> ir.BooleanValue:
    return t.paid_at.notnull() & period.contains(t.paid_at)


def _money_cells(values: Any) -> list[Decimal]:
    return [_money(v) for v in values]


def by_month(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Due and collected per calendar month of the period, in one query.

    Columns `MONTH_COLUMNS`: `month` (its first day, a Timestamp; every month of the period listed,
    a month without payments with zeros), `due` and `collected_against_due` of the installments due
    in that month (by `due_date`), their `collection_rate` (None when nothing was due), and
    `collected`, the cash received in that month (by `paid_at`). Each column adds up to the
    summary's figure exactly (Decimals).
    """
    t = _scoped(con, cfg, filters, period)
    if t is None:
        return pd.DataFrame(columns=list(MONTH_COLUMNS))
    assert period.start is not None and period.end is not None
    due = t.filter(_due_row(t, period))
    due = due.select(month=period_of(due.due_date, "month"), due=due.amount_due, against=due.paid_by_to,
                     paid=ibis.null().cast(due.amount_paid.type()))
    paid = t.filter(_paid_in(t, period), t.amount_paid.notnull())
    paid = paid.select(month=period_of(paid.paid_at, "month"), due=ibis.null().cast(paid.amount_due.type()),
                       against=ibis.null().cast(paid.paid_by_to.type()), paid=paid.amount_paid)
    u = ibis.union(due, paid, distinct=False)
    got = u.group_by("month").aggregate(due=u.due.sum(), against=u.against.sum(), paid=u.paid.sum()).execute()
    found = {pd.Timestamp(m): rec for m, rec in zip(got["month"], got.to_dict("records"), strict=True)}
    months = pd.date_range(pd.Timestamp(period.start).to_period("M").to_timestamp(), pd.Timestamp(period.end),
                           freq="MS")
    rows = []
    for month in months:
        rec = found.get(month, {})
        due_m, against_m = _money(rec.get("due")), _money(rec.get("against"))
        rows.append({"month": month, "due": due_m, "collected_against_due": against_m,
                     "collection_rate": _ratio(against_m, due_m), "collected": _money(rec.get("paid"))})
    return pd.DataFrame(rows, columns=list(MONTH_COLUMNS))


def _owner(con: Backend, t: ir.Table) -> ir.Table:
    """`t` with `owner_rep_id` and `owner_name`: the owner of the payment's account (whom the rep
    filter goes by) and that person's name (NULL when unknown), and `account_name`."""
    acc = con.table("accounts").select(_o_acc="account_id", account_name="account_name", owner_rep_id="owner_rep_id")
    reps = con.table("reps").select(_o_rep="rep_id", owner_name="rep_name")
    j = t.left_join(acc, t.account_id == acc._o_acc)
    j = j.left_join(reps, j.owner_rep_id == reps._o_rep)
    return j.drop("_o_acc", "_o_rep")


def by_group(con: Backend, cfg: Config, filters: Filters, period: Period, by: GroupBy) -> pd.DataFrame:
    """The summary per region or per rep, in one query.

    Region: the payment's account's region (with `region_of = "rep"` its owner's `reps.region`); rep:
    the owner of the payment's account, as the rep filter selects (the payment's own `rep_id` plays
    no part), with `rep_name`. Columns `GROUP_COLUMNS`: `group` (None = unknown: no account, no
    owner, no region), `rep_name` (by="rep", else None), the summary's figures and `aging_1_30` …
    `aging_over_90`; every column adds up over the groups to the summary's figure. Groups with
    nothing due, collected or overdue are left out. Sorted by due (largest first), unknown last.
    """
    if by not in GROUPS:
        raise ValueError(f"by must be one of {GROUPS}, not {by!r}")
    t = _scoped(con, cfg, filters, period)
    if t is None:
        return pd.DataFrame(columns=list(GROUP_COLUMNS))
    assert period.end is not None
    if by == "rep":
        t = _owner(con, t).mutate(group=ibis._.owner_rep_id, rep_name=ibis._.owner_name)
    else:
        t = with_region(con, cfg.region_of, t, name="group").mutate(rep_name=ibis.null().cast("string"))
    due_row, paid_in = _due_row(t, period), _paid_in(t, period)
    agg = t.group_by(["group", "rep_name"]).aggregate(
        due=t.amount_due.sum(where=due_row),
        against=t.paid_by_to.sum(where=due_row),
        collected=t.amount_paid.sum(where=paid_in),
        overdue=t.outstanding.sum(),
        **{f"aging_{key}": t.outstanding.sum(where=_bucket(t, period.end, lo, hi)) for key, lo, hi in AGING},
    )
    got = agg.filter(agg.due.notnull() | agg.collected.notnull() | agg.overdue.notnull()).execute()
    rows = []
    for rec in got.to_dict("records"):
        due_g, against_g = _money(rec["due"]), _money(rec["against"])
        rows.append({
            "group": None if pd.isna(rec["group"]) else str(rec["group"]),
            "rep_name": None if pd.isna(rec["rep_name"]) else str(rec["rep_name"]),
            "due": due_g, "collected_against_due": against_g, "collection_rate": _ratio(against_g, due_g),
            "collected": _money(rec["collected"]), "overdue": _money(rec["overdue"]),
            **{col: _money(rec[col]) for col in AGING_COLUMNS},
        })
    out = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    if len(out):
        order = sorted(range(len(out)), key=lambda i: (out["group"][i] is None, -out["due"][i],
                                                       out["group"][i] or ""))
        out = out.iloc[order]
    return out.reset_index(drop=True)


def overdue_installments(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Every installment overdue on `to` (the rows `overdue` sums), longest overdue first: the
    collections team's call list.

    Columns `OVERDUE_COLUMNS`: the payment, its account (`account_name`), deal, the account's owner
    (`owner_rep_id`, `owner_name`: whom the rep filter goes by), `due_date` (a date), `amount_due`,
    `paid_by_to` (what was paid on or before `to`), `outstanding` (amount_due − paid_by_to, > 0),
    `days_overdue` (`to` − due_date, whole days, ≥ 1) and `aging`, its bucket ("1_30" … "over_90").
    Money is exact (Decimals); `outstanding` adds up to the summary's `overdue`. Sorted by days
    overdue (most first), then outstanding (largest first), then payment id.
    """
    t = _scoped(con, cfg, filters, period)
    if t is None:
        return pd.DataFrame(columns=list(OVERDUE_COLUMNS))
    end = period.end
    assert end is not None
    t = _owner(con, t.filter(t.outstanding.notnull()))
    aging = ibis.cases(*[(_bucket(t, end, lo, hi), key) for key, lo, hi in AGING], else_=ibis.null())
    t = t.mutate(aging=aging)
    t = t.order_by([t.due_date, ibis.desc(t.outstanding), t.payment_id])
    got = t.select(*[c for c in OVERDUE_COLUMNS if c != "days_overdue"]).execute()
    due = pd.to_datetime(got["due_date"])
    out = got.assign(due_date=[d.date() for d in due],
                     days_overdue=(pd.Timestamp(end) - due).dt.days.astype("int64"),
                     **{c: _money_cells(got[c]) for c in ("amount_due", "paid_by_to", "outstanding")})
    return out[list(OVERDUE_COLUMNS)].reset_index(drop=True)
