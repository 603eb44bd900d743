"""The registry: numbers as people read them (format_value per format, language and tile size), and
the declarations of KPIs, measures and table columns."""

from __future__ import annotations

import pytest

from b2bmetrics.registry import (
    COLUMNS,
    KPI,
    KPI_BY_KEY,
    KPI_COLUMNS,
    Text,
    column,
    column_label,
    format_value,
    lookup,
    value_label,
)
from b2bmetrics.schema import TABLES


@pytest.mark.parametrize(("value", "fmt", "lang", "compact", "shown"), [
    (34_437_812.0, "money", "en", True, "¥34.4M"),
    (34_437_812.0, "money", "zh", True, "¥3,444万"),      # 3,443.78万 rounded: a tile has no room for tenths
    (34_437_812.0, "money", "zh", False, "¥3,443.8万"),   # a table keeps them
    (522_100.0, "money", "zh", True, "¥52.2万"),          # below 100万 the tenths still count
    (250_000_000.0, "money", "zh", True, "¥2.50亿"),
    (0.114, "percent", "en", False, "11.4%"),
    (None, "money", "en", False, "—"),
])
def test_format_value(value: float | None, fmt: str, lang: str, compact: bool, shown: str) -> None:
    assert format_value(value, fmt, lang, "CNY", compact=compact) == shown  # type: ignore[arg-type]


# ---- the declarations -----------------------------------------------------------------------------

def test_ratios_and_derived_figures_name_declared_parts() -> None:
    for k in KPI_BY_KEY.values():
        parts = [k.numerator, k.denominator] if k.kind == "ratio" else list(k.inputs)
        assert all(p in KPI_BY_KEY for p in parts), (k.key, parts)
        assert k.key not in parts, k.key


def test_a_ratio_without_its_parts_is_refused() -> None:
    with pytest.raises(TypeError, match="numerator"):
        KPI("x.y", Text("Y", "乙"), Text("d", "说明"), "percent", "ratio", numerator="x.a")
    with pytest.raises(TypeError, match="inputs"):
        KPI("x.y", Text("Y", "乙"), Text("d", "说明"), "money", "derived")


def test_ratios_in_the_kpis_json_are_their_numerator_over_their_denominator() -> None:
    """Where the JSON carries both parts: logo churn, NRR, average won deal (CONTRACT §4)."""
    from b2bmetrics.config import Config
    from b2bmetrics.filters import Filters
    from b2bmetrics.metrics import compute_kpis
    from tests.conftest import make_db
    from tests.pages_fixtures import fixture_rows

    kpis = compute_kpis(make_db(fixture_rows()), Config(), Filters())
    checked = 0
    for k in KPI_BY_KEY.values():
        if k.kind != "ratio" or k.numerator is None or k.denominator is None:
            continue
        num, den, value = lookup(kpis, k.numerator), lookup(kpis, k.denominator), lookup(kpis, k.key)
        if num is None or den is None:
            continue  # a measure the JSON does not carry
        checked += 1
        assert value == (pytest.approx(num / den) if den else None), k.key
    # avg_won_amount = (100 + 300) / 2 = 200; NRR = 40 / 40 (both contracts run on); logo churn = 0 / 1
    assert checked >= 3


def test_every_canonical_column_and_kpi_column_has_a_header_in_both_languages() -> None:
    names = {c.name for t in TABLES.values() for c in t.columns} | set(COLUMNS) | set(KPI_COLUMNS)
    for name in names:
        declared = column(name)
        assert declared is not None and declared.label.en and declared.label.zh, name
    assert not set(COLUMNS) & set(KPI_COLUMNS)  # one home for each header


def test_a_kpi_column_is_headed_by_the_kpis_own_label() -> None:
    assert column_label("csat_n", "en") == KPI_BY_KEY["satisfaction.csat_responses"].label.en
    assert column_label("win_rate", "zh") == "赢单率"
    assert column_label("entered_proposal", "en") == "Entered · proposal"
    assert column_label("no_such_column", "zh") == "no_such_column"  # what the page tests catch


def test_codes_read_as_words() -> None:
    assert value_label("role", "partner", "zh") == "合作伙伴"
    assert value_label("role", "someone", "en") == "someone"  # the user's own values stay as they are
    assert value_label("status", None, "en") is None
