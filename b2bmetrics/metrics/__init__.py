"""Metric families, one module each: funnel, churn, satisfaction, commission, quality.

`compute_kpis` assembles the CONTRACT §4 JSON object from each family's `summary`. Every family
takes an ibis backend, so the same code runs on DuckDB (default) and on Spark.

Importing a module of this package runs this file first, so it imports nothing at import time:
a module below the families (`access` reads the region rule of `metrics._rules`) imports it without a loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from b2bmetrics.backend import Backend
    from b2bmetrics.config import Config
    from b2bmetrics.filters import Filters, Period


def compute_kpis(con: Backend, cfg: Config, filters: Filters, period: Period | None = None) -> dict[str, Any]:
    """Every KPI of `b2bmetrics kpis` for the filters, as plain JSON-ready Python values."""
    from b2bmetrics.filters import resolve_period
    from b2bmetrics.metrics import (
        bookings,
        churn,
        collection,
        commission,
        forecast,
        funnel,
        mrr_movements,
        pipeline_change,
        quality,
        satisfaction,
        targets,
    )

    period = period or resolve_period(con, filters)
    return {
        "period": {
            "from": period.start.isoformat() if period.start else None,
            "to": period.end.isoformat() if period.end else None,
        },
        "funnel": funnel.summary(con, cfg, filters, period),
        "churn": churn.summary(con, cfg, filters, period),
        "satisfaction": satisfaction.summary(con, cfg, filters, period),
        "commission": commission.summary(con, cfg, filters, period),
        "quality": quality.summary(con, cfg),
        "bookings": bookings.summary(con, cfg, filters, period),
        "mrr_movements": mrr_movements.summary(con, cfg, filters, period),
        "collection": collection.summary(con, cfg, filters, period),
        "targets": targets.summary(con, cfg, filters, period),
        "forecast": forecast.summary(con, cfg, filters, period),
        "pipeline_change": pipeline_change.summary(con, cfg, filters, period),
    }
