"""Sales commission (CONTRACT §5 "Commission"): credit, quota, tiers, cap, referrals, clawbacks.

A payout statement never depends on the view: every number is computed from all deals, and the
filters only choose which rows are shown (region: people whose `reps.region` is in it; rep: those
ids, also ids missing from `reps`; segment does not apply). Each row is one person and one
commission period (calendar quarter or month) overlapping the filter period, and counts that
whole commission period.

Money is exact (CONTRACT §4 "(v2) Money in the JSON"): credited revenue and quotas are the
data's decimals; commission, referral commission and clawback are computed exactly, then rounded
to cents half away from zero (`cents`, the one rounding rule); a payout is the sum of its rounded
parts and `total_payout` the sum of the payouts, all `Decimal`. Attainment is a float.

By concern:

* `plan`: the plan's arithmetic — commission periods, tier bands, cap, rates read as decimals
  (`numbers`), and `cents`;
* `facts`: what a payout is computed from — credits, referrals, clawbacks and quotas, aggregated
  in the database in one query (exact decimal sums) into one long, small frame;
* `rows`: one row per person and period, `summary`, `total_payout`, and the rows with names as
  the pages read them (`attainment`, `all_rows`, `in_view`);
* `statement`: one person's lines deal by deal, in cents that sum to the row (`apportion`), and
  the views derived from computed rows (`leaderboard`, `referral_earnings`, `what_if`).
"""

from __future__ import annotations

from b2bmetrics.metrics.commission.facts import Facts
from b2bmetrics.metrics.commission.plan import (
    cents,
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
    COLLECTED_STATEMENT_COLUMNS,
    LINE_ORDER,
    STATEMENT_COLUMNS,
    apportion,
    leaderboard,
    referral_earnings,
    statement,
    what_if,
)

__all__ = [
    "COLLECTED_STATEMENT_COLUMNS", "LINE_ORDER", "STATEMENT_COLUMNS", "Facts", "Row", "all_rows", "apportion", "attainment", "cents",
    "commission_periods",
    "effective_rate", "in_view", "leaderboard", "next_period_start", "period_start_of", "referral_earnings",
    "statement", "summary", "tier_commission", "tier_commissions", "total_payout", "what_if",
]
