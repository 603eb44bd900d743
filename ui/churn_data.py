"""What the churn page shows, shaped from the churn and MRR-movement results: the cohort grids
(logos and revenue), the MRR bridge and the movements by month as bars, which bar a click picked,
and the accounts behind a movement as a table.

Every number is one the library computed (`b2bmetrics.metrics.churn`, `.mrr_movements`): this
module turns exact Decimals into floats, signs the losses for the charts, relabels and picks rows;
it adds nothing up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from b2bmetrics.metrics.cells import float_columns, num
from b2bmetrics.metrics.mrr_movements import MOVEMENTS
from ui.i18n import pick

BRIDGE_STEPS = ("mrr_start", *MOVEMENTS, "mrr_end")
LOSSES = ("contraction", "churn")
# short names of the bridge's bars and of the movements (the tiles carry the registry's full labels)
STEP_NAMES: dict[str, tuple[str, str]] = {
    "mrr_start": ("MRR at start", "期初MRR"), "new": ("New", "新增"), "reactivation": ("Reactivation", "回流"),
    "expansion": ("Expansion", "扩展"), "contraction": ("Contraction", "收缩"), "churn": ("Churn", "流失"),
    "mrr_end": ("MRR at end", "期末MRR"),
}
MOVEMENT_COLORS = {"new": "#2da44e", "reactivation": "#1b7c83", "expansion": "#8250df", "contraction": "#d29922",
                   "churn": "#cf222e"}
ACCOUNT_MONEY = ("mrr_from", "mrr_to", "mrr_change")
AUTO_AT_RISK = 20_000  # up to this many accounts the at-risk list is scored as the page opens; above, on request
# the columns of the page's own tables that the registry does not head: (en, zh, kind)
OWN_COLUMNS: dict[str, tuple[str, str, str]] = {
    "movement": ("Movement", "变动类型", "text"),
    "mrr_from": ("MRR on the first day", "首日MRR", "money"),
    "mrr_to": ("MRR on the last day", "末日MRR", "money"),
    "mrr_change": ("MRR change", "MRR变化", "money"),
}


def step_name(step: str) -> str:
    return pick(*STEP_NAMES[step])


# ---- the bridge and the months -------------------------------------------------------------------

def bridge_bars(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The waterfall's bars, start to end: `step`, `label`, `measure` (absolute / relative /
    total), `value` (float; contraction and churn negative), `amount` (its size)."""
    rows = []
    for step in BRIDGE_STEPS:
        amount = float(num(summary.get(step)) or 0.0)
        measure = "absolute" if step == "mrr_start" else "total" if step == "mrr_end" else "relative"
        rows.append({"step": step, "label": step_name(step), "measure": measure,
                     "value": -amount if step in LOSSES else amount, "amount": amount})
    return pd.DataFrame(rows, columns=["step", "label", "measure", "value", "amount"])


def movement_of_bridge_points(points: Sequence[Mapping[str, Any]]) -> str | None:
    """The movement of the first clicked waterfall bar; None for the start or end bar, or no click."""
    if not points:
        return None
    index = points[0].get("point_index", points[0].get("point_number"))
    if isinstance(index, int) and 0 <= index < len(BRIDGE_STEPS) and BRIDGE_STEPS[index] in MOVEMENTS:
        return BRIDGE_STEPS[index]
    return None


def month_table(months: pd.DataFrame) -> pd.DataFrame:
    """`mrr_movements.by_month` with its money as floats (what the bars and the download show)."""
    return float_columns(months.copy(), "mrr_start", *MOVEMENTS, "mrr_end", "net_new_mrr")


def month_bar_values(months: pd.DataFrame, movement: str) -> list[float]:
    """One movement's bars month by month: gains up, losses down."""
    sign = -1.0 if movement in LOSSES else 1.0
    return [sign * float(v) for v in months[movement]]


def pick_of_month_points(points: Sequence[Mapping[str, Any]], months: Sequence[dt.date]) -> tuple[str, dt.date] | None:
    """(movement, month) of the first clicked bar of the stacked months (trace i = MOVEMENTS[i],
    point j = months[j]); None for the net line or no click."""
    if not points:
        return None
    curve = points[0].get("curve_number")
    index = points[0].get("point_index", points[0].get("point_number"))
    if isinstance(curve, int) and isinstance(index, int) and 0 <= curve < len(MOVEMENTS) and 0 <= index < len(months):
        return MOVEMENTS[curve], months[index]
    return None


# ---- the accounts behind a bar -------------------------------------------------------------------

def movement_label(movement: str) -> str:
    return step_name(movement)


def accounts_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The accounts behind a movement as the table shows them: money as floats, the movement in words."""
    out = float_columns(frame.copy(), *ACCOUNT_MONEY)
    out["movement"] = pd.Series([movement_label(m) for m in out["movement"]], index=out.index, dtype="string")
    return out


def own_column_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Headers and formats of the page's own columns (OWN_COLUMNS) in the current language."""
    config: dict[str, Any] = {}
    for name in frame.columns:
        if name in OWN_COLUMNS:
            en, zh, kind = OWN_COLUMNS[str(name)]
            config[name] = (st.column_config.NumberColumn(pick(en, zh), format="accounting") if kind == "money"
                            else st.column_config.Column(pick(en, zh)))
    return config


# ---- cohorts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CohortGrid:
    """Retention by cohort (rows, labelled with their size) and months since the first contract."""

    retention: list[list[float]]
    months: list[int]
    labels: list[str]


def cohort_grid(cohorts: pd.DataFrame, value: str = "retention") -> CohortGrid:
    """`churn.cohort_matrix`'s (or, with value="nrr", `mrr_movements.cohort_revenue`'s) long rows as
    a grid; a missing cell (a month not reached yet, an NRR without initial MRR) is NaN."""
    values = pd.to_numeric(cohorts[value], errors="coerce").astype("float64")
    grid = cohorts.assign(_v=values).pivot_table(index="cohort", columns="month_offset", values="_v", dropna=False)
    sizes = cohorts.groupby("cohort")["size"].first()
    labels = [f"{c:%Y-%m} (n={sizes[c]})" for c in grid.index]
    return CohortGrid(grid.to_numpy().tolist(), [int(m) for m in grid.columns], labels)


def cohort_revenue_table(cohorts: pd.DataFrame) -> pd.DataFrame:
    """The revenue cohorts as downloaded: money as floats, NRR as a float (NaN when undefined)."""
    out = float_columns(cohorts.copy(), "mrr_initial", "mrr")
    out["nrr"] = pd.to_numeric(out["nrr"], errors="coerce").astype("float64")
    return out
