"""Satisfaction and service: CSAT, NPS and CES with intervals by group, first response against the SLA."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.registry import format_value
from ui import charts, context, data, page
from ui.download import download
from ui.i18n import kpi_label, lang, pick, t
from ui.tables import show_table
from ui.tiles import kpi_tiles

GROUPS = {"channel": ("Channel", "渠道"), "region": ("Region", "区域"), "rep": ("Rep", "销售"),
          "month": ("Month", "月份"), "segment": ("Segment", "客户类型")}
SUMMARY_TILES = ["satisfaction.csat", "satisfaction.nps", "satisfaction.ces",
                 "satisfaction.median_first_response_hours", "satisfaction.sla_met_rate", "satisfaction.tickets"]


def render_summary(filters: Filters) -> None:
    summary = data.metric("satisfaction.summary", filters)
    kpi_tiles({"satisfaction": summary}, SUMMARY_TILES, per_row=6)
    notes = []
    for name, fmt in (("csat", "percent"), ("nps", "nps")):
        lo, hi = summary.get(f"{name}_ci") or [None, None]
        notes.append(f"{kpi_label('satisfaction.' + name)} 95% CI {format_value(lo, fmt, lang())} … "
                     f"{format_value(hi, fmt, lang())} (n = {summary.get(f'{name}_responses')})")
    st.caption(" · ".join(notes))


def interval_chart(frame: pd.DataFrame, by: str, measure: str, fmt: str) -> go.Figure:
    """Points with 95% interval bars; groups under 30 responses drawn hollow and grey."""
    label = frame[by].astype("string").fillna(pick("(none)", "（无）"))
    small = frame[f"{measure}_small"].fillna(False).astype(bool)
    fig = go.Figure()
    for flag, name, color, symbol in ((False, pick("n ≥ 30", "样本≥30"), charts.PALETTE[0], "circle"),
                                      (True, pick("n < 30: uncertain", "样本<30：不确定"), "#8c959f", "circle-open")):
        part = frame[small == flag]
        if part.empty:
            continue
        fig.add_scatter(
            x=label[small == flag], y=part[measure], mode="markers", name=name,
            marker={"color": color, "size": 10, "symbol": symbol},
            error_y={"type": "data", "symmetric": False, "array": part[f"{measure}_hi"] - part[measure],
                     "arrayminus": part[measure] - part[f"{measure}_lo"], "color": color},
            customdata=part[[f"{measure}_lo", f"{measure}_hi", f"{measure}_n"]].to_numpy(),
            hovertemplate=f"%{{x}}: %{{y:{fmt}}}<br>95% CI %{{customdata[0]:{fmt}}} … %{{customdata[1]:{fmt}}}"
                          "<br>n = %{customdata[2]}<extra></extra>",
        )
    fig.update_yaxes(tickformat=fmt)
    return fig


def render_groups(filters: Filters) -> None:
    by = st.segmented_control(pick("Break down by", "分组"), list(GROUPS), default="channel", required=True,
                              format_func=lambda g: GROUPS[g][1 if lang() == "zh" else 0], key="sat_by")
    frame = data.metric("satisfaction.by_group", filters, by=by)
    if page.empty(frame):
        return
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{kpi_label('satisfaction.csat')}**")
        charts.show(charts.style(interval_chart(frame, by, "csat", ".0%")), f"sat_csat_{by}")
    with right:
        st.markdown(f"**{kpi_label('satisfaction.nps')}**")
        charts.show(charts.style(interval_chart(frame, by, "nps", ".0f")), f"sat_nps_{by}")
    if frame["small_sample"].any():
        st.caption("○ " + t("small_sample"))
    shown = frame.copy()
    shown[by] = shown[by].astype("string").fillna(pick("(none)", "（无）"))
    show_table(shown, f"satisfaction_by_{by}", f"sat_groups_{by}",
               columns=[by, "csat", "csat_n", "nps", "nps_n", "ces", "ces_n", "tickets", "median_first_response_hours",
                        "sla_met_rate", "small_sample"],
               extra_config={"small_sample": st.column_config.CheckboxColumn(t("small_sample"))})


def render_response_times(filters: Filters) -> None:
    st.subheader(pick("First response against the SLA", "首次响应与 SLA"))
    hist = data.metric("satisfaction.response_times", filters)
    if page.empty(hist):
        return
    sla = context.config().first_response_sla_hours
    # the last bin is open-ended ("66 h and more"): draw it as wide as the others
    width = float((hist["bin_end"] - hist["bin_start"]).median())
    ends = hist["bin_end"].fillna(hist["bin_start"] + width)
    fig = go.Figure()
    for channel, part in hist.assign(bin_end=ends).groupby(hist["channel"].astype("string").fillna("—"), sort=True):
        fig.add_bar(x=(part["bin_start"] + part["bin_end"]) / 2, y=part["tickets"], name=str(channel),
                    width=(part["bin_end"] - part["bin_start"]) * 0.9,
                    hovertemplate=f"{channel}: %{{y}} " + pick("tickets", "工单") + "<extra></extra>")
    fig.add_vline(x=sla, line_dash="dash", line_color="#cf222e",
                  annotation_text=f"SLA {sla:g} h", annotation_position="top right")
    fig.update_layout(barmode="stack", xaxis_title=pick("Hours to first response", "首次响应小时数"),
                      yaxis_title=pick("Tickets", "工单数"))
    charts.show(charts.style(fig), "sat_response")
    download(hist, "first_response_histogram", "sat_response")


filters = page.start("page_satisfaction", tables=())
render_summary(filters)
render_groups(filters)
render_response_times(filters)
