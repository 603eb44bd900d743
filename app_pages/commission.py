"""Commission: leaderboard, attainment, a person's statement, referrals (全民经销), clawbacks, what-if."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.config import Plan, parse_plan
from b2bmetrics.errors import B2BError
from b2bmetrics.filters import Filters
from b2bmetrics.metrics import commission
from b2bmetrics.registry import format_value
from ui import charts, context, data, page
from ui.download import download
from ui.i18n import kpi_label, lang, pick
from ui.tables import show_table

TOP_N = 30
ROLE_LABELS = {"sales": ("Sales", "销售"), "employee": ("Employees", "员工"), "partner": ("Partners", "合作伙伴")}


def money(value: object) -> str:
    return format_value(value, "money", lang(), context.config().currency)


def render_leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    # total_payout = Σ payout over the rows shown (CONTRACT §5), the same rows as the leaderboard's
    st.metric(kpi_label("commission.total_payout"), money(float(rows["payout"].sum()) if len(rows) else 0.0))
    board = commission.leaderboard_of(rows)
    if page.empty(board):
        return board
    st.subheader(pick("Leaderboard", "排行榜"))
    board = board.assign(name=board["rep_name"].fillna(board["rep_id"]))
    show_table(board, "commission_leaderboard", "comm_board", height=360,
               columns=["rank", "name", "rep_id", "role", "region", "credited_revenue", "quota", "attainment",
                        "commission", "referral_commission", "clawback", "payout"],
               extra_config={"attainment": st.column_config.ProgressColumn(
                   pick("Attainment", "达成率"), min_value=0.0, max_value=1.5, format="percent")})
    return board


def render_attainment(board: pd.DataFrame) -> None:
    st.subheader(pick("Attainment against quota", "指标达成"))
    ranked = board[board["quota"] > 0].sort_values("attainment", ascending=False)
    if page.empty(ranked):
        return
    top = ranked.head(TOP_N)
    colors = ["#2da44e" if a >= 1 else "#d29922" if a >= 0.5 else "#cf222e" for a in top["attainment"]]
    fig = go.Figure(go.Bar(x=top["attainment"], y=top["name"], orientation="h", marker_color=colors,
                           customdata=top[["credited_revenue", "quota"]],
                           hovertemplate="%{y}: %{x:.0%} (%{customdata[0]:,.0f} / %{customdata[1]:,.0f})"
                                         "<extra></extra>"))
    fig.add_vline(x=1.0, line_dash="dash", line_color="#57606a", annotation_text="100%")
    fig.update_layout(xaxis_tickformat=".0%", yaxis_autorange="reversed")
    charts.show(charts.style(fig, height=max(300, 22 * len(top))), "comm_attainment")
    download(ranked, "attainment", "comm_attainment")
    st.caption(pick(f"Top {len(top)} of {len(ranked)} people with a quota, over the periods shown; "
                    f"{(ranked['attainment'] >= 1).sum()} at or above 100%.",
                    f"有指标的 {len(ranked)} 人中前 {len(top)} 名（所选周期合计）；{(ranked['attainment'] >= 1).sum()} 人达成 100% 以上。"))


def render_statement(board: pd.DataFrame, rows: pd.DataFrame) -> None:
    st.subheader(pick("Statement", "佣金明细"))
    if board.empty or rows.empty:
        return
    names = dict(zip(board["rep_id"], board["name"], strict=True))
    left, right = st.columns(2)
    person = left.selectbox(pick("Person", "人员"), list(names), format_func=lambda r: f"{names[r]} ({r})",
                            key="comm_person")
    if person not in names:  # only the people listed (for a rep: themselves), whatever session state says
        return
    periods = sorted(rows.loc[rows["rep_id"] == person, "period_start"].unique())
    if not periods:
        return
    period_start = right.selectbox(pick("Period", "周期"), periods, index=len(periods) - 1, key="comm_period")
    stmt = data.lookup("commission.statement", rep_id=person, period_start=period_start)
    row = rows[(rows["rep_id"] == person) & (rows["period_start"] == period_start)].iloc[0]
    cols = st.columns(5)
    for col, (label, value) in zip(cols, [
        (pick("Credited", "计入业绩"), money(row["credited_revenue"])),
        (pick("Attainment", "达成率"), format_value(row["attainment"], "percent")),
        (pick("Commission", "佣金"), money(row["commission"])),
        (pick("Referral − clawback", "推荐佣金 − 追回"), money(row["referral_commission"] - row["clawback"])),
        (pick("Payout", "应发"), money(row["payout"])),
    ], strict=True):
        col.metric(label, value)
    show_table(stmt, f"statement_{person}_{period_start}", "comm_statement")


def render_referrals(rows: pd.DataFrame) -> None:
    st.subheader(pick("Referral earnings (全民经销: everyone may sell)", "推荐佣金（全民经销）"))
    ref = commission.referral_earnings_of(rows, context.config().commission)
    if page.empty(ref):
        return
    ref = ref.assign(role_label=[ROLE_LABELS.get(r, (str(r), str(r)))[1 if lang() == "zh" else 0] for r in ref["role"]])
    fig = go.Figure(go.Bar(x=ref["role_label"], y=ref["net"], customdata=ref[["referred_deals", "people"]],
                           hovertemplate="%{x}: %{y:,.0f}<br>%{customdata[0]} deals, %{customdata[1]} people"
                                         "<extra></extra>"))
    charts.show(charts.style(fig, height=280), "comm_referrals")
    show_table(ref.drop(columns="role_label"), "referral_earnings", "comm_referrals")


def render_clawbacks(rows: pd.DataFrame) -> None:
    st.subheader(pick("Clawbacks on early churn", "早期流失追回"))
    clawed = rows[rows["clawback"] > 0].sort_values("clawback", ascending=False)
    days = context.config().commission.clawback_days
    st.caption(pick(f"Commission reversed when a won account stops being a customer within {days} days; "
                    "the statement above lists the deals.",
                    f"赢单客户在 {days} 天内流失时追回佣金；明细见上方佣金明细。"))
    if page.empty(clawed):
        return
    clawed = clawed.assign(name=clawed["rep_name"].fillna(clawed["rep_id"]))
    show_table(clawed, "clawbacks", "comm_clawbacks", columns=["name", "rep_id", "period_start", "clawback", "payout"])


def plan_editor(base: Plan) -> Plan | None:
    """The what-if plan the user edits: tiers, rates, cap, referral rate, clawback days."""
    tiers = pd.DataFrame({"up_to": [t.up_to for t in base.tiers], "rate": [t.rate for t in base.tiers]})
    edited = st.data_editor(tiers, num_rows="dynamic", key="comm_tiers", hide_index=True, column_config={
        "up_to": st.column_config.NumberColumn(pick("Attainment up to (empty = open)", "达成率上限（空=不封顶）"),
                                               min_value=0.0, step=0.05, format="%.2f"),
        "rate": st.column_config.NumberColumn(pick("Rate", "提成比例"), min_value=0.0, step=0.005, format="%.3f")})
    c1, c2, c3, c4 = st.columns(4)
    mode = c1.selectbox(pick("Mode", "计算方式"), ["marginal", "retroactive"],
                        index=0 if base.mode == "marginal" else 1, key="comm_mode")
    cap = c2.number_input(pick("Cap (0 = none)", "封顶（0=不封顶）"), min_value=0.0, value=float(base.cap),
                          step=1000.0, key="comm_cap")
    referral = c3.number_input(pick("Referral rate", "推荐佣金比例"), min_value=0.0, value=float(base.referral_rate),
                               step=0.005, format="%.3f", key="comm_referral")
    days = c4.number_input(pick("Clawback days", "追回天数"), min_value=0, value=int(base.clawback_days), step=15,
                           key="comm_clawback")
    raw_tiers = []
    for r in edited.dropna(subset=["rate"]).itertuples():
        raw_tiers.append({"rate": float(r.rate)} if pd.isna(r.up_to) else {"up_to": float(r.up_to), "rate": float(r.rate)})
    try:
        return parse_plan({"mode": mode, "cap": cap, "referral_rate": referral, "clawback_days": int(days),
                           "tiers": raw_tiers}, pick("what-if plan", "假设方案"), base=replace(base))
    except B2BError as exc:
        st.error(str(exc))
        return None


def render_what_if(filters: Filters, rows: pd.DataFrame) -> None:
    st.subheader(pick("What if: a second plan side by side", "假设分析：对比第二套方案"))
    base = context.config().commission
    plan_b = plan_editor(base)
    if plan_b is None:
        return
    # the current plan's rows are on the page already; only an edited plan needs its own
    rows_b = rows if plan_b == base else data.commission_rows(filters, plan_b)
    result = commission.what_if_of(rows, rows_b)
    total = result[result["is_total"]].iloc[0]
    c1, c2, c3 = st.columns(3)
    c1.metric(pick("Current plan", "当前方案"), money(total["payout_a"]))
    c2.metric(pick("What-if plan", "假设方案"), money(total["payout_b"]))
    c3.metric(pick("Difference", "差额"), money(total["difference"]),
              delta=f"{total['difference'] / total['payout_a'] * 100:+.1f}%" if total["payout_a"] else None,
              delta_color="inverse")
    per = result[~result["is_total"]].drop(columns="is_total")
    show_table(per, "what_if", "comm_what_if", height=300)


filters = page.start("page_commission", tables=("deals",))
rows = data.commission_rows(filters)  # every person-period row shown, computed once per period
board = render_leaderboard(rows)
render_attainment(board)
render_statement(board, rows)
render_referrals(rows)
render_clawbacks(rows)
render_what_if(filters, rows)
