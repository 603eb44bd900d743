"""A readable text table of the `kpis` JSON, labels and formats from the registry."""

from __future__ import annotations

import decimal
import unicodedata
from typing import Any

from b2bmetrics.registry import KPIS, Format, Lang, column, format_value, lookup

_ONE = decimal.Decimal(1)


def _money_unit(value: decimal.Decimal, lang: Lang) -> decimal.Decimal:
    """The smallest amount `format_value` shows of money this large: ¥1, 0.1万 (¥1,000), 0.01亿 (¥1,000,000)."""
    if lang == "zh" and abs(value) >= 100_000_000:
        return decimal.Decimal(1_000_000)
    if lang == "zh" and abs(value) >= 10_000:
        return decimal.Decimal(1_000)
    return _ONE


def cell(value: Any, fmt: Format, lang: Lang = "en", currency: str = "CNY") -> str:
    """`format_value` of a value as `compute_kpis` returns it: numpy scalars as their Python values, and
    exact money (`decimal.Decimal`) rounded to the unit shown, half away from zero (¥2.50 -> ¥3,
    -¥2.50 -> -¥3, as CONTRACT §4 rounds commission), before it meets a float."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return format_value(None, fmt, lang, currency)
        if fmt == "money":
            unit = _money_unit(value, lang)
            value = (value / unit).quantize(_ONE, rounding=decimal.ROUND_HALF_UP) * unit
        # a whole number of the unit shown, at most 18 significant digits: float keeps it for printing
        value = float(value)
    return format_value(value, fmt, lang, currency)


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        # first column left-aligned (labels), numbers right-aligned
        return "  ".join(c + " " * (w - _width(c)) if i == 0 else " " * (w - _width(c)) + c
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def kpi_table(kpis: dict[str, Any], lang: Lang = "en", currency: str = "CNY") -> str:
    """The KPIs, the funnel stages and the commission rows as aligned text tables."""
    period = kpis.get("period", {})
    title = "期间" if lang == "zh" else "Period"
    out = [f"{title}: {period.get('from') or '—'} … {period.get('to') or '—'}", ""]
    rows = [[k.label.of(lang), cell(lookup(kpis, k.key), k.format, lang, currency)] for k in KPIS]
    out.append(_table(["KPI" if lang == "en" else "指标", "Value" if lang == "en" else "数值"], rows))

    def col(name: str) -> str:
        declared = column(name)
        if declared is None:  # a programming error: every column the report prints is declared
            raise KeyError(f"registry.COLUMNS declares no column {name!r}")
        return declared.label.of(lang)

    def fmt(name: str) -> Format:
        declared = column(name)
        return declared.format if declared else "text"

    stage_cols = ["stage", "phase", "entered", "conversion_to_next", "median_days_in_stage"]
    stages = kpis.get("funnel", {}).get("stages", [])
    out += ["", _table([col(c) for c in stage_cols],
                       [[cell(s.get(c), fmt(c), lang, currency) for c in stage_cols]
                        for s in stages])]
    comm_cols = ["rep_id", "period_start", "credited_revenue", "quota", "attainment", "commission",
                 "referral_commission", "clawback", "payout"]
    comm_rows = kpis.get("commission", {}).get("rows", [])
    if comm_rows:
        out += ["", _table([col(c) for c in comm_cols],
                           [[cell(r.get(c), fmt(c), lang, currency) for c in comm_cols]
                            for r in comm_rows])]
    q_cols = ["rows", "completeness", "orphans"]
    tables = kpis.get("quality", {}).get("tables", {})
    out += ["", _table([col("table_name")] + [col(c) for c in q_cols],
                       [[name] + [cell(v.get(c), fmt(c), lang, currency) for c in q_cols]
                        for name, v in tables.items()])]
    return "\n".join(out)
