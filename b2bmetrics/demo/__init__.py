"""The demo dataset: the first three years of a Chinese B2B SaaS company, generated deterministically.

`generate` builds every canonical table (CONTRACT §1) as a `pyarrow.Table` whose columns and
types are those the database stores (deal_snapshots in the compact format, with `valid_until`),
plus the list of snapshot days; `write_demo` replaces the tables of a `Store` with them in one
atomic write and records one `loads` row per canonical table (both in `dataset`). One module per
table family: `people` (reps, accounts), `deals` (deals, stage history, splits, quotas),
`contracts`, `service` (tickets, surveys, activities), `pipeline` (how each deal looked over time:
expected close, forecast category, amount, owner, probability), `snapshots` (the weekly deal
snapshots), `payments` (回款) and `targets` (业绩目标), on the clock and helpers of `base`.

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
* Forecast: a rep gives a deal an optimistic expected close date when it is created (15 % only at
  its second stage), often the end of a month. When the date passes and the deal is still open it
  is pushed out: promptly by most reps, weeks late by some, never by a few (so some open deals are
  overdue on `today`, most expect to close in the coming months); a deal that reaches negotiation
  well ahead of its date is sometimes pulled in. A closed deal keeps the last expected close it had
  while open (as 销售易's 预计成交日期 beside 实际成交日期; forecast accuracy can be read from it).
  The forecast category follows the stage (lead..needs_analysis: mostly pipeline; proposal: best
  case; negotiation: commit; a few left empty, a few omitted, stalled deals often set to omitted);
  a won deal's category is empty (the CRM's "Closed"), a lost one's omitted (Salesforce's default).
  About a third of open deals carry a probability typed by the rep (the stage's CRM default ± a
  feel, in steps of 5 %); the rest, and every closed deal, have none, so the learned one is used.
  Amounts change at the proposal (scope up or down) and in negotiation (mostly a discount); about
  2 % of deals change owner once.
* Deal snapshots: every Monday of the year up to `today` (`snapshot_days`), the state of every
  deal created by then (open or closed), taken at the end of the day: the stage last entered on or
  before it, the amount, expected close, owner and category as they stood. Stored compactly: one
  row per deal and state, valid until the next change (`valid_until`), so a deal closed before the
  year is one row; the latest snapshot day equals the deals table for every deal unchanged since.
* 回款: each won deal has a plan of 1–4 installments (large customers pay by milestones: 30/40/30,
  four quarters …), amounts in cents summing exactly to the deal's amount, the first due 0–30 days
  after signing, then every 1, 3 or 6 months. Most are paid on time (up to ten days early), some
  late (a month or more), partly, or not at all: healthy customers pay better, customers who have
  left stop paying, so on `today` money is overdue in every aging bucket. A few deposits (定金) come
  in before the deal is signed. Some renewals (invoiced outside the CRM) and one-off service fees
  are receipts without a plan (no due date, no deal). Each installment carries the deal's owner
  and the contract the deal opened; nothing is paid after `today`.
* 业绩目标: a rep's quarterly booked target is the quota (the quotas follow a curved trend fitted on
  whole quarters, so the company lands near 100 %: 60–130 % of target, quarter by quarter); months
  split a quarter 29/34/37 % (the quarter-end push), a year adds its quarters (the rest of the
  current year repeats the latest quota). The collected target is 95 % of the mean of this and the
  previous quarter's booked one (cash lags signatures). Teams of two or more, regions and the
  company add up their reps' targets exactly, from the first January: reps and teams are given
  their quarters, regions and the company months, quarters and years.

Business events fall in working hours on weekdays; customers' tickets and surveys also come in
the evening. Everything that happened lies between the first hire and `today` (default 2026-10-31,
the data ends at 18:00): a running contract has no end date yet.
Plans may reach past it: expected closes, due dates and the current year's targets. Nothing
depends on the wall clock, and the same seed always gives the same tables. All work is vectorised
with numpy and pyarrow: 200,000 accounts (a million deals, 3.5 million stage changes, 5 million
activities, 2.3 million snapshot rows) take about fifteen seconds and about 2.1 GB.
"""

from __future__ import annotations

from b2bmetrics.demo.dataset import (
    DEFAULT_TODAY,
    Progress,
    generate,
    write_demo,
)

__all__ = ["DEFAULT_TODAY", "Progress", "generate", "write_demo"]
