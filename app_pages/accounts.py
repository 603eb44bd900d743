"""Accounts: a searchable customer list, one customer's whole profile, and ownership."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.accounts import mrr_over_time
from b2bmetrics.registry import format_value
from ui import charts, context, data, page, sidebar
from ui.download import download
from ui.i18n import lang, pick
from ui.tables import column_config, show_table

CHANNEL_COLORS = {"online": "#1f6feb", "offline": "#2da44e", "phone": "#d29922", "wechat": "#1b7c83"}


def money(value: object) -> str:
    return format_value(value, "money", lang(), context.config().currency)


def render_list(filters: Filters) -> str | None:
    search = st.text_input(pick("Search accounts (id, name, industry, owner)", "搜索客户（编号、名称、行业、负责人）"),
                           key="acc_search")
    found = data.metric("accounts.list", filters, search=search)
    if page.empty(found):
        return None
    event = st.dataframe(found, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key="acc_table", column_config=column_config(found))
    download(found, "accounts", "acc_list")
    rows = event.selection.rows if event is not None else []
    ids = found["account_id"].tolist()
    default = ids[rows[0]] if rows else st.session_state.get("acc_selected", ids[0])
    names = dict(zip(ids, found["account_name"], strict=True))
    chosen = st.selectbox(pick("Account", "客户"), ids, index=ids.index(default) if default in ids else 0,
                          format_func=lambda a: f"{a} · {names.get(a)}", key="acc_pick")
    st.session_state["acc_selected"] = chosen
    return chosen


def render_profile(account_id: str) -> None:
    prof = data.lookup("accounts.profile", account_id=account_id)
    account = prof["account"]
    if account.empty:
        st.warning(pick(f"No account {account_id}", f"没有客户 {account_id}"))
        return
    acc = account.iloc[0]
    st.header(f"{acc['account_name'] or account_id}")
    st.caption(" · ".join(str(v) for v in (acc["account_id"], acc["region"], acc["segment"], acc["industry"])
                          if v is not None and not pd.isna(v)))
    # as of the data's last day, which the sidebar already knows (health would otherwise scan every table for it)
    health = data.lookup("churn.health", account_id=account_id, as_of=sidebar.options()["range"][1])
    cols = st.columns(4)
    score = health.get("health_score")
    cols[0].metric(pick("Health score", "健康分"), f"{score:.0f}" if score is not None else "—",
                   help=pick("0–100; see Churn & retention for how it is scored", "0–100，计分方法见“流失与留存”页"))
    contracts = prof["contracts"]
    mrr = mrr_over_time(contracts)
    cols[1].metric(pick("MRR now", "当前MRR"), money(float(mrr["mrr"].iloc[-1]) if len(mrr) else None))
    cols[2].metric(pick("Deals", "商机"), f"{len(prof['deals']):,}")
    cols[3].metric(pick("Tickets", "工单"), f"{len(prof['tickets']):,}")
    if health.get("reasons"):
        st.warning(pick("Why: ", "原因：") + str(health["reasons"]))

    left, right = st.columns(2)
    with left:
        st.markdown(pick("**Owner and team**", "**负责人与服务团队**"))
        show_table(prof["team"], f"team_{account_id}", "acc_team")
    with right:
        st.markdown(pick("**MRR over time**", "**MRR 走势**"))
        if len(mrr):
            fig = go.Figure(go.Scatter(x=mrr["month"], y=mrr["mrr"], line_shape="hv", fill="tozeroy",
                                       hovertemplate="%{x|%Y-%m}: %{y:,.0f}<extra></extra>"))
            charts.show(charts.style(fig, height=240), "acc_mrr")
            download(mrr, f"mrr_{account_id}", "acc_mrr")
        show_table(contracts, f"contracts_{account_id}", "acc_contracts")

    st.markdown(pick("**Deals and their stage paths**", "**商机及阶段路径**"))
    show_table(prof["deals"], f"deals_{account_id}", "acc_deals")
    st.markdown(pick("**Activities by channel**", "**按渠道的跟进活动**"))
    acts = prof["activities"]
    if len(acts):
        fig = go.Figure()
        for channel, part in acts.groupby(acts["channel"].fillna("—")):
            fig.add_scatter(x=part["occurred_at"], y=part["kind"].fillna("—"), mode="markers", name=str(channel),
                            marker={"size": 10, "color": CHANNEL_COLORS.get(str(channel), "#6e7781")},
                            customdata=part[["rep_id"]], hovertemplate="%{x|%Y-%m-%d}: %{y} · %{customdata[0]}"
                                                                       "<extra>" + str(channel) + "</extra>")
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
    own = data.metric("accounts.ownership", filters)
    left, right = st.columns(2)
    with left:
        st.markdown(pick(f"**Accounts without an owner** ({len(own['unowned']):,})",
                         f"**无负责人的客户**（{len(own['unowned']):,}）"))
        show_table(own["unowned"], "accounts_without_owner", "acc_unowned", height=300)
    with right:
        st.markdown(pick("**Accounts per owner**", "**各负责人的客户数**"))
        show_table(own["per_owner"], "accounts_per_owner", "acc_per_owner", height=300)


filters = page.start("page_accounts", tables=("accounts",))
chosen = render_list(filters)
if chosen:
    render_profile(chosen)
render_ownership(filters)
