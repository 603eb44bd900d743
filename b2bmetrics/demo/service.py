"""The demo's service data: tickets, surveys (CSAT, NPS, CES) and the team's activities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import (
    Array,
    Clock,
    add_months,
    choice,
    ensure,
    labels,
    make_ids,
    numbers,
    repeat_index,
    take,
    timestamps,
    work_uniform,
)
from b2bmetrics.demo.contracts import Windows
from b2bmetrics.demo.deals import Deals
from b2bmetrics.demo.people import SUCCESS_DEPT, SUPPORT_DEPTS, Accounts, People

TICKET_CHANNELS = ("phone", "online", "wechat", "offline")
TICKET_CHANNEL_WEIGHTS = (0.28, 0.30, 0.32, 0.10)
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_WEIGHTS = (0.20, 0.55, 0.20, 0.05)
ACTIVITY_KINDS = ("visit", "call", "email", "message", "training", "meeting")
DEAL_ACTIVITY_WEIGHTS = (0.14, 0.32, 0.18, 0.20, 0.02, 0.14)
SUCCESS_ACTIVITY_WEIGHTS = (0.10, 0.25, 0.05, 0.20, 0.20, 0.20)
OFFLINE_SHARE = (1.0, 0.0, 0.0, 0.0, 0.35, 0.45)  # per activity kind
COMMENTS: tuple[tuple[str, ...], ...] = (
    ("响应太慢，等了两天才有人回复", "系统经常卡顿，影响使用", "问题反复出现，一直没有彻底解决", "续费价格涨得太多",
     "销售承诺的功能没有兑现", "对接人频繁更换，沟通成本高", "报表导出经常出错"),
    ("功能基本满足需求，希望移动端更完善", "价格略高，希望有更多优惠", "培训资料可以再细一些", "还行，部分功能有待优化",
     "希望能和企业微信打通"),
    ("服务响应很快，问题当天就解决了", "产品好用，销售跟进很及时", "实施顾问很专业，上线很顺利",
     "报表功能很实用，管理层很满意", "客服态度好，耐心解答", "整体满意，会推荐给同行", "数据看板帮我们省了很多时间"),
)


# ---- service: tickets and surveys ---------------------------------------------------------------
@dataclass
class Tickets:
    account: Array
    opened: Array
    response: Array  # nan: never answered
    resolved: Array
    assignee: Array
    ids: pa.Array
    arrow: pa.Table


def make_tickets(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts,
             window: Windows) -> Tickets:
    customer = np.flatnonzero(~np.isnan(window.first))
    months = (window.last[customer] - window.first[customer]) / 30.44
    rate = np.array([2.2, 0.9, 0.35])[accts.segment[customer]] * np.exp(-0.35 * accts.health[customer])
    count = rng.poisson(np.maximum(rate * months, 0.0))
    acc = customer[repeat_index(count)]
    opened = work_uniform(rng, window.first[acc], window.last[acc], share=0.75)
    order = np.argsort(opened, kind="stable")
    acc, opened = acc[order], opened[order]
    n = len(acc)
    priority = choice(rng, PRIORITY_WEIGHTS, n)
    channel = choice(rng, TICKET_CHANNEL_WEIGHTS, n)
    median_h = np.array([5.0, 2.5, 1.2, 0.4])[priority] * np.exp(-0.15 * accts.health[acc])
    response = opened + np.maximum(median_h * rng.lognormal(0.0, 1.25, n), 0.05) / 24.0
    unanswered = rng.random(n) < np.array([0.05, 0.03, 0.015, 0.005])[priority]
    unanswered = ensure(unanswered, opened < clock.now - 30)
    answered = ~unanswered & (response <= clock.now)
    resolved = response + rng.lognormal(np.log(20.0), 1.3, n) / 24.0
    is_resolved = answered & (resolved <= clock.now)
    support = people.pool(np.isin(people.dept, SUPPORT_DEPTS))
    who = rng.random(n)
    assignee = np.where(who < 0.85, support.pick(rng, opened), np.where(who < 0.93, accts.owner[acc], -1))
    ids = make_ids("T", n, 7)
    arrow = pa.table({
        "ticket_id": ids, "account_id": take(accts.ids, acc), "opened_at": timestamps(opened),
        "first_response_at": timestamps(response, answered), "resolved_at": timestamps(resolved, is_resolved),
        "channel": labels(TICKET_CHANNELS, channel), "priority": labels(PRIORITIES, priority),
        "assignee_id": take(people.ids, assignee),
    })
    return Tickets(acc, opened, np.where(answered, response, np.nan), np.where(is_resolved, resolved, np.nan),
                    assignee, ids, arrow)


def make_surveys(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts, window: Windows,
             tickets: Tickets) -> pa.Table:
    kinds = ("csat", "nps", "ces")
    parts: list[dict[str, Array]] = []

    # after a resolved ticket: CSAT (35 %) or CES (12 %)
    resolved = np.flatnonzero(~np.isnan(tickets.resolved))
    u = rng.random(len(resolved))
    for code, lo_p, hi_p in ((0, 0.0, 0.35), (2, 0.35, 0.47)):
        t = resolved[(u >= lo_p) & (u < hi_p)]
        at = tickets.resolved[t] + rng.exponential(8.0, len(t)) / 24.0
        keep = at <= clock.now
        t, at = t[keep], at[keep]
        slow = (tickets.response[t] - tickets.opened[t]) * 24.0 > 24.0
        parts.append({"account": tickets.account[t], "at": at, "kind": np.full(len(t), code),
                      "slow": slow.astype(np.float64), "rep": tickets.assignee[t], "ticket": t})

    # relationship surveys: each half-year a customer may be asked for NPS (55 %) or CSAT (20 %)
    customer = np.flatnonzero(~np.isnan(window.first))
    h0 = add_months(np.array([clock.start]), np.array([0]))[0]
    halves = add_months(np.full(7, h0), np.arange(7) * 6).astype(np.float64)
    acc = np.repeat(customer, len(halves) - 1)
    lo = np.maximum(np.tile(halves[:-1], len(customer)), window.first[acc])
    hi = np.minimum(np.tile(halves[1:], len(customer)), window.last[acc])
    ok = hi - lo >= 7
    acc, lo, hi = acc[ok], lo[ok], hi[ok]
    u = rng.random(len(acc))
    for code, lo_p, hi_p in ((1, 0.0, 0.55), (0, 0.55, 0.75)):
        sel = (u >= lo_p) & (u < hi_p)
        parts.append({"account": acc[sel], "at": work_uniform(rng, lo[sel], hi[sel], share=0.8),
                      "kind": np.full(int(sel.sum()), code), "slow": np.zeros(int(sel.sum())),
                      "rep": accts.owner[acc[sel]], "ticket": np.full(int(sel.sum()), -1)})

    acc = np.concatenate([p["account"] for p in parts])
    at = np.concatenate([p["at"] for p in parts])
    kind = np.concatenate([p["kind"] for p in parts]).astype(np.int64)
    slow = np.concatenate([p["slow"] for p in parts])
    rep = np.concatenate([p["rep"] for p in parts]).astype(np.int64)
    ticket = np.concatenate([p["ticket"] for p in parts]).astype(np.int64)
    order = np.argsort(at, kind="stable")
    acc, at, kind, slow, rep, ticket = acc[order], at[order], kind[order], slow[order], rep[order], ticket[order]
    n = len(acc)

    h = accts.health[acc]
    noise = rng.normal(0.0, 1.0, n)
    # customers near churn answer worse than their health alone says
    near_churn = window.churned[acc] & (window.last[acc] - at < 120)
    mood = h - 0.8 * near_churn
    score = np.select(
        [kind == 0, kind == 1],
        [np.clip(np.round(4.3 + 0.45 * mood - 0.6 * slow + 0.75 * noise), 1, 5),
         np.clip(np.round(8.3 + 1.25 * mood + 1.35 * noise), 0, 10)],
        np.clip(np.round(5.4 + 0.6 * mood - 0.8 * slow + 1.0 * noise), 1, 7))
    # sentiment for comments: 0 negative, 1 neutral, 2 positive, by the score's place in its scale
    rel = np.select([kind == 0, kind == 1], [(score - 1) / 4, score / 10], (score - 1) / 6)
    sentiment = np.where(rel >= 0.75, 2, np.where(rel >= 0.5, 1, 0))
    commented = rng.random(n) < np.where(sentiment == 1, 0.10, 0.22)
    flat = np.array([c for group in COMMENTS for c in group])
    offsets = np.cumsum([0] + [len(g) for g in COMMENTS])[:-1]
    lengths = np.array([len(g) for g in COMMENTS])
    comment = offsets[sentiment] + (rng.random(n) * lengths[sentiment]).astype(np.int64)
    return pa.table({
        "response_id": make_ids("S", n, 7), "account_id": take(accts.ids, acc), "submitted_at": timestamps(at),
        "kind": labels(kinds, kind), "score": numbers(score), "rep_id": take(people.ids, rep),
        "ticket_id": take(tickets.ids, ticket), "comment": take(pa.array(flat, pa.string()), comment, commented),
    })


# ---- activities ---------------------------------------------------------------------------------
def make_activities(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts, deals: Deals,
                window: Windows) -> pa.Table:
    # selling: calls, visits and meetings around each deal, more the further it got
    entries = np.bincount(deals.hist_deal, minlength=len(deals.created))
    per_deal = rng.poisson(0.5 + 1.0 * entries)
    d = repeat_index(per_deal)
    until = np.where(np.isnan(deals.closed), clock.now, deals.closed)
    sell_at = work_uniform(rng, deals.created[d], until[d], share=0.92)
    sell_kind = choice(rng, DEAL_ACTIVITY_WEIGHTS, len(d))
    sell_acc, sell_rep = deals.account[d], deals.owner[d]
    del d

    # customer success: trainings, check-ins and reviews while an account is a customer; healthy
    # accounts hear from their team more, and contact fades in the months before a churn
    customer = np.flatnonzero(~np.isnan(window.first))
    months = (window.last[customer] - window.first[customer]) / 30.44
    rate = np.array([3.0, 1.4, 0.7])[accts.segment[customer]] * np.exp(0.35 * accts.health[customer])
    acc = customer[repeat_index(rng.poisson(np.maximum(rate * months, 0.0)))]
    at = work_uniform(rng, window.first[acc], window.last[acc], share=0.9)
    kind = choice(rng, SUCCESS_ACTIVITY_WEIGHTS, len(acc))
    success = people.pool(people.dept == SUCCESS_DEPT)
    owner = accts.owner[acc]
    rep = np.where((owner >= 0) & (rng.random(len(acc)) < 0.55), owner, success.pick(rng, at))

    acc = np.concatenate([sell_acc, acc])
    at = np.concatenate([sell_at, at])
    kind = np.concatenate([sell_kind, kind])
    rep = np.concatenate([sell_rep, rep])
    del sell_acc, sell_at, sell_kind, sell_rep
    # in the five months before an account churns, contact of every kind dries up
    left = window.last[acc] - at
    fade = np.where(window.churned[acc] & (left >= 0), np.clip(left / 150.0, 0.08, 1.0), 1.0)
    keep = np.flatnonzero(rng.random(len(acc)) < fade)
    acc, at, kind, rep = acc[keep], at[keep], kind[keep], rep[keep]
    order = np.argsort(at, kind="stable")
    acc, at, kind, rep = acc[order], at[order], kind[order], rep[order]
    offline = rng.random(len(acc)) < np.array(OFFLINE_SHARE)[kind]
    return pa.table({
        "activity_id": make_ids("X", len(acc), 7), "account_id": take(accts.ids, acc), "occurred_at": timestamps(at),
        "kind": labels(ACTIVITY_KINDS, kind), "channel": labels(("online", "offline"), offline.astype(np.int64)),
        "rep_id": take(people.ids, rep),
    })
