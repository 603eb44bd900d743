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

from typing import TYPE_CHECKING, Any

import ibis

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import MONEY_ZERO, contract_has_days, mrr_on
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
