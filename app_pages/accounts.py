"""Accounts: a searchable customer list, one customer's whole profile, and ownership."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from b2bmetrics.filters import Filters
from b2bmetrics.metrics.churn import reasons_text
from ui import accounts_data, charts, data, page, sidebar
from ui.download import download
from ui.i18n import label, lang, pick, words
from ui.tables import show_table
from ui.tiles import money

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


filters = page.start("page_accounts", tables=("accounts",))
chosen = render_list(filters)
if chosen:
    render_profile(chosen)
render_ownership(filters)
