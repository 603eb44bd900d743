"""Plain Python values from the cells of small aggregated results (NULL/NaN -> None)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def num(value: Any) -> float | None:
    """A float, or None for NULL/NaN."""
    if value is None or pd.isna(value):
        return None
    return float(value)


def count(value: Any) -> int:
    """An int; a NULL count (an aggregate over no rows) is 0."""
    return 0 if value is None or pd.isna(value) else int(value)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator; None when either is unknown or the denominator is 0 (sum / nullif(sum, 0))."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
