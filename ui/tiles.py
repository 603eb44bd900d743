"""KPI tiles: label, value and help from the registry, an optional change and link."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import streamlit as st

from b2bmetrics.registry import Format, column, format_value, kpi, lookup
from ui import context
from ui.i18n import label, lang, t


def plain(value: Any) -> Any:
    """A value as the formatting and the deltas read it: exact money (a Decimal) as its float (a tile
    shows it rounded to ¥1 or 0.1万 at most, far above a float's last digit)."""
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    return value


def delta_text(key: str, now: Any, before: Any) -> str | None:
    """The change against an earlier value: points for rates, percent for amounts and counts."""
    now, before = plain(now), plain(before)
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return None
    fmt = kpi(key).format
    diff = now - before
    if fmt == "percent":
        return f"{diff * 100:+.1f} pp"
    if fmt in ("nps", "score", "days", "hours"):
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
            declared = kpi(key)
            value = plain(lookup(values, key))
            with col.container(border=True):
                st.metric(declared.label.of(lang()),
                          format_value(value, declared.format, lang(), currency, compact=True),
                          delta=delta_text(key, value, lookup(before, key)) if before is not None else None,
                          delta_color="normal" if declared.higher_is_better else "inverse",
                          help=declared.description.of(lang()))
                if links and key in links:
                    st.page_link(links[key], label=t("open_page", page=""), icon=":material/arrow_forward:")


def show_value(value: Any, fmt: Format) -> str:
    """`value` as people read it in the current language and the config's currency."""
    return format_value(plain(value), fmt, lang(), context.config().currency)


def money(value: Any) -> str:
    """An amount in the config's currency."""
    return show_value(value, "money")


def figure(name: str, value: Any, *, help_text: str | None = None) -> None:
    """One figure of table column `name` (a statement's total, a profile's count) as a metric: the
    registry's header and format."""
    declared = column(name)
    fmt: Format = declared.format if declared else "number"
    st.metric(label(name), show_value(value, fmt), help=help_text)
