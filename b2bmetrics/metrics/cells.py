"""Plain Python values from the cells of small aggregated results (NULL/NaN -> None).

Money is exact: `money` gives a `decimal.Decimal` (the backends sum DECIMAL columns exactly), and a
mean or ratio of exact sums is one division (`mean`, `ratio`), so no result depends on the order in
which a backend added the rows.
"""

from __future__ import annotations

import decimal
from typing import Any

import pandas as pd

Decimal = decimal.Decimal
# enough digits for any quotient of two DECIMAL(38) sums before it becomes a float
_CONTEXT = decimal.Context(prec=40)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, Decimal):
        return value.is_nan()
    return bool(pd.isna(value))


def num(value: Any) -> float | None:
    """A float, or None for NULL/NaN."""
    if _missing(value):
        return None
    return float(value)


def money(value: Any) -> Decimal | None:
    """An exact Decimal from a money cell (Decimal, int or str; a float, from a database written before
    money was exact, by its shortest repr); None for NULL/NaN (an empty sum)."""
    if _missing(value):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"not an amount: {value!r}")
    if isinstance(value, str):
        return Decimal(value)
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


def count(value: Any) -> int:
    """An int; a NULL count (an aggregate over no rows) is 0."""
    return 0 if _missing(value) else int(value)


def _exact(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(int(value)) if not isinstance(value, str) else Decimal(value)


def mean(total: Any, n: Any, unit: int = 1) -> float | None:
    """total / (n × unit) as a float, in one exact division (total an exact sum: a Decimal or an int,
    e.g. microseconds); None when the total is unknown or n is 0."""
    n = count(n)
    if _missing(total) or n == 0:
        return None
    return float(_CONTEXT.divide(_exact(total), Decimal(n * unit)))


def ratio(numerator: Any, denominator: Any) -> float | None:
    """numerator / denominator as a float; None when either is unknown or the denominator is 0
    (sum / nullif(sum, 0)). Two Decimals (exact sums) are divided exactly, then rounded once."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    if isinstance(numerator, Decimal) or isinstance(denominator, Decimal):
        return float(_CONTEXT.divide(_exact(numerator), _exact(denominator)))
    return float(numerator / denominator)


def float_columns(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """`frame` with these money columns (Decimal cells from DECIMAL columns) as float64, NULL as NaN:
    what a page's table, chart and arithmetic want. Each value is the float of an exact amount or
    sum, so it does not depend on the order of any addition. Columns the frame lacks are skipped."""
    for col in columns:
        if col in frame.columns:
            frame[col] = pd.to_numeric(frame[col].map(num), errors="coerce").astype("float64")
    return frame
