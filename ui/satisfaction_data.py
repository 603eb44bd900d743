"""What the satisfaction page shows, shaped from the satisfaction results: group labels, the
interval chart's points, the response-time histogram's bars."""

from __future__ import annotations

import pandas as pd

from b2bmetrics.registry import value_label
from ui.i18n import lang, pick


def group_labels(frame: pd.DataFrame, by: str) -> pd.Series:
    """The group column as text (a channel in words); an unknown group (no channel, unlinked
    survey) reads "(none)"."""
    labels = frame[by].astype("string").fillna(pick("(none)", "（无）"))
    return labels.map(lambda v: value_label(by, v, lang())).astype("string")


def with_group_labels(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """`frame` with its group column as `group_labels` shows it."""
    return frame.assign(**{by: group_labels(frame, by)})


def histogram_bars(hist: pd.DataFrame) -> pd.DataFrame:
    """The bins with `mid` and `width` for bars; the last bin is open-ended ("66 h and more"), so
    it is drawn as wide as the others."""
    width = float((hist["bin_end"] - hist["bin_start"]).median())
    ends = hist["bin_end"].fillna(hist["bin_start"] + width)
    return hist.assign(bin_end=ends, mid=(hist["bin_start"] + ends) / 2, width=(ends - hist["bin_start"]) * 0.9,
                       channel=hist["channel"].astype("string").fillna("—"))
