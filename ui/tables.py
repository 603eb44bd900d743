"""Tables as users read them: labels from the registry, money and rates formatted, a download beside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.registry import COLUMN_LABELS
from ui.download import download
from ui.i18n import lang

# money: two decimals and thousands separators in every row ("localized" shows 1,721.28 beside 5,041.122)
FORMATS = {"money": "accounting", "count": "localized", "percent": "percent", "days": "%.1f", "hours": "%.1f",
           "score": "%.2f", "nps": "%.1f"}


def column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Labels and number formats for the columns the registry knows."""
    config: dict[str, Any] = {}
    for col in frame.columns:
        if col not in COLUMN_LABELS:
            continue
        en, zh, fmt = COLUMN_LABELS[col]
        label = zh if lang() == "zh" else en
        if fmt in FORMATS and pd.api.types.is_numeric_dtype(frame[col]):
            config[col] = st.column_config.NumberColumn(label, format=FORMATS[fmt])
        else:
            config[col] = st.column_config.Column(label)
    return config


def show_table(frame: pd.DataFrame, name: str, key: str, *, columns: Sequence[str] | None = None,
               extra_config: dict[str, Any] | None = None, height: int | None = None) -> None:
    """The frame (or its `columns`) with labels and formats, and a CSV download of what is shown."""
    shown = frame[[c for c in columns if c in frame.columns]] if columns else frame
    config = {**column_config(shown), **(extra_config or {})}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, height=height or "auto")
    download(shown, name, key)
