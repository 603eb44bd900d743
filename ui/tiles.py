"""KPI tiles: label, value and help from the registry, an optional change and link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from b2bmetrics.registry import KPI_BY_KEY, format_value, lookup
from ui import context
from ui.i18n import lang, t


def delta_text(key: str, now: Any, before: Any) -> str | None:
    """The change against an earlier value: points for rates, percent for amounts and counts."""
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return None
    kpi = KPI_BY_KEY[key]
    diff = now - before
    if kpi.format == "percent":
        return f"{diff * 100:+.1f} pp"
    if kpi.format in ("nps", "score", "days", "hours"):
        return f"{diff:+.1f}"
    if before:
        return f"{diff / abs(before) * 100:+.1f}%"
    return None


def kpi_tiles(values: Mapping[str, Any], keys: Sequence[str], *, per_row: int = 4,
              before: Mapping[str, Any] | None = None, links: Mapping[str, str] | None = None) -> None:
    """Tiles for `keys` ("family.name") read from a `kpis`-shaped mapping."""
    currency = context.config().currency
    for start in range(0, len(keys), per_row):
        row = keys[start:start + per_row]
        for col, key in zip(st.columns(per_row), row, strict=False):
            kpi = KPI_BY_KEY[key]
            value = lookup(values, key)
            with col.container(border=True):
                st.metric(kpi.label(lang()), format_value(value, kpi.format, lang(), currency, compact=True),
                          delta=delta_text(key, value, lookup(before, key)) if before is not None else None,
                          delta_color="normal" if kpi.higher_is_better else "inverse", help=kpi.description)
                if links and key in links:
                    st.page_link(links[key], label=t("open_page", page=""), icon=":material/arrow_forward:")
