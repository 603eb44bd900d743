"""MRR movements (CONTRACT §5 "(v2) MRR movements"): the bridge from MRR on `from` to MRR on `to`.

Every account counts, not only those active on `from` (the churn section's S). For each account
a: p = MRR(a, from), c = MRR(a, to) (`_rules.mrr_on`: contracts with start ≤ d and no end or
end > d; 0 when none is active). Then

* `new` = Σ c where p = 0 < c and the account has no contract starting before `from`;
* `reactivation` = Σ c where p = 0 < c and it has one (it was a customer before and came back);
* `expansion` = Σ (c − p) where 0 < p < c; `contraction` = Σ (p − c) where 0 < c < p;
* `churn` = Σ p where c = 0 < p;
* `mrr_start` = Σ p, `mrr_end` = Σ c over all accounts; `net_new_mrr` = mrr_end − mrr_start, which
  equals new + reactivation + expansion − contraction − churn (MRR is never negative: ingest
  refuses negative amounts, so every account with p ≠ c falls in exactly one movement);
* `quick_ratio` = (new + reactivation + expansion) / (contraction + churn), `arpa` = mrr_end /
  accounts with c > 0: floats, None when the denominator is 0. Every other figure is an exact
  Decimal (DECIMAL sums).

"A contract starting before `from`" has `start_date` < `from` and is not empty
(`_rules.contract_has_days`: no end, or an end after its start), whatever its MRR; a contract
that ended before `from` counts (that is what makes the account's return a reactivation). Movements compare two
days only: a contract replaced on the same day by a larger one is expansion, an account that left
and came back between `from` and `to` with the same MRR moves nothing.

Filters as the churn section's: region, segment and owner rep choose accounts
(`filtering.accounts_in_scope(with_rep=True)`), contracts follow their account; without a filter
every contract counts, also one whose account is not in `accounts`. One aggregate query.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import MONEY_ZERO, active_on, contract_has_days, mrr_on
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import accounts_in_scope, scope_by_account

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("mrr_start", "new", "reactivation", "expansion", "contraction", "churn", "mrr_end",
                                 "net_new_mrr", "quick_ratio", "arpa")
MOVEMENTS: tuple[str, ...] = ("new", "reactivation", "expansion", "contraction", "churn")


def per_account(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """One row per account with a contract in scope: account_id, p (MRR on `from`), c (MRR on `to`),
    both DECIMAL and 0 when no contract is active, and `before` (contracts starting before `from`
    that are not empty). Nothing is executed."""
    assert period.start is not None and period.end is not None
    k = scope_by_account(con.table("contracts"), accounts_in_scope(con, cfg, filters, with_rep=True))
    start, end = ibis.date(period.start), ibis.date(period.end)
    per = k.group_by("account_id").aggregate(
        p=mrr_on(k, start), c=mrr_on(k, end),
        before=k.count(where=(k.start_date < start) & contract_has_days(k.start_date, k.end_date)),
    )
    return per.mutate(p=ibis.coalesce(per.p, MONEY_ZERO), c=ibis.coalesce(per.c, MONEY_ZERO))


def with_movement(per: ir.Table) -> ir.Table:
    """`per_account` rows with `movement` (one of MOVEMENTS, NULL when p = c) and `delta` (the
    account's part of that movement, a positive amount)."""
    p, c = per.p, per.c
    movement = ibis.cases(
        ((p == 0) & (c > 0) & (per.before == 0), "new"),
        ((p == 0) & (c > 0), "reactivation"),
        ((p > 0) & (c > p), "expansion"),
        ((c > 0) & (c < p), "contraction"),
        ((c == 0) & (p > 0), "churn"),
        else_=ibis.null().cast("string"),
    )
    delta = ibis.cases(
        ((p == 0) & (c > 0), c),
        (c > p, c - p),
        (c > 0, p - c),
        else_=p,
    )
    return per.mutate(movement=movement, delta=ibis.ifelse(movement.isnull(), MONEY_ZERO, delta))


def _numbers(rec: dict[str, Any]) -> dict[str, Any]:
    def m(name: str) -> Decimal:
        value = money(rec.get(name))
        return Decimal(0) if value is None else value

    start, end = m("mrr_start"), m("mrr_end")
    moves = {name: m(name) for name in MOVEMENTS}
    gained = moves["new"] + moves["reactivation"] + moves["expansion"]
    lost = moves["contraction"] + moves["churn"]
    return {
        "mrr_start": start,
        **moves,
        "mrr_end": end,
        "net_new_mrr": end - start,
        "quick_ratio": _ratio(gained, lost),
        "arpa": _ratio(end, _count(rec.get("paying_accounts"))),
    }


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "mrr_movements" for the period, in one query."""
    if period.empty_data or period.start is None or period.end is None:
        return _numbers({})
    t = with_movement(per_account(con, cfg, filters, period))
    agg = t.aggregate(
        mrr_start=t.p.sum(), mrr_end=t.c.sum(), paying_accounts=t.count(where=t.c > 0),
        **{name: t.delta.sum(where=t.movement == name) for name in MOVEMENTS},
    )
    out = agg.execute()
    return _numbers(out.iloc[0].to_dict() if len(out) else {})


# ---- the page's views: movements month by month, the accounts behind a movement, revenue cohorts ----

MONTH_COLUMNS: tuple[str, ...] = ("month", "from", "to", "mrr_start", *MOVEMENTS, "mrr_end", "net_new_mrr")
ACCOUNT_COLUMNS: tuple[str, ...] = ("account_id", "account_name", "movement", "mrr_from", "mrr_to", "mrr_change")
COHORT_COLUMNS: tuple[str, ...] = ("cohort", "month_offset", "observed_on", "size", "mrr_initial", "mrr", "nrr")


def _month_end(day: dt.date) -> dt.date:
    nxt = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


def month_windows(period: Period) -> list[tuple[dt.date, dt.date, dt.date]]:
    """(month, d_from, d_to) per calendar month of the period: the first month runs from `from` to
    its last day, each next one from the previous one's `d_to` to its own last day (the last one
    to `to`). The windows chain: a month's MRR at end is the next month's MRR at start, so the
    months' net new MRR adds up to the period's."""
    if period.empty_data or period.start is None or period.end is None or period.start > period.end:
        return []
    out, d_from = [], period.start
    month = period.start.replace(day=1)
    while month <= period.end:
        d_to = min(_month_end(month), period.end)
        out.append((month, d_from, d_to))
        d_from, month = d_to, d_to + dt.timedelta(days=1)
    return out


def _scoped(con: Backend, cfg: Config, filters: Filters) -> ir.Table:
    return scope_by_account(con.table("contracts"), accounts_in_scope(con, cfg, filters, with_rep=True))


def per_account_by_window(con: Backend, cfg: Config, filters: Filters,
                          windows: list[tuple[dt.date, dt.date, dt.date]]) -> ir.Table:
    """`per_account` for several windows at once: one row per window (`key`, `d_from`, `d_to`) and
    account with a contract active on `d_from` or `d_to`; p, c and `before` as `per_account` reads
    them on those two days (an account active on neither moves nothing and has no row)."""
    k = _scoped(con, cfg, filters)
    w = ibis.memtable(pd.DataFrame(windows, columns=["key", "d_from", "d_to"]),
                      schema={"key": "date", "d_from": "date", "d_to": "date"})
    j = k.join(w, active_on(k.start_date, k.end_date, w.d_from) | active_on(k.start_date, k.end_date, w.d_to))
    per = j.group_by(["key", "account_id"]).aggregate(d_from=j.d_from.max(), p=mrr_on(j, j.d_from),
                                                      c=mrr_on(j, j.d_to))
    # the first non-empty contract's start: a contract starting before d_from exists when it is earlier
    first = k.filter(contract_has_days(k.start_date, k.end_date)).group_by("account_id").aggregate(
        first_start=k.start_date.min()).rename(_f_acc="account_id")
    per = per.left_join(first, per.account_id == first._f_acc).drop("_f_acc")
    return per.mutate(p=ibis.coalesce(per.p, MONEY_ZERO), c=ibis.coalesce(per.c, MONEY_ZERO),
                      before=ibis.ifelse(per.first_start.notnull() & (per.first_start < per.d_from), 1, 0))


def by_month(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """The movements month by month (`month_windows`), one query: MONTH_COLUMNS, every month of the
    period (zeros when nothing moved), money as exact Decimals. Σ net_new_mrr over the months =
    the period's net_new_mrr; a single movement need not add up (an account that churns in one
    month and comes back in a later one is churn, then reactivation, and neither over the period)."""
    windows = month_windows(period)
    if not windows:
        return pd.DataFrame(columns=list(MONTH_COLUMNS))
    t = with_movement(per_account_by_window(con, cfg, filters, windows))
    agg = t.group_by("key").aggregate(
        mrr_start=t.p.sum(), mrr_end=t.c.sum(),
        **{name: t.delta.sum(where=t.movement == name) for name in MOVEMENTS},
    ).execute()
    found = {pd.Timestamp(r["key"]).date(): r for r in agg.to_dict("records")}
    rows = []
    for month, d_from, d_to in windows:
        nums = _numbers(found.get(month, {}))
        rows.append({"month": pd.Timestamp(month), "from": d_from, "to": d_to,
                     **{name: nums[name] for name in MONTH_COLUMNS[3:]}})
    return pd.DataFrame(rows, columns=list(MONTH_COLUMNS))


def accounts(con: Backend, cfg: Config, filters: Filters, period: Period, movement: str | None = None,
             month: dt.date | None = None) -> ir.Table:
    """The accounts behind a movement (ACCOUNT_COLUMNS): over the period (`month` None, the same
    rows `summary` adds up) or one month of `by_month` (its first day); `movement` None = every
    account that moved. `mrr_from` = p, `mrr_to` = c, `mrr_change` = c − p (signed); largest
    change first (by its size), ties by account id. Nothing is executed."""
    if month is None:
        t = with_movement(per_account(con, cfg, filters, period))
    else:
        windows = [w for w in month_windows(period) if w[0] == month]
        if not windows:
            raise ValueError(f"{month} is not the first day of a month of the period")
        t = with_movement(per_account_by_window(con, cfg, filters, windows))
    t = t.filter(t.movement.notnull() if movement is None else t.movement == movement)
    names = con.table("accounts").select(_a_id="account_id", account_name="account_name").distinct()
    t = t.left_join(names, t.account_id == names._a_id)
    out = t.select(account_id=t.account_id, account_name=t.account_name, movement=t.movement,
                   mrr_from=t.p, mrr_to=t.c, mrr_change=t.c - t.p, _size=t.delta)
    return out.order_by([ibis.desc("_size"), "account_id"]).drop("_size")


def cohort_revenue(con: Backend, cfg: Config, filters: Filters, period: Period) -> pd.DataFrame:
    """Revenue retention by cohort (NRR per month of first contract), beside `churn.cohort_matrix`
    and on its cohorts: an account's cohort is the month of its first contract start, first
    starts within the period only; offset k is observed on the last day of month cohort + k,
    clipped to `to`. `mrr_initial` = Σ over the cohort's accounts of the MRR on the day each
    first started; `mrr` = the cohort's MRR on `observed_on`; `nrr` = mrr / mrr_initial (a float,
    None when mrr_initial is 0). COHORT_COLUMNS, one query, money as exact Decimals."""
    if period.empty_data or period.start is None or period.end is None or period.start > period.end:
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    start, end = period.start, period.end
    c = _scoped(con, cfg, filters)
    first = c.group_by("account_id").aggregate(first_start=c.start_date.min())
    first = first.filter(first.first_start >= start, first.first_start <= end)
    first = first.mutate(cidx=(first.first_start.year() * 12 + first.first_start.month() - 1).cast("int64"))
    cs = c.select(_c_acc="account_id", start_date="start_date", end_date="end_date", mrr="mrr")
    on_first = first.join(cs, first.account_id == cs._c_acc)
    initial = on_first.group_by("cidx").aggregate(
        size=on_first.account_id.nunique(), mrr_initial=mrr_on(on_first, on_first.first_start))
    months = []
    m = start.replace(day=1)
    while m <= end:
        months.append((m.year * 12 + m.month - 1, min(_month_end(m), end)))
        m = _month_end(m) + dt.timedelta(days=1)
    grid_months = ibis.memtable(pd.DataFrame(months, columns=["midx", "obs"]), schema={"midx": "int64", "obs": "date"})
    pairs = first.join(grid_months, first.cidx <= grid_months.midx)
    hits = pairs.join(cs, pairs.account_id == cs._c_acc)
    held = hits.group_by(["cidx", "midx"]).aggregate(mrr=mrr_on(hits, hits.obs))
    grid = initial.join(grid_months, initial.cidx <= grid_months.midx)
    grid = grid.left_join(held, [grid.cidx == held.cidx, grid.midx == held.midx])
    df = grid.select(cidx=grid.cidx, midx=grid.midx, obs=grid.obs, size=grid.size, mrr_initial=grid.mrr_initial,
                     mrr=grid.mrr).execute()
    if df.empty:
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    rows = []
    for r in df.to_dict("records"):
        cidx, midx = int(r["cidx"]), int(r["midx"])
        base = money(r["mrr_initial"]) or Decimal(0)
        held_mrr = money(r["mrr"]) or Decimal(0)
        rows.append({"cohort": pd.Timestamp(year=cidx // 12, month=cidx % 12 + 1, day=1), "month_offset": midx - cidx,
                     "observed_on": pd.Timestamp(r["obs"]).date(), "size": int(r["size"]), "mrr_initial": base,
                     "mrr": held_mrr, "nrr": _ratio(held_mrr, base)})
    out = pd.DataFrame(rows, columns=list(COHORT_COLUMNS))
    return out.sort_values(["cohort", "month_offset"]).reset_index(drop=True)
