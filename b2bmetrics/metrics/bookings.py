"""Bookings (CONTRACT §5 "(v2) Bookings"): the deals closed in the period, whenever they were created.

What an executive means by "won revenue this month": not the funnel's cohort (deals created in the
period) but every deal whose `closed_at` falls on a day of the period, after the funnel's region,
segment and rep filters (`filtering.deals_in_scope`: rep = the deal's owner). One aggregate query.

* status: `_rules.deal_status` (`status`, or derived from the current stage when it is empty), as
  the funnel reads it; "won" / "lost" deals count, open deals never do, even with a `closed_at`.
* "closed in the period": `closed_at` (a timestamp) on a day from `from` to `to`, both inclusive
  (`Period.contains`: from midnight of `from` to before midnight after `to`); deals without
  `closed_at` are left out.
* `won_amount` is exact (a Decimal: the DECIMAL amounts summed by the backend), 0 when no won deal
  has an amount; `avg_won_amount` = won_amount / won deals with an amount, one exact division
  (`cells.mean`); `win_rate` = won / (won + lost); both None when undefined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period
from b2bmetrics.metrics._rules import deal_status
from b2bmetrics.metrics.cells import Decimal, money
from b2bmetrics.metrics.cells import count as _count
from b2bmetrics.metrics.cells import mean as _mean
from b2bmetrics.metrics.cells import ratio as _ratio
from b2bmetrics.metrics.filtering import deals_in_scope

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from b2bmetrics.backend import Backend

SUMMARY_KEYS: tuple[str, ...] = ("won_deals", "won_amount", "lost_deals", "win_rate", "avg_won_amount")


def closed_in_period(con: Backend, cfg: Config, filters: Filters, period: Period) -> ir.Table:
    """The deals in the funnel's scope with `closed_at` on a day of the period, every `deals` column
    plus `status` (`_rules.deal_status`). Nothing is executed."""
    d = deals_in_scope(con, cfg, filters)
    d = d.filter(d.closed_at.notnull(), period.contains(d.closed_at))
    return d.mutate(status=deal_status(cfg.pipeline, d))


def _numbers(rec: dict[str, Any]) -> dict[str, Any]:
    won, lost = _count(rec.get("won_deals")), _count(rec.get("lost_deals"))
    won_amount = money(rec.get("won_amount"))
    return {
        "won_deals": won,
        "won_amount": Decimal(0) if won_amount is None else won_amount,
        "lost_deals": lost,
        "win_rate": _ratio(won, won + lost),
        "avg_won_amount": _mean(won_amount, rec.get("won_amount_n")),
    }


def summary(con: Backend, cfg: Config, filters: Filters, period: Period) -> dict[str, Any]:
    """CONTRACT §4 "bookings" for the period, in one query."""
    if period.empty_data:
        return _numbers({})
    d = closed_in_period(con, cfg, filters, period)
    won = d.status == "won"
    agg = d.aggregate(
        won_deals=d.count(where=won),
        lost_deals=d.count(where=d.status == "lost"),
        won_amount=d.amount.sum(where=won),  # NULL amounts left out by SQL semantics
        won_amount_n=d.amount.count(where=won),
    )
    out = agg.execute()
    return _numbers(out.iloc[0].to_dict() if len(out) else {})
