"""How each deal looked over time, for the forecast and the weekly deal snapshots: expected close
dates that slip (pushed out, sometimes pulled in), forecast categories that follow the stage,
amounts that grow and shrink, the rare change of owner, and the probability a rep typed in.

A deal's life is a set of `Track`s, one per attribute: events (deal, moment, value) sorted by
deal and moment, with one event of every track at the deal's creation (its value may be null).
The deals table shows each track's last event (every event lies before `now`); a snapshot day
shows the last event on or before that day (`snapshots`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from b2bmetrics.demo.base import Array, Clock, choice, choice_by_group, round_money
from b2bmetrics.demo.deals import (
    LOST_CODE,
    SEGMENT_PACE,
    SLOT_DAYS,
    SLOT_OF_STAGE,
    WON_CODE,
    Deals,
    other_rep,
)
from b2bmetrics.demo.people import REGIONS, Accounts, People

FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "omitted")
PIPELINE, BEST_CASE, COMMIT, OMITTED = range(4)
# a rep's forecast category by stage (lead .. negotiation; columns as FORECAST_CATEGORIES, then empty)
CATEGORY_BY_STAGE = np.array([
    [0.88, 0.00, 0.00, 0.09, 0.03],
    [0.92, 0.03, 0.00, 0.03, 0.02],
    [0.88, 0.08, 0.00, 0.02, 0.02],
    [0.70, 0.25, 0.02, 0.01, 0.02],
    [0.22, 0.58, 0.17, 0.01, 0.02],
    [0.05, 0.30, 0.63, 0.00, 0.02],
])
# what a rep types as probability (the CRM's stage default, adjusted by feel), lead .. negotiation
STAGE_PROBABILITY = np.array([0.10, 0.20, 0.30, 0.40, 0.60, 0.80])
PROBABILITY_GIVEN = 0.35  # share of open deals with a probability typed in; the rest use the learned one
# a deal's typical cycle from lead to close, in calendar days (the main path through the slots)
CYCLE_DAYS = SEGMENT_PACE * SLOT_DAYS[list(SLOT_OF_STAGE)].sum()
PROPOSAL, NEGOTIATION = 4, 5
MAX_REVISIONS = 8


@dataclass
class Track:
    """Events of one attribute: deal index, moment (calendar days), value (nan = empty)."""

    deal: Array
    at: Array
    value: Array

    @classmethod
    def of(cls, parts: list[tuple[Array, Array, Array]]) -> Track:
        deal = np.concatenate([p[0] for p in parts]).astype(np.int64)
        at = np.concatenate([np.asarray(p[1], np.float64) for p in parts])
        value = np.concatenate([np.asarray(p[2], np.float64) for p in parts])
        # one integer key, deal then second; a stable sort keeps the parts' order within a second and
        # merges the parts' sorted runs quickly
        seconds = np.floor(at * 86400.0).astype(np.int64)  # since the epoch: below 2^32 until 2106
        order = np.argsort((deal << 32) | seconds, kind="stable")
        return cls(deal[order], at[order], value[order])

    def then(self, deal: Array, at: Array, value: Array) -> Track:
        """These events appended, each after every event of its deal so far (deals ascending): no sort."""
        where = np.searchsorted(self.deal, deal, side="right")
        return Track(np.insert(self.deal, where, deal), np.insert(self.at, where, at),
                     np.insert(self.value, where, value))

    def last(self, n: int) -> Array:
        """The value of every deal's last event (every deal has one)."""
        ends = np.flatnonzero(np.r_[self.deal[1:] != self.deal[:-1], True])
        assert len(ends) == n and (self.deal[ends] == np.arange(n)).all()
        return self.value[ends]


@dataclass
class Timeline:
    stage: Track
    amount: Track
    close: Track  # expected close, as a calendar day
    owner: Track
    category: Track  # code into FORECAST_CATEGORIES
    expected_close: Array  # per deal, now (nan: none)
    category_now: Array
    probability: Array  # per deal, nan when not given


