"""The KPI JSON writer (b2bmetrics.jsonout) and the table's money cells (b2bmetrics.report.cell)."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from b2bmetrics.jsonout import decimal_text, dumps, loads
from b2bmetrics.report import cell


@pytest.mark.parametrize(("value", "text"), [
    ("18501147.31", "18501147.31"),
    ("18501147.3100", "18501147.31"),      # DECIMAL(18,4) as DuckDB returns it: trailing zeros dropped
    ("1000", "1000.0"),                    # integral: ".0"
    ("1000.0000", "1000.0"),
    ("1E+3", "1000.0"),                    # an exponent is written out in digits
    ("1.2E+20", "120000000000000000000.0"),
    ("0", "0.0"),
    ("0.0000", "0.0"),
    ("-0.00", "0.0"),                      # no negative zero
    ("-0.13", "-0.13"),
    ("-12.50", "-12.5"),
    ("0.0001", "0.0001"),                  # the smallest money step, not 1E-4
    ("1E-7", "0.0000001"),
    ("123456789012345678.9012", "123456789012345678.9012"),  # more digits than a double holds: all kept
    ("99999999999999.9999", "99999999999999.9999"),           # a float would print 100000000000000.0
])
def test_a_decimal_prints_as_its_exact_value(value: str, text: str) -> None:
    assert decimal_text(Decimal(value)) == text
    assert dumps({"x": Decimal(value)}) == b'{"x":' + text.encode() + b"}"


def test_a_decimal_sum_that_floats_get_wrong_prints_exactly() -> None:
    # 0.1 + 0.2 + ... : 10,000 times 0.10 plus 10,000 times 0.20 is 3000 exactly; floats say 3000.0000000001...
    amounts = [Decimal("0.10"), Decimal("0.20")] * 10_000
    as_float = math.fsum(float(a) for a in amounts[:2]) + sum(float(a) for a in amounts[2:])
    assert repr(as_float) != "3000.0"
    assert dumps({"won_amount": sum(amounts, Decimal(0))}) == b'{"won_amount":3000.0}'
    assert dumps([Decimal("0.1") + Decimal("0.2")]) == b"[0.3]"


def test_decimal_nan_and_infinity_are_null() -> None:
    assert dumps([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")]) == b"[null,null,null]"


def test_floats_numpy_dates_and_text() -> None:
    obj = {
        "nan": float("nan"), "inf": float("inf"), "ninf": -math.inf,
        "np_nan": np.float64("nan"), "np_float": np.float64(0.25), "np_int": np.int64(7), "np_bool": np.bool_(True),
        "array": np.array([1, 2]), "date": dt.date(2024, 2, 29), "at": dt.datetime(2024, 2, 29, 8, 30),
        "region": "华东", "tuple": (1, None), "rate": 0.1 + 0.2,
    }
    assert dumps(obj) == (
        '{"nan":null,"inf":null,"ninf":null,"np_nan":null,"np_float":0.25,"np_int":7,"np_bool":true,'
        '"array":[1,2],"date":"2024-02-29","at":"2024-02-29T08:30:00","region":"华东","tuple":[1,null],'
        '"rate":0.30000000000000004}').encode()


def test_pandas_missing_values_and_timestamps() -> None:
    assert dumps([pd.NA, pd.NaT, pd.Timestamp("2024-03-31")]) == b'[null,null,"2024-03-31T00:00:00"]'


def test_keys_keep_their_insertion_order_and_the_text_is_what_json_reads() -> None:
    obj = {"z": 1, "a": {"y": [3, 2, 1], "b": None}, "m": Decimal("2.50")}
    out = dumps(obj)
    assert out == b'{"z":1,"a":{"y":[3,2,1],"b":null},"m":2.5}'
    assert json.loads(out) == loads(out) == {"z": 1, "a": {"y": [3, 2, 1], "b": None}, "m": 2.5}


def test_an_unknown_type_is_an_error_not_a_guess() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})


@pytest.mark.parametrize(("value", "lang", "text"), [
    (Decimal("1234.5000"), "en", "¥1,235"),      # half a yuan rounds away from zero (CONTRACT §4's rounding)
    (Decimal("-2.50"), "en", "-¥3"),
    (Decimal("2.49"), "en", "¥2"),
    (Decimal("18501147.31"), "en", "¥18,501,147"),
    (Decimal("12345.0000"), "zh", "¥1.2万"),       # 12,345 -> 1.2万 (the 0.1万 step is ¥1,000)
    (Decimal("12350"), "zh", "¥1.2万"),            # 1.235万 -> 1.2万: rounded to ¥1,000 first (12,000)
    (Decimal("12500"), "zh", "¥1.3万"),            # 12,500 -> 13,000 -> 1.3万
    (Decimal("123456789.01"), "zh", "¥1.23亿"),
    (Decimal("NaN"), "en", "—"),
])
def test_the_table_prints_decimal_money(value: Decimal, lang: str, text: str) -> None:
    assert cell(value, "money", lang, "CNY") == text  # type: ignore[arg-type]


def test_the_table_prints_numpy_scalars_as_numbers() -> None:
    assert cell(np.int64(12345), "count") == "12,345"
    assert cell(np.float64("nan"), "percent") == "—"
    assert cell(np.float64(0.5), "percent") == "50.0%"
