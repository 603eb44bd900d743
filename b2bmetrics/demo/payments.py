"""The demo's payments (回款): a plan of 1–4 installments for every won deal and what came in
against it, plus a few receipts without a plan."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import (
    Array,
    Clock,
    add_months,
    choice,
    choice_by_group,
    dates,
    decimals,
    ensure,
    from_work,
    make_ids,
    repeat_index,
    take,
    timestamps,
    to_work,
)
from b2bmetrics.demo.contracts import Contracts, Windows
from b2bmetrics.demo.deals import Deals
from b2bmetrics.demo.people import Accounts, People

# installments per won deal (1..4), by segment: large deals pay by milestones
INSTALLMENTS = np.array([[0.10, 0.30, 0.40, 0.20], [0.35, 0.40, 0.20, 0.05], [0.65, 0.30, 0.05, 0.0]])
# how a plan splits the amount: (installments, shares); a plan of n installments picks among its patterns
PLANS: tuple[tuple[float, ...], ...] = (
    (1.0,), (0.5, 0.5), (0.3, 0.7), (0.6, 0.4), (0.3, 0.4, 0.3), (0.4, 0.3, 0.3), (1 / 3, 1 / 3, 1 / 3),
    (0.25, 0.25, 0.25, 0.25), (0.1, 0.3, 0.3, 0.3),
)
PLAN_WEIGHTS = (1.0, 0.5, 0.2, 0.3, 0.5, 0.3, 0.2, 0.6, 0.4)
FIRST_DUE_DAYS = (0, 7, 15, 30)  # the first installment falls due this long after signing
INTERVAL_MONTHS = (1, 3, 6)
# how an installment is paid: on time, late, partly, not at all; by the account's health (good, fair, poor)
BEHAVIOUR = np.array([[0.80, 0.15, 0.03, 0.02], [0.70, 0.21, 0.05, 0.04], [0.50, 0.30, 0.08, 0.12]])
ON_TIME, LATE, PARTIAL, UNPAID = range(4)
DEPOSIT_SHARE = 0.04  # plans whose first installment (定金) is paid before the deal is signed
AGING = ((1, 30), (31, 60), (61, 90), (91, 100_000))  # CONTRACT §5 overdue buckets, days
RENEWAL_RECEIPT_SHARE = 0.10  # renewals invoiced outside the CRM: a receipt without a plan
SERVICE_FEE_SHARE = 0.03  # won deals with a one-off service fee (training, implementation) on top
SERVICE_FEES = (2000.0, 5000.0, 8000.0, 12000.0, 20000.0)


def make_payments(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts, deals: Deals,
                  contracts: Contracts, window: Windows) -> pa.Table:
    now, today = clock.now, clock.today
    won = np.flatnonzero((deals.status == 1) & deals.amount_known)
    seg = accts.segment[deals.account[won]]
    count = 1 + choice_by_group(rng, seg, INSTALLMENTS)
    plan_of_count = np.zeros((4, len(PLANS)))
    for p, shares in enumerate(PLANS):
        plan_of_count[len(shares) - 1, p] = PLAN_WEIGHTS[p]
    plan = choice_by_group(rng, count - 1, plan_of_count)
    cumulative = np.zeros((len(PLANS), 4))
    for p, shares in enumerate(PLANS):
        cumulative[p, : len(shares)] = np.cumsum(shares)
        cumulative[p, len(shares) - 1 :] = 1.0

    # installments: amounts in cents that sum to the deal's amount exactly, due dates after the close
    row_deal = repeat_index(count)
    j = np.arange(len(row_deal)) - np.repeat(np.cumsum(count) - count, count)
    deal = won[row_deal]
    total = np.round(deals.amount[deal] * 100.0).astype(np.int64)
    upto = np.floor(total * cumulative[plan[row_deal], j] + 1e-6).astype(np.int64)
    upto = np.where(j == count[row_deal] - 1, total, upto)
    before = np.where(j == 0, 0, np.floor(total * cumulative[plan[row_deal], np.maximum(j - 1, 0)] + 1e-6))
    due_cents = upto - before.astype(np.int64)
    closed_day = np.floor(deals.closed[deal])
    first_due = closed_day + np.array(FIRST_DUE_DAYS)[choice(rng, (0.15, 0.30, 0.35, 0.20), len(won))][row_deal]
    interval = np.array(INTERVAL_MONTHS)[choice(rng, (0.3, 0.5, 0.2), len(won))][row_deal]
    due_day = add_months(first_due, j * interval).astype(np.float64)

    # what came in: on time (up to ten days early), late, partly, or not at all; customers who have
    # left stop paying
    acc = deals.account[deal]
    band = np.where(accts.health[acc] > 0.5, 0, np.where(accts.health[acc] > -0.7, 1, 2))
    how = choice_by_group(rng, band, BEHAVIOUR)
    gone = window.churned[acc] & (due_day > window.last[acc])
    how = np.where(gone & (rng.random(len(how)) < 0.7), UNPAID, how)
    m = len(how)
    paid_day = np.select([how == ON_TIME, how == LATE, how == PARTIAL],
                         [due_day - rng.uniform(0.0, 10.0, m), due_day + 1.0 + rng.exponential(25.0, m),
                          due_day + rng.uniform(-5.0, 40.0, m)], np.nan)
    paid_at = _banking_hours(rng, paid_day)
    paid_at = np.maximum(paid_at, deals.closed[deal] + 1.0 / 24.0)  # after the signature
    paid_cents = np.where(how == PARTIAL, np.round(due_cents * rng.uniform(0.3, 0.9, m) / 100.0) * 100, due_cents)
    paid_cents = np.where(how == PARTIAL, np.clip(paid_cents, 1, due_cents - 1), paid_cents).astype(np.int64)
    # a few deposits (定金) come in before the deal is signed
    created = deals.created[deal]
    room = deals.closed[deal] - created
    deposit = (j == 0) & (count[row_deal] >= 2) & (rng.random(m) < DEPOSIT_SHARE) & (room > 2.0)
    deposit = ensure(deposit, (j == 0) & (count[row_deal] >= 2) & (room > 2.0))
    early = deals.closed[deal] - rng.uniform(1.0, 1.0 + np.minimum(room - 1.0, 13.0), m)
    paid_at = np.where(deposit, np.maximum(early, created + 0.05), paid_at)
    paid_cents = np.where(deposit, due_cents, paid_cents)
    unpaid = (how == UNPAID) & ~deposit
    # overdue money in every aging bucket on `today`, even in a small dataset
    for lo, hi in AGING:
        age = today - due_day
        in_bucket = (age >= lo) & (age <= hi) & ~deposit
        outstanding = in_bucket & (unpaid | (paid_at > now) | (how == PARTIAL))
        if not outstanding.any() and in_bucket.any():
            unpaid[np.flatnonzero(in_bucket)[0]] = True
    paid = ~unpaid & (paid_at <= now)

    # receipts without a plan: some renewals invoiced outside the CRM, and one-off service fees
    renewal = np.flatnonzero((contracts.deal < 0) & (contracts.start <= today)
                             & (rng.random(len(contracts.deal)) < RENEWAL_RECEIPT_SHARE))
    r_at = _banking_hours(rng, contracts.start[renewal] + rng.uniform(0.0, 40.0, len(renewal)))
    r_cents = np.round(contracts.mrr[renewal] * 1200.0).astype(np.int64)
    with_contract = np.flatnonzero(contracts.deal >= 0)
    fee = ensure(rng.random(len(with_contract)) < SERVICE_FEE_SHARE, np.ones(len(with_contract), bool))
    fee_rows = with_contract[fee]
    fee_at = _banking_hours(rng, deals.closed[contracts.deal[fee_rows]] + rng.uniform(10.0, 120.0, len(fee_rows)))
    fee_cents = np.round(np.array(SERVICE_FEES)[choice(rng, (0.3, 0.3, 0.2, 0.12, 0.08), len(fee_rows))] * 100)
    extra_contract = np.concatenate([renewal, fee_rows])
    extra_at = np.concatenate([r_at, fee_at])
    extra_cents = np.concatenate([r_cents, fee_cents.astype(np.int64)])
    in_time = extra_at <= now
    extra_contract, extra_at, extra_cents = extra_contract[in_time], extra_at[in_time], extra_cents[in_time]

    # one table: installments, then receipts; payment numbers follow the first date of each row
    contract_of_deal = np.full(len(deals.created), -1, np.int64)
    started = contracts.deal >= 0
    contract_of_deal[contracts.deal[started]] = np.flatnonzero(started)
    n_plan, n_extra = len(deal), len(extra_contract)
    account = np.concatenate([acc, contracts.account[extra_contract]])
    row_deal_all = np.concatenate([deal, np.full(n_extra, -1)])
    contract = np.concatenate([contract_of_deal[deal], extra_contract])
    due = np.concatenate([due_day, np.full(n_extra, np.nan)])
    due_amount = np.concatenate([due_cents, np.zeros(n_extra, np.int64)])
    at = np.concatenate([np.where(paid, paid_at, np.nan), extra_at])
    amount_paid = np.concatenate([np.where(paid, paid_cents, 0), extra_cents])
    rep = np.concatenate([deals.owner[deal], accts.owner[contracts.account[extra_contract]]])
    planned = np.arange(n_plan + n_extra) < n_plan
    order = np.lexsort((np.arange(len(due)), np.where(planned, due, np.floor(at))))
    return pa.table({
        "payment_id": make_ids("P", len(order), 7), "account_id": take(accts.ids, account[order]),
        "deal_id": take(deals.ids, row_deal_all[order]), "contract_id": take(contracts.ids(), contract[order]),
        "due_date": dates(due[order], planned[order]),
        "amount_due": decimals(due_amount[order] / 100.0, valid=planned[order]),
        "paid_at": timestamps(at[order], ~np.isnan(at[order])),
        "amount_paid": decimals(amount_paid[order] / 100.0, valid=~np.isnan(at[order])),
        "rep_id": take(people.ids, rep[order]),
    })


def _banking_hours(rng: np.random.Generator, day: Array) -> Array:
    """A moment in banking hours (09:00–18:00, weekdays) on a day, or the next working day."""
    day = np.asarray(day, np.float64)
    return from_work(to_work(np.floor(day)) + rng.random(len(day)) * 9.0)
