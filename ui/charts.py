"""Plotly figures with the house look: hover values, readable axes, locale-aware number formats."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ui.i18n import lang

PALETTE = ["#1f6feb", "#2da44e", "#d29922", "#cf222e", "#8250df", "#1b7c83", "#bc4c00", "#6e7781"]
PHASE_COLORS = {"engage": "#1f6feb", "discover": "#8250df", "close": "#2da44e", "serve": "#d29922"}


def style(fig: go.Figure, *, height: int = 360, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}, title=title,
        colorway=PALETTE, hovermode="closest", legend={"orientation": "h", "y": -0.15},
        font={"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif" if lang() == "zh" else None},
        separators=".,",
    )
    return fig


def show(fig: go.Figure, key: str) -> None:
    st.plotly_chart(fig, width="stretch", key=f"chart_{key}", config={"displaylogo": False})
