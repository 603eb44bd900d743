"""A readable text table of the `kpis` JSON, labels and formats from the registry."""

from __future__ import annotations

import unicodedata
from typing import Any

from b2bmetrics.registry import KPIS, Format, Lang, column, format_value, lookup


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
    rows = [[k.label.of(lang), format_value(lookup(kpis, k.key), k.format, lang, currency)] for k in KPIS]
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
                       [[format_value(s.get(c), fmt(c), lang, currency) for c in stage_cols]
                        for s in stages])]
    comm_cols = ["rep_id", "period_start", "credited_revenue", "quota", "attainment", "commission",
                 "referral_commission", "clawback", "payout"]
    comm_rows = kpis.get("commission", {}).get("rows", [])
    if comm_rows:
        out += ["", _table([col(c) for c in comm_cols],
                           [[format_value(r.get(c), fmt(c), lang, currency) for c in comm_cols]
                            for r in comm_rows])]
    q_cols = ["rows", "completeness", "orphans"]
    tables = kpis.get("quality", {}).get("tables", {})
    out += ["", _table([col("table_name")] + [col(c) for c in q_cols],
                       [[name] + [format_value(v.get(c), fmt(c), lang, currency) for c in q_cols]
                        for name, v in tables.items()])]
    return "\n".join(out)
