"""Cached calls into b2bmetrics, keyed on the dataset version, the config, the user's scope and the filters.

A filter change recomputes only the numbers whose key changed; a new load changes the version,
so every page sees it at once. Results are small (aggregates), so caching them is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from b2bmetrics.access import Scope
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
        "funnel.open_pipeline": funnel.open_pipeline,
        "churn.summary": churn.summary,
        "churn.monthly": churn.monthly,
        "churn.cohort_matrix": churn.cohort_matrix,
        "churn.kaplan_meier": churn.kaplan_meier,
        "churn.at_risk": churn.at_risk,
        "satisfaction.summary": satisfaction.summary,
        "satisfaction.by_group": satisfaction.by_group,
        "satisfaction.response_times": satisfaction.response_times,
        "commission.all_rows": lambda con, cfg, f, p, plan=None: commission.all_rows(con, cfg, p, plan),
    }


def _lookups() -> dict[str, Callable[..., Any]]:
    """Functions of (con, cfg, **kwargs) that do not depend on the filters."""
    from b2bmetrics.metrics import accounts, churn, commission

    return {
        "churn.health": churn.health,
        "commission.statement": commission.statement,
        "accounts.profile": lambda con, cfg, account_id: accounts.profile(con, account_id),
    }


# Every cached result is keyed on the user's scope as well: a result computed for one scope is
# never handed to a user of another. The scope itself travels unhashed (`_scope`) beside its key.

@st.cache_data(max_entries=1024, show_spinner=False)
def _period(version: str, scope_key: tuple[Any, ...], filters_key: tuple[Any, ...], _scope: Scope,
            _filters: Filters) -> Period:
    return resolve_period(context.backend(_scope), _filters)


@st.cache_data(max_entries=1024, show_spinner=False)
def _run(name: str, version: str, cfg_key: str, scope_key: tuple[Any, ...], filters_key: tuple[Any, ...],
         kwargs_key: str, _cfg: Config, _scope: Scope, _filters: Filters, _kwargs: dict[str, Any]) -> Any:
    period = _period(version, scope_key, filters_key, _scope, _filters)
    return _functions()[name](context.backend(_scope), _cfg, _filters, period, **_kwargs)


def period(filters: Filters) -> Period:
    scope = context.require_scope()
    filters = scope.narrow(filters)
    return _period(context.version(), scope.cache_key(), filters.cache_key(), scope, filters)


def metric(name: str, filters: Filters, **kwargs: Any) -> Any:
    """The result of metric function `name` for the filters, within the user's scope (cached)."""
    cfg = context.config()
    scope = context.require_scope()
    filters = scope.narrow(filters)
    return _run(name, context.version(), repr(cfg), scope.cache_key(), filters.cache_key(),
                repr(sorted(kwargs.items())), cfg, scope, filters, kwargs)


@st.cache_data(max_entries=256, show_spinner=False)
def _lookup(name: str, version: str, cfg_key: str, scope_key: tuple[Any, ...], kwargs_key: str, _cfg: Config,
            _scope: Scope, _kwargs: dict[str, Any]) -> Any:
    return _lookups()[name](context.backend(_scope), _cfg, **_kwargs)


def lookup(name: str, **kwargs: Any) -> Any:
    """A filter-independent lookup such as one person's statement or one account's profile (cached)."""
    cfg = context.config()
    scope = context.require_scope()
    return _lookup(name, context.version(), repr(cfg), scope.cache_key(), repr(sorted(kwargs.items())), cfg,
                   scope, kwargs)


@st.cache_data(max_entries=64, show_spinner=False)
def _query(version: str, scope_key: tuple[Any, ...], key: str, _scope: Scope, _fn: Callable[[Any], Any]) -> Any:
    return _fn(context.backend(_scope))


def query(key: str, fn: Callable[[Any], Any]) -> Any:
    """Cache any small read `fn(con)` under `key` for the current dataset version and the user's scope."""
    scope = context.require_scope()
    return _query(context.version(), scope.cache_key(), key, scope, fn)


def table_counts() -> dict[str, Any]:
    """The data-quality summary ({"tables": {name: {rows, completeness, orphans}}}) of the data in scope."""
    from b2bmetrics.metrics import quality

    return query("quality.summary", lambda con: quality.summary(con, context.config()))


def commission_rows(filters: Filters, plan: Any = None) -> Any:
    """The commission rows shown for the filters (`commission.attainment`'s frame).

    A payout never depends on the view (CONTRACT §5), so everyone's rows are computed once per
    period and plan (cached) and the filters only pick the people: a region change asks no query.
    """
    from b2bmetrics.metrics import commission

    everyone = metric("commission.all_rows", Filters(filters.date_from, filters.date_to),
                      **({} if plan is None else {"plan": plan}))
    return commission.in_view(everyone, context.require_scope().narrow(filters))
