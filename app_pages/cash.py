"""Cash (回款): what fell due and what came in, the collection rate by region and rep, what is overdue
and for how long, the collections team's call list, and collected cash against its targets."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.collection import AGING
from ui import cash_data, charts, data, page
from ui.download import download
from ui.i18n import kpi_label, label, pick, t, words
from ui.tables import in_words, show_table
from ui.tiles import kpi_tiles, money

TILES = ["collection.due", "collection.collected_against_due", "collection.collection_rate",
         "collection.collected", "collection.overdue"]
MONTH_COLUMNS = ["month", "due", "collected_against_due", "collection_rate", "collected"]
REGION_COLUMNS = ["region", "due", "collected_against_due", "collection_rate", "collected", "overdue",
                  *cash_data.AGING_COLUMNS]
REP_COLUMNS = ["rep_id", "rep_name", "due", "collected_against_due", "collection_rate", "collected", "overdue",
               *cash_data.AGING_COLUMNS]
OVERDUE_COLUMNS = ["account_name", "deal_id", "owner_name", "due_date", "amount_due", "paid_by_to", "outstanding",
                   "days_overdue", "aging", "account_id", "owner_rep_id", "payment_id"]
TARGET_COLUMNS = ["key", "period_start", "target", "actual", "attainment", "expected_to_date", "pace"]
TOP_REPS = 25  # reps in the rate chart (the table lists all)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def render_tiles(filters: Filters) -> bool:
    """The five tiles; False (and a note) when nothing is due, collected or overdue."""
    summary = data.collection_summary(filters)
    kpi_tiles({"collection": summary}, TILES, per_row=5)
    period = data.period(filters)
    st.caption(pick(f"Due and collected from {period.start} to {period.end}; overdue as of {period.end}.",
                    f"应回款与实际回款：{period.start} 至 {period.end}；逾期截至 {period.end}。"))
    if cash_data.is_empty(summary):
        st.info(t("empty_filter"), icon=":material/filter_alt_off:")
        return False
    return True


def render_months(filters: Filters) -> None:
    st.subheader(pick("Due vs collected by month", "每月应回款与实际回款"))
    months = cash_data.month_table(data.collection_by_month(filters))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for name, color in (("due", "#8c959f"), ("collected_against_due", charts.PALETTE[1]),
                        ("collected", charts.PALETTE[0])):
        fig.add_bar(x=months["month"], y=months[name], name=label(name), marker_color=color,
                    hovertemplate=f"{label(name)} %{{x|%Y-%m}}: %{{y:,.2f}}<extra></extra>")
    fig.add_scatter(x=months["month"], y=months["collection_rate"], name=label("collection_rate"),
                    mode="lines+markers", line={"color": charts.PALETTE[2]}, secondary_y=True,
                    hovertemplate=f"{label('collection_rate')} %{{x|%Y-%m}}: %{{y:.1%}}<extra></extra>")
    fig.update_layout(barmode="group", xaxis={"tickformat": "%Y-%m", "dtick": "M1"})
    fig.update_yaxes(title_text=pick("Amount", "金额"), tickformat=",.0f", secondary_y=False)
    fig.update_yaxes(title_text=label("collection_rate"), tickformat=".0%", rangemode="tozero", secondary_y=True)
    charts.show(charts.style(fig, height=380), "cash_months")
    st.caption(pick("Due and collected against due: installments by their due month. Collected: cash received "
                    "in the month, whatever it was due for.",
                    "应回款、到期已回款：按回款计划的到期月份；实际回款：当月收到的全部回款（不论何时到期）。"))
    download(months[MONTH_COLUMNS], "collection_by_month", "cash_months")


def _rate_chart(frame: pd.DataFrame, key: str) -> None:
    """Horizontal bars of `cash_data.rate_bars`: the rate, with due and collected on hover."""
    fig = go.Figure()
    fig.add_bar(y=frame["label"], x=frame["collection_rate"], orientation="h", marker_color=charts.PALETTE[1],
                text=[f"{r:.0%}" for r in frame["collection_rate"]], textposition="auto",
                customdata=frame[["due", "collected_against_due"]].to_numpy(),
                hovertemplate=(f"%{{y}}: %{{x:.1%}}<br>{label('due')} %{{customdata[0]:,.2f}}"
                               f"<br>{label('collected_against_due')} %{{customdata[1]:,.2f}}<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title_text=label("collection_rate"))
    fig.update_yaxes(automargin=True)
    height = max(260, 28 * len(frame) + 80)
    charts.show(charts.style(fig, height=height), key)


def render_rates(filters: Filters) -> None:
    st.subheader(pick("Collection rate (回款率) by region and rep", "按区域与销售的回款率"))
    regions = data.collection_by_group(filters, "region")
    reps = data.collection_by_group(filters, "rep")
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{label('region')}**")
        _rate_chart(cash_data.rate_bars(regions, "region", len(regions)), "cash_rate_region")
    with right:
        shown = cash_data.rate_bars(reps, "rep", TOP_REPS)
        st.markdown(f"**{label('rep')}**")
        _rate_chart(shown, "cash_rate_rep")
        if len(reps) > len(shown):
            st.caption(pick(f"The {len(shown)} reps with the most due; every rep is in the table below.",
                            f"应回款最多的 {len(shown)} 名销售；全部销售见下表。"))
    by_region, by_rep = st.tabs([pick("By region", "按区域"), pick("By rep (account owner)", "按销售（客户负责人）")])
    with by_region:
        show_table(cash_data.group_table(regions, "region"), "collection_by_region", "cash_regions",
                   columns=REGION_COLUMNS, progress={"collection_rate": (0.0, 1.0)})
    with by_rep:
        show_table(cash_data.group_table(reps, "rep"), "collection_by_rep", "cash_reps", columns=REP_COLUMNS,
                   progress={"collection_rate": (0.0, 1.0)}, height=400)


def render_aging(filters: Filters) -> None:
    st.subheader(pick("Overdue by aging", "逾期账龄"))
    regions = data.collection_by_group(filters, "region")
    bars = cash_data.aging_bars(regions, "region")
    if page.empty(bars):
        return
    fig = go.Figure()
    for key, _, _ in AGING:
        part = bars[bars["aging"] == key]
        if part.empty:
            continue
        name = str(part["bucket"].iloc[0])
        fig.add_bar(x=part["label"], y=part["amount"], name=name, marker_color=cash_data.AGING_COLORS[key],
                    hovertemplate=f"%{{x}} · {name}: %{{y:,.2f}}<extra></extra>")
    fig.update_layout(barmode="stack", xaxis_title=label("region"), yaxis_title=kpi_label("collection.overdue"))
    fig.update_yaxes(tickformat=",.0f")
    charts.show(charts.style(fig), "cash_aging")


def render_overdue_list(filters: Filters) -> None:
    st.subheader(pick("Overdue installments: the call list", "逾期回款清单（催收名单）"))
    rows = cash_data.overdue_table(data.collection_overdue(filters))
    if page.empty(rows):
        return
    period = data.period(filters)
    st.caption(cash_data.overdue_caption(rows, period.end, money(data.collection_summary(filters)["overdue"])))
    show_table(rows, "overdue_installments", "cash_overdue", columns=OVERDUE_COLUMNS, height=420)
    shown = rows[OVERDUE_COLUMNS]
    st.download_button(pick("Download XLSX", "下载 XLSX"),
                       lambda: cash_data.xlsx_bytes(in_words(shown), pick("Overdue", "逾期回款")),
                       file_name="overdue_installments.xlsx", mime=XLSX_MIME, key="dl_cash_overdue_xlsx",
                       icon=":material/download:", on_click="ignore")


def render_targets(filters: Filters) -> None:
    st.subheader(pick("Collected cash against targets", "回款目标达成"))
    rows = cash_data.collected_targets(data.targets_summary(filters), cash_data.rep_names())
    if rows.empty:
        st.info(pick("No collected-cash targets for this period (targets with basis “collected”).",
                     "本期间没有回款口径的目标。"), icon=":material/flag:")
        return
    levels = cash_data.target_levels(rows)
    left, right = st.columns(2)
    with left:
        level = st.segmented_control(label("level"), levels, default=levels[0], required=True,
                                     format_func=lambda v: words("level", v), key="cash_target_level")
    part = rows[rows["level"] == level]
    periods = cash_data.target_periods(part)
    with right:
        period_type = st.segmented_control(label("period"), periods, default=periods[0], required=True,
                                           format_func=lambda v: words("period", v), key="cash_target_period")
    part = part[part["period"] == period_type]
    bars = cash_data.target_bars(part)
    fig = go.Figure()
    fig.add_bar(x=bars["label"], y=bars["actual"], name=label("actual"), marker_color=charts.PALETTE[1],
                text=[f"{a:.0%}" if a == a else "" for a in bars["attainment"]], textposition="outside",
                hovertemplate=f"%{{x}}: %{{y:,.2f}}<extra>{label('actual')}</extra>")
    fig.add_scatter(x=bars["label"], y=bars["target"], name=label("target"), mode="markers",
                    marker={"symbol": "line-ew-open", "size": 28, "line": {"width": 3}, "color": "#24292f"},
                    hovertemplate=f"%{{x}}: %{{y:,.2f}}<extra>{label('target')}</extra>")
    fig.update_yaxes(tickformat=",.0f", title_text=pick("Amount", "金额"))
    title = cash_data.target_bars_title(part)
    charts.show(charts.style(fig, height=340, title=title), "cash_targets")
    show_table(part, "collected_targets", "cash_targets", columns=TARGET_COLUMNS,
               progress={"attainment": (0.0, 1.0)}, height=min(420, 36 * len(part) + 40))


filters = page.start("page_cash")
if not data.row_count("payments"):
    st.info(t("no_payments"), icon=":material/info:")
    st.stop()
if render_tiles(filters):
    render_months(filters)
    render_rates(filters)
    render_aging(filters)
    render_overdue_list(filters)
render_targets(filters)
