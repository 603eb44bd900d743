"""Accounts: a searchable customer list, one customer's whole profile, ownership, the accounts at
risk with late 回款 and slow first response, and "Is the score right?": the health score checked
against who really churned."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.churn import reasons_text
from ui import accounts_data, charts, data, page, sidebar
from ui.download import download
from ui.i18n import label, lang, pick, words
from ui.tables import MISSING, show_table
from ui.tiles import money

RISK_COLUMNS = ["account_name", "owner_name", "health_score", "reasons", *accounts_data.NEW_RISK_COLUMNS, "mrr",
                "days_since_activity", "open_tickets", "account_id"]

SELECTED = "acc_selected"  # the account whose profile is shown, kept across reruns


def render_list(filters: Filters) -> str | None:
    search = st.text_input(pick("Search accounts (id, name, industry, owner)", "搜索客户（编号、名称、行业、负责人）"),
                           key="acc_search")
    found = data.accounts_list(filters, search, sidebar.options()["as_of"])
    if page.empty(found):
        return None
    picked = show_table(found, "accounts", "acc_list", select_row=True)
    ids = found["account_id"].tolist()
    default = ids[picked[0]] if picked else st.session_state.get(SELECTED, ids[0])
    names = dict(zip(ids, found["account_name"], strict=True))
    chosen = st.selectbox(label("account_id"), ids, index=ids.index(default) if default in ids else 0,
                          format_func=lambda a: f"{a} · {names.get(a) or ''}", key="acc_pick")
    st.session_state[SELECTED] = chosen
    return str(chosen)


def render_profile(account_id: str) -> None:
    prof = data.account_profile(account_id)
    account = prof["account"]
    if account.empty:
        st.warning(pick(f"No account {account_id}", f"没有客户 {account_id}"))
        return
    acc = account.iloc[0]
    st.header(f"{acc['account_name'] or account_id}")
    st.caption(accounts_data.subtitle(acc))
    # as of the day the data last saw something happen, which the sidebar already knows (health
    # would otherwise scan every table for it)
    as_of = sidebar.options()["as_of"]
    health = data.churn_health(account_id, as_of)
    history = accounts_data.mrr_history(prof["contracts"])
    cols = st.columns(4)
    score = health.get("health_score")
    cols[0].metric(label("health_score"), f"{score:.0f}" if score is not None else "—",
                   help=pick("0–100; see Churn & retention for how it is scored", "0–100，计分方法见“流失与留存”页"))
    cols[1].metric(label("mrr_now"), money(accounts_data.mrr_now(prof["contracts"], as_of)))
    cols[2].metric(label("deals"), f"{len(prof['deals']):,}")
    cols[3].metric(label("tickets"), f"{len(prof['tickets']):,}")
    if health.get("reasons"):
        st.warning(f"{label('reasons')}: {reasons_text(health['reasons'], lang())}")

    left, right = st.columns(2)
    with left:
        st.markdown(pick("**Owner and team**", "**负责人与服务团队**"))
        show_table(prof["team"], f"team_{account_id}", "acc_team")
    with right:
        st.markdown(pick("**MRR over time**", "**MRR 走势**"))
        if len(history):
            fig = go.Figure(go.Scatter(x=history["month"], y=history["mrr"], line_shape="hv", fill="tozeroy",
                                       hovertemplate="%{x|%Y-%m}: %{y:,.0f}<extra></extra>"))
            fig.update_layout(xaxis_title=label("month"), yaxis_title=label("mrr"))
            charts.show(charts.style(fig, height=240), "acc_mrr")
            download(history, f"mrr_{account_id}", "acc_mrr")
        show_table(prof["contracts"], f"contracts_{account_id}", "acc_contracts")

    st.markdown(pick("**Deals and their stage paths**", "**商机及阶段路径**"))
    show_table(prof["deals"], f"deals_{account_id}", "acc_deals")
    st.markdown(pick("**Activities by channel**", "**按渠道的跟进活动**"))
    acts = prof["activities"]
    if len(acts):
        fig = go.Figure()
        for channel, color, part in accounts_data.activities_by_channel(acts):
            name = words("channel", channel)
            fig.add_scatter(x=part["occurred_at"], y=[words("kind", k) for k in part["kind"]], mode="markers",
                            name=name, marker={"size": 10, "color": color}, customdata=part[["rep_id"]],
                            hovertemplate="%{x|%Y-%m-%d}: %{y} · %{customdata[0]}<extra>" + name + "</extra>")
        fig.update_layout(xaxis_title=label("occurred_at"), yaxis_title=label("kind"))
        charts.show(charts.style(fig, height=260), "acc_activities")
        download(acts, f"activities_{account_id}", "acc_activities")
    tl, tr = st.columns(2)
    with tl:
        st.markdown(pick("**Tickets and response times**", "**工单与响应时间**"))
        show_table(prof["tickets"], f"tickets_{account_id}", "acc_tickets")
    with tr:
        st.markdown(pick("**Survey answers**", "**问卷回复**"))
        show_table(prof["surveys"], f"surveys_{account_id}", "acc_surveys")


def render_ownership(filters: Filters) -> None:
    st.subheader(pick("Ownership", "客户归属"))
    own = data.accounts_ownership(filters, sidebar.options()["as_of"])
    left, right = st.columns(2)
    with left:
        st.markdown(pick(f"**Accounts without an owner** ({len(own['unowned']):,})",
                         f"**无负责人的客户**（{len(own['unowned']):,}）"))
        show_table(own["unowned"], "accounts_without_owner", "acc_unowned", height=300)
    with right:
        st.markdown(pick("**Accounts per owner**", "**各负责人的客户数**"))
        show_table(own["per_owner"], "accounts_per_owner", "acc_per_owner", height=300)


def render_at_risk(filters: Filters) -> None:
    st.subheader(pick("Accounts at risk, with late 回款 and slow first response", "风险客户（含回款逾期与首次响应慢）"))
    st.caption(pick("Lowest health first, as of the period's last day. Late 回款: an installment overdue then "
                    "(due before it, not paid in full by it). Slow first response: a ticket of the last 90 days "
                    "answered later than the SLA, or still unanswered past it. Both are flags beside the score, "
                    "not part of it: see below whether they predict churn.",
                    "按健康分从低到高，截至期末。回款逾期：截至当日有逾期未付清的回款。首次响应慢：近 90 天有工单"
                    "超出 SLA 才首次响应，或超时仍未响应。两者作为标记列出，不计入健康分；是否能预测流失见下文。"))
    risky = data.accounts_at_risk(filters)
    if page.empty(risky):
        return
    risky = accounts_data.risk_table(churn_reasons(risky), lang())
    cols = [accounts_data.risk_column(c, lang()) for c in RISK_COLUMNS]
    show_table(risky, "accounts_at_risk_factors", "acc_risk", columns=cols, progress={"health_score": (0, 100)})


def churn_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(reasons=[reasons_text(r, lang()) for r in frame["reasons"]])


def render_backtest() -> None:
    st.subheader(pick("Is the score right?", "健康分准吗？"))
    st.caption(pick("Every month-end of the data, each active account is scored with only what was known that "
                    "day; then we look at who stopped being a customer within the next 90 days. AUC: the chance "
                    "that a churner scored lower than a customer who stayed (0.5 = a coin toss, 1 = perfect). "
                    "Computed once per data version for all accounts; the filters do not apply.",
                    "在数据的每个月末，仅用当天已知的信息为每个在约客户评分，再看之后 90 天内谁不再是客户。"
                    "AUC：流失客户得分低于留存客户的概率（0.5 = 随机，1 = 完美）。每个数据版本对全部客户计算一次，"
                    "不受筛选影响。"))
    n_accounts = data.row_count("accounts")
    if not accounts_data.should_run(n_accounts) and not st.session_state.get("acc_backtest_run"):
        st.info(pick(f"{n_accounts:,} accounts: the check takes a while (about a minute at 200,000).",
                     f"共 {n_accounts:,} 个客户：计算需要一些时间（20 万客户约一分钟）。"))
        if not st.button(pick("Check the score against history", "用历史数据检验健康分"), key="acc_backtest"):
            return
        st.session_state["acc_backtest_run"] = True
    with st.spinner(pick("Scoring every month-end…", "正在为每个月末评分…")):
        result = data.health_backtest_result()
    if result.scored == 0:
        st.info(pick("Not enough history: no month-end has 90 days of data after it.",
                     "历史不足：没有哪个月末之后有 90 天的数据。"))
        return
    fit = result.fit
    cols = st.columns(4)
    cols[0].metric("AUC", f"{result.auc:.3f}" if result.auc is not None else "—",
                   help=pick("Mann–Whitney: ties count half", "Mann–Whitney 统计量，同分计一半"))
    cols[1].metric(pick("Account-months scored", "评分客户·月"), f"{result.scored:,}")
    cols[2].metric(pick("Churned within 90 days", "90 天内流失"), f"{result.churned:,}")
    cols[3].metric(pick("Month-ends", "月末数"), f"{len(result.observed_month_ends)}",
                   help=pick(f"{result.observed_month_ends[0]} … {result.observed_month_ends[-1]}",
                             f"{result.observed_month_ends[0]} … {result.observed_month_ends[-1]}"))
    left, right = st.columns(2)
    with left:
        st.markdown(pick("**Churn rate within 90 days, by health band**", "**各健康分段的 90 天流失率**"))
        bands = accounts_data.band_table(result, lang())
        rate, scored, churned = bands.columns[3], bands.columns[1], bands.columns[2]
        fig = go.Figure(go.Bar(x=bands[bands.columns[0]], y=bands[rate],
                               marker_color=list(accounts_data.BAND_COLORS.values()),
                               customdata=bands[[scored, churned]],
                               hovertemplate="%{x}: %{y:.1%}<br>" + churned + " %{customdata[1]:,} / "
                                             + scored + " %{customdata[0]:,}<extra></extra>"))
        fig.update_layout(yaxis_tickformat=".0%", xaxis_title=accounts_data.header("band", lang()),
                          yaxis_title=rate)
        charts.show(charts.style(fig, height=300), "acc_band_churn")
        download(bands, "health_bands", "acc_bands")
    with right:
        st.markdown(pick("**Still a customer after the score (Kaplan–Meier), by band**",
                         "**评分后仍为客户的比例（Kaplan–Meier），按分段**"))
        fig = go.Figure()
        for name, color, part in accounts_data.km_curves(result):
            fig.add_scatter(x=part["days"], y=part["survival"], mode="lines", name=name,
                            line={"shape": "hv", "color": color}, customdata=part[["at_risk", "events"]],
                            hovertemplate=pick("day %{x}: %{y:.1%}<br>followed %{customdata[0]:,}, churned "
                                               "%{customdata[1]:,}", "第 %{x} 天：%{y:.1%}<br>在册 %{customdata[0]:,}，"
                                               "流失 %{customdata[1]:,}") + f"<extra>{name}</extra>")
        fig.update_layout(yaxis_tickformat=".0%", xaxis_title=pick("Days after the month-end", "月末后的天数"),
                          yaxis_title=pick("Still a customer", "仍为客户"))
        fig = charts.style(fig, height=300)
        fig.update_layout(legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0})  # clear of the axis title
        charts.show(fig, "acc_band_km")
        download(result.km, "health_km", "acc_km")
    st.markdown(pick("**Which factors separate churners**", "**哪些因素能区分流失客户**"))
    factors = accounts_data.factor_table(result, lang())
    pct = st.column_config.NumberColumn(format="percent")
    st.dataframe(factors, hide_index=True, width="stretch", placeholder=MISSING, column_config={
        factors.columns[1]: st.column_config.NumberColumn(format="%.3f"), factors.columns[2]: pct,
        factors.columns[3]: pct, factors.columns[4]: st.column_config.NumberColumn(format="localized"),
        factors.columns[5]: st.column_config.NumberColumn(format="%.0f"),
        factors.columns[6]: st.column_config.NumberColumn(format="%.0f")})
    download(factors, "health_factors", "acc_factors")
    weak = [accounts_data.FACTOR_WORDS[f][1 if lang() == "zh" else 0] for f in result.factors["factor"]
            if accounts_data.separates(result, f) is False]
    if weak:
        st.caption(pick("Not separating churners here (AUC alone ≤ 0.52): ", "在此数据中不能区分流失客户"
                        "（单因素 AUC ≤ 0.52）：") + ("、" if lang() == "zh" else ", ").join(weak))
    if fit.get("auc_after") is not None:
        st.markdown(pick("**Weights fitted on the history** (logistic regression, 25 Newton steps from zero; fitted "
                         "on the first two thirds of the month-ends, tested on the rest)",
                         "**按历史拟合的权重**（逻辑回归，从零开始 25 步牛顿迭代；用前三分之二的月末拟合，"
                         "其余月末检验）"))
        c = st.columns(4)
        c[0].metric(pick("AUC now, fit months", "当前评分 AUC（拟合月）"), _auc(fit.get("auc_before")))
        c[1].metric(pick("AUC fitted, fit months", "拟合权重 AUC（拟合月）"), _auc(fit.get("auc_after")))
        c[2].metric(pick("AUC now, later months", "当前评分 AUC（检验月）"), _auc(fit.get("auc_before_test")))
        c[3].metric(pick("AUC fitted, later months", "拟合权重 AUC（检验月）"), _auc(fit.get("auc_after_test")))


def _auc(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "—"


filters = page.start("page_accounts", tables=("accounts",))
chosen = render_list(filters)
if chosen:
    render_profile(chosen)
render_ownership(filters)
render_at_risk(filters)
render_backtest()
