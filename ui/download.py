"""Downloads of what the user sees, safe to open in Excel (see b2bmetrics.csv_export)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from b2bmetrics.csv_export import frame_csv
from ui.i18n import t


def download(df: pd.DataFrame, name: str, key: str) -> None:
    """A download button for the numbers behind a chart or table."""
    # bytes are made when clicked, not on every rerun of the page
    st.download_button(t("download_csv"), lambda: frame_csv(df), file_name=f"{name}.csv", mime="text/csv",
                       key=f"dl_{key}", icon=":material/download:", on_click="ignore")
