"""What the overview page computes, in one place: the page renders it, and the server's warm-up
(ui/warmup.py) computes it ahead of the first visitor."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from b2bmetrics.filters import Filters
from ui import commission_data, data, forecast_data


def previous_filters(filters: Filters) -> tuple[Filters, int] | None:
    """The period of the same length just before the current one, same other filters."""
    period = data.period(filters)
    if period.start is None or period.end is None:
        return None
    days = (period.end - period.start).days + 1
    prev_end = period.start - dt.timedelta(days=1)
    return Filters(prev_end - dt.timedelta(days=days - 1), prev_end, filters.regions, filters.segments,
                   filters.reps), days


def family_summaries(filters: Filters) -> dict[str, dict[str, Any]]:
    """What the tiles read, each shared with its page's cache: the funnel headline (no tile shows
    stage medians), the open pipeline at the period's end, churn and satisfaction summaries, and the
    commission rows' total payout."""
    rows = data.commission_rows(filters)
    return {
        "funnel": data.funnel_summary(filters, medians=False),
        "pipeline": data.funnel_open_pipeline(filters),
        "churn": data.churn_summary(filters),
        "satisfaction": data.satisfaction_summary(filters),
        "commission": {"total_payout": commission_data.total_payout(rows)},
    }


def target_tile(filters: Filters) -> dict[str, Any] | None:
    """The company's booked target for the period (the Forecast page's default target at level
    company: the one whose period holds `to`, of the shortest type that also holds `from`, else the
    longest) (`row`, with its attainment and pace), and the forecast over the target's period against it
    (`forecast_data.against_target`: closed won + commit as `committed`). None without a company
    target (a region or rep filter keeps none, CONTRACT §5)."""
    summary = data.targets_summary(filters)
    company = [t for t in forecast_data.headline_targets(summary, data.period(filters)) if t.level == "company"]
    if not company:
        return None
    target = company[0]
    return {**forecast_data.against_target(data.forecast_summary(target.filters(filters)), target), "row": target}


def monthly_trend(filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Won revenue and win rate per month, and churn per month (for NRR beside them)."""
    return data.funnel_monthly_trend(filters), data.churn_monthly(filters)


def by_region(filters: Filters) -> pd.DataFrame:
    """The funnel per region."""
    return data.funnel_breakdown(filters, "region")


def compute_all(filters: Filters) -> None:
    """Everything the overview shows for `filters`, into the caches."""
    family_summaries(filters)
    prev = previous_filters(filters)
    if prev:
        family_summaries(prev[0])
    target_tile(filters)
    monthly_trend(filters)
    by_region(filters)
