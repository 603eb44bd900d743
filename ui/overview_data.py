"""What the overview page computes, in one place: the page renders it, and the server's warm-up
(ui/warmup.py) computes it ahead of the first visitor."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from b2bmetrics.filters import Filters
from ui import data


def previous_filters(filters: Filters) -> tuple[Filters, int] | None:
    """The period of the same length just before the current one, same other filters."""
    period = data.period(filters)
    if period.start is None or period.end is None:
        return None
    days = (period.end - period.start).days + 1
    prev_end = period.start - dt.timedelta(days=1)
    return Filters(prev_end - dt.timedelta(days=days - 1), prev_end, filters.regions, filters.segments,
                   filters.reps), days


def family_summaries(filters: Filters) -> dict[str, dict]:
    """What the tiles read, each shared with its page's cache: the funnel headline (no tile shows
    stage medians), the open pipeline at the period's end, churn and satisfaction summaries, and the
    commission rows' total payout."""
    rows = data.commission_rows(filters)
    return {
        "funnel": data.metric("funnel.summary", filters, medians=False),
        "pipeline": data.metric("funnel.open_pipeline", filters),
        "churn": data.metric("churn.summary", filters),
        "satisfaction": data.metric("satisfaction.summary", filters),
        "commission": {"total_payout": math.fsum(rows["payout"])},
    }


def monthly_trend(filters: Filters) -> tuple[Any, Any]:
    return data.metric("funnel.monthly_trend", filters), data.metric("churn.monthly", filters)


def by_region(filters: Filters) -> Any:
    return data.metric("funnel.breakdown", filters, by="region")


def compute_all(filters: Filters) -> None:
    """Everything the overview shows for `filters`, into the caches."""
    family_summaries(filters)
    prev = previous_filters(filters)
    if prev:
        family_summaries(prev[0])
    monthly_trend(filters)
    by_region(filters)
