"""What the commission page shows, shaped from the commission rows: the leaderboard, the attainment
ranking, one person's statement figures, referral earnings, clawbacks, and the what-if plan the
user edits (tiers as a table, read back into a `Plan`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from b2bmetrics.config import Plan, parse_plan
from b2bmetrics.metrics import commission
from ui.i18n import pick

TOP_N = 30  # people in the attainment chart


def total_payout(rows: pd.DataFrame) -> float:
    """Σ payout over the rows shown (CONTRACT §5), the same rows as the leaderboard's."""
    return commission.total_payout(rows["payout"]) if len(rows) else 0.0


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per person, ranked by payout, with `name` (the person's id when the name is missing)."""
    board = commission.leaderboard(rows)
    return board.assign(name=board["rep_name"].fillna(board["rep_id"]))


@dataclass(frozen=True)
class Ranking:
    """People with a quota by attainment: the top few to draw and everyone to download."""

    top: pd.DataFrame
    ranked: pd.DataFrame

    @property
    def at_or_above_target(self) -> int:
        return int((self.ranked["attainment"] >= 1).sum())


def attainment_ranking(board: pd.DataFrame, top_n: int = TOP_N) -> Ranking:
    """The leaderboard's people with a quota, highest attainment first."""
    ranked = board[board["quota"] > 0].sort_values("attainment", ascending=False)
    return Ranking(ranked.head(top_n), ranked)


def attainment_color(attainment: float) -> str:
    """Green from 100%, amber from 50%, red below."""
    return "#2da44e" if attainment >= 1 else "#d29922" if attainment >= 0.5 else "#cf222e"


def periods_of(rows: pd.DataFrame, rep_id: str) -> list[dt.date]:
    """The commission periods a person has rows in, oldest first."""
    return sorted(rows.loc[rows["rep_id"] == rep_id, "period_start"].unique())


def person_period(rows: pd.DataFrame, rep_id: str, period_start: dt.date) -> pd.Series:
    """A person's row of one period: credited revenue, attainment, commission, referral, clawback, payout."""
    return rows[(rows["rep_id"] == rep_id) & (rows["period_start"] == period_start)].iloc[0]


def referral_earnings(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Referral income by the referrer's role (`commission.referral_earnings`)."""
    return commission.referral_earnings(rows, plan)


def clawbacks(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with a clawback, largest first, with `name`."""
    clawed = rows[rows["clawback"] > 0].sort_values("clawback", ascending=False)
    return clawed.assign(name=clawed["rep_name"].fillna(clawed["rep_id"]))


# ---- the what-if plan ---------------------------------------------------------------------------

def tiers_frame(plan: Plan) -> pd.DataFrame:
    """The plan's tiers as an editable table: `up_to` (empty = open-ended) and `rate`."""
    return pd.DataFrame({"up_to": [t.up_to for t in plan.tiers], "rate": [t.rate for t in plan.tiers]})


def edited_plan(base: Plan, tiers: pd.DataFrame, *, mode: str, cap: float, referral_rate: float,
                clawback_days: int) -> Plan:
    """The plan the user edited; B2BError says what is wrong (tiers out of order, a negative rate…)."""
    raw_tiers: list[dict[str, Any]] = []
    for r in tiers.dropna(subset=["rate"]).itertuples():
        raw_tiers.append({"rate": float(r.rate)} if pd.isna(r.up_to)
                         else {"up_to": float(r.up_to), "rate": float(r.rate)})
    return parse_plan({"mode": mode, "cap": cap, "referral_rate": referral_rate, "clawback_days": int(clawback_days),
                       "tiers": raw_tiers}, pick("what-if plan", "假设方案"), base=replace(base))


@dataclass(frozen=True)
class WhatIf:
    """Payouts under the current plan (a) and the edited one (b): totals and per person-period."""

    payout_a: float
    payout_b: float
    per_person: pd.DataFrame

    @property
    def difference(self) -> float:
        return self.payout_b - self.payout_a

    @property
    def change(self) -> float | None:
        """The difference as a share of the current payout (None when that is 0)."""
        return self.difference / self.payout_a if self.payout_a else None


def what_if(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> WhatIf:
    """Compare the rows of two plans (`commission.what_if`)."""
    result = commission.what_if(rows_a, rows_b)
    total = result[result["is_total"]].iloc[0]
    return WhatIf(float(total["payout_a"]), float(total["payout_b"]),
                  result[~result["is_total"]].drop(columns="is_total"))
