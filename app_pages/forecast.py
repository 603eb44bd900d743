"""Forecast (销售预测): will we make the number? Targets with attainment and pace against the goal
line, the forecast stacked against the target with its coverage, the learned stage probabilities
with their samples, and how the pipeline changed between two snapshot days, bar by bar to the deals."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.pipeline_change import BUCKETS
from ui import charts, context, data, page
from ui import forecast_data as fd
from ui.download import download
from ui.i18n import LANGS, kpi_label, label, lang, pick
from ui.tables import in_words
from ui.tiles import kpi_tiles, money, show_value

TILES = ["forecast.closed_won", "forecast.commit", "forecast.best_case", "forecast.pipeline", "forecast.weighted"]
TARGET_COLUMNS = ["level", "key", "period", "period_start", "basis", "target", "actual", "attainment",
                  "expected_to_date", "pace"]
STAGE_COLUMNS = ["stage", "decided", "won", "learned", "learned_lo", "learned_hi", "configured", "used", "few_deals"]
CHANGE_COLUMNS = ["deal_id", "bucket", "change", "amount_start", "amount_end", "close_start", "close_end",
                  "stage_end", "status_end", "account_id", "owner_rep_id"]
SLIPPED_COLUMNS = ["deal_id", "times_pushed", "change", "close_start", "close_end", "stage_end", "account_id",
                   "owner_rep_id"]
OPEN_COLUMNS = ["forecast_category", "deal_id", "account_id", "owner_rep_id", "stage", "amount", "probability",
                "stage_probability", "expected_close_at"]
KEY_SNAP_FROM, KEY_SNAP_TO, KEY_BUCKET, KEY_TARGET = "snap_from", "snap_to", "pc_bucket", "fc_target"
WATERFALL_KEY = "chart_pc_waterfall"
SHOWN = 5000  # deals listed at most in a table


def table(frame: pd.DataFrame, name: str, key: str, columns: list[str], height: int | None = None) -> None:
    """`frame`'s `columns` with the registry's and this page's headers, and a CSV of what is shown."""
    shown = frame[[c for c in columns if c in frame.columns]]
    st.dataframe(in_words(shown), hide_index=True, width="stretch", column_config=fd.table_config(shown),
                 height=height or "auto", placeholder="")
    download(shown, name, key)


def lang_key(base: str) -> str:
    """The key of a choice shown in words, one per language (a chosen option keeps the words it was
    chosen in otherwise), carrying the choice over from the other language."""
    key = f"{base}_{lang()}"
    if key not in st.session_state:
        for other in LANGS.values():
            if f"{base}_{other}" in st.session_state and other != lang():
                st.session_state[key] = st.session_state[f"{base}_{other}"]
    return key


def render_tiles(filters: Filters) -> None:
    summary = data.forecast_summary(filters)
    kpi_tiles({"forecast": summary}, TILES, per_row=5)
    period = data.period(filters)
    st.caption(pick(f"Deals as they are now: won from {period.start} to {period.end}, and the open deals expected "
                    "to close in that period by forecast category.",
                    f"商机当前状态：{period.start} 至 {period.end} 的赢单，以及预计在此期间成交的进行中商机（按预测类别）。"))


def render_targets(filters: Filters, rep_view: bool) -> fd.Target | None:
    """The targets table, the chosen target's tiles and goal line; returns the chosen target."""
    st.subheader(pick("Your targets and pace", "我的目标与进度") if rep_view else pick("Targets and pace", "目标与进度"))
    summary = data.targets_summary(filters)
    names = fd.names()
    rows = fd.target_table(summary, names)
    if rows.empty:
        st.info(pick("No targets overlap this period.", "本期间没有目标。"), icon=":material/flag:")
        return None
    period = data.period(filters)
    choices = fd.headline_targets(summary, period, rep_first=rep_view)
    chosen = None
    if choices:
        labels = [fd.target_label(c, names) for c in choices]
        picked = st.selectbox(pick("Target shown in the charts", "图表所示目标"), range(len(choices)),
                              format_func=lambda i: labels[i], key=lang_key(KEY_TARGET))
        chosen = choices[picked or 0]
        render_target_tiles(chosen)
        render_goal_line(chosen, period.end)
    else:
        st.caption(pick("No booked target in this period: the charts follow booked targets.",
                        "本期间没有签约口径的目标：图表只显示签约口径目标。"))
    table(rows, "targets", "fc_targets", TARGET_COLUMNS, height=min(400, 36 * len(rows) + 40))
    return chosen


