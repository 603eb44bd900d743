"""What the churn page shows, shaped from the churn results: the cohort retention grid."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CohortGrid:
    """Retention by cohort (rows, labelled with their size) and months since the first contract."""

    retention: list[list[float]]
    months: list[int]
    labels: list[str]


def cohort_grid(cohorts: pd.DataFrame) -> CohortGrid:
    """`churn.cohort_matrix`'s long rows as a grid; a missing cell (a month not reached yet) is NaN."""
    grid = cohorts.pivot_table(index="cohort", columns="month_offset", values="retention")
    sizes = cohorts.groupby("cohort")["size"].first()
    labels = [f"{c:%Y-%m} (n={sizes[c]})" for c in grid.index]
    return CohortGrid(grid.to_numpy().tolist(), [int(m) for m in grid.columns], labels)
