"""Funnel: stages grouped by phase, conversion, time in stage, stage moves, breakdowns, the deals behind."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.registry import KPI_BY_KEY
from ui import charts, context, data, page
from ui.download import download
from ui.i18n import lang, pick
from ui.tables import show_table
from ui.tiles import kpi_tiles

PHASE_LABELS = {"engage": ("Engage", "接触"), "discover": ("Discover", "发现"), "close": ("Close", "成交"),
                "serve": ("Serve", "服务")}
HEADLINE = ["funnel.overall_conversion", "funnel.win_rate", "funnel.won_deals", "funnel.won_amount",
            "funnel.avg_sales_cycle_days", "funnel.pipeline_velocity_per_day"]
BREAKDOWNS = {"region": ("Region", "区域"), "segment": ("Segment", "客户类型"), "rep": ("Rep", "销售")}


def phase_label(phase: str | None) -> str:
    en, zh = PHASE_LABELS.get(phase or "", (phase or "—", phase or "—"))
    return zh if lang() == "zh" else en


def render_funnel(summary: dict, tis: pd.DataFrame) -> pd.DataFrame:
    stages = pd.DataFrame(summary["stages"])
    # the headline is asked without medians: time in stage has them (the same visits), one pass fewer
    stages["median_days_in_stage"] = stages["stage"].map(tis.set_index("stage")["median_days"]).astype("float64")
    stages["phase_label"] = stages["phase"].map(phase_label)
    first = stages["entered"].iloc[0] if len(stages) else 0
    # one trace per phase, so the share is taken of the first stage, not of each trace's first
    stages["label"] = [f"{n:,} · {n / first:.0%}" if first else f"{n:,}" for n in stages["entered"]]
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure()
        for phase, part in stages.groupby("phase", sort=False, dropna=False):
            fig.add_trace(go.Funnel(
                y=part["stage"], x=part["entered"], name=phase_label(phase if isinstance(phase, str) else None),
                marker={"color": charts.PHASE_COLORS.get(str(phase), "#6e7781")},
                text=part["label"], textinfo="text",
                hovertemplate="%{y}: %{text} " + pick("of the first stage", "（占首阶段）")
                              + "<extra>%{fullData.name}</extra>"))
        charts.show(charts.style(fig, height=420), "funnel_main")
    with right:
        st.dataframe(stages[["phase_label", "stage", "entered", "conversion_to_next", "median_days_in_stage"]],
                     hide_index=True, width="stretch", column_config={
                         "phase_label": pick("Phase", "阶段组"), "stage": pick("Stage", "阶段"),
                         "entered": pick("Entered", "进入数"),
                         "conversion_to_next": st.column_config.NumberColumn(pick("Conversion to next", "下一阶段转化率"),
                                                                             format="percent"),
                         "median_days_in_stage": st.column_config.NumberColumn(pick("Median days", "停留中位天数"),
                                                                               format="%.1f")})
        download(stages, "funnel_stages", "funnel_stages")
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
                hovertemplate="%{x}: %{y:.1f} d (p25 %{customdata[0]:.1f}, p75 %{customdata[1]:.1f}), "
                              "n=%{customdata[2]}<extra></extra>")
    fig.add_scatter(x=tis["stage"], y=tis["mean_days"], mode="markers", name=pick("Mean", "平均"))
    fig.update_layout(yaxis_title=pick("Days", "天"))
    charts.show(charts.style(fig, height=320), "funnel_tis")
    download(tis, "time_in_stage", "funnel_tis")


def render_sankey(filters: Filters) -> None:
    st.subheader(pick("Stage moves, including back-moves", "阶段流转（含回退）"))
    moves = data.metric("funnel.transitions", filters)
    if page.empty(moves):
        return
    nodes = list(dict.fromkeys([*moves["source"], *moves["target"]]))
    index = {n: i for i, n in enumerate(nodes)}
    colors = ["rgba(207,34,46,0.45)" if b else "rgba(110,119,129,0.35)" if lost else "rgba(31,111,235,0.35)"
              for b, lost in zip(moves["back"], moves["to_lost"], strict=True)]
    fig = go.Figure(go.Sankey(
        node={"label": nodes, "pad": 18, "thickness": 14},
        link={"source": moves["source"].map(index), "target": moves["target"].map(index), "value": moves["deals"],
              "color": colors, "hovertemplate": "%{source.label} → %{target.label}: %{value:,} "
                                                + pick("deals", "个商机") + "<extra></extra>"}))
    charts.show(charts.style(fig, height=420), "funnel_sankey")
    st.caption(pick("Red links are back-moves; grey links lead to lost.", "红色为回退，灰色为输单。"))
    download(moves, "stage_transitions", "funnel_sankey")


def render_breakdowns(filters: Filters) -> None:
    st.subheader(pick("Breakdowns", "分组对比"))
    by = st.segmented_control(pick("By", "按"), list(BREAKDOWNS), default="region", required=True,
                              format_func=lambda b: BREAKDOWNS[b][1 if lang() == "zh" else 0], key="funnel_by")
    frame = data.metric("funnel.breakdown", filters, by=by)
    if page.empty(frame):
        return
    label = frame["rep_name"].fillna(frame["group"]) if "rep_name" in frame else frame["group"]
    fig = go.Figure()
    fig.add_bar(x=label.fillna("—"), y=frame["win_rate"], name=KPI_BY_KEY["funnel.win_rate"].label(lang()),
                hovertemplate="%{x}: %{y:.1%}<extra></extra>")
    fig.update_layout(yaxis_tickformat=".0%")
    charts.show(charts.style(fig, height=300), f"funnel_by_{by}")
    show_table(frame, f"funnel_by_{by}", f"funnel_by_{by}")


DEALS_SHOWN = 5000


def render_deals_behind(filters: Filters, stages: pd.DataFrame) -> None:
    st.subheader(pick("The deals behind a number", "数字背后的商机"))
    cfg = context.config()
    choices = [*stages["stage"], cfg.pipeline.lost_stage]
    # a drill-down: listed when asked for, so a filter change does not wait for thousands of rows
    stage = st.selectbox(pick("Deals that reached stage", "到达阶段的商机"), choices, key="funnel_stage_pick",
                         index=None, placeholder=pick("Choose a stage to list its deals", "选择阶段以列出商机"))
    if stage is None:
        return
    deals = data.metric("funnel.deals_behind", filters, stage=stage, limit=DEALS_SHOWN)
    entered = dict(zip(stages["stage"], stages["entered"], strict=True))
    if len(deals) < DEALS_SHOWN:
        st.caption(pick(f"{len(deals):,} deals", f"{len(deals):,} 个商机"))
    else:  # the list is cut: say how many there are (the funnel's count; lost deals: at least the cut)
        total = f"{entered[stage]:,}" if stage in entered else f"≥ {DEALS_SHOWN:,}"
        st.caption(pick(f"{total} deals; the newest {DEALS_SHOWN:,} are listed",
                        f"共 {total} 个商机；列出最新的 {DEALS_SHOWN:,} 个"))
    show_table(deals, f"deals_{stage}", "funnel_deals", height=400)


filters = page.start("page_funnel", tables=("deals",))
summary = data.metric("funnel.summary", filters, medians=False)
tis = data.metric("funnel.time_in_stage", filters)
kpi_tiles({"funnel": summary}, HEADLINE, per_row=6)
stages = render_funnel(summary, tis)
render_time_in_stage(tis)
render_sankey(filters)
render_breakdowns(filters)
render_deals_behind(filters, stages)
