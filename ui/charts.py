"""Plotly figures with the house look: hover values, readable axes, locale-aware number formats."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.i18n import lang, pick

PALETTE = ["#1f6feb", "#2da44e", "#d29922", "#cf222e", "#8250df", "#1b7c83", "#bc4c00", "#6e7781"]
PHASE_COLORS = {"engage": "#1f6feb", "discover": "#8250df", "close": "#2da44e", "serve": "#d29922"}


def style(fig: go.Figure, *, height: int = 360, title: str | None = None) -> go.Figure:
    """`fig` with the house look: height, margins, palette, legend below, CJK fonts in Chinese."""
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}, title=title,
        colorway=PALETTE, hovermode="closest", legend={"orientation": "h", "y": -0.15},
        font={"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif" if lang() == "zh" else None},
        separators=".,",
    )
    return fig


def show(fig: go.Figure, key: str) -> None:
    """Draw `fig` full width; `key` names it on the page."""
    st.plotly_chart(fig, width="stretch", key=f"chart_{key}", config={"displaylogo": False})


def interval_points(labels: pd.Series, frame: pd.DataFrame, measure: str, fmt: str) -> go.Figure:
    """Points of `measure` per group with 95% interval bars (`{measure}_lo`, `_hi`, `_n`); groups
    flagged `{measure}_small` (under 30 responses) drawn hollow and grey."""
    small = frame[f"{measure}_small"].fillna(False).astype(bool)
    fig = go.Figure()
    for flag, name, color, symbol in ((False, pick("n ≥ 30", "样本≥30"), PALETTE[0], "circle"),
                                      (True, pick("n < 30: uncertain", "样本<30：不确定"), "#8c959f", "circle-open")):
        part = frame[small == flag]
        if part.empty:
            continue
        fig.add_scatter(
            x=labels[small == flag], y=part[measure], mode="markers", name=name,
            marker={"color": color, "size": 10, "symbol": symbol},
            error_y={"type": "data", "symmetric": False, "array": part[f"{measure}_hi"] - part[measure],
                     "arrayminus": part[measure] - part[f"{measure}_lo"], "color": color},
            customdata=part[[f"{measure}_lo", f"{measure}_hi", f"{measure}_n"]].to_numpy(),
            hovertemplate=f"%{{x}}: %{{y:{fmt}}}<br>95% CI %{{customdata[0]:{fmt}}} … %{{customdata[1]:{fmt}}}"
                          "<br>n = %{customdata[2]}<extra></extra>",
        )
    fig.update_yaxes(tickformat=fmt)
    return fig
