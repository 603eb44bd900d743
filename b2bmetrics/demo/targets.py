"""The demo's targets (业绩目标): booked and collected, by month, quarter and year, for the company
and every region; by quarter for every team; a quarter's booked and collected target for every
sales rep (`PLANNED`: what a sales org of thousands sets, and what a 12-month JSON lists).

A rep's quarterly booked target is their quota; the year's quarters not in the quota table yet
(the rest of the current year) repeat the rep's latest quota. Months split a quarter as bookings
fall in a quarter (`MONTH_SHARE`, to the thousand; the last month takes the rest), and a year is the sum of its
quarters, so months add up to quarters and quarters to years exactly. A rep's collected target
is `COLLECTED_PLAN` of the mean of this and the previous quarter's booked ones (cash lags
signatures: a new hire's first quarter expects half), split the same way. Teams (of at
least two sales reps), regions and the company roll their reps' targets up exactly (all of them,
months and years included, before `PLANNED` keeps a level's periods).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import Array, dates, decimals, labels
from b2bmetrics.demo.deals import Quotas
from b2bmetrics.demo.people import REGIONS, People

LEVELS = ("company", "region", "team", "rep")
PERIODS = ("month", "quarter", "year")
BASES = ("booked", "collected")
MONTH, QUARTER, YEAR = range(3)
BOOKED, COLLECTED = range(2)
COLLECTED_PLAN = 0.95  # the cash a plan expects, against the bookings it expects (of this quarter and the last)
# a quarter's months: the first is slow (deals started in the quarter are not ripe yet), the last has
# the quarter-end push
MONTH_SHARE = (0.29, 0.34, 0.37)
# the (period, basis) pairs written per level: company and regions everything, teams and reps their quarters
PLANNED: dict[int, tuple[tuple[int, int], ...]] = {
    0: tuple((p, b) for p in (MONTH, QUARTER, YEAR) for b in (BOOKED, COLLECTED)),
    1: tuple((p, b) for p in (MONTH, QUARTER, YEAR) for b in (BOOKED, COLLECTED)),
    2: ((QUARTER, BOOKED), (QUARTER, COLLECTED)),
    3: ((QUARTER, BOOKED), (QUARTER, COLLECTED)),
}


def make_targets(people: People, quotas: Quotas) -> pa.Table:
    rep, q_month, booked = _quarters(quotas)
    # cash follows signatures: a quarter expects half its own bookings and half the previous quarter's
    key = rep * 100_000 + q_month
    order = np.argsort(key)
    at = np.minimum(np.searchsorted(key[order], key - 3), len(key) - 1)
    previous = np.where(key[order][at] == key - 3, booked[order][at], 0.0)
    collected = np.round((booked + previous) / 2.0 * COLLECTED_PLAN / 1000.0) * 1000.0
    first_year = -(-int(q_month.min()) // 12) * 12  # the plan starts with the first January of the data
    plan = (q_month >= first_year) & (collected > 0)
    rep, q_month, booked, collected = rep[plan], q_month[plan], booked[plan], collected[plan]
    # rep rows, both bases: (rep, period, first month as months since 1970-01, basis, amount)
    q_rep, q_month = np.concatenate([rep, rep]), np.concatenate([q_month, q_month])
    q_basis = np.repeat([BOOKED, COLLECTED], len(rep))
    q_amount = np.concatenate([booked, collected])
    months = _split_months(q_amount)
    y_rep, y_month, y_basis, y_amount, _ = _sum_by(q_rep, q_month // 12 * 12, q_basis, q_amount,
                                                   np.zeros(len(q_rep), np.int64))
    r_rep = np.concatenate([q_rep, np.tile(q_rep, 3), y_rep])
    r_period = np.repeat([QUARTER, MONTH, YEAR], [len(q_rep), 3 * len(q_rep), len(y_rep)])
    r_month = np.concatenate([q_month, q_month, q_month + 1, q_month + 2, y_month])
    r_basis = np.concatenate([q_basis, np.tile(q_basis, 3), y_basis])
    r_amount = np.concatenate([q_amount, months[:, 0], months[:, 1], months[:, 2], y_amount])

    # roll up: teams of two or more sales reps, regions, the company
    sales = people.role == 0
    team_names, team_code = np.unique(people.team, return_inverse=True)
    team_size = np.bincount(team_code[sales], minlength=len(team_names))
    levels: list[tuple[int, Array, Array, Array, Array, Array]] = []
    for level, group in ((0, np.zeros(len(people.role), np.int64)), (1, people.region.astype(np.int64)),
                         (2, np.where(team_size[team_code] >= 2, team_code, -1))):
        g = group[r_rep]
        use = g >= 0
        levels.append((level, *_sum_by(g[use], r_month[use], r_basis[use], r_amount[use], r_period[use])))
    levels.append((3, r_rep, r_month, r_basis, r_amount, r_period))

    columns: dict[str, list[pa.Array]] = {c: [] for c in ("level", "key", "period", "period_start", "basis", "amount")}
    for level, key, month, basis, amount, period in levels:
        planned = np.isin(period * 2 + basis, [p * 2 + b for p, b in PLANNED[level]])
        key, month, basis, amount, period = key[planned], month[planned], basis[planned], amount[planned], period[planned]
        order = np.lexsort((basis, month, period, key))
        key, month, basis, amount, period = key[order], month[order], basis[order], amount[order], period[order]
        n = len(key)
        columns["level"].append(labels(LEVELS, np.full(n, level)))
        if level == 0:
            columns["key"].append(pa.nulls(n, pa.string()))
        elif level == 1:
            columns["key"].append(labels(REGIONS, key))
        elif level == 2:
            columns["key"].append(labels(tuple(team_names.tolist()), key))
        else:
            columns["key"].append(people.ids.take(pa.array(key)))
        columns["period"].append(labels(PERIODS, period))
        start = month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        columns["period_start"].append(dates(start))
        columns["basis"].append(labels(BASES, basis))
        columns["amount"].append(decimals(amount))
    return pa.table({c: pa.concat_arrays(v) for c, v in columns.items()})


def _quarters(quotas: Quotas) -> tuple[Array, Array, Array]:
    """(rep, first month, booked target) per rep quarter: the quotas, and the rest of the current
    year at each rep's latest quota."""
    month = quotas.start.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    last = int(month.max())
    latest = month == last
    rep, amount = quotas.rep[latest], quotas.amount[latest]
    extra_rep, extra_month, extra_amount = [quotas.rep], [month], [quotas.amount]
    for q in range(last + 3, (last // 12 + 1) * 12, 3):
        extra_rep.append(rep)
        extra_month.append(np.full(len(rep), q))
        extra_amount.append(amount)
    return np.concatenate(extra_rep), np.concatenate(extra_month), np.concatenate(extra_amount)


def _split_months(amount: Array) -> Array:
    """A quarter's amount over its three months by MONTH_SHARE, to the thousand; the last month takes the rest."""
    out = np.round(amount[:, None] * np.array(MONTH_SHARE)[None, :] / 1000.0) * 1000.0
    out[:, 2] = amount - out[:, 0] - out[:, 1]
    return out


def _sum_by(group: Array, month: Array, basis: Array, amount: Array,
            period: Array) -> tuple[Array, Array, Array, Array, Array]:
    """Σ amount by (group, month, basis, period): (group, month, basis, sum, period) of each sum."""
    key = ((group.astype(np.int64) * 4 + period) * 2 + basis) * 100_000 + month
    uniq, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=amount, minlength=len(uniq))
    u_month = uniq % 100_000
    rest = uniq // 100_000
    u_basis, rest = rest % 2, rest // 2
    u_period, u_group = rest % 4, rest // 4
    return u_group, u_month, u_basis, total, u_period
