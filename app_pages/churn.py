"""Churn and retention: monthly logo churn, GRR and NRR, the MRR bridge and its movements by month with
the accounts behind every bar, logo and revenue cohorts, lifetimes, accounts at risk."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.churn import with_reason_text
from b2bmetrics.metrics.mrr_movements import MOVEMENTS
from b2bmetrics.registry import kpi
from ui import charts, churn_data, data, page
from ui.download import download
from ui.i18n import kpi_label, label, lang, pick
from ui.tables import column_config, show_table
from ui.tiles import kpi_tiles, money

HEADLINE = ["churn.active_accounts_start", "churn.churned_accounts", "churn.logo_churn_rate", "churn.mrr_start",
            "churn.mrr_end", "churn.gross_revenue_retention", "churn.net_revenue_retention"]
MONTHLY = ["churn.logo_churn_rate", "churn.gross_revenue_retention", "churn.net_revenue_retention"]
BRIDGE_TILES = ["mrr_movements.net_new_mrr", "mrr_movements.quick_ratio", "mrr_movements.arpa"]
MOVER_COLUMNS = ["account_id", "account_name", "movement", "mrr_from", "mrr_to", "mrr_change"]
BRIDGE_KEY, MONTHS_KEY = "chart_churn_bridge", "chart_churn_moves"
KEY_MOVE, KEY_MOVE_MONTH = "churn_move", "churn_move_month"
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


def _on_bridge_pick() -> None:
    """A click on a bridge bar lists its accounts over the whole period."""
    event = st.session_state.get(BRIDGE_KEY)
    movement = churn_data.movement_of_bridge_points(event["selection"]["points"]) if event and event.get(
        "selection") else None
    if movement is not None:
        st.session_state[KEY_MOVE] = movement
        st.session_state[KEY_MOVE_MONTH] = None


def _on_month_pick() -> None:
    """A click on a month's bar lists that movement's accounts in that month."""
    event = st.session_state.get(MONTHS_KEY)
    months = st.session_state.get("_churn_months") or []
    picked = churn_data.pick_of_month_points(event["selection"]["points"], months) if event and event.get(
        "selection") else None
    if picked is not None:
        st.session_state[KEY_MOVE] = picked[0]
        st.session_state[KEY_MOVE_MONTH] = picked[1].isoformat()


def render_bridge(filters: Filters) -> dict[str, object]:
    st.subheader(pick("MRR bridge", "MRR 变动桥"))
    summary = data.mrr_movements_summary(filters)
    kpi_tiles({"mrr_movements": summary}, BRIDGE_TILES, per_row=3)
    period = data.period(filters)
    st.caption(pick(f"Every account's MRR on {period.start} against {period.end} (new customers included). "
                    "Click a bar to list its accounts.",
                    f"每个客户 {period.start} 与 {period.end} 的 MRR 对比（含新客户）。点击柱形查看对应客户。"))
    bars = churn_data.bridge_bars(summary)
    fig = go.Figure(go.Waterfall(
        x=bars["label"], y=bars["value"], measure=bars["measure"], customdata=bars["step"],
        increasing={"marker": {"color": "#2da44e"}}, decreasing={"marker": {"color": "#cf222e"}},
        totals={"marker": {"color": "#1f6feb"}}, connector={"line": {"color": "#8c959f", "width": 1}},
        text=[money(a) for a in bars["amount"]], textposition="outside",
        hovertemplate="%{x}: %{y:,.2f}<extra></extra>"))
    fig.update_yaxes(tickformat=",.0f", title_text="MRR", automargin=True)
    fig.update_layout(showlegend=False, clickmode="event+select")
    st.plotly_chart(charts.style(fig, height=400), width="stretch", key=BRIDGE_KEY, on_select=_on_bridge_pick,
                    selection_mode="points", config={"displaylogo": False})
    download(bars[["step", "label", "value"]], "mrr_bridge", "churn_bridge")
    return summary


def render_movements_by_month(filters: Filters) -> list[dt.date]:
    st.subheader(pick("MRR movements by month", "每月 MRR 变动"))
    months = churn_data.month_table(data.mrr_movements_by_month(filters))
    if page.empty(months):
        return []
    fig = go.Figure()
    for movement in MOVEMENTS:
        name = churn_data.step_name(movement)
        fig.add_bar(x=months["month"], y=churn_data.month_bar_values(months, movement), name=name,
                    marker_color=churn_data.MOVEMENT_COLORS[movement],
                    hovertemplate=f"{name} %{{x|%Y-%m}}: %{{y:,.2f}}<extra></extra>")
    fig.add_scatter(x=months["month"], y=months["net_new_mrr"], name=kpi_label("mrr_movements.net_new_mrr"),
                    mode="lines+markers", line={"color": "#24292f"},
                    hovertemplate="%{x|%Y-%m}: %{y:,.2f}<extra></extra>")
    fig.update_layout(barmode="relative", clickmode="event+select", xaxis={"tickformat": "%Y-%m", "dtick": "M1"},
                      xaxis_title=label("month"))
    fig.update_yaxes(tickformat=",.0f", title_text="MRR", automargin=True)
    st.plotly_chart(charts.style(fig, height=380), width="stretch", key=MONTHS_KEY, on_select=_on_month_pick,
                    selection_mode="points", config={"displaylogo": False})
    st.caption(pick("Each month compares its last day with the previous month's: the months' net new MRR adds up "
                    "to the bridge's; an account that left and came back counts in both months.",
                    "每月对比当月末日与上月末日：各月净新增MRR之和等于变动桥的净新增；流失后回流的客户在两个月各计一次。"))
    download(months, "mrr_movements_by_month", "churn_moves")
    return [m.date() for m in months["month"]]


def render_movers(filters: Filters, summary: dict[str, object], months: list[dt.date]) -> None:
    """The accounts behind the bar clicked (or chosen): downloadable."""
    st.session_state["_churn_months"] = months
    left, right = st.columns(2)
    movement = left.selectbox(pick("Accounts behind", "对应客户"), list(MOVEMENTS), index=None, key=KEY_MOVE,
                              format_func=churn_data.movement_label,
                              placeholder=pick("Click a bar or choose a movement", "点击柱形或选择变动类型"))
    options = [m.isoformat() for m in months]
    if st.session_state.get(KEY_MOVE_MONTH) not in options:  # none chosen, or a month of another period
        st.session_state[KEY_MOVE_MONTH] = None
    # no choice = the whole period (a placeholder: the options read the same in every language)
    when = right.selectbox(pick("Over", "范围"), options, index=None, key=KEY_MOVE_MONTH, format_func=lambda v: v[:7],
                           placeholder=pick("The whole period", "整个期间"))
    if movement is None:
        return
    month = None if when is None else dt.date.fromisoformat(when)
    movers = churn_data.accounts_table(data.mrr_movement_accounts(filters, movement, month))
    total = summary[movement] if month is None else _month_figure(filters, month, movement)
    st.caption(pick(f"{len(movers):,} accounts; {churn_data.movement_label(movement)}: {money(total)}.",
                    f"共 {len(movers):,} 个客户，{churn_data.movement_label(movement)} {money(total)}。"))
    if page.empty(movers):
        return
    shown = movers[MOVER_COLUMNS]
    st.dataframe(shown, hide_index=True, width="stretch", height=min(420, 36 * len(shown) + 40), placeholder="",
                 column_config={**column_config(shown), **churn_data.own_column_config(shown)}, key="table_churn_movers")
    suffix = "period" if month is None else f"{month:%Y-%m}"
    download(shown, f"mrr_{movement}_{suffix}", "churn_movers")


def _month_figure(filters: Filters, month: dt.date, movement: str) -> object:
    months = data.mrr_movements_by_month(filters)
    row = months[months["month"] == pd.Timestamp(month)]
    return row[movement].iloc[0] if len(row) else 0


def _heatmap(grid: churn_data.CohortGrid, key: str, *, zmax: float, colorscale: str, hover: str,
             zmid: float | None = None) -> None:
    fig = go.Figure(go.Heatmap(z=grid.retention, x=grid.months, y=grid.labels, colorscale=colorscale, zmin=0, zmax=zmax,
                               zmid=zmid, hovertemplate="%{y}, +%{x} " + pick("months", "个月") + ": %{z:.0%}"
                               + hover + "<extra></extra>", colorbar={"tickformat": ".0%"}))
    fig.update_layout(xaxis_title=pick("Months since first contract", "首份合同后的月数"),
                      yaxis_title=label("cohort"), yaxis_autorange="reversed")
    fig.update_yaxes(automargin=True)
    charts.show(charts.style(fig, height=max(320, 18 * len(grid.labels))), key)


def render_cohorts(filters: Filters) -> None:
    st.subheader(pick("Cohorts (by month of first contract)", "同期群（按首份合同月份）"))
    cohorts = data.churn_cohort_matrix(filters)
    if page.empty(cohorts):
        return
    logos, revenue = st.columns(2)
    with logos:
        st.markdown(f"**{pick('Logo retention: share still a customer', '客户留存：仍为客户的比例')}**")
        _heatmap(churn_data.cohort_grid(cohorts), "churn_cohorts", zmax=1, colorscale="Blues", hover="")
        download(cohorts, "cohort_retention", "churn_cohorts")
    with revenue:
        st.markdown(f"**{pick('Revenue retention (NRR): MRR against the starting MRR', '收入留存（NRR）：MRR 相对初始 MRR')}**")
        nrr = data.mrr_cohort_revenue(filters)
        if page.empty(nrr):
            return
        _heatmap(churn_data.cohort_grid(nrr, "nrr"), "churn_cohorts_nrr", zmax=2, zmid=1, colorscale="RdYlGn",
                 hover="")
        download(churn_data.cohort_revenue_table(nrr), "cohort_revenue_retention", "churn_cohorts_nrr")
    st.caption(pick("Starting MRR: each account's MRR on the day its first contract started. Above 100%: the "
                    "cohort's expansion outweighs its churn and contraction.",
                    "初始 MRR：每个客户首份合同开始当天的 MRR。高于 100%：该同期群的扩展超过流失与收缩。"))


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
    if data.row_count("accounts") > churn_data.AUTO_AT_RISK and not st.toggle(
            pick("Score the accounts", "计算健康分"), key="churn_at_risk_show"):
        st.caption(pick(f"Above {churn_data.AUTO_AT_RISK:,} accounts the scores are computed on request: they read "
                        "every account's activity, tickets and answers.",
                        f"客户数超过 {churn_data.AUTO_AT_RISK:,} 时按需计算健康分：需读取每个客户的跟进、工单和问卷。"))
        return
    risky = data.churn_at_risk(filters)
    if page.empty(risky):
        return
    risky = with_reason_text(risky, lang())
    show_table(risky, "accounts_at_risk", "churn_risk", columns=AT_RISK_COLUMNS, progress={"health_score": (0, 100)})


filters = page.start("page_churn", tables=("contracts",))
render_headline(filters)
bridge = render_bridge(filters)
render_movers(filters, bridge, render_movements_by_month(filters))
render_monthly(filters)
render_cohorts(filters)
render_lifetimes(filters)
render_at_risk(filters)
