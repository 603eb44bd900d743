"""Downloads of what the user sees, safe to open in Excel."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.i18n import t

# A cell starting with one of these is run as a formula by Excel (CSV injection, OWASP)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that Excel would run as formulas get a leading apostrophe; numbers stay numbers."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_PREFIXES) else v)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so Excel shows Chinese text correctly
    return excel_safe(df).to_csv(index=False).encode("utf-8-sig")


def download(df: pd.DataFrame, name: str, key: str) -> None:
    """A download button for the numbers behind a chart or table."""
    st.download_button(t("download_csv"), to_csv_bytes(df), file_name=f"{name}.csv", mime="text/csv",
                       key=f"dl_{key}", icon=":material/download:")
