"""One typed, cached wrapper per library call the pages make, keyed on what its result depends on.

A result depends on the dataset version, the config, the user's scope and (for a view) the filters,
narrowed to that scope: `View` holds them, and `View.key` is what `st.cache_data` hashes, so a
result computed for one scope is never handed to a user of another, a filter change recomputes
only what its key changed, and a new load (a new version) reaches every page at once. The objects
themselves travel beside the key unhashed (`_view`). Results are small (aggregates), so caching
them is cheap.

Each wrapper is two functions: the public one (real parameter types, what pages call) builds the
view; the private cached one runs the library call on the scoped backend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.access import Scope
from b2bmetrics.backend import Backend
from b2bmetrics.config import Config, Plan
from b2bmetrics.filters import Filters, Period, resolve_period
from b2bmetrics.metrics import (
    accounts,
    churn,
    collection,
    commission,
    forecast,
    funnel,
    health_backtest,
    mrr_movements,
    pipeline_change,
    quality,
    satisfaction,
    targets,
)
from b2bmetrics.metrics.collection import GroupBy as CollectionBy
from b2bmetrics.metrics.funnel import BreakdownBy
from b2bmetrics.metrics.satisfaction import GroupBy
from ui import context

VIEWS = 256    # cached results per wrapper that depend on the filters
LOOKUPS = 128  # per wrapper of one-item lookups (a person's statement, an account's profile)
READS = 64     # per wrapper of whole-data reads (quality, the load log)

ViewKey = tuple[str, str, tuple[Any, ...], tuple[Any, ...]]


@dataclass(frozen=True)
class View:
    """What a cached result depends on: dataset version, config, the user's scope, the filters in it."""

    version: str
    cfg: Config
    scope: Scope
    filters: Filters

    @property
    def key(self) -> ViewKey:
        """The hashable key: the scope's and the filters' cache keys, the config's repr."""
        return self.version, repr(self.cfg), self.scope.cache_key(), self.filters.cache_key()

    def con(self) -> Backend:
        """This thread's backend, cut to the scope."""
        return context.backend(self.scope)

    def period(self) -> Period:
        """The filters' period resolved on the data in scope (cached)."""
        return _period(self.key, self)


def view(filters: Filters | None = None) -> View:
    """The signed-in user's view: their scope, and `filters` narrowed to it (AccessDenied without one)."""
    scope = context.require_scope()
    return View(context.version(), context.config(), scope, scope.narrow(filters or Filters()))


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _period(key: ViewKey, _view: View) -> Period:
    return resolve_period(_view.con(), _view.filters)


def period(filters: Filters) -> Period:
    """The period the filters select, on the data in the user's scope."""
    v = view(filters)
    return v.period()


# ---- funnel -------------------------------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_summary(key: ViewKey, medians: bool, _view: View) -> dict[str, Any]:
    return funnel.summary(_view.con(), _view.cfg, _view.filters, _view.period(), medians=medians)


