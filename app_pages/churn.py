"""Churn and retention: monthly logo churn, GRR and NRR, cohorts, lifetimes, accounts at risk."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.churn import with_reason_text
from b2bmetrics.registry import kpi
from ui import charts, churn_data, data, page
from ui.download import download
from ui.i18n import kpi_label, label, lang, pick
from ui.tables import show_table
from ui.tiles import kpi_tiles

HEADLINE = ["churn.active_accounts_start", "churn.churned_accounts", "churn.logo_churn_rate", "churn.mrr_start",
            "churn.mrr_end", "churn.gross_revenue_retention", "churn.net_revenue_retention"]
MONTHLY = ["churn.logo_churn_rate", "churn.gross_revenue_retention", "churn.net_revenue_retention"]
AT_RISK_COLUMNS = ["account_id", "account_name", "owner_name", "region", "health_score", "reasons", "mrr",
                   "mrr_change", "days_since_activity", "open_tickets"]


def render_headline(filters: Filters) -> None:
    kpi_tiles({"churn": data.churn_summary(filters)}, HEADLINE)


def render_monthly(filters: Filters) -> None:
    st.subheader(pick("Month by month", "逐月"))
    monthly = data.churn_monthly(filters)
    if page.empty(monthly):
        return
    fig = go.Figure()
    for key in MONTHLY:
        fig.add_scatter(x=monthly["month"], y=monthly[kpi(key).name], mode="lines+markers", name=kpi_label(key),
                        hovertemplate="%{x|%Y-%m}: %{y:.1%}<extra>" + kpi_label(key) + "</extra>")
    fig.update_layout(xaxis_title=label("month"), yaxis_tickformat=".0%")
    charts.show(charts.style(fig), "churn_monthly")
    download(monthly, "churn_monthly", "churn_monthly")


def render_cohorts(filters: Filters) -> None:
    st.subheader(pick("Cohort retention (by month of first contract)", "同期群留存（按首份合同月份）"))
    cohorts = data.churn_cohort_matrix(filters)
    if page.empty(cohorts):
        return
    grid = churn_data.cohort_grid(cohorts)
    fig = go.Figure(go.Heatmap(z=grid.retention, x=grid.months, y=grid.labels, colorscale="Blues", zmin=0, zmax=1,
                               hovertemplate="%{y}, +%{x} " + pick("months", "个月") + ": %{z:.0%}<extra></extra>",
                               colorbar={"tickformat": ".0%"}))
    fig.update_layout(xaxis_title=pick("Months since first contract", "首份合同后的月数"),
                      yaxis_title=label("cohort"), yaxis_autorange="reversed")
    charts.show(charts.style(fig, height=max(320, 18 * len(grid.labels))), "churn_cohorts")
    download(cohorts, "cohort_retention", "churn_cohorts")


def render_lifetimes(filters: Filters) -> None:
    st.subheader(pick("Customer lifetime (Kaplan–Meier, 95% band)", "客户生命周期（Kaplan–Meier，95% 置信带）"))
    km = data.churn_kaplan_meier(filters)
    if page.empty(km):
        return
    fig = go.Figure()
    fig.add_scatter(x=km["days"], y=km["ci_high"], mode="lines", line={"width": 0, "shape": "hv"}, showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=km["days"], y=km["ci_low"], mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                    fillcolor="rgba(31,111,235,0.15)", name="95%", hoverinfo="skip")
    fig.add_scatter(x=km["days"], y=km["survival"], mode="lines", line={"shape": "hv", "color": charts.PALETTE[0]},
                    name=pick("Still a customer", "仍为客户"), customdata=km[["at_risk", "events"]],
                    hovertemplate=pick("day %{x:.0f}: %{y:.1%}<br>at risk %{customdata[0]}, churned %{customdata[1]}",
                                       "第 %{x:.0f} 天：%{y:.1%}<br>在册 %{customdata[0]}，流失 %{customdata[1]}")
                                  + "<extra></extra>")
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1.02],
                      xaxis_title=pick("Days since first contract", "首份合同后的天数"),
                      yaxis_title=pick("Still a customer", "仍为客户"))
    charts.show(charts.style(fig), "churn_km")
    download(km, "kaplan_meier", "churn_km")


def render_at_risk(filters: Filters) -> None:
    st.subheader(pick("Accounts at risk", "风险客户"))
    st.caption(pick("Health score 0–100: 100 minus penalties for inactivity (≤30), low satisfaction (≤25), "
                    "open tickets (≤20) and falling MRR (≤25).",
                    "健康分 0–100：100 减去不活跃（≤30）、满意度低（≤25）、未结工单（≤20）和 MRR 下降（≤25）的扣分。"))
    risky = data.churn_at_risk(filters)
    if page.empty(risky):
        return
    risky = with_reason_text(risky, lang())
    show_table(risky, "accounts_at_risk", "churn_risk", columns=AT_RISK_COLUMNS, progress={"health_score": (0, 100)})


filters = page.start("page_churn", tables=("contracts",))
render_headline(filters)
render_monthly(filters)
render_cohorts(filters)
render_lifetimes(filters)
render_at_risk(filters)