def render_target_tiles(target: fd.Target) -> None:
    cols = st.columns(4)
    for col, (name, value, fmt) in zip(cols, [("target", target.target, "money"), ("actual", target.actual, "money"),
                                              ("attainment", target.attainment, "percent"),
                                              ("pace", target.pace, "percent")], strict=True):
        with col.container(border=True):
            st.metric(label(name), show_value(value, fmt))  # type: ignore[arg-type]
    st.caption(pick(f"Expected to date on the straight-line path: {money(target.expected_to_date)}. Pace = actual ÷ "
                    "expected to date.",
                    f"按直线进度至今应完成：{money(target.expected_to_date)}。进度达成率 = 实际完成 ÷ 至今应完成。"))


def render_goal_line(target: fd.Target, to: dt.date | None) -> None:
    credit = data.target_credit_by_day(target.level, target.key, target.basis, target.period_start,
                                       min(to or target.last_day, target.last_day))
    line = fd.goal_line(target, credit, to or target.last_day)
    fig = go.Figure()
    fig.add_scatter(x=line["day"], y=line["goal"], name=pick("Goal line (straight-line path)", "目标线（直线进度）"),
                    mode="lines", line={"color": "#8c959f", "dash": "dash"},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra></extra>")
    fig.add_scatter(x=line["day"], y=line["actual"], name=label("actual"), mode="lines",
                    line={"color": charts.PALETTE[0], "width": 3, "shape": "hv"},
                    hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra></extra>")
    fig.update_yaxes(tickformat=",.0f", title_text=pick("Cumulative amount", "累计金额"), rangemode="tozero")
    charts.show(charts.style(fig, height=340, title=pick("Actual against the goal line", "实际完成与目标线")),
                "fc_goal")
    download(line, "goal_line", "fc_goal")


def render_against_target(filters: Filters, target: fd.Target) -> None:
    st.subheader(pick("Forecast against the target", "预测与目标对比"))
    forecast = data.forecast_summary(target.filters(filters))
    view = fd.against_target(forecast, target)
    cols = st.columns(3)
    with cols[0].container(border=True):
        st.metric(kpi_label("forecast.weighted"), money(view["weighted"]))
    with cols[1].container(border=True):
        st.metric(pick("Open pipeline expected", "预计成交的在途商机"), money(view["open_expected"]))
    with cols[2].container(border=True):
        coverage = view["coverage"]
        st.metric(pick("Coverage", "覆盖率"), "—" if coverage is None else f"{coverage:.2f}×",
                  help=pick("Open pipeline expected in the target's period ÷ (target − closed won); empty once "
                            "closed won reaches the target.",
                            "目标周期内预计成交的在途商机 ÷（目标 − 已赢单）；已赢单达到目标后为空。"))
    fig = go.Figure()
    x = [pick("Forecast", "预测")]
    for name in fd.STACK:
        fig.add_bar(x=x, y=[view["stack"][name]], name=kpi_label(f"forecast.{name}"),
                    marker_color=fd.STACK_COLORS[name],
                    hovertemplate=f"{kpi_label(f'forecast.{name}')}: %{{y:,.2f}}<extra></extra>")
    fig.add_hline(y=view["target"], line_dash="dash", line_color="#24292f",
                  annotation_text=f"{label('target')} {money(target.target)}", annotation_position="top left")
    fig.update_layout(barmode="stack", bargap=0.5)
    fig.update_yaxes(tickformat=",.0f", title_text=pick("Amount", "金额"), rangemode="tozero")
    charts.show(charts.style(fig, height=360), "fc_stack")
    st.caption(pick(f"Over the target's period {target.period_start} – {target.last_day}, for the deals the filters "
                    "select (closed won by owner, not split credit).",
                    f"目标周期 {target.period_start} – {target.last_day}，筛选范围内的商机（已赢单按负责人计，不按分成）。"))
    download(pd.DataFrame([{**{k: view["stack"][k] for k in fd.STACK}, "target": view["target"],
                            "weighted": view["weighted"], "coverage": coverage}]), "forecast_vs_target", "fc_stack")


def render_probabilities(filters: Filters) -> None:
    st.subheader(pick("Learned stage probabilities", "各阶段历史赢单率"))
    stages = fd.stage_table(data.forecast_stage_evidence(filters))
    if stages["decided"].sum() == 0:
        st.info(pick("No won or lost deal in scope: nothing to learn from.", "范围内没有已赢单或输单的商机，无法学习。"),
                icon=":material/info:")
    else:
        fig = charts.interval_points(stages["stage"], stages, "learned", ".0%")
        for trace in fig.data:  # the satisfaction chart counts responses; here they are decided deals
            trace.name = trace.name.replace(pick("n < 30: uncertain", "样本<30：不确定"),
                                            pick("n < 30 deals: uncertain", "样本<30：不确定"))
        used = stages[stages["used"].notna()]
        fig.add_scatter(x=used["stage"], y=used["used"], mode="markers", name=pick("p used", "采用概率"),
                        marker={"symbol": "x", "size": 9, "color": charts.PALETTE[3]},
                        hovertemplate="%{x}: %{y:.0%}<extra></extra>")
        fig.update_yaxes(range=[0, 1.05])
        charts.show(charts.style(fig, height=340), "fc_stages")
        if stages["few_deals"].any():
            st.caption("○ " + pick("fewer than 30 decided deals: read with care", "已结束商机少于30：仅供参考"))
    table(stages, "stage_probabilities", "fc_stages", STAGE_COLUMNS)


def render_open_deals(filters: Filters, rep_view: bool) -> None:
    st.subheader(pick("Your open deals by forecast category", "我的在途商机（按预测类别）") if rep_view
                 else pick("Open deals by forecast category", "在途商机（按预测类别）"))
    if not rep_view and not st.toggle(pick("List the deals", "列出商机"), key="fc_list_open"):
        return  # a drill-down: listed when asked for, so a filter change does not wait for the rows
    deals = data.forecast_open_deals(filters)
    if page.empty(deals):
        return
    totals = fd.category_totals(deals)
    st.caption(" · ".join(f"{fd.category_label(c)} {money(v)}" for c, v in totals.items()))
    table(fd.open_table(deals.iloc[:SHOWN]), "open_deals_by_category", "fc_open", OPEN_COLUMNS, height=400)


def _snapshot_pick(key: str, text: str, days: list[dt.date], default: dt.date | None) -> dt.date | None:
    options = [d.isoformat() for d in days]
    auto = pick(f"From the period ({default})", f"按期间（{default}）") if default else pick("None", "无")
    value = st.selectbox(text, options, index=None, key=key, bind="query-params", placeholder=auto)
    return dt.date.fromisoformat(value) if value else default


def _on_bar_pick() -> None:
    """A click on a waterfall bar chooses its bucket in the drill-down."""
    event = st.session_state.get(WATERFALL_KEY)
    bucket = fd.bucket_of_points(event["selection"]["points"]) if event and event.get("selection") else None
    if bucket is not None:
        st.session_state[lang_key(KEY_BUCKET)] = bucket


def render_pipeline_change(filters: Filters) -> None:
    st.subheader(pick("How the pipeline changed", "商机管道变化"))
    days = data.snapshot_days()
    if not days:
        st.info(pick("No deal snapshots loaded: load a deal_snapshots export to see how the pipeline changed.",
                     "尚未加载商机快照：上传 deal_snapshots 导出文件后可查看管道变化。"), icon=":material/info:")
        return
    auto_from, auto_to = fd.default_days(filters)
    left, right = st.columns(2)
    with left:
        start = _snapshot_pick(KEY_SNAP_FROM, pick("Compare snapshot of", "对比快照（起）"), days, auto_from)
    with right:
        end = _snapshot_pick(KEY_SNAP_TO, pick("with snapshot of", "与快照（止）"), days, auto_to)
    if start and end and start > end:
        start, end = end, start
    change = data.pipeline_compare(filters, start, end)
    bars = fd.waterfall_bars(change)
    if bars is None or start is None or end is None:
        st.info(pick("Two different snapshot days are needed: choose them above or widen the period.",
                     "需要两个不同的快照日：请在上方选择或扩大期间。"), icon=":material/info:")
        return
    st.caption(pick(f"Open deals expected to close in the period, as they stood on {start} and on {end}. "
                    "Click a bar to list its deals.",
                    f"预计在本期间成交的进行中商机：{start} 与 {end} 两个快照的对比。点击柱形查看对应商机。"))
    fig = go.Figure(go.Waterfall(
        x=bars["label"], y=bars["value"], measure=bars["measure"], customdata=bars["bar"],
        increasing={"marker": {"color": "#2da44e"}}, decreasing={"marker": {"color": "#cf222e"}},
        totals={"marker": {"color": "#1f6feb"}}, connector={"line": {"color": "#8c959f", "width": 1}},
        text=[money(abs(v)) for v in bars["value"]], textposition="outside",
        hovertemplate="%{x}: %{text}<extra></extra>"))
    fig.update_yaxes(tickformat=",.0f", title_text=pick("Amount", "金额"))
    fig.update_layout(showlegend=False, clickmode="event+select")
    st.plotly_chart(charts.style(fig, height=400), width="stretch", key=WATERFALL_KEY, on_select=_on_bar_pick,
                    selection_mode="points", config={"displaylogo": False})
    download(bars[["bar", "label", "measure", "value"]], "pipeline_change", "fc_waterfall")
    bucket = st.selectbox(pick("Deals behind the bar", "柱形对应的商机"), list(BUCKETS), index=None, key=lang_key(KEY_BUCKET),
                          format_func=fd.bucket_label, placeholder=pick("Click a bar or choose one", "点击柱形或选择"))
    if bucket is not None:
        deals = data.pipeline_changes(filters, start, end, bucket)
        st.caption(pick(f"{len(deals):,} deals, {money(change[bucket])} in all.",
                        f"共 {len(deals):,} 个商机，合计 {money(change[bucket])}。"))
        table(fd.change_table(deals.iloc[:SHOWN]), f"pipeline_{bucket}", "fc_bucket", CHANGE_COLUMNS, height=360)
    st.markdown(f"**{pick('Slipped deals: pushed out of the period', '推迟的商机：移出本期间')}**")
    # a drill-down too: listed when asked for, so a filter change waits only for the waterfall
    if not st.toggle(pick(f"List the deals pushed out ({money(change['pushed_out'])}) and how often each slipped",
                          f"列出推迟的商机（{money(change['pushed_out'])}）及各自推迟次数"), key="fc_list_slipped"):
        return
    slipped = data.pipeline_slipped(filters, start, end)
    if slipped.empty:
        st.info(pick(f"No deal expected in the period on {start} was pushed out of it by {end}.",
                     f"{start} 预计在本期间成交的商机，到 {end} 没有被推迟出本期间的。"), icon=":material/event_available:")
        return
    st.caption(pick(f"Times pushed: snapshot days after {start} up to {end} with a later (or cleared) expected "
                    "close than the deal's previous snapshot.",
                    f"推迟次数：{start} 之后至 {end} 的快照中，预计成交日期晚于（或清空）上一快照的次数。"))
    table(fd.change_table(slipped.iloc[:SHOWN]), "slipped_deals", "fc_slipped", SLIPPED_COLUMNS, height=360)


filters = page.start("page_forecast", tables=("deals",))
rep_view = context.require_scope().role == "rep"
render_tiles(filters)
chosen = render_targets(filters, rep_view)
if chosen is not None:
    render_against_target(filters, chosen)
if rep_view:
    render_open_deals(filters, rep_view)
render_probabilities(filters)
if not rep_view:
    render_open_deals(filters, rep_view)
render_pipeline_change(filters)
