"""Funnel: stages grouped by phase, conversion, time in stage, stage moves, breakdowns, the deals behind."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.funnel import BreakdownBy
from ui import charts, context, data, funnel_data, page
from ui.download import download
from ui.i18n import kpi_label, label, pick
from ui.tables import show_table
from ui.tiles import kpi_tiles

HEADLINE = ["funnel.overall_conversion", "funnel.win_rate", "funnel.won_deals", "funnel.won_amount",
            "funnel.avg_sales_cycle_days", "funnel.pipeline_velocity_per_day"]
BREAKDOWNS: list[BreakdownBy] = ["region", "segment", "rep"]
STAGE_COLUMNS = ["phase", "stage", "entered", "conversion_to_next", "median_days_in_stage"]
DEALS_SHOWN = 5000


def render_funnel(summary: dict[str, Any], tis: pd.DataFrame) -> pd.DataFrame:
    stages = funnel_data.stage_table(summary, tis)
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure()
        for phase, part in stages.groupby("phase", sort=False, dropna=False):
            fig.add_trace(go.Funnel(
                y=part["stage"], x=part["entered"],
                name=funnel_data.phase_label(phase if isinstance(phase, str) else None),
                marker={"color": charts.PHASE_COLORS.get(str(phase), "#6e7781")},
                text=part["label"], textinfo="text",
                hovertemplate="%{y}: %{text} " + pick("of the first stage", "（占首阶段）")
                              + "<extra>%{fullData.name}</extra>"))
        charts.show(charts.style(fig, height=420), "funnel_main")
    with right:
        show_table(stages, "funnel_stages", "funnel_stages", columns=STAGE_COLUMNS)
    return stages


def render_time_in_stage(tis: pd.DataFrame) -> None:
    st.subheader(pick("Time in stage", "阶段停留时间"))
    if page.empty(tis):
        return
    fig = go.Figure()
    fig.add_bar(x=tis["stage"], y=tis["median_days"], name=pick("Median", "中位数"),
                error_y={"type": "data", "symmetric": False, "array": tis["p75_days"] - tis["median_days"],
                         "arrayminus": tis["median_days"] - tis["p25_days"]},
                customdata=tis[["p25_days", "p75_days", "visits"]],
                hovertemplate="%{x}: %{y:.1f} " + pick("d", "天") + " (p25 %{customdata[0]:.1f}, "
                              "p75 %{customdata[1]:.1f}), n=%{customdata[2]}<extra></extra>")
    fig.add_scatter(x=tis["stage"], y=tis["mean_days"], mode="markers", name=pick("Mean", "平均"))
    fig.update_layout(xaxis_title=label("stage"), yaxis_title=pick("Days", "天"))
    charts.show(charts.style(fig, height=320), "funnel_tis")
    download(tis, "time_in_stage", "funnel_tis")


def render_sankey(filters: Filters) -> None:
    st.subheader(pick("Stage moves, including back-moves", "阶段流转（含回退）"))
    moves = data.funnel_transitions(filters)
    if page.empty(moves):
        return
    links = funnel_data.sankey_links(moves)
    fig = go.Figure(go.Sankey(
        node={"label": links.nodes, "pad": 18, "thickness": 14},
        link={"source": links.sources, "target": links.targets, "value": links.values, "color": links.colors,
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,} " + pick("deals", "个商机")
                               + "<extra></extra>"}))
    charts.show(charts.style(fig, height=420), "funnel_sankey")
    st.caption(pick("Red links are back-moves; grey links lead to lost.", "红色为回退，灰色为输单。"))
    download(moves, "stage_transitions", "funnel_sankey")


def render_breakdowns(filters: Filters) -> None:
    st.subheader(pick("Breakdowns", "分组对比"))
    by = st.segmented_control(pick("By", "按"), BREAKDOWNS, default="region", required=True, format_func=label,
                              key="funnel_by")
    frame = data.funnel_breakdown(filters, by)
    if page.empty(frame):
        return
    fig = go.Figure()
    fig.add_bar(x=funnel_data.group_labels(frame), y=frame["win_rate"], name=kpi_label("funnel.win_rate"),
                hovertemplate="%{x}: %{y:.1%}<extra></extra>")
    fig.update_layout(xaxis_title=label(by), yaxis_title=kpi_label("funnel.win_rate"), yaxis_tickformat=".0%")
    charts.show(charts.style(fig, height=300), f"funnel_by_{by}")
    show_table(funnel_data.breakdown_table(frame, by), f"funnel_by_{by}", f"funnel_by_{by}")


def render_deals_behind(filters: Filters, stages: pd.DataFrame) -> None:
    st.subheader(pick("The deals behind a number", "数字背后的商机"))
    choices = [*stages["stage"], context.config().pipeline.lost_stage]
    # a drill-down: listed when asked for, so a filter change does not wait for thousands of rows
    stage = st.selectbox(pick("Deals that reached stage", "到达阶段的商机"), choices, key="funnel_stage_pick",
                         index=None, placeholder=pick("Choose a stage to list its deals", "选择阶段以列出商机"))
    if stage is None:
        return
    deals = data.funnel_deals_behind(filters, stage, DEALS_SHOWN)
    st.caption(funnel_data.deals_caption(len(deals), DEALS_SHOWN, stage, stages))
    show_table(deals, f"deals_{stage}", "funnel_deals", height=400)


filters = page.start("page_funnel", tables=("deals",))
summary = data.funnel_summary(filters, medians=False)
tis = data.funnel_time_in_stage(filters)
kpi_tiles({"funnel": summary}, HEADLINE, per_row=3)  # money in 中文 (¥3,444万) needs a wide tile
stages = render_funnel(summary, tis)
render_time_in_stage(tis)
render_sankey(filters)
render_breakdowns(filters)
render_deals_behind(filters, stages)