def funnel_summary(filters: Filters, *, medians: bool = True) -> dict[str, Any]:
    """The funnel headline and its stages (`funnel.summary`)."""
    v = view(filters)
    return _funnel_summary(v.key, medians, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_breakdown(key: ViewKey, by: BreakdownBy, _view: View) -> pd.DataFrame:
    return funnel.breakdown(_view.con(), _view.cfg, _view.filters, _view.period(), by=by)


def funnel_breakdown(filters: Filters, by: BreakdownBy) -> pd.DataFrame:
    """The funnel figures per region, segment or rep (`funnel.breakdown`)."""
    v = view(filters)
    return _funnel_breakdown(v.key, by, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_monthly_trend(key: ViewKey, _view: View) -> pd.DataFrame:
    return funnel.monthly_trend(_view.con(), _view.cfg, _view.filters, _view.period())


def funnel_monthly_trend(filters: Filters) -> pd.DataFrame:
    """Won revenue and win rate per month (`funnel.monthly_trend`)."""
    v = view(filters)
    return _funnel_monthly_trend(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_transitions(key: ViewKey, _view: View) -> pd.DataFrame:
    return funnel.transitions(_view.con(), _view.cfg, _view.filters, _view.period())


def funnel_transitions(filters: Filters) -> pd.DataFrame:
    """Stage moves with their deal counts, back-moves included (`funnel.transitions`)."""
    v = view(filters)
    return _funnel_transitions(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_deals_behind(key: ViewKey, stage: str | None, limit: int, _view: View) -> pd.DataFrame:
    return funnel.deals_behind(_view.con(), _view.cfg, _view.filters, _view.period(), stage=stage, limit=limit)


def funnel_deals_behind(filters: Filters, stage: str | None, limit: int) -> pd.DataFrame:
    """The cohort deals that reached `stage`, newest first, at most `limit` (`funnel.deals_behind`)."""
    v = view(filters)
    return _funnel_deals_behind(v.key, stage, limit, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_time_in_stage(key: ViewKey, _view: View) -> pd.DataFrame:
    return funnel.time_in_stage(_view.con(), _view.cfg, _view.filters, _view.period())


def funnel_time_in_stage(filters: Filters) -> pd.DataFrame:
    """Days spent in each stage: median, quartiles, mean (`funnel.time_in_stage`)."""
    v = view(filters)
    return _funnel_time_in_stage(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _funnel_open_pipeline(key: ViewKey, _view: View) -> dict[str, Any]:
    return funnel.open_pipeline(_view.con(), _view.cfg, _view.filters, _view.period())


def funnel_open_pipeline(filters: Filters) -> dict[str, Any]:
    """The deals open at the period's end and their amount (`funnel.open_pipeline`)."""
    v = view(filters)
    return _funnel_open_pipeline(v.key, v)


# ---- churn --------------------------------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _churn_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return churn.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def churn_summary(filters: Filters) -> dict[str, Any]:
    """Logo churn, GRR and NRR over the period (`churn.summary`)."""
    v = view(filters)
    return _churn_summary(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _churn_monthly(key: ViewKey, _view: View) -> pd.DataFrame:
    return churn.monthly(_view.con(), _view.cfg, _view.filters, _view.period())


def churn_monthly(filters: Filters) -> pd.DataFrame:
    """The churn summary month by month (`churn.monthly`)."""
    v = view(filters)
    return _churn_monthly(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _churn_cohort_matrix(key: ViewKey, _view: View) -> pd.DataFrame:
    return churn.cohort_matrix(_view.con(), _view.cfg, _view.filters, _view.period())


def churn_cohort_matrix(filters: Filters) -> pd.DataFrame:
    """Retention per cohort (month of first contract) and month offset (`churn.cohort_matrix`)."""
    v = view(filters)
    return _churn_cohort_matrix(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _churn_kaplan_meier(key: ViewKey, _view: View) -> pd.DataFrame:
    return churn.kaplan_meier(_view.con(), _view.cfg, _view.filters, _view.period())


def churn_kaplan_meier(filters: Filters) -> pd.DataFrame:
    """The customer survival curve with its 95% band (`churn.kaplan_meier`)."""
    v = view(filters)
    return _churn_kaplan_meier(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _churn_at_risk(key: ViewKey, _view: View) -> pd.DataFrame:
    return churn.at_risk(_view.con(), _view.cfg, _view.filters, _view.period())


def churn_at_risk(filters: Filters) -> pd.DataFrame:
    """Active accounts, lowest health score first (`churn.at_risk`)."""
    v = view(filters)
    return _churn_at_risk(v.key, v)


@st.cache_data(max_entries=LOOKUPS, show_spinner=False)
def _churn_health(key: ViewKey, account_id: str, as_of: dt.date | None, _view: View) -> dict[str, Any]:
    return churn.health(_view.con(), _view.cfg, account_id, as_of)


def churn_health(account_id: str, as_of: dt.date | None) -> dict[str, Any]:
    """One account's health score and its reasons as of a day (`churn.health`)."""
    v = view()
    return _churn_health(v.key, account_id, as_of, v)


# ---- MRR movements (the churn page's bridge) ------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _mrr_movements_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return mrr_movements.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def mrr_movements_summary(filters: Filters) -> dict[str, Any]:
    """The MRR bridge of the period: start, movements, end, quick ratio, ARPA (`mrr_movements.summary`)."""
    v = view(filters)
    return _mrr_movements_summary(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _mrr_movements_by_month(key: ViewKey, _view: View) -> pd.DataFrame:
    return mrr_movements.by_month(_view.con(), _view.cfg, _view.filters, _view.period())


def mrr_movements_by_month(filters: Filters) -> pd.DataFrame:
    """The MRR movements month by month (`mrr_movements.by_month`)."""
    v = view(filters)
    return _mrr_movements_by_month(v.key, v)


@st.cache_data(max_entries=LOOKUPS, show_spinner=False)
def _mrr_movement_accounts(key: ViewKey, movement: str | None, month: dt.date | None, _view: View) -> pd.DataFrame:
    return mrr_movements.accounts(_view.con(), _view.cfg, _view.filters, _view.period(), movement, month).execute()


def mrr_movement_accounts(filters: Filters, movement: str | None, month: dt.date | None = None) -> pd.DataFrame:
    """The accounts behind a movement, over the period or one month (`mrr_movements.accounts`)."""
    v = view(filters)
    return _mrr_movement_accounts(v.key, movement, month, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _mrr_cohort_revenue(key: ViewKey, _view: View) -> pd.DataFrame:
    return mrr_movements.cohort_revenue(_view.con(), _view.cfg, _view.filters, _view.period())


def mrr_cohort_revenue(filters: Filters) -> pd.DataFrame:
    """Revenue retention (NRR) per first-contract month and month offset (`mrr_movements.cohort_revenue`)."""
    v = view(filters)
    return _mrr_cohort_revenue(v.key, v)


# ---- satisfaction -------------------------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _satisfaction_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return satisfaction.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def satisfaction_summary(filters: Filters) -> dict[str, Any]:
    """CSAT, NPS, CES with intervals, first response and the SLA (`satisfaction.summary`)."""
    v = view(filters)
    return _satisfaction_summary(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _satisfaction_by_group(key: ViewKey, by: GroupBy, _view: View) -> pd.DataFrame:
    return satisfaction.by_group(_view.con(), _view.cfg, _view.filters, _view.period(), by=by)


def satisfaction_by_group(filters: Filters, by: GroupBy) -> pd.DataFrame:
    """The satisfaction figures per channel, region, rep, month or segment (`satisfaction.by_group`)."""
    v = view(filters)
    return _satisfaction_by_group(v.key, by, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _satisfaction_response_times(key: ViewKey, _view: View) -> pd.DataFrame:
    return satisfaction.response_times(_view.con(), _view.cfg, _view.filters, _view.period())


def satisfaction_response_times(filters: Filters) -> pd.DataFrame:
    """A histogram of hours to first response per channel (`satisfaction.response_times`)."""
    v = view(filters)
    return _satisfaction_response_times(v.key, v)


# ---- collection (回款) and targets ----------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _collection_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return collection.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def collection_summary(filters: Filters) -> dict[str, Any]:
    """Due, collected, the collection rate and overdue with its aging (`collection.summary`)."""
    v = view(filters)
    return _collection_summary(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _collection_by_month(key: ViewKey, _view: View) -> pd.DataFrame:
    return collection.by_month(_view.con(), _view.cfg, _view.filters, _view.period())


def collection_by_month(filters: Filters) -> pd.DataFrame:
    """Due and collected per month of the period (`collection.by_month`)."""
    v = view(filters)
    return _collection_by_month(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _collection_by_group(key: ViewKey, by: CollectionBy, _view: View) -> pd.DataFrame:
    return collection.by_group(_view.con(), _view.cfg, _view.filters, _view.period(), by)


def collection_by_group(filters: Filters, by: CollectionBy) -> pd.DataFrame:
    """The collection figures and overdue aging per region or account owner (`collection.by_group`)."""
    v = view(filters)
    return _collection_by_group(v.key, by, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _collection_overdue(key: ViewKey, _view: View) -> pd.DataFrame:
    return collection.overdue_installments(_view.con(), _view.cfg, _view.filters, _view.period())


def collection_overdue(filters: Filters) -> pd.DataFrame:
    """Every installment overdue at the period's end, longest overdue first (`collection.overdue_installments`)."""
    v = view(filters)
    return _collection_overdue(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _targets_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return targets.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def targets_summary(filters: Filters) -> dict[str, Any]:
    """Each target of the period against what was booked or collected towards it (`targets.summary`)."""
    v = view(filters)
    return _targets_summary(v.key, v)


# ---- forecast (销售预测) and pipeline change --------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _forecast_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return forecast.summary(_view.con(), _view.cfg, _view.filters, _view.period())


def forecast_summary(filters: Filters) -> dict[str, Any]:
    """Closed won, commit, best case, pipeline, weighted and the stage probabilities (`forecast.summary`)."""
    v = view(filters)
    return _forecast_summary(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _forecast_stage_evidence(key: ViewKey, _view: View) -> list[dict[str, Any]]:
    return forecast.stage_evidence(_view.con(), _view.cfg, _view.filters)


def forecast_stage_evidence(filters: Filters) -> list[dict[str, Any]]:
    """Per stage the decided deals behind its learned p, with a Wilson interval (`forecast.stage_evidence`)."""
    v = view(filters)
    return _forecast_stage_evidence(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _forecast_open_deals(key: ViewKey, stage_p: tuple[tuple[str, float | None], ...], _view: View) -> pd.DataFrame:
    return forecast.open_deals(_view.con(), _view.cfg, _view.filters, _view.period(), dict(stage_p)).execute()


def forecast_open_deals(filters: Filters) -> pd.DataFrame:
    """The open deals expected in the period by forecast category, with their stage's p (`forecast.open_deals`)."""
    v = view(filters)
    stage_p = tuple((s["stage"], s["probability"]) for s in forecast_summary(filters)["stage_probabilities"])
    return _forecast_open_deals(v.key, stage_p, v)


@st.cache_data(max_entries=LOOKUPS, show_spinner=False)
def _target_credit_by_day(key: ViewKey, target: tuple[str, str | None, str, dt.date, dt.date],
                          _view: View) -> list[tuple[dt.date, Any]]:
    level, who, basis, start, end = target
    return forecast.credit_by_day(_view.con(), _view.cfg, level, who, basis, start, end)


def target_credit_by_day(level: str, key: str | None, basis: str, start: dt.date,
                         end: dt.date) -> list[tuple[dt.date, Any]]:
    """What one target counts each day from `start` to `end` (`forecast.credit_by_day`; no filter applies)."""
    v = view()
    return _target_credit_by_day(v.key, (level, key, basis, start, end), v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _snapshot_days(key: ViewKey, _view: View) -> list[dt.date]:
    con = _view.con()
    if "snapshot_days" not in con.list_tables():
        return []
    days = con.table("snapshot_days").snapshot_date
    frame = days.name("d").as_table().distinct().order_by("d").execute()
    return [pd.Timestamp(x).date() for x in frame["d"].dropna()]


def snapshot_days() -> list[dt.date]:
    """Every snapshot day of the data, in order (read whole under any scope)."""
    v = view()
    return _snapshot_days(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _pipeline_days(key: ViewKey, _view: View) -> tuple[dt.date | None, dt.date | None]:
    return pipeline_change.compared_days(_view.con(), _view.period())


def pipeline_days(filters: Filters) -> tuple[dt.date | None, dt.date | None]:
    """The two snapshot days the period compares by default (`pipeline_change.compared_days`)."""
    v = view(filters)
    return _pipeline_days(v.key, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _pipeline_compare(key: ViewKey, days: tuple[dt.date | None, dt.date | None], _view: View) -> dict[str, Any]:
    return pipeline_change.compare(_view.con(), _view.cfg, _view.filters, _view.period(), *days)


def pipeline_compare(filters: Filters, start: dt.date | None, end: dt.date | None) -> dict[str, Any]:
    """The pipeline change between two snapshot days (`pipeline_change.compare`)."""
    v = view(filters)
    return _pipeline_compare(v.key, (start, end), v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _pipeline_changes(key: ViewKey, days: tuple[dt.date, dt.date], bucket: str | None, _view: View) -> pd.DataFrame:
    return pipeline_change.changes(_view.con(), _view.cfg, _view.filters, _view.period(), *days, bucket).execute()


def pipeline_changes(filters: Filters, start: dt.date, end: dt.date, bucket: str | None) -> pd.DataFrame:
    """The deals behind a pipeline-change bucket, largest change first (`pipeline_change.changes`)."""
    v = view(filters)
    return _pipeline_changes(v.key, (start, end), bucket, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _pipeline_push_counts(key: ViewKey, ids: tuple[str, ...], days: tuple[dt.date, dt.date],
                          _view: View) -> pd.DataFrame:
    return pipeline_change.push_counts(_view.con(), ids, *days).execute()


def pipeline_slipped(filters: Filters, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The deals pushed out between two snapshot days with their pushes: `pipeline_change.slipped`'s
    rows, from the pushed-out bar's deals (cached, shared with its drill-down) and one query of
    their pushes (`pipeline_change.push_counts`)."""
    v = view(filters)
    out = pipeline_changes(filters, start, end, "pushed_out")
    ids = tuple(sorted(str(i) for i in out["deal_id"]))
    if not ids:
        return out.assign(times_pushed=pd.Series(dtype="int64"))
    merged = out.merge(_pipeline_push_counts(v.key, ids, (start, end), v), on="deal_id", how="left")
    merged["times_pushed"] = merged["times_pushed"].fillna(0).astype("int64")
    return pipeline_change.order_slipped(merged)


# ---- accounts -----------------------------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _accounts_list(key: ViewKey, search: str, as_of: dt.date | None, _view: View) -> pd.DataFrame:
    return accounts.account_list(_view.con(), _view.cfg, _view.filters, search, as_of=as_of)


def accounts_list(filters: Filters, search: str = "", as_of: dt.date | None = None) -> pd.DataFrame:
    """The accounts the filters and `search` match, with MRR on `as_of` (`accounts.account_list`)."""
    v = view(filters)
    return _accounts_list(v.key, search, as_of, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _accounts_ownership(key: ViewKey, as_of: dt.date | None, _view: View) -> dict[str, pd.DataFrame]:
    return accounts.ownership(_view.con(), _view.cfg, _view.filters, as_of=as_of)


def accounts_ownership(filters: Filters, as_of: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """Accounts without an owner, and accounts per owner with MRR on `as_of` (`accounts.ownership`)."""
    v = view(filters)
    return _accounts_ownership(v.key, as_of, v)


@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _accounts_at_risk(key: ViewKey, _view: View) -> pd.DataFrame:
    return accounts.at_risk(_view.con(), _view.cfg, _view.filters, _view.period())


def accounts_at_risk(filters: Filters) -> pd.DataFrame:
    """Active accounts, lowest health first, with late 回款 and slow first response (`accounts.at_risk`)."""
    v = view(filters)
    return _accounts_at_risk(v.key, v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _health_backtest(key: ViewKey, _view: View) -> health_backtest.Backtest:
    return health_backtest.backtest(_view.con(), _view.cfg)


def health_backtest_result() -> health_backtest.Backtest:
    """The health score checked on every month-end of the data (`health_backtest.backtest`): once
    per dataset version and scope, whatever the filters (it scores every account in the scope)."""
    v = view(Filters())
    return _health_backtest(v.key, v)


@st.cache_data(max_entries=LOOKUPS, show_spinner=False)
def _account_profile(key: ViewKey, account_id: str, _view: View) -> dict[str, pd.DataFrame]:
    return accounts.profile(_view.con(), account_id)


def account_profile(account_id: str) -> dict[str, pd.DataFrame]:
    """One account's rows in every table, within the user's scope (`accounts.profile`)."""
    v = view()
    return _account_profile(v.key, account_id, v)


# ---- commission ---------------------------------------------------------------------------------

@st.cache_data(max_entries=VIEWS, show_spinner=False)
def _commission_all_rows(key: ViewKey, plan_key: str, _plan: Plan | None, _view: View) -> pd.DataFrame:
    return commission.all_rows(_view.con(), _view.cfg, _view.period(), _plan)


def commission_rows(filters: Filters, plan: Plan | None = None) -> pd.DataFrame:
    """The commission rows shown for the filters (`commission.attainment`'s frame).

    A payout never depends on the view (CONTRACT §5), so everyone's rows are computed once per
    period and plan (cached) and the filters only pick the people: a region change asks no query.
    """
    everyone = view(Filters(filters.date_from, filters.date_to))
    rows = _commission_all_rows(everyone.key, repr(plan), plan, everyone)
    return commission.in_view(rows, everyone.scope.narrow(filters))


@st.cache_data(max_entries=LOOKUPS, show_spinner=False)
def _commission_statement(key: ViewKey, rep_id: str, period_start: dt.date, _view: View) -> pd.DataFrame:
    return commission.statement(_view.con(), _view.cfg, rep_id, period_start)


def commission_statement(rep_id: str, period_start: dt.date) -> pd.DataFrame:
    """One person's statement for one commission period (`commission.statement`)."""
    v = view()
    return _commission_statement(v.key, rep_id, period_start, v)


# ---- data quality and the load log --------------------------------------------------------------

@st.cache_data(max_entries=READS, show_spinner=False)
def _quality_summary(key: ViewKey, _view: View) -> dict[str, Any]:
    return quality.summary(_view.con(), _view.cfg)


def quality_summary() -> dict[str, Any]:
    """Rows, completeness and orphans per table of the data in scope (`quality.summary`)."""
    v = view()
    return _quality_summary(v.key, v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _quality_columns(key: ViewKey, table: str, _view: View) -> pd.DataFrame:
    return quality.columns(_view.con(), table)


def quality_columns(table: str) -> pd.DataFrame:
    """Each column of `table`: kind, required, non-empty and distinct values (`quality.columns`)."""
    v = view()
    return _quality_columns(v.key, table, v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _quality_last_rejects(key: ViewKey, _view: View) -> pd.DataFrame:
    return quality.last_rejects(_view.con())


def quality_last_rejects() -> pd.DataFrame:
    """The rejected rows of each table's latest load (`quality.last_rejects`)."""
    v = view()
    return _quality_last_rejects(v.key, v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _quality_load_history(key: ViewKey, _view: View) -> pd.DataFrame:
    return quality.load_history(_view.con())


def quality_load_history() -> pd.DataFrame:
    """Every load, newest first (`quality.load_history`)."""
    v = view()
    return _quality_load_history(v.key, v)


@st.cache_data(max_entries=READS, show_spinner=False)
def _row_count(key: ViewKey, table: str, _view: View) -> int:
    con = _view.con()
    if table not in con.list_tables():  # a database not made by b2bmetrics: the table has no rows
        return 0
    return int(con.table(table).count().execute())


def row_count(table: str) -> int:
    """Rows of `table` in the user's scope: a page's "is there data" check, which must not wait for
    the whole data-quality summary."""
    v = view()
    return _row_count(v.key, table, v)
