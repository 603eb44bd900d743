"""Churn and retention: monthly logo churn, GRR and NRR, cohorts, lifetimes, accounts at risk."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.registry import KPI_BY_KEY
from ui import charts, data, page
from ui.download import download
from ui.i18n import kpi_label, pick
from ui.tables import show_table
from ui.tiles import kpi_tiles

HEADLINE = ["churn.active_accounts_start", "churn.churned_accounts", "churn.logo_churn_rate", "churn.mrr_start",
            "churn.mrr_end", "churn.gross_revenue_retention", "churn.net_revenue_retention"]


def render_headline(filters: Filters) -> None:
    kpi_tiles({"churn": data.metric("churn.summary", filters)}, HEADLINE)


def render_monthly(filters: Filters) -> None:
    st.subheader(pick("Month by month", "逐月"))
    monthly = data.metric("churn.monthly", filters)
    if page.empty(monthly):
        return
    fig = go.Figure()
    for key in ("churn.logo_churn_rate", "churn.gross_revenue_retention", "churn.net_revenue_retention"):
        name = KPI_BY_KEY[key].name
        fig.add_scatter(x=monthly["month"], y=monthly[name], mode="lines+markers", name=kpi_label(key),
                        hovertemplate="%{x|%Y-%m}: %{y:.1%}<extra>" + kpi_label(key) + "</extra>")
    fig.update_layout(yaxis_tickformat=".0%")
    charts.show(charts.style(fig), "churn_monthly")
    download(monthly, "churn_monthly", "churn_monthly")


def render_cohorts(filters: Filters) -> None:
    st.subheader(pick("Cohort retention (by month of first contract)", "同期群留存（按首份合同月份）"))
    cohorts = data.metric("churn.cohort_matrix", filters)
    if page.empty(cohorts):
        return
    grid = cohorts.pivot_table(index="cohort", columns="month_offset", values="retention")
    sizes = cohorts.groupby("cohort")["size"].first()
    labels = [f"{c:%Y-%m} (n={sizes[c]})" for c in grid.index]
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=labels, colorscale="Blues", zmin=0, zmax=1,
                               hovertemplate="%{y}, +%{x} " + pick("months", "个月") + ": %{z:.0%}<extra></extra>",
                               colorbar={"tickformat": ".0%"}))
    fig.update_layout(xaxis_title=pick("Months since first contract", "首份合同后的月数"), yaxis_autorange="reversed")
    charts.show(charts.style(fig, height=max(320, 18 * len(labels))), "churn_cohorts")
    download(cohorts, "cohort_retention", "churn_cohorts")


def render_lifetimes(filters: Filters) -> None:
    st.subheader(pick("Customer lifetime (Kaplan–Meier, 95% band)", "客户生命周期（Kaplan–Meier，95% 置信带）"))
    km = data.metric("churn.kaplan_meier", filters)
    if page.empty(km):
        return
    fig = go.Figure()
    fig.add_scatter(x=km["days"], y=km["ci_high"], mode="lines", line={"width": 0, "shape": "hv"}, showlegend=False,
                    hoverinfo="skip")
    fig.add_scatter(x=km["days"], y=km["ci_low"], mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                    fillcolor="rgba(31,111,235,0.15)", name="95%", hoverinfo="skip")
    fig.add_scatter(x=km["days"], y=km["survival"], mode="lines", line={"shape": "hv", "color": charts.PALETTE[0]},
                    name=pick("Still a customer", "仍为客户"), customdata=km[["at_risk", "events"]],
                    hovertemplate=pick("day", "第") + " %{x:.0f}: %{y:.1%}<br>at risk %{customdata[0]}, "
                                  "churned %{customdata[1]}<extra></extra>")
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1.02], xaxis_title=pick("Days since first contract",
                                                                                        "首份合同后的天数"))
    charts.show(charts.style(fig), "churn_km")
    download(km, "kaplan_meier", "churn_km")


def render_at_risk(filters: Filters) -> None:
    st.subheader(pick("Accounts at risk", "风险客户"))
    st.caption(pick("Health score 0–100: 100 minus penalties for inactivity (≤30), low satisfaction (≤25), "
                    "open tickets (≤20) and falling MRR (≤25).",
                    "健康分 0–100：100 减去不活跃（≤30）、满意度低（≤25）、未结工单（≤20）和 MRR 下降（≤25）的扣分。"))
    risky = data.metric("churn.at_risk", filters)
    if page.empty(risky):
        return
    cols = ["account_id", "account_name", "owner_name", "region", "health_score", "reasons", "mrr", "mrr_change",
            "days_since_activity", "open_tickets"]
    show_table(risky, "accounts_at_risk", "churn_risk", columns=cols, extra_config={
        "health_score": st.column_config.ProgressColumn(pick("Health", "健康分"), min_value=0, max_value=100,
                                                        format="%.0f"),
        "mrr_change": st.column_config.NumberColumn(pick("MRR change (90 d)", "MRR 变化（90天）"), format="percent")})


filters = page.start("page_churn", tables=("contracts",))
render_headline(filters)
render_monthly(filters)
render_cohorts(filters)
render_lifetimes(filters)
render_at_risk(filters)
