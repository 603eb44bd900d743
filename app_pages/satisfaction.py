"""Satisfaction and service: CSAT, NPS and CES with intervals by group, first response against the SLA."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.satisfaction import GroupBy
from ui import charts, context, data, page, satisfaction_data
from ui.download import download
from ui.i18n import kpi_label, label, pick, t, words
from ui.tables import show_table
from ui.tiles import kpi_tiles, show_value

GROUPS: list[GroupBy] = ["channel", "region", "rep", "month", "segment"]
SUMMARY_TILES = ["satisfaction.csat", "satisfaction.nps", "satisfaction.ces",
                 "satisfaction.median_first_response_hours", "satisfaction.sla_met_rate", "satisfaction.tickets"]
INTERVALS = [("csat", "percent"), ("nps", "nps")]
GROUP_COLUMNS = ["csat", "csat_n", "nps", "nps_n", "ces", "ces_n", "tickets", "median_first_response_hours",
                 "sla_met_rate", "small_sample"]


def render_summary(filters: Filters) -> None:
    summary = data.satisfaction_summary(filters)
    kpi_tiles({"satisfaction": summary}, SUMMARY_TILES, per_row=6)
    notes = []
    for name, fmt in INTERVALS:
        lo, hi = summary.get(f"{name}_ci") or [None, None]
        notes.append(f"{kpi_label('satisfaction.' + name)} 95% CI {show_value(lo, fmt)} … {show_value(hi, fmt)} "
                     f"(n = {summary.get(f'{name}_responses')})")
    st.caption(" · ".join(notes))


def render_groups(filters: Filters) -> None:
    by = st.segmented_control(pick("Break down by", "分组"), GROUPS, default="channel", required=True,
                              format_func=label, key="sat_by")
    frame = data.satisfaction_by_group(filters, by)
    if page.empty(frame):
        return
    labels = satisfaction_data.group_labels(frame, by)
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{kpi_label('satisfaction.csat')}**")
        charts.show(charts.style(charts.interval_points(labels, frame, "csat", ".0%")), f"sat_csat_{by}")
    with right:
        st.markdown(f"**{kpi_label('satisfaction.nps')}**")
        charts.show(charts.style(charts.interval_points(labels, frame, "nps", ".0f")), f"sat_nps_{by}")
    if frame["small_sample"].any():
        st.caption("○ " + t("small_sample"))
    show_table(satisfaction_data.with_group_labels(frame, by), f"satisfaction_by_{by}", f"sat_groups_{by}",
               columns=[by, *GROUP_COLUMNS])


def render_response_times(filters: Filters) -> None:
    st.subheader(pick("First response against the SLA", "首次响应与 SLA"))
    hist = data.satisfaction_response_times(filters)
    if page.empty(hist):
        return
    sla = context.config().first_response_sla_hours
    bars = satisfaction_data.histogram_bars(hist)
    fig = go.Figure()
    for channel, part in bars.groupby("channel", sort=True):
        name = words("channel", channel)
        fig.add_bar(x=part["mid"], y=part["tickets"], name=name, width=part["width"],
                    hovertemplate=f"{name}: %{{y}} " + pick("tickets", "工单") + "<extra></extra>")
    fig.add_vline(x=sla, line_dash="dash", line_color="#cf222e",
                  annotation_text=f"SLA {sla:g} h", annotation_position="top right")
    fig.update_layout(barmode="stack", xaxis_title=pick("Hours to first response", "首次响应小时数"),
                      yaxis_title=kpi_label("satisfaction.tickets"))
    charts.show(charts.style(fig), "sat_response")
    download(hist, "first_response_histogram", "sat_response")


filters = page.start("page_satisfaction", tables=())
render_summary(filters)
render_groups(filters)
render_response_times(filters)
