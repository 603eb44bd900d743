"""Commission: the plan's basis (booked or collected), leaderboard, attainment, a person's statement (deal by
deal, or payment by payment on the collected basis), referrals (全民经销), clawbacks, what-if: a second plan,
and the booked and collected bases side by side."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.config import Plan
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters
from b2bmetrics.registry import value_label
from ui import charts, commission_data, context, data, page
from ui.download import download
from ui.i18n import kpi_label, label, lang, pick
from ui.tables import column_config, edit_table, show_table
from ui.tiles import figure, money

LEADERBOARD_COLUMNS = ["rank", "name", "rep_id", "role", "region", "credited_revenue", "quota", "attainment",
                       "commission", "referral_commission", "clawback", "payout"]
CLAWBACK_COLUMNS = ["name", "rep_id", "period_start", "clawback", "payout"]
BASIS_COMPARISON_COLUMNS = ["name", "rep_id", "region", "payout_booked", "payout_collected", "difference"]
MODES = ["marginal", "retroactive"]
MODE_LABELS = {"marginal": ("Marginal", "分段累进"), "retroactive": ("Retroactive", "全额追溯")}


def render_basis(plan: Plan) -> None:
    """Which basis the plan pays on, and what that means."""
    st.markdown(f"**{label('basis')}: {value_label('basis', plan.basis, lang())}**")
    st.caption(commission_data.basis_text(plan.basis))


def render_leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    st.metric(kpi_label("commission.total_payout"), money(commission_data.as_float(commission_data.total_payout(rows))))
    board = commission_data.leaderboard(rows)
    if page.empty(board):
        return board
    st.subheader(pick("Leaderboard", "排行榜"))
    show_table(board, "commission_leaderboard", "comm_board", height=360, columns=LEADERBOARD_COLUMNS,
               progress={"attainment": (0.0, 1.5)})
    return board


def render_attainment(board: pd.DataFrame) -> None:
    st.subheader(pick("Attainment against quota", "指标达成"))
    ranking = commission_data.attainment_ranking(board)
    if page.empty(ranking.ranked):
        return
    top = ranking.top
    fig = go.Figure(go.Bar(x=top["attainment"], y=top["name"], orientation="h",
                           marker_color=[commission_data.attainment_color(a) for a in top["attainment"]],
                           customdata=top[["credited_revenue", "quota"]],
                           hovertemplate="%{y}: %{x:.0%} (%{customdata[0]:,.0f} / %{customdata[1]:,.0f})"
                                         "<extra></extra>"))
    fig.add_vline(x=1.0, line_dash="dash", line_color="#57606a", annotation_text="100%")
    fig.update_layout(xaxis_title=label("attainment"), xaxis_tickformat=".0%", yaxis_autorange="reversed")
    charts.show(charts.style(fig, height=max(300, 22 * len(top))), "comm_attainment")
    download(ranking.ranked, "attainment", "comm_attainment")
    shown, everyone, above = len(top), len(ranking.ranked), ranking.at_or_above_target
    st.caption(pick(f"Top {shown} of {everyone} people with a quota, over the periods shown; {above} at or above 100%.",
                    f"有指标的 {everyone} 人中前 {shown} 名（所选周期合计）；{above} 人达成 100% 以上。"))


def render_statement(board: pd.DataFrame, rows: pd.DataFrame) -> None:
    st.subheader(pick("Statement", "佣金明细"))
    if board.empty or rows.empty:
        return
    names = dict(zip(board["rep_id"], board["name"], strict=True))
    left, right = st.columns(2)
    person = left.selectbox(label("rep_id"), list(names), format_func=lambda r: f"{names[r]} ({r})",
                            key="comm_person")
    if person not in names:  # only the people listed (for a rep: themselves), whatever session state says
        return
    periods = commission_data.periods_of(rows, person)
    if not periods:
        return
    period_start = right.selectbox(label("period_start"), periods, index=len(periods) - 1, key="comm_period")
    row = commission_data.person_period(rows, person, period_start)
    for col, name in zip(st.columns(5), ["credited_revenue", "attainment", "commission", "referral_commission",
                                         "payout"], strict=True):
        with col:
            if name == "referral_commission":  # what the referrals bring after their clawbacks
                st.metric(f"{label('referral_commission')} − {label('clawback')}",
                          money(commission_data.as_float(commission_data.referral_after_clawback(row))))
            else:
                value = row[name]
                figure(name, value if name == "attainment" else commission_data.as_float(value))
    # the statement in exact cents: its lines sum to the row's figures, in the table and the download
    basis = context.config().commission.basis
    if basis == "collected":
        st.caption(pick("On the collected basis each line is a payment: its deal, the day it was paid, the amount "
                        "paid and the person's share of it.",
                        "回款口径下每行是一笔回款：所属商机、回款日期、实收金额及本人分成比例。"))
    show_table(commission_data.statement_table(data.commission_statement(person, period_start)),
               f"statement_{person}_{period_start}", "comm_statement", columns=commission_data.STATEMENT_SHOWN[basis])


def render_referrals(rows: pd.DataFrame) -> None:
    st.subheader(pick("Referral earnings (全民经销: everyone may sell)", "推荐佣金（全民经销）"))
    ref = commission_data.referral_earnings(rows, context.config().commission)
    if page.empty(ref):
        return
    roles = [value_label("role", r, lang()) if r is not None else "—" for r in ref["role"]]
    fig = go.Figure(go.Bar(x=roles, y=ref["net"], customdata=ref[["referred_deals", "people"]],
                           hovertemplate="%{x}: %{y:,.0f}<br>"
                                         + pick("%{customdata[0]} deals, %{customdata[1]} people",
                                                "%{customdata[0]} 个商机，%{customdata[1]} 人")
                                         + "<extra></extra>"))
    fig.update_layout(xaxis_title=label("role"), yaxis_title=label("net"))
    charts.show(charts.style(fig, height=280), "comm_referrals")
    show_table(ref, "referral_earnings", "comm_referrals")


def render_clawbacks(rows: pd.DataFrame) -> None:
    st.subheader(pick("Clawbacks on early churn", "早期流失追回"))
    if context.config().commission.basis == "collected":
        st.info(pick("No clawbacks on the collected basis: commission follows cash already received.",
                     "回款口径不追回佣金：佣金按已收到的回款计算。"), icon=":material/info:")
        return
    days = context.config().commission.clawback_days
    st.caption(pick(f"Commission reversed when a won account stops being a customer within {days} days; "
                    "the statement above lists the deals.",
                    f"赢单客户在 {days} 天内流失时追回佣金；明细见上方佣金明细。"))
    clawed = commission_data.clawbacks(rows)
    if page.empty(clawed):
        return
    show_table(clawed, "clawbacks", "comm_clawbacks", columns=CLAWBACK_COLUMNS)


def render_plan_editor(base: Plan) -> Plan | None:
    """The what-if plan the user edits: tiers, rates, cap, referral rate, clawback days."""
    tiers = edit_table(commission_data.tiers_frame(base), "comm_tiers", dynamic=True, extra_config={
        "up_to": st.column_config.NumberColumn(label("up_to"), min_value=0.0, step=0.05, format="%.2f"),
        "rate": st.column_config.NumberColumn(label("rate"), min_value=0.0, step=0.005, format="%.3f")})
    c1, c2, c3, c4 = st.columns(4)
    mode = c1.selectbox(pick("Mode", "计算方式"), MODES, index=MODES.index(base.mode) if base.mode in MODES else 0,
                        format_func=lambda m: pick(*MODE_LABELS[m]), key="comm_mode")
    cap = c2.number_input(pick("Cap (0 = none)", "封顶（0=不封顶）"), min_value=0.0, value=float(base.cap),
                          step=1000.0, key="comm_cap")
    referral = c3.number_input(pick("Referral rate", "推荐佣金比例"), min_value=0.0, value=float(base.referral_rate),
                               step=0.005, format="%.3f", key="comm_referral")
    days = c4.number_input(pick("Clawback days", "追回天数"), min_value=0, value=int(base.clawback_days), step=15,
                           key="comm_clawback")
    try:
        return commission_data.edited_plan(base, tiers, mode=mode, cap=cap, referral_rate=referral,
                                           clawback_days=int(days))
    except B2BError as exc:
        st.error(str(exc))
        return None


def render_what_if(filters: Filters, rows: pd.DataFrame) -> None:
    st.subheader(pick("What if: a second plan side by side", "假设分析：对比第二套方案"))
    base = context.config().commission
    plan_b = render_plan_editor(base)
    if plan_b is None:
        return
    # the current plan's rows are on the page already; only an edited plan needs its own
    rows_b = rows if plan_b == base else data.commission_rows(filters, plan_b)
    result = commission_data.what_if(rows, rows_b)
    c1, c2, c3 = st.columns(3)
    c1.metric(label("payout_a"), money(commission_data.as_float(result.payout_a)))
    c2.metric(label("payout_b"), money(commission_data.as_float(result.payout_b)))
    c3.metric(label("difference"), money(commission_data.as_float(result.difference)),
              delta=f"{result.change * 100:+.1f}%" if result.change is not None else None, delta_color="inverse")
    show_table(result.per_person, "what_if", "comm_what_if", height=300)


def render_basis_comparison(filters: Filters, rows: pd.DataFrame) -> None:
    st.subheader(pick("What if: paid on booked or on collected cash", "假设分析：签约口径与回款口径对比"))
    plan = context.config().commission
    # the same commission code with the basis swapped: the current rows, and the other basis's
    other = data.commission_rows(filters, commission_data.other_basis(plan))
    booked, collected = (rows, other) if plan.basis == "booked" else (other, rows)
    result = commission_data.basis_comparison(booked, collected)
    c1, c2, c3 = st.columns(3)
    c1.metric(pick(*commission_data.BASIS_COLUMNS["payout_booked"]), money(commission_data.as_float(result.booked)))
    c2.metric(pick(*commission_data.BASIS_COLUMNS["payout_collected"]),
              money(commission_data.as_float(result.collected)))
    change = float(result.difference / result.booked) if result.booked else None
    c3.metric(pick("Difference (collected − booked)", "差额（回款 − 签约）"), money(commission_data.as_float(result.difference)),
              delta=f"{change * 100:+.1f}%" if change is not None else None, delta_color="inverse")
    st.caption(pick("The same plan (tiers, quota, cap, referral rate) on each basis, over the periods shown; a "
                    "negative difference is what paying on cash would save. Largest difference first.",
                    "同一方案（阶梯、指标、封顶、推荐比例）分别按两种口径计算，覆盖所示周期；差额为负表示按回款计发可节省的金额。"
                    "按差额大小排序。"))
    shown = result.per_person[BASIS_COMPARISON_COLUMNS]
    if page.empty(shown):
        return
    own = {name: st.column_config.NumberColumn(pick(*text), format="accounting")
           for name, text in commission_data.BASIS_COLUMNS.items()}
    st.dataframe(shown, hide_index=True, width="stretch", height=min(400, 36 * len(shown) + 40), placeholder="",
                 column_config={**column_config(shown), **own}, key="table_comm_basis")
    download(shown, "commission_booked_vs_collected", "comm_basis")


filters = page.start("page_commission", tables=("deals",))
render_basis(context.config().commission)
rows = data.commission_rows(filters)  # every person-period row shown, computed once per period
board = render_leaderboard(rows)
render_attainment(board)
render_statement(board, rows)
render_referrals(rows)
render_clawbacks(rows)
render_what_if(filters, rows)
render_basis_comparison(filters, rows)
