"""What every page starts with: its title, the filters, and a friendly stop when there is no data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.filters import Filters
from ui import context, data, sidebar
from ui.i18n import t

def _count_rows(name: str) -> Callable[[Any], int]:
    def count(con: Any) -> int:
        try:
            return int(con.table(name).count().execute())
        except Exception:  # noqa: BLE001 - a database without the table (not made by b2bmetrics) has no rows
            return 0
    return count


def row_count(name: str) -> int:
    """Rows of table `name` in the user's scope (cached per dataset version): a page's "is there data"
    check, which must not wait for the whole data-quality summary."""
    return int(data.query(f"rows.{name}", _count_rows(name)))


def start(title_key: str, tables: Iterable[str] = ()) -> Filters:
    """Title the page and return the filters; stops the page with a message when `tables` are empty."""
    st.title(t(title_key))
    missing = [name for name in tables if not row_count(name)]
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
