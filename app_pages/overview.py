"""Overview for executives: the KPI tiles against the previous period, monthly trends, regions."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from b2bmetrics.filters import Filters
from ui import charts, forecast_data, funnel_data, overview_data, page
from ui.download import download
from ui.i18n import kpi_label, label, pick, t
from ui.tables import show_table
from ui.tiles import kpi_tiles, money, show_value

TILES = [
    ("funnel.won_amount", "app_pages/funnel.py"),
    ("funnel.win_rate", "app_pages/funnel.py"),
    ("pipeline.open_amount", "app_pages/funnel.py"),
    ("churn.logo_churn_rate", "app_pages/churn.py"),
    ("churn.net_revenue_retention", "app_pages/churn.py"),
    ("satisfaction.csat", "app_pages/satisfaction.py"),
    ("satisfaction.nps", "app_pages/satisfaction.py"),
    ("commission.total_payout", "app_pages/commission.py"),
]
REGION_COLUMNS = ["region", "won_deals", "won_amount", "win_rate", "overall_conversion", "avg_sales_cycle_days"]


def render_tiles(filters: Filters) -> None:
    now = overview_data.family_summaries(filters)
    prev = overview_data.previous_filters(filters)
    before = overview_data.family_summaries(prev[0]) if prev else {}
    if prev:
        st.caption(t("vs_previous", days=prev[1]) + f" ({prev[0].date_from} … {prev[0].date_to})")
    kpi_tiles(now, [key for key, _ in TILES], before=before, links=dict(TILES))


def render_target(filters: Filters) -> None:
    """The company's target for the period: attainment, pace, and closed won + commit against it."""
    tile = overview_data.target_tile(filters)
    if tile is None:
        return
    target = tile["row"]
    st.subheader(pick("Company target", "公司目标"))
    st.caption(forecast_data.target_label(target, {}))
    committed = tile["committed"]
    share = float(committed / target.target) if target.target else None
    cols = st.columns(4)
    figures = [(label("attainment"), show_value(target.attainment, "percent"),
                f"{money(target.actual)} / {money(target.target)}"),
               (label("pace"), show_value(target.pace, "percent"),
                pick(f"Expected to date {money(target.expected_to_date)}", f"至今应完成 {money(target.expected_to_date)}")),
               (pick("Closed won + commit", "已赢单 + 确定成交"), money(committed),
                pick("Over the target's period", "目标周期内")),
               (pick("Closed won + commit vs target", "已赢单 + 确定成交 / 目标"), show_value(share, "percent"),
                pick(f"Coverage of the rest: {tile['coverage']:.2f}×" if tile["coverage"] is not None else "Target reached",
                     f"剩余覆盖率：{tile['coverage']:.2f}×" if tile["coverage"] is not None else "已达成目标"))]
    for col, (name, value, note) in zip(cols, figures, strict=True):
        with col.container(border=True):
            st.metric(name, value)
            st.caption(note)
    st.page_link("app_pages/forecast.py", label=t("open_page", page=t("page_forecast")),
                 icon=":material/arrow_forward:")


def render_trends(filters: Filters) -> None:
    st.subheader(t("monthly_trends"))
    trend, churn = overview_data.monthly_trend(filters)
    if page.empty(trend):
        return
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=trend["month"], y=trend["won_amount"], name=kpi_label("funnel.won_amount"),
                hovertemplate="%{x|%Y-%m}: %{y:,.0f}<extra></extra>")
    fig.add_scatter(x=trend["month"], y=trend["win_rate"], name=kpi_label("funnel.win_rate"), mode="lines+markers",
                    secondary_y=True, hovertemplate="%{x|%Y-%m}: %{y:.1%}<extra></extra>")
    if churn is not None and len(churn):
        fig.add_scatter(x=churn["month"], y=churn["net_revenue_retention"], mode="lines",
                        name=kpi_label("churn.net_revenue_retention"), secondary_y=True,
                        hovertemplate="%{x|%Y-%m}: %{y:.1%}<extra></extra>")
    fig.update_yaxes(title_text=kpi_label("funnel.won_amount"), secondary_y=False)
    fig.update_yaxes(tickformat=".0%", secondary_y=True)
    charts.show(charts.style(fig), "overview_trend")
    download(trend, "monthly_trend", "overview_trend")


def render_regions(filters: Filters) -> None:
    st.subheader(t("by_region"))
    by_region = overview_data.by_region(filters)
    if page.empty(by_region):
        return
    fig = go.Figure()
    fig.add_bar(x=by_region["group"], y=by_region["won_amount"], name=kpi_label("funnel.won_amount"),
                hovertemplate="%{x}: %{y:,.0f}<extra></extra>")
    fig.update_layout(xaxis_title=label("region"), yaxis_title=kpi_label("funnel.won_amount"))
    left, right = st.columns(2)
    with left:
        charts.show(charts.style(fig), "overview_regions")
    with right:
        show_table(funnel_data.breakdown_table(by_region, "region"), "regions", "overview_regions",
                   columns=REGION_COLUMNS)


filters = page.start("page_overview", tables=("deals",))
render_tiles(filters)
render_target(filters)
render_trends(filters)
render_regions(filters)
