"""What every page starts with: its title, the filters, and a friendly stop when there is no data."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from b2bmetrics.filters import Filters
from ui import context, data, sidebar
from ui.i18n import t


def start(title_key: str, tables: Iterable[str] = ()) -> Filters:
    """Title the page and return the filters; stops the page with a message when `tables` are empty."""
    st.title(t(title_key))
    missing = [name for name in tables if not data.row_count(name)]
    if missing:
        st.info(t("no_data") + f"  \n`{', '.join(missing)}`", icon=":material/info:")
        if context.require_scope().may_manage_data:  # other roles have no Data page to link to
            st.page_link("app_pages/data.py", label=t("page_data"), icon=":material/upload_file:")
        st.stop()
    return sidebar.current()


def empty(frame: pd.DataFrame | None) -> bool:
    """True (and a note shown) when a result has no rows under the current filters."""
    if frame is None or len(frame) == 0:
        st.info(t("empty_filter"), icon=":material/filter_alt_off:")
        return True
    return False