def make_timeline(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts, deals: Deals) -> Timeline:
    n = len(deals.created)
    deal_idx = np.arange(n)
    seg = accts.segment[deals.account]
    stage = Track(deals.hist_deal.astype(np.int64, copy=False), deals.hist_at, deals.hist_stage.astype(np.float64))
    created = deals.hist_at[np.searchsorted(deals.hist_deal, deal_idx)]  # the first history entry
    proposal_at = _first_entry(deals, PROPOSAL, n)
    negotiation_at = _first_entry(deals, NEGOTIATION, n)

    close = _expected_close(rng, clock, deals, seg, created, negotiation_at)
    category = _categories(rng, clock, deals, n)
    amount = _amounts(rng, deals, created, proposal_at, negotiation_at)
    owner = _owners(rng, clock, people, accts, deals, created)

    open_now = deals.status == 0
    category_now = category.last(n)
    given = open_now & (rng.random(n) < PROBABILITY_GIVEN) & (category_now != OMITTED)
    typed = STAGE_PROBABILITY[np.minimum(deals.stage, NEGOTIATION)] + rng.normal(0.0, 0.08, n)
    probability = np.where(given, np.clip(np.round(typed * 20.0) / 20.0, 0.05, 0.95), np.nan)
    return Timeline(stage, amount, close, owner, category, close.last(n), category_now, probability)


def _first_entry(deals: Deals, stage_code: int, n: int) -> Array:
    """When each deal first entered a stage (nan: never, or not yet)."""
    rows = np.flatnonzero(deals.hist_stage == stage_code)
    d = deals.hist_deal[rows]
    first = rows[np.r_[True, d[1:] != d[:-1]]] if len(rows) else rows
    out = np.full(n, np.nan)
    out[deals.hist_deal[first]] = deals.hist_at[first]
    return out


def _weekday(day: Array) -> Array:
    """A calendar day moved back to the Friday when it falls on a weekend."""
    day = np.floor(day)
    dow = (np.where(np.isfinite(day), day, 0).astype(np.int64) - 4) % 7  # 0 = Monday
    return day - np.where(dow == 5, 1, np.where(dow == 6, 2, 0))


