"""The KPI JSON as bytes (CONTRACT §4): one writer for the CLI, the benches and the tests.

`dumps(obj)` serialises with orjson in one pass over the object, in C:

* keys in insertion order, UTF-8 without escapes (东区 stays 东区), no spaces;
* NaN and ±inf (Python or numpy floats) -> `null`; numpy scalars and arrays as their values;
* dates and naive datetimes in ISO 8601 (`2024-03-31`, `2024-03-31T08:00:00`);
* a `decimal.Decimal` as its exact value: plain digits, never an exponent, trailing zeros dropped,
  an integral value with ".0" (`18501147.31`, `1000.0`, `0.0`; `-0` prints `0.0`); a Decimal NaN
  or infinity -> `null`.

Only values orjson has no native form for (Decimal, pandas' NA/NaT/Timestamp) reach Python, one
call each; everything else never leaves C. The same object always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import orjson

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_NULL = orjson.Fragment(b"null")


def decimal_text(value: decimal.Decimal) -> str | None:
    """The exact value of `value` as a JSON number: plain digits, no exponent, no trailing zeros,
    ".0" on an integral value; None for NaN or an infinity."""
    if not value.is_finite():
        return None
    if not value:
        return "0.0"  # 0, 0.0000 and -0 alike
    text = format(value, "f")  # plain digits at the value's own exponent: 1E+3 -> "1000", 1.50 -> "1.50"
    if "." in text:
        text = text.rstrip("0")
        return text + "0" if text.endswith(".") else text
    return text + ".0"


def _other(value: Any) -> Any:
    """What orjson cannot serialise itself, but a Decimal; raises TypeError for anything else (a bug upstream)."""
    if isinstance(value, decimal.Decimal):  # a Decimal subclass
        text = decimal_text(value)
        return _NULL if text is None else orjson.Fragment(text)
    if isinstance(value, dt.date):  # a datetime subclass orjson does not take (pandas Timestamp, NaT)
        if value != value:  # NaT
            return None
        return value.isoformat()
    if isinstance(value, float):  # a float subclass
        return float(value) if math.isfinite(value) else None
    if value is None or type(value).__name__ == "NAType":  # pandas.NA, without importing pandas
        return None
    if hasattr(value, "item"):  # a numpy scalar orjson does not know (e.g. datetime64)
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def _writer() -> Any:
    """orjson's `default` for one `dumps` call. Decimals are the hot path (tens of thousands in the
    commission rows, most of them repeats such as 0.00): each is looked up by its `str` (exact, and
    cheaper than a Decimal's hash), and only a value not seen before is formatted."""
    seen: dict[str, orjson.Fragment] = {}
    get = seen.get
    exact = decimal.Decimal

    def default(value: Any) -> Any:
        if type(value) is exact:
            key = str(value)
            found = get(key)
            if found is None:
                text = decimal_text(value)
                found = seen[key] = _NULL if text is None else orjson.Fragment(text)
            return found
        return _other(value)

    return default


def dumps(obj: Any) -> bytes:
    """`obj` as compact UTF-8 JSON bytes (module docstring: the rules); no trailing newline."""
    return orjson.dumps(obj, default=_writer(), option=_OPTIONS)


def loads(data: bytes | str) -> Any:
    """The JSON text as Python values (floats for every number; compare Decimals with `dumps`)."""
    return orjson.loads(data)


__all__ = ["decimal_text", "dumps", "loads"]
