"""b2bmetrics dashboard: the sign-in gate, navigation by role, the shared filter sidebar, nothing else.

Run with `make run` (or `streamlit run dashboard.py`). Pages live in app_pages/, one file each (not
`pages/`, so Streamlit's older automatic multipage mode never runs a page on its own). With an
`[auth]` section in `.streamlit/secrets.toml`, users sign in and see what their role in the roles
file allows (docs/access.md); without it the app is single-user and local.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import streamlit as st
from streamlit.errors import StreamlitAuthError

from b2bmetrics.errors import B2BError
from b2bmetrics.store import health
from ui import context, sidebar
from ui.i18n import t

st.set_page_config(page_title="b2bmetrics", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    ("app_pages/overview.py", "page_overview", ":material/dashboard:", "overview"),
    ("app_pages/funnel.py", "page_funnel", ":material/filter_alt:", "funnel"),
    ("app_pages/forecast.py", "page_forecast", ":material/query_stats:", "forecast"),
    ("app_pages/churn.py", "page_churn", ":material/trending_down:", "churn"),
    ("app_pages/satisfaction.py", "page_satisfaction", ":material/sentiment_satisfied:", "satisfaction"),
    ("app_pages/commission.py", "page_commission", ":material/payments:", "commission"),
    ("app_pages/cash.py", "page_cash", ":material/account_balance_wallet:", "cash"),
    ("app_pages/accounts.py", "page_accounts", ":material/domain:", "accounts"),
    ("app_pages/data.py", "page_data", ":material/upload_file:", "data"),
]
DATA_PAGE = "data"  # uploads replace everyone's data: only roles that see all data get it


def render_sign_in() -> None:
    st.title(t("sign_in_title"))
    st.write(t("sign_in_text"))
    if st.button(t("sign_in"), type="primary", icon=":material/login:", key="auth_sign_in"):
        try:
            st.login()
        except StreamlitAuthError as exc:  # e.g. Authlib is not installed, or [auth] lacks a key
            st.error(f"**{t('sign_in_failed')}**\n\n{exc}")


def render_no_access() -> None:
    st.title(t("no_access_title"))
    st.warning(t("no_access", email=context.user_email() or "?"), icon=":material/lock:")
    st.button(t("sign_out"), on_click=st.logout, key="auth_sign_out", icon=":material/logout:")


def render_setup_error(error: B2BError) -> None:
    st.title(t("access_setup_title"))
    st.error(str(error))
    if context.signed_in():
        st.button(t("sign_out"), on_click=st.logout, key="auth_sign_out", icon=":material/logout:")


def gate(render: Callable[[], None], title_key: str) -> NoReturn:
    """Show only `render` (no other page, no sidebar filters, whatever the URL asked for) and stop.

    Every page's address shows `render` too, so a link to a page opened before signing in (or
    without a role) shows the sign-in page or the message, not Streamlit's "Page not found" dialog.
    """
    pages = [st.Page(render, title=t(title_key), url_path="access", default=True)]
    pages += [st.Page(render, title=t(title_key), url_path=url) for _, _, _, url in PAGES]
    st.navigation(pages, position="hidden").run()
    st.stop()


sidebar.render_language()
try:
    scope = context.user_scope()
except B2BError as exc:  # a broken roles or secrets file lets nobody in until it is fixed
    error = exc
    gate(lambda: render_setup_error(error), "access_setup_title")
if scope is None and context.signed_in():
    gate(render_no_access, "no_access_title")
if scope is None:
    gate(render_sign_in, "sign_in_title")

page = st.navigation([st.Page(path, title=t(title), icon=icon, url_path=url, default=(url == "overview"))
                      for path, title, icon, url in PAGES if url != DATA_PAGE or scope.may_manage_data])
try:
    context.ensure_database()
    sidebar.render_filters()
    sidebar.render_identity(scope)
    page.run()
except B2BError as exc:
    st.error(f"**{t('error_title')}**\n\n{exc}")
except Exception as exc:  # a damaged database file met mid-query: the recovery steps, not a traceback
    damage = health.damage_of(exc, context.db_path().resolve())
    if damage is None:
        raise
    st.error(f"**{t('error_title')}**\n\n{damage}")
