"""Tables as users read them: headers and formats from the registry, empty cells for missing values,
and a download of what is shown beside each.

A header is the registry's label of its column (`b2bmetrics.registry.column`): a KPI's label for a
column that shows a KPI, the declared label otherwise. A column the registry does not know keeps
its name, which the page tests catch. Missing values show as empty cells, never "None".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.registry import VALUE_LABELS, Format, Text, column, value_label
from ui.download import download
from ui.i18n import lang

# money: two decimals and thousands separators in every row ("localized" shows 1,721.28 beside 5,041.122)
NUMBER_FORMATS: dict[Format, str | Text] = {
    "money": "accounting", "count": "localized", "percent": "percent", "score": "%.2f", "nps": "%+.1f",
    "days": Text("%.1f d", "%.1f 天"), "hours": Text("%.1f h", "%.1f 小时"),
}
MISSING = ""  # what a missing value shows as


def _number_format(fmt: Format) -> str | None:
    spec = NUMBER_FORMATS.get(fmt)
    return spec.of(lang()) if isinstance(spec, Text) else spec


def _time_format(values: pd.Series) -> str:
    """Days alone when every time is midnight (a hire date, a contract start), else to the minute."""
    times = values.dropna()
    at_midnight = bool(((times - times.dt.normalize()) == pd.Timedelta(0)).all())
    return "YYYY-MM-DD" if at_midnight else "YYYY-MM-DD HH:mm"


def column_config(frame: pd.DataFrame, *, progress: Mapping[str, tuple[float, float]] | None = None,
                  ) -> dict[str, Any]:
    """Headers, help and number formats of `frame`'s columns; `progress` columns (name -> (min, max))
    are drawn as bars."""
    config: dict[str, Any] = {}
    for name in frame.columns:
        declared = column(str(name))
        if declared is None:
            continue
        label = declared.label.of(lang())
        help_text = declared.description.of(lang()) if declared.description else None
        number_format = _number_format(declared.format)
        numeric = pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name])
        if progress and name in progress:
            low, high = progress[name]
            config[name] = st.column_config.ProgressColumn(label, min_value=low, max_value=high, help=help_text,
                                                           format="percent" if declared.format == "percent" else "%.0f")
        elif pd.api.types.is_bool_dtype(frame[name]):
            config[name] = st.column_config.CheckboxColumn(label, help=help_text)
        elif numeric and number_format:
            config[name] = st.column_config.NumberColumn(label, format=number_format, help=help_text)
        elif pd.api.types.is_datetime64_any_dtype(frame[name]):
            config[name] = st.column_config.DatetimeColumn(label, format=_time_format(frame[name]), help=help_text)
        else:
            config[name] = st.column_config.Column(label, help=help_text)
    return config


def in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the code columns of `registry.VALUE_LABELS` (role, status, …) in words."""
    codes = [c for c in frame.columns if c in VALUE_LABELS]
    if not codes:
        return frame
    language = lang()
    return frame.assign(**{str(c): [value_label(str(c), v, language) for v in frame[c]] for c in codes})


def show_table(frame: pd.DataFrame, name: str, key: str, *, columns: Sequence[str] | None = None,
               progress: Mapping[str, tuple[float, float]] | None = None, height: int | None = None,
               select_row: bool = False) -> list[int]:
    """The frame (or its `columns`) with headers and formats, and a CSV download of what is shown
    (its values as stored: codes stay codes, so the file reads back the same).

    With `select_row` the user may pick one row: its position comes back (an empty list before a pick).
    """
    shown = frame[[c for c in columns if c in frame.columns]] if columns else frame
    config = column_config(shown, progress=progress)
    words = in_words(shown)
    if select_row:
        event = st.dataframe(words, hide_index=True, width="stretch", column_config=config, height=height or "auto",
                             placeholder=MISSING, on_select="rerun", selection_mode="single-row", key=f"table_{key}")
    else:
        st.dataframe(words, hide_index=True, width="stretch", column_config=config, height=height or "auto",
                     placeholder=MISSING)
    download(shown, name, key)
    return list(event.selection.rows) if select_row and event is not None else []


def edit_table(frame: pd.DataFrame, key: str, *, disabled: Sequence[str] = (), dynamic: bool = False,
               extra_config: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """An editable table with the registry's headers; `extra_config` adds widgets' own limits (its
    entries carry their label from `ui.i18n.label`)."""
    config = {**column_config(frame), **(extra_config or {})}
    return st.data_editor(frame, key=key, hide_index=True, width="stretch", disabled=list(disabled),
                          num_rows="dynamic" if dynamic else "fixed", column_config=config, placeholder=MISSING)
