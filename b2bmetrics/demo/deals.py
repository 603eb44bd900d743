"""The demo's deals, their stage history and split credits, and the reps' quotas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from b2bmetrics.config import DEFAULT_STAGES
from b2bmetrics.demo.base import (
    SHARE,
    WORK_PER_DAY,
    Array,
    Clock,
    choice,
    dates,
    decimals,
    ensure,
    from_work,
    labels,
    make_ids,
    quarter,
    repeat_index,
    round_money,
    seasonal,
    take,
    timestamps,
    to_work,
)
from b2bmetrics.demo.people import REGIONS, Accounts, People, Pool

STAGES: tuple[str, ...] = DEFAULT_STAGES
LOST = "lost"
STAGE_NAMES: tuple[str, ...] = (*STAGES, LOST)  # stage codes: index into this tuple
WON_CODE, LOST_CODE = len(STAGES) - 1, len(STAGES)

# ---- where deals come from ---------------------------------------------------------------------
SOURCES = ("官网", "展会", "电话营销", "搜索推广", "转介绍", "合作伙伴", "老客户")
SRC_WEB, SRC_EVENT, SRC_PHONE, SRC_SEARCH, SRC_REFERRAL, SRC_PARTNER, SRC_CUSTOMER = range(7)
SOURCE_WEIGHTS_NEW = (0.30, 0.16, 0.22, 0.17, 0.09, 0.06, 0.0)
# how each source converts at every stage, relative to the base rates
SOURCE_LIFT = (0.97, 0.95, 0.90, 0.93, 1.10, 1.06, 1.08)

# ---- pipeline behaviour -------------------------------------------------------------------------
# chance of moving from stage i to stage i+1 (lead -> qualified ... negotiation -> won)
CONVERSION = (0.64, 0.74, 0.78, 0.72, 0.66, 0.70)
# the history of a deal in fixed slots; a deal uses a subset of them, in this order
SLOT_STAGE = np.array([0, 1, 2, 3, 4, 3, 4, 5, 4, 5, -1])  # -1: the final slot, won or lost
SLOT_OF_STAGE = (0, 1, 2, 3, 4, 7)  # where stages lead..negotiation sit
RESCOPE_SLOTS, BACK_SLOTS, FINAL_SLOT = (5, 6), (8, 9), 10
# median calendar days spent in each slot before the next entry, for a mid-size deal
SLOT_DAYS = np.array([4.0, 7.0, 10.0, 12.0, 14.0, 8.0, 7.0, 15.0, 6.0, 8.0])
SEGMENT_PACE = np.array([1.6, 1.0, 0.6])  # large deals take longer
SKIP_CHANCE = np.array([  # per segment (rows), per stage lead..negotiation (columns)
    [0.0, 0.02, 0.02, 0.04, 0.01, 0.02],
    [0.0, 0.03, 0.08, 0.06, 0.02, 0.04],
    [0.0, 0.04, 0.22, 0.08, 0.03, 0.08],
])
RESCOPE_CHANCE, BACK_CHANCE, STALL_CHANCE = 0.03, 0.06, 0.03
AMOUNT_MEDIAN = np.array([480_000.0, 120_000.0, 28_000.0])
AMOUNT_SIGMA = np.array([0.70, 0.60, 0.55])
DEALS_PER_ACCOUNT = 5.0
REFERRAL_SHARE = 0.08
SPLIT_SHARE = 0.05


# ---- deals and their stage history --------------------------------------------------------------
@dataclass
class Deals:
    account: Array  # account index (always known internally)
    account_known: Array  # False: the export lost the account
    created: Array  # calendar days
    created_known: Array
    owner: Array  # person index or -1
    referrer: Array  # person index or -1
    source: Array  # code or -1
    amount: Array
    amount_known: Array
    stage: Array  # current stage code
    status: Array  # 0 open, 1 won, 2 lost
    closed: Array  # calendar days, nan when open
    final_at: Array  # when the deal is decided, even after `now` (its planned close); nan: never (stalled)
    hist_deal: Array  # history rows: deal index, stage code, calendar days
    hist_stage: Array
    hist_at: Array
    ids: pa.Array

    def table(self, people: People, accts: Accounts) -> pa.Table:
        return pa.table({
            "deal_id": self.ids, "stage": labels(STAGE_NAMES, self.stage),
            "account_id": take(accts.ids, self.account, self.account_known),
            "owner_rep_id": take(people.ids, self.owner), "amount": decimals(self.amount, valid=self.amount_known),
            "created_at": timestamps(self.created, self.created_known),
            "closed_at": timestamps(self.closed, ~np.isnan(self.closed)),
            "status": labels(("open", "won", "lost"), self.status),
            "referrer_id": take(people.ids, self.referrer), "source": labels(SOURCES, self.source),
        })

    def history_table(self) -> pa.Table:
        return pa.table({"deal_id": take(self.ids, self.hist_deal), "stage": labels(STAGE_NAMES, self.hist_stage),
                         "entered_at": timestamps(self.hist_at)})


def make_deals(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts) -> Deals:
    n_acc = len(accts.created)
    now_w = to_work(np.array([clock.now]))[0]
    # older and larger accounts have more deals; about DEALS_PER_ACCOUNT per account overall
    age = (clock.now - accts.created) / (clock.now - clock.start)
    base = np.array([1.8, 1.0, 0.7])[accts.segment] * (0.3 + 0.7 * age)
    extra = rng.poisson(base * (DEALS_PER_ACCOUNT - 1.0) * n_acc / base.sum())
    per_account = 1 + extra
    acc = repeat_index(per_account)
    first = np.ones(len(acc), dtype=bool)
    first[1:] = acc[1:] != acc[:-1]
    acc_w = to_work(accts.created)[acc]
    span_w = now_w - 1.0 - acc_w
    later = to_work(seasonal(rng, from_work(acc_w + rng.random(len(acc)) * span_w),
                               from_work(acc_w + rng.random(len(acc)) * span_w)))
    created_w = np.where(first, acc_w + rng.exponential(1.5 * WORK_PER_DAY, len(acc)), later)
    created_w = np.minimum(created_w, now_w - 0.5)
    order = np.argsort(created_w, kind="stable")  # deal numbers follow creation
    acc, first, created_w = acc[order], first[order], created_w[order]
    n = len(acc)
    seg, region = accts.segment[acc], accts.region[acc]
    created = from_work(created_w)

    # owner: the account's owner, sometimes a colleague of the region (or nobody, rarely)
    sales_pool = people.pool(people.role == 0, people.region, len(REGIONS))
    owner = accts.owner[acc]
    other = sales_pool.pick(rng, created, region)
    owner = np.where((owner < 0) | (rng.random(n) < 0.10), other, owner)
    owner = np.where(rng.random(n) < 0.003, -1, owner)

    # source and referrer (全民经销: anyone in reps may bring a deal)
    source = np.where(first, choice(rng, SOURCE_WEIGHTS_NEW, n),
                      np.where(rng.random(n) < 0.25, SRC_CUSTOMER, choice(rng, SOURCE_WEIGHTS_NEW, n)))
    referred = rng.random(n) < REFERRAL_SHARE
    kind = choice(rng, (0.45, 0.25, 0.25, 0.05), n)  # employee, partner, another rep, the owner
    employee_pool = people.pool(people.role == 1)
    partner_pool = people.pool(people.role == 2, people.region, len(REGIONS))
    referrer = np.select(
        [kind == 0, kind == 1, kind == 2],
        [employee_pool.pick(rng, created), partner_pool.pick(rng, created, region),
         other_rep(rng, sales_pool, people, owner, created, region)],
        owner)
    referrer = np.where(referred & ((owner >= 0) | (kind < 3)), referrer, -1)
    source = np.where(referrer >= 0, np.where(people.role[np.maximum(referrer, 0)] == 2, SRC_PARTNER, SRC_REFERRAL),
                      source)
    source = np.where((referrer < 0) & (rng.random(n) < 0.03), -1, source)  # a few sources left empty

    # how far each deal gets: consecutive successes through the stages
    lift = np.array(SOURCE_LIFT)[np.maximum(source, 0)] * np.exp(people.skill[np.maximum(owner, 0)])
    p = np.clip(np.array(CONVERSION)[None, :] * lift[:, None], 0.02, 0.95)
    reach = np.cumprod(rng.random((n, len(CONVERSION))) < p, axis=1).sum(axis=1)  # 0..6, 6 = won
    stalled = (rng.random(n) < STALL_CHANCE) & (reach < WON_CODE)  # never decided: open for good

    # which history slots each deal uses
    n_slots = len(SLOT_STAGE)
    used = np.zeros((n, n_slots), dtype=bool)
    old = created < clock.now - 250  # old enough to be finished: where rare features are guaranteed
    for stage, slot in enumerate(SLOT_OF_STAGE):
        skip = (rng.random(n) < SKIP_CHANCE[seg, stage]) & (stage < reach)
        if stage == 2:
            skip = ensure(skip, old & (reach == WON_CODE))
        used[:, slot] = (stage <= reach) & ~skip
    rescope = (rng.random(n) < RESCOPE_CHANCE) & (reach >= 4) & used[:, SLOT_OF_STAGE[4]]
    rescope = ensure(rescope, old & (reach == WON_CODE) & used[:, SLOT_OF_STAGE[4]])
    back = (rng.random(n) < BACK_CHANCE) & (reach >= 5) & used[:, SLOT_OF_STAGE[5]]
    back = ensure(back, old & (reach == WON_CODE) & used[:, SLOT_OF_STAGE[5]])
    for slot in RESCOPE_SLOTS:
        used[:, slot] = rescope
    for slot in BACK_SLOTS:
        used[:, slot] = back
    used[:, FINAL_SLOT] = ~stalled
    slot_stage = np.broadcast_to(SLOT_STAGE, (n, n_slots)).copy()
    slot_stage[:, FINAL_SLOT] = np.where(reach == WON_CODE, WON_CODE, LOST_CODE)

    # time in each slot (working hours), then entry times as running sums over the used slots
    pace = SEGMENT_PACE[seg][:, None] * SLOT_DAYS[None, :] * WORK_PER_DAY
    dur = pace * rng.lognormal(0.0, 0.75, (n, n_slots - 1))
    dur = np.where(used[:, :-1], np.maximum(dur, 0.5), 0.0)
    entered_w = created_w[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(dur, axis=1)], axis=1)
    del dur
    entered = from_work(entered_w)
    del entered_w
    visible = used & (entered <= clock.now)
    last_slot = n_slots - 1 - np.argmax(visible[:, ::-1], axis=1)
    stage = slot_stage[np.arange(n), last_slot]
    closed_flag = visible[:, FINAL_SLOT]
    status = np.where(closed_flag, np.where(reach == WON_CODE, 1, 2), 0)
    closed = np.where(closed_flag, entered[:, FINAL_SLOT], np.nan)
    final_at = np.where(stalled, np.nan, entered[:, FINAL_SLOT])

    rows, cols = np.nonzero(visible)  # row-major: per deal, in slot (= time) order
    hist_deal, hist_stage, hist_at = rows, slot_stage[rows, cols], entered[rows, cols]
    del visible, entered, used, slot_stage

    # amounts: annual contract value by segment
    amount = AMOUNT_MEDIAN[seg] * rng.lognormal(0.0, AMOUNT_SIGMA[seg])
    amount = amount * np.where(source == SRC_CUSTOMER, 0.2, np.where(first, 1.0, 0.3))  # add-ons are smaller
    amount = round_money(amount)
    no_amount_p = np.where(status == 0, np.array([0.25, 0.15, 0.06, 0.0, 0.0, 0.0, 0.0, 0.0])[stage], 0.0)
    amount_known = rng.random(n) >= no_amount_p

    # early exports have gaps: a few deals without their account or creation date
    early = created < clock.start + 180
    account_known = ~ensure(early & (rng.random(n) < 0.03), early)
    created_known = ~ensure(early & (rng.random(n) < 0.02), early & account_known)

    # make sure the people who refer are visible in won deals, even in a small dataset
    won = status == 1
    for role in (1, 2):  # employees, partners
        have = won & (referrer >= 0) & (people.role[np.maximum(referrer, 0)] == role)
        free = np.flatnonzero(won & (referrer < 0) & (owner >= 0))
        if not have.any() and len(free):
            i = free[0]
            pool = employee_pool if role == 1 else partner_pool
            referrer[i] = pool.pick(rng, created[i : i + 1], region[i : i + 1] if role == 2 else None)[0]
            source[i] = SRC_REFERRAL if role == 1 else SRC_PARTNER

    return Deals(account=acc, account_known=account_known, created=created, created_known=created_known,
                  owner=owner, referrer=referrer, source=source, amount=amount, amount_known=amount_known,
                  stage=stage, status=status, closed=closed, final_at=final_at, hist_deal=hist_deal, hist_stage=hist_stage,
                  hist_at=hist_at, ids=make_ids("D", n, 7))


def other_rep(rng: np.random.Generator, pool: Pool, people: People, owner: Array, when: Array,
               region: Array) -> Array:
    """A sales rep of the region who is not `owner` (anyone else in sales when the region has one rep)."""
    pick = pool.pick(rng, when, region)
    sales = np.flatnonzero(people.role == 0)
    clash = pick == owner
    if clash.any():
        pos = np.searchsorted(sales, np.maximum(owner[clash], 0))
        step = 1 + rng.integers(0, len(sales) - 1, int(clash.sum()))
        pick[clash] = sales[(pos + step) % len(sales)]
    return pick


def make_splits(rng: np.random.Generator, people: People, deals: Deals) -> pa.Table:
    won = (deals.status == 1) & (deals.owner >= 0)
    split = won & (rng.random(len(won)) < SPLIT_SHARE)
    split = ensure(split, won)
    idx = np.flatnonzero(split)
    first_share = np.array([0.5, 0.6, 0.7])[choice(rng, (0.35, 0.45, 0.20), len(idx))]
    sales_pool = people.pool(people.role == 0, people.region, len(REGIONS))
    partner = other_rep(rng, sales_pool, people, deals.owner[idx], deals.created[idx],
                         people.region[deals.owner[idx]])
    deal = np.repeat(idx, 2)
    rep = np.column_stack([deals.owner[idx], partner]).ravel()
    share = np.column_stack([first_share, 1.0 - first_share]).ravel()
    return pa.table({"deal_id": take(deals.ids, deal), "rep_id": take(people.ids, rep),
                     "share": decimals(share, SHARE, places=10)})


# ---- quotas -------------------------------------------------------------------------------------
@dataclass
class Quotas:
    rep: Array  # person index
    start: Array  # calendar day: the first day of the quarter
    amount: Array

    def table(self, people: People) -> pa.Table:
        return pa.table({"rep_id": take(people.ids, self.rep), "period_start": dates(self.start),
                         "quota_amount": decimals(self.amount)})


def make_quotas(rng: np.random.Generator, clock: Clock, people: People, deals: Deals) -> Quotas:
    """A quarterly quota per sales rep: the booking trend, scaled to the rep's book, ramped for new hires."""
    sales = np.flatnonzero(people.role == 0)
    quarters = np.arange(quarter(np.array([clock.start]))[0], quarter(np.array([clock.today]))[0] + 1)
    nq = len(quarters)
    rep = np.repeat(sales, nq)
    q = np.tile(quarters, len(sales))
    hired_q = quarter(people.hire)[rep]
    active = q >= hired_q
    rep, q, hired_q = rep[active], q[active], hired_q[active]
    qi = q - quarters[0]
    ramp = np.where(q == hired_q, 0.25, np.where(q == hired_q + 1, 0.6, 1.0))  # new hires ramp up
    period_start = (q * 3).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)

    # what a fully ramped rep books per quarter, as a log-linear trend (the plan extrapolates it)
    won = np.flatnonzero((deals.status == 1) & deals.amount_known)
    won_qi = quarter(np.floor(deals.closed[won])) - quarters[0]
    booked = np.bincount(won_qi, weights=deals.amount[won], minlength=nq)
    wins = np.bincount(won_qi, minlength=nq)
    capacity = np.bincount(qi, weights=ramp, minlength=nq)
    rate = booked / np.maximum(capacity, 1.0)
    # fitted on the whole quarters only (the first and the current one are partly outside the data),
    # curved in log space: the business grows fast at first, then steadier
    whole = (np.arange(nq) > 0) & (np.arange(nq) < nq - 1)
    fit = np.flatnonzero((wins >= 3) & (rate > 0) & whole)
    if len(fit) >= 2:
        coef = np.polyfit(fit, np.log(rate[fit]), 2 if len(fit) >= 5 else 1, w=np.sqrt(wins[fit]))
        trend = np.exp(np.polyval(coef, np.clip(np.arange(nq), fit[0], fit[-1] + 1)))
    else:
        trend = np.full(nq, max(booked.sum() / max(capacity.sum(), 1.0), 100_000.0))

    # a quota follows the rep's book of business (what the rep booked against what an average rep
    # in the same quarters would have), seasoned reps carry a little more, and plans are rounded
    n_people = len(people.hire)
    owned = won[deals.owner[won] >= 0]
    mine = np.bincount(deals.owner[owned], weights=deals.amount[owned], minlength=n_people)
    average = np.bincount(rep, weights=ramp * trend[qi], minlength=n_people)
    book = 0.3 + 0.7 * np.clip(mine / np.maximum(average, 1.0), 0.2, 4.0)
    tenure_years = (period_start - people.hire[rep]) / 365.0
    personal = rng.lognormal(0.0, 0.08, n_people)[rep]
    raw = trend[qi] * 1.05 * ramp * book[rep] * personal * np.clip(0.9 + 0.08 * tenure_years, 0.9, 1.15)
    quota = np.maximum(np.round(raw / 10_000.0) * 10_000.0, 30_000.0)
    return Quotas(rep, period_start, quota)
