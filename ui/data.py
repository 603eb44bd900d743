"""Cached calls into b2bmetrics, keyed on the dataset version, the config and the filters.

A filter change recomputes only the numbers whose key changed; a new load changes the version,
so every page sees it at once. Results are small (aggregates), so caching them is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from b2bmetrics.config import Config
from b2bmetrics.filters import Filters, Period, resolve_period
from ui import context


def _functions() -> dict[str, Callable[..., Any]]:
    from b2bmetrics.metrics import accounts, churn, commission, compute_kpis, funnel, satisfaction

    return {
        "accounts.list": lambda con, cfg, f, p, search="": accounts.account_list(con, cfg, f, search),
        "accounts.ownership": lambda con, cfg, f, p: accounts.ownership(con, cfg, f),
        "kpis": lambda con, cfg, f, p: compute_kpis(con, cfg, f, p),
        "funnel.summary": funnel.summary,
        "funnel.breakdown": funnel.breakdown,
        "funnel.monthly_trend": funnel.monthly_trend,
        "funnel.transitions": funnel.transitions,
        "funnel.deals_behind": funnel.deals_behind,
        "funnel.time_in_stage": funnel.time_in_stage,
        "churn.summary": churn.summary,
        "churn.monthly": churn.monthly,
        "churn.cohort_matrix": churn.cohort_matrix,
        "churn.kaplan_meier": churn.kaplan_meier,
        "churn.at_risk": churn.at_risk,
        "satisfaction.summary": satisfaction.summary,
        "satisfaction.by_group": satisfaction.by_group,
        "satisfaction.response_times": satisfaction.response_times,
        "commission.summary": commission.summary,
        "commission.what_if": commission.what_if,
        "commission.referral_earnings": commission.referral_earnings,
        "commission.attainment": commission.attainment,
    }


def _lookups() -> dict[str, Callable[..., Any]]:
    """Functions of (con, cfg, **kwargs) that do not depend on the filters."""
    from b2bmetrics.metrics import accounts, churn, commission

    return {
        "churn.health": churn.health,
        "commission.statement": commission.statement,
        "accounts.profile": lambda con, cfg, account_id: accounts.profile(con, account_id),
    }


@st.cache_data(max_entries=1024, show_spinner=False)
def _period(version: str, filters_key: tuple[Any, ...], _filters: Filters) -> Period:
    return resolve_period(context.backend(), _filters)


@st.cache_data(max_entries=1024, show_spinner=False)
def _run(name: str, version: str, cfg_key: str, filters_key: tuple[Any, ...], kwargs_key: str,
         _cfg: Config, _filters: Filters, _kwargs: dict[str, Any]) -> Any:
    period = _period(version, filters_key, _filters)
    return _functions()[name](context.backend(), _cfg, _filters, period, **_kwargs)


def period(filters: Filters) -> Period:
    return _period(context.version(), filters.cache_key(), filters)


def metric(name: str, filters: Filters, **kwargs: Any) -> Any:
    """The result of metric function `name` for the filters (cached)."""
    cfg = context.config()
    return _run(name, context.version(), repr(cfg), filters.cache_key(), repr(sorted(kwargs.items())),
                cfg, filters, kwargs)


@st.cache_data(max_entries=256, show_spinner=False)
def _lookup(name: str, version: str, cfg_key: str, kwargs_key: str, _cfg: Config, _kwargs: dict[str, Any]) -> Any:
    return _lookups()[name](context.backend(), _cfg, **_kwargs)


def lookup(name: str, **kwargs: Any) -> Any:
    """A filter-independent lookup such as one person's statement or one account's profile (cached)."""
    cfg = context.config()
    return _lookup(name, context.version(), repr(cfg), repr(sorted(kwargs.items())), cfg, kwargs)


@st.cache_data(max_entries=64, show_spinner=False)
def _query(version: str, key: str, _fn: Callable[[Any], Any]) -> Any:
    return _fn(context.backend())


def query(key: str, fn: Callable[[Any], Any]) -> Any:
    """Cache any small read `fn(con)` under `key` for the current dataset version."""
    return _query(context.version(), key, fn)


def table_counts() -> dict[str, Any]:
    """The data-quality summary ({"tables": {name: {rows, completeness, orphans}}}) of the whole data."""
    from b2bmetrics.metrics import quality

    return query("quality.summary", lambda con: quality.summary(con, context.config()))
