"""What the funnel page shows, shaped from the funnel's results: the stage table, the stage moves as
Sankey links, the breakdown's bar labels and how many deals a drill-down lists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from b2bmetrics.registry import value_label
from ui.i18n import lang, pick

BACK_MOVE_COLOR = "rgba(207,34,46,0.45)"
TO_LOST_COLOR = "rgba(110,119,129,0.35)"
FORWARD_COLOR = "rgba(31,111,235,0.35)"


def phase_label(phase: str | None) -> str:
    """A phase of the pipeline in words ("—" when a stage has none)."""
    return str(value_label("phase", phase, lang())) if phase else "—"


def stage_table(summary: dict[str, Any], tis: pd.DataFrame) -> pd.DataFrame:
    """One row per stage: phase, stage, entered, conversion to the next, median days in the stage,
    and the funnel's bar text (count and share of the first stage).

    The headline is asked without medians: time in stage has them (the same visits), one pass fewer.
    """
    stages = pd.DataFrame(summary["stages"])
    stages["median_days_in_stage"] = stages["stage"].map(tis.set_index("stage")["median_days"]).astype("float64")
    first = stages["entered"].iloc[0] if len(stages) else 0
    # one trace per phase, so the share is taken of the first stage, not of each trace's first
    stages["label"] = [f"{n:,} · {n / first:.0%}" if first else f"{n:,}" for n in stages["entered"]]
    return stages


@dataclass(frozen=True)
class SankeyLinks:
    """Stage moves as a Sankey diagram draws them: node names, and links by node position."""

    nodes: list[str]
    sources: list[int]
    targets: list[int]
    values: list[int]
    colors: list[str]


def sankey_links(moves: pd.DataFrame) -> SankeyLinks:
    """Back-moves red, moves to lost grey, forward moves blue."""
    nodes = list(dict.fromkeys([*moves["source"], *moves["target"]]))
    index = {n: i for i, n in enumerate(nodes)}
    colors = [BACK_MOVE_COLOR if back else TO_LOST_COLOR if lost else FORWARD_COLOR
              for back, lost in zip(moves["back"], moves["to_lost"], strict=True)]
    return SankeyLinks(nodes, [index[s] for s in moves["source"]], [index[t] for t in moves["target"]],
                       [int(v) for v in moves["deals"]], colors)


def group_labels(frame: pd.DataFrame) -> pd.Series:
    """The breakdown's bar labels: a rep's name where there is one, else the group ("—" when none)."""
    label = frame["rep_name"].fillna(frame["group"]) if "rep_name" in frame else frame["group"]
    return label.fillna("—")


def deals_caption(listed: int, limit: int, stage: str, stages: pd.DataFrame) -> str:
    """How many deals the list holds, and when it is cut, how many there are (the funnel's count;
    for lost deals, which the funnel does not count: at least the cut)."""
    if listed < limit:
        return pick(f"{listed:,} deals", f"{listed:,} 个商机")
    entered = dict(zip(stages["stage"], stages["entered"], strict=True))
    total = f"{entered[stage]:,}" if stage in entered else f"≥ {limit:,}"
    return pick(f"{total} deals; the newest {limit:,} are listed", f"共 {total} 个商机；列出最新的 {limit:,} 个")


def breakdown_table(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The breakdown with its group column named after what it groups by (headed "Region", not "Group")."""
    return frame.rename(columns={"group": by})