def _month_end(day: Array) -> Array:
    d = np.where(np.isfinite(day), np.floor(day), 0).astype(np.int64).astype("datetime64[D]")
    end = ((d.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1).astype(np.int64).astype(np.float64)
    return np.where(np.isfinite(day), end, day)


def _close_day(rng: np.random.Generator, day: Array) -> Array:
    """The day a rep types: often the end of the month, else a weekday."""
    return np.where(rng.random(len(day)) < 0.4, _month_end(day), _weekday(day))


def _expected_close(rng: np.random.Generator, clock: Clock, deals: Deals, seg: Array, created: Array,
                    negotiation_at: Array) -> Track:
    """Expected close dates: an optimistic first guess, pushed out when it passes (promptly, late or
    never, by rep habit), now and then pulled in when negotiation starts well ahead of it. Closed
    deals keep the last date they had while open."""
    n = len(created)
    truth = np.where(np.isnan(deals.final_at), np.inf, deals.final_at)  # when the deal is really decided
    # 15 % of deals get their date only at the second stage change (if that is not the close)
    start = np.searchsorted(deals.hist_deal, np.arange(n))
    count = np.bincount(deals.hist_deal, minlength=n)
    second = np.minimum(start + 1, len(deals.hist_at) - 1)
    second_at = np.where(count >= 2, deals.hist_at[second], np.nan)
    second_open = (count >= 2) & (deals.hist_stage[second] < WON_CODE)
    late_set = rng.random(n) < 0.15
    set_at = np.where(late_set, np.where(second_open, second_at, np.nan), created)
    guess = set_at + np.maximum(CYCLE_DAYS[seg] * rng.lognormal(-0.25, 0.45, n), 7.0)
    first = np.maximum(_close_day(rng, guess), np.floor(set_at) + 1)
    parts = [(np.arange(n), created, np.full(n, np.nan))]  # no date at creation for the late ones
    has = ~np.isnan(set_at)
    parts.append((np.flatnonzero(has), set_at[has], first[has]))

    habit = choice(rng, (0.55, 0.30, 0.15), n)  # reps update the date promptly, late, or never
    pull = rng.random(n) < 0.5
    stalled = np.isinf(truth)
    live = np.flatnonzero(has & (habit < 2))
    est, at = first[live], set_at[live]
    pushes = np.zeros(len(live), np.int64)
    pulled = np.zeros(len(live), bool)
    for _ in range(MAX_REVISIONS):
        if not len(live):
            break
        m = len(live)
        t, h = truth[live], habit[live]
        lag = np.where(h == 0, rng.uniform(-10.0, 7.0, m), 1.0 + rng.exponential(30.0, m))
        push_at = np.where((est < t) & ~(stalled[live] & (pushes >= 2)), np.maximum(est + lag, at + 1.0), np.inf)
        neg = negotiation_at[live]
        pull_at = np.where(pull[live] & ~pulled & (neg > at) & (est > t + 21.0), neg, np.inf)
        nxt = np.minimum(push_at, pull_at)
        ok = nxt < np.minimum(t, clock.now)
        is_pull = pull_at < push_at
        remaining = np.where(np.isinf(t), rng.uniform(20.0, 90.0, m),
                             np.maximum(7.0, (np.where(np.isinf(t), 0.0, t) - nxt) * rng.lognormal(-0.2, 0.5, m)))
        pushed = _close_day(rng, nxt + remaining)
        pulled_to = _weekday(np.where(np.isinf(t), nxt, t) + rng.uniform(-3.0, 10.0, m))
        new = np.maximum(np.where(is_pull, pulled_to, pushed), np.floor(nxt) + 1)
        keep = np.flatnonzero(ok)
        parts.append((live[keep], nxt[keep], new[keep]))
        live, est, at = live[keep], new[keep], nxt[keep]
        pushes = pushes[keep] + ~is_pull[keep]
        pulled = pulled[keep] | is_pull[keep]
    return Track.of(parts)


def _categories(rng: np.random.Generator, clock: Clock, deals: Deals, n: int) -> Track:
    """The forecast category follows the stage (a rep's call at every stage change): won deals read
    as empty (the CRM's "Closed"), lost ones as omitted; a stalled deal is often set to omitted."""
    stage = deals.hist_stage
    open_stage = np.minimum(stage, NEGOTIATION)
    drawn = choice_by_group(rng, open_stage, CATEGORY_BY_STAGE).astype(np.float64)
    value = np.where(stage == WON_CODE, np.nan, np.where(stage == LOST_CODE, OMITTED, drawn))
    value[value == len(FORECAST_CATEGORIES)] = np.nan  # the empty column
    by_stage = Track(deals.hist_deal.astype(np.int64, copy=False), deals.hist_at, value)  # the history is in order
    last = np.flatnonzero(np.r_[deals.hist_deal[1:] != deals.hist_deal[:-1], True])
    stale_at = deals.hist_at[last] + rng.uniform(45.0, 150.0, n)
    stale = np.isnan(deals.final_at) & (deals.status == 0) & (stale_at < clock.now) & (rng.random(n) < 0.6)
    return by_stage.then(np.flatnonzero(stale), stale_at[stale], np.full(int(stale.sum()), float(OMITTED)))


def _amounts(rng: np.random.Generator, deals: Deals, created: Array, proposal_at: Array,
             negotiation_at: Array) -> Track:
    """Amounts change at the proposal (scope grows or shrinks) and in negotiation (mostly a discount);
    the last value is the deal's amount. A deal without an amount now never had one."""
    n = len(created)
    final = np.where(deals.amount_known, deals.amount, np.nan)
    at_neg = ~np.isnan(negotiation_at) & (rng.random(n) < 0.5)
    at_prop = ~np.isnan(proposal_at) & (rng.random(n) < 0.4)
    before_neg = np.where(at_neg, round_money(final * rng.lognormal(0.08, 0.12, n)), final)
    before_prop = np.where(at_prop, round_money(before_neg * rng.lognormal(-0.08, 0.25, n)), before_neg)
    known = deals.amount_known
    parts = [(np.arange(n), created, before_prop)]
    for changed, when, value in ((at_prop & known, proposal_at, before_neg), (at_neg & known, negotiation_at, final)):
        parts.append((np.flatnonzero(changed), when[changed], value[changed]))
    return Track.of(parts)


def _owners(rng: np.random.Generator, clock: Clock, people: People, accts: Accounts, deals: Deals,
            created: Array) -> Track:
    """About 2 % of deals change hands once (a colleague of the region took it over)."""
    n = len(created)
    end = np.where(np.isnan(deals.closed), clock.now, deals.closed)
    moved = (deals.owner >= 0) & (rng.random(n) < 0.02) & (end - created > 14.0)
    idx = np.flatnonzero(moved)
    when = created[idx] + rng.uniform(0.2, 0.9, len(idx)) * (end[idx] - created[idx])
    pool = people.pool(people.role == 0, people.region, len(REGIONS))
    before = deals.owner.astype(np.float64).copy()
    before[idx] = other_rep(rng, pool, people, deals.owner[idx], created[idx], accts.region[deals.account[idx]])
    before[before < 0] = np.nan
    after = np.where(deals.owner[idx] >= 0, deals.owner[idx], np.nan)
    return Track.of([(np.arange(n), created, before), (idx, when, after)])
