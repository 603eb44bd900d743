"""b2bmetrics dashboard: navigation, the shared filter sidebar, and nothing else.

Run with `make run` (or `streamlit run dashboard.py`). Pages live in pages/, one file each.
"""

from __future__ import annotations

import streamlit as st

from b2bmetrics.errors import B2BError
from ui import context, sidebar
from ui import page as page_frame
from ui.i18n import t

st.set_page_config(page_title="b2bmetrics", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    ("pages/overview.py", "page_overview", ":material/dashboard:", "overview"),
    ("pages/funnel.py", "page_funnel", ":material/filter_alt:", "funnel"),
    ("pages/churn.py", "page_churn", ":material/trending_down:", "churn"),
    ("pages/satisfaction.py", "page_satisfaction", ":material/sentiment_satisfied:", "satisfaction"),
    ("pages/commission.py", "page_commission", ":material/payments:", "commission"),
    ("pages/accounts.py", "page_accounts", ":material/domain:", "accounts"),
    ("pages/data.py", "page_data", ":material/upload_file:", "data"),
]

page_frame.mark_entry()
sidebar.render_language()
page = st.navigation([st.Page(path, title=t(title), icon=icon, url_path=url, default=(url == "overview"))
                      for path, title, icon, url in PAGES])
try:
    context.ensure_database()
    sidebar.render_filters()
    st.sidebar.caption(f"{t('database')}: `{context.db_path().name}` · {t('local_mode')}")
    page.run()
except B2BError as exc:
    st.error(f"**{t('error_title')}**\n\n{exc}")
