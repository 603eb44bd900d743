"""A year of weekly deal snapshots (every Monday up to `today`), in the compact storage format.

A row of `deal_snapshots` holds a deal's state (stage, status, amount, expected close, owner,
forecast category) from its `snapshot_date` up to, not including, `valid_until` (empty: through
the latest snapshot day); consecutive snapshot days with the same state share one row, so a deal
closed before the first snapshot day is one row. `snapshot_days` lists every snapshot day.

The state on a snapshot day D is the last event of every track on or before D (any time of that
day: a snapshot is taken at the end of the day), so it agrees with the stage history and, on the
latest snapshot day, with the deals table for every deal that has not changed since. A deal
appears from the first snapshot day on or after its creation and stays, open or closed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from b2bmetrics.demo.base import Array, Clock, dates, decimals, labels, take, timestamps
from b2bmetrics.demo.deals import LOST_CODE, STAGE_NAMES, WON_CODE, Deals
from b2bmetrics.demo.people import People
from b2bmetrics.demo.pipeline import FORECAST_CATEGORIES, Timeline

SNAPSHOT_WEEKDAY = 0  # Monday
SNAPSHOT_SPAN_DAYS = 365  # a year of snapshot days, ending on `today`


def snapshot_days(clock: Clock) -> Array:
    """Every Monday in (today − 365 days, today], ascending, as calendar days since the epoch."""
    first = clock.today - SNAPSHOT_SPAN_DAYS + 1
    first += (SNAPSHOT_WEEKDAY - (first - 4)) % 7  # 1970-01-05 (day 4) was a Monday
    return np.arange(first, clock.today + 1, 7, dtype=np.int64)


def make_snapshots(clock: Clock, people: People, deals: Deals, timeline: Timeline) -> tuple[pa.Table, pa.Table]:
    """(`snapshot_days`, `deal_snapshots`) as Arrow tables: the compact rows with `valid_until`."""
    days = snapshot_days(clock)
    k_days = len(days)
    tracks = (timeline.stage, timeline.amount, timeline.close, timeline.owner, timeline.category)

    # per track, the last event of each (deal, snapshot day): the first day on or after the event's
    # day (k_days: after the last one, dropped); a track's events are sorted by deal and moment
    reduced = []
    for track in tracks:
        k = np.searchsorted(days, np.floor(track.at).astype(np.int64), side="left")
        key = track.deal * (k_days + 1) + k
        last = np.r_[key[1:] != key[:-1], True] & (k < k_days)
        reduced.append((key[last], track.value[last]))
    # the (deal, day) points where something changes, and every track's value there: its last
    # event at or before the point (every deal has an event of each track at its creation, so a
    # deal's first point starts every track afresh)
    point = np.sort(np.concatenate([key for key, _ in reduced]), kind="stable")  # merges sorted runs
    point = point[np.r_[True, point[1:] != point[:-1]]]
    deal, k = point // (k_days + 1), point % (k_days + 1)
    values = []
    for key, value in reduced:
        latest = np.full(len(point), -1, np.int64)
        latest[np.searchsorted(point, key)] = np.arange(len(key))
        values.append(value[np.maximum.accumulate(latest)])

    # keep a row only where the state differs from the deal's previous row
    same = deal[1:] == deal[:-1]
    for v in values:
        same &= (v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
    keep = np.r_[True, ~same]
    deal, k = deal[keep], k[keep]
    stage, amount, close, owner, category = (v[keep] for v in values)
    last_of_deal = np.r_[deal[1:] != deal[:-1], True]
    until = np.where(last_of_deal, -1, np.r_[k[1:], 0])

    # rows by deal, then snapshot day: a deal's rows together compress best (ids, amounts, dates repeat)
    code = stage.astype(np.int64)
    status = np.where(code == WON_CODE, 1, np.where(code == LOST_CODE, 2, 0))
    has_until = until >= 0
    table = pa.table({
        "snapshot_date": dates(days[k]), "deal_id": take(deals.ids, deal), "stage": labels(STAGE_NAMES, code),
        "status": labels(("open", "won", "lost"), status),
        "amount": decimals(amount, valid=~np.isnan(amount)),
        "expected_close_at": timestamps(close, ~np.isnan(close)),
        "owner_rep_id": take(people.ids, np.nan_to_num(owner, nan=-1).astype(np.int64)),
        "forecast_category": labels(FORECAST_CATEGORIES, np.nan_to_num(category, nan=0).astype(np.int64),
                                    ~np.isnan(category)),
        "valid_until": dates(days[np.maximum(until, 0)], has_until),
    })
    return pa.table({"snapshot_date": dates(days)}), table
