"""The demo dataset: the first three years of a Chinese B2B SaaS company, generated deterministically.

`generate` builds every canonical table (CONTRACT §1) as a `pyarrow.Table` whose columns and
types are exactly those of `schema.TABLES`; `write_demo` replaces the tables of a `Store` with
them in one atomic write and records one `loads` row per table (both in `dataset`). One module per
table family: `people` (reps, accounts), `deals` (deals, stage history, splits, quotas),
`contracts`, `service` (tickets, surveys, activities), on the clock and helpers of `base`. The v2
tables (payments, targets, deal snapshots) and the deals' forecast columns stay empty for now.

The story the data tells, so that every dashboard page has something to show:

* People: the company is founded two months before its first account. Sales reps work in five
  regions (a director per region, teams of seven under a team lead) and keep being hired as the
  company grows; support, customer-success, channel, marketing and back-office employees; channel
  partners (their hire date is the partnership's start). Employee numbers (`R…`) follow hire dates.
* Accounts arrive faster over time, with a dip at the Spring Festival and the National Day week.
  Each has a latent health that drives renewals, ticket load, survey scores and how often the
  team talks to it. New accounts go mostly to reps whose books are still filling up.
* Deals walk the default pipeline with a drop-off at every stage; some skip a stage, a few move
  back (negotiation -> proposal -> negotiation, proposal -> needs_analysis -> proposal), recent
  ones are still open, and a few stall open for good. Referrals come from employees, partners and
  other reps (全民经销), now and then from the owner (no referral commission). About 5 % of won
  deals are split between two reps. Quotas follow each rep's book, the company trend and ramp-up.
* Every won deal opens a contract at its close date (MRR = amount / 12): a monthly subscription,
  or one- and two-year terms renewed flat, up (expansion) or down (contraction), or not at all
  (churn). A few customers cancel within 90 days (clawbacks).
* Customers raise tickets, answer CSAT / NPS / CES surveys (CES: 7 = very easy), and hear less
  from their team in the five months before they churn.

Business events fall in working hours on weekdays; customers' tickets and surveys also come in
the evening. Every date lies between the first hire and `today` (default 2026-10-31, the data
ends at 18:00): a running contract has no end date yet, so no column points into the future.
Nothing depends on the wall clock, and the same seed always gives the same tables. All work is
vectorised with numpy and pyarrow: 200,000 accounts (a million deals, 3.5 million stage changes,
5 million activities) take under ten seconds and about 1.3 GB.
"""

from __future__ import annotations

from b2bmetrics.demo.dataset import (
    DEFAULT_TODAY,
    Progress,
    generate,
    write_demo,
)

__all__ = ["DEFAULT_TODAY", "Progress", "generate", "write_demo"]
