"""Sales commission (CONTRACT §5 "Commission"): credit, quota, tiers, cap, referrals, clawbacks.

A payout statement never depends on the view: every number is computed from all deals, and the
filters only choose which rows are shown (region: people whose `reps.region` is in it; rep: those
ids, also ids missing from `reps`; segment does not apply). Each row is one person and one
commission period (calendar quarter or month) overlapping the filter period, and counts that
whole commission period.

By concern:

* `plan`: the plan's arithmetic — commission periods, tier bands, cap, rates (Python, small numbers);
* `facts`: what a payout is computed from — credits, referrals, clawbacks and quotas, aggregated
  in the database in one query into one long, small frame;
* `rows`: one row per person and period (the tier arithmetic over arrays), `summary`,
  `total_payout`, and the rows with names as the pages read them (`attainment`, `all_rows`, `in_view`);
* `statement`: one person's lines deal by deal, and the views derived from computed rows
  (`leaderboard`, `referral_earnings`, `what_if`).
"""

from __future__ import annotations

from b2bmetrics.metrics.commission.facts import Facts
from b2bmetrics.metrics.commission.plan import (
    commission_periods,
    next_period_start,
    period_start_of,
    tier_commission,
    tier_commissions,
)
from b2bmetrics.metrics.commission.rows import (
    Row,
    all_rows,
    attainment,
    effective_rate,
    in_view,
    summary,
    total_payout,
)
from b2bmetrics.metrics.commission.statement import (
    LINE_ORDER,
    STATEMENT_COLUMNS,
    leaderboard,
    referral_earnings,
    statement,
    what_if,
)

__all__ = [
    "LINE_ORDER", "STATEMENT_COLUMNS", "Facts", "Row", "all_rows", "attainment", "commission_periods",
    "effective_rate", "in_view", "leaderboard", "next_period_start", "period_start_of", "referral_earnings",
    "statement", "summary", "tier_commission", "tier_commissions", "total_payout", "what_if",
]
