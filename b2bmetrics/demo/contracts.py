"""The demo's contracts (every won deal opens one; renewals, expansions, contractions, churn) and
the span each account is a customer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import (
    Array,
    Clock,
    add_months,
    choice_by_group,
    dates,
    decimals,
    ensure,
    make_ids,
    sigmoid,
    take,
)
from b2bmetrics.demo.deals import Deals
from b2bmetrics.demo.people import Accounts


# ---- contracts ----------------------------------------------------------------------------------
@dataclass
class Contracts:
    account: Array
    start: Array  # calendar day
    end: Array  # calendar day, nan when ongoing
    mrr: Array
    deal: Array  # the won deal that opened the contract, -1 for a renewal

    @property
    def order(self) -> Array:
        return np.lexsort((self.account, self.start))  # contract numbers follow start dates

    def ids(self) -> pa.Array:
        """The contract id of every contract, in this object's row order."""
        order = self.order
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return make_ids("C", len(order), 7).take(pa.array(rank))

    def table(self, accts: Accounts) -> pa.Table:
        order = self.order
        return pa.table({
            "contract_id": make_ids("C", len(order), 7), "account_id": take(accts.ids, self.account[order]),
            "start_date": dates(self.start[order]), "end_date": dates(self.end[order], ~np.isnan(self.end[order])),
            "mrr": decimals(self.mrr[order]),
        })


def make_contracts(rng: np.random.Generator, clock: Clock, accts: Accounts, deals: Deals) -> Contracts:
    today = clock.today
    won = np.flatnonzero((deals.status == 1) & deals.account_known)
    acc = deals.account[won]
    seg, health = accts.segment[acc], accts.health[acc]
    start = np.floor(deals.closed[won])
    mrr = np.round(deals.amount[won] / 12.0, 2)
    m = len(won)
    # 0: monthly subscription (no end date), 1: one-year term, 2: two-year term
    term_kind = choice_by_group(rng, seg, np.array([[0.20, 0.55, 0.25], [0.35, 0.60, 0.05], [0.50, 0.50, 0.0]]))
    # a few customers cancel within 90 days of the win (commission clawbacks); add-ons less often
    by_close = np.lexsort((start, acc))
    first_chain = np.zeros(m, dtype=bool)
    first_chain[by_close[np.diff(acc[by_close], prepend=-1) != 0]] = True
    only_win = np.bincount(acc, minlength=len(accts.created))[acc] == 1
    early_end = start + rng.uniform(20, 89, m)
    early_p = sigmoid(-3.6 - 0.8 * health) * np.where(first_chain, 1.0, 0.3)
    early = (rng.random(m) < early_p) & (early_end <= today)
    early = ensure(early, only_win & (start + 90 <= today))

    out_acc, out_start, out_end, out_mrr = [acc[early]], [start[early]], [np.floor(early_end[early])], [mrr[early]]
    out_deal = [won[early]]
    # monthly subscriptions: cancelled at some point, or still running
    sub = ~early & (term_kind == 0)
    hazard = sigmoid(-4.3 - 0.9 * health[sub] + np.array([-0.5, 0.0, 0.4])[seg[sub]])  # per month
    cancel = np.floor(start[sub] + np.maximum(rng.exponential(1.0 / hazard) * 30.44, 7.0))
    out_acc.append(acc[sub])
    out_start.append(start[sub])
    out_end.append(np.where(cancel <= today, cancel, np.nan))
    out_mrr.append(mrr[sub])
    out_deal.append(won[sub])
    # terms: renewed flat, up or down, or not at all, until a term runs past today
    term = ~early & (term_kind > 0)
    c_acc, c_start, c_mrr, c_deal = acc[term], start[term], mrr[term], won[term]
    c_months, c_health, c_seg = term_kind[term] * 12, health[term], seg[term]
    while len(c_acc):
        end = add_months(c_start, c_months).astype(np.float64)
        out_acc.append(c_acc)
        out_start.append(c_start)
        out_end.append(np.where(end <= today, end, np.nan))  # the running term: ongoing, no end yet
        out_mrr.append(c_mrr)
        out_deal.append(c_deal)
        renew = (end <= today) & (rng.random(len(c_acc)) < sigmoid(1.9 + 1.1 * c_health
                                                                     + np.array([0.4, 0.0, -0.3])[c_seg]))
        u = rng.random(len(c_acc))
        p_up = np.clip(0.12 + 0.06 * c_health, 0.03, 0.4)
        p_down = np.clip(0.16 - 0.06 * c_health, 0.04, 0.4)
        change = np.where(u < p_up, rng.uniform(1.1, 1.4, len(u)),
                          np.where(u < p_up + p_down, rng.uniform(0.6, 0.9, len(u)),
                                   np.where(rng.random(len(u)) < 0.5, 1.0, 1.05)))
        keep = np.flatnonzero(renew)
        c_acc, c_start, c_mrr = c_acc[keep], end[keep], np.round(c_mrr[keep] * change[keep], 2)
        c_months, c_health, c_seg = c_months[keep], c_health[keep], c_seg[keep]
        c_deal = np.full(len(keep), -1, np.int64)  # renewals come from no deal
    return Contracts(np.concatenate(out_acc), np.concatenate(out_start), np.concatenate(out_end),
                      np.concatenate(out_mrr), np.concatenate(out_deal))


@dataclass
class Windows:
    """Per account: when it was a customer (nan when never) and whether it has churned."""

    first: Array  # calendar day of the first contract
    last: Array  # churn day, or now
    churned: Array


def customer_windows(clock: Clock, accts: Accounts, contracts: Contracts) -> Windows:
    n = len(accts.created)
    first = np.full(n, np.inf)
    np.minimum.at(first, contracts.account, contracts.start)
    end = np.where(np.isnan(contracts.end), np.inf, contracts.end)
    last = np.full(n, -np.inf)
    np.maximum.at(last, contracts.account, end)
    customer = np.isfinite(first)
    churned = customer & (last <= clock.today)
    first = np.where(customer, first + 0.375, np.nan)  # from 09:00 on the first day
    last = np.where(churned, last, np.where(customer, clock.now, np.nan))
    return Windows(first, last, churned)
