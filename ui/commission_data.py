"""What the commission page shows, shaped from the commission rows: the leaderboard, the attainment
ranking, one person's statement figures, referral earnings, clawbacks, and the what-if plan the
user edits (tiers as a table, read back into a `Plan`).

The library's money is exact (`Decimal`). Totals stay Decimal here (`total_payout`, `WhatIf`); a
tile shows them through `as_float`. Tables and charts get money as floats (`for_display`: the
registry's number formats apply to float columns), except the statement, whose money columns are
Arrow decimals (`statement_table`): shown with the same formats and downloaded in exact cents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

from b2bmetrics.config import Plan, parse_plan
from b2bmetrics.metrics import commission
from ui.i18n import pick

TOP_N = 30  # people in the attainment chart
MONEY_COLUMNS = ("credited_revenue", "quota", "commission", "referral_commission", "clawback", "payout",
                 "referred_amount", "referral_clawed_amount", "referral_clawback", "net", "payout_a", "payout_b",
                 "difference")
# a statement's money as Arrow decimals: (column, decimal places)
STATEMENT_MONEY = {"amount": 4, "share": 10, "credited": 14, "commission": 2, "referral": 2, "clawback": 2}
_ZERO = Decimal("0.00")


def as_float(value: Decimal | float | None) -> float | None:
    """A figure for a tile or a chart (None stays None)."""
    return None if value is None else float(value)


def for_display(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its Decimal money columns as float64, for tables and charts."""
    money = [c for c in MONEY_COLUMNS if c in frame.columns]
    return frame.assign(**{c: pd.to_numeric(frame[c].map(as_float), errors="coerce").astype("float64")
                           for c in money})


def statement_table(statement: pd.DataFrame) -> pd.DataFrame:
    """A statement with its money as Arrow decimals: the table formats them as numbers and the CSV
    download writes them exactly (cents as cents: 1234.50, not 1234.5)."""
    return statement.assign(**{
        c: pd.array(list(statement[c]), dtype=pd.ArrowDtype(pa.decimal128(38, places)))
        for c, places in STATEMENT_MONEY.items() if c in statement.columns})


def total_payout(rows: pd.DataFrame) -> Decimal:
    """Σ payout over the rows shown (CONTRACT §5), the same rows as the leaderboard's, exact."""
    return commission.total_payout(rows["payout"]) if len(rows) else _ZERO


def leaderboard(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per person, ranked by payout, with `name` (the person's id when the name is missing);
    money as floats for the table and the chart (`commission.leaderboard` has the exact sums)."""
    board = for_display(commission.leaderboard(rows))
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
    """A person's row of one period: credited revenue, attainment, commission, referral, clawback,
    payout (money exact, as Decimal)."""
    return rows[(rows["rep_id"] == rep_id) & (rows["period_start"] == period_start)].iloc[0]


def referral_after_clawback(row: pd.Series) -> Decimal:
    """What a row's referrals bring after its clawbacks: referral_commission − clawback."""
    return Decimal(row["referral_commission"]) - Decimal(row["clawback"])


def referral_earnings(rows: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Referral income by the referrer's role (`commission.referral_earnings`), money as floats."""
    return for_display(commission.referral_earnings(rows, plan))


def clawbacks(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with a clawback, largest first (ties by person and period), with `name`; money as floats."""
    clawed = for_display(rows[rows["clawback"] > 0])
    clawed = clawed.sort_values(["clawback", "rep_id", "period_start"], ascending=[False, True, True])
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
    """Payouts under the current plan (a) and the edited one (b): exact totals, and per
    person-period (money as floats, for the table)."""

    payout_a: Decimal
    payout_b: Decimal
    per_person: pd.DataFrame

    @property
    def difference(self) -> Decimal:
        return self.payout_b - self.payout_a

    @property
    def change(self) -> float | None:
        """The difference as a share of the current payout (None when that is 0)."""
        return float(self.difference / self.payout_a) if self.payout_a else None


def what_if(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> WhatIf:
    """Compare the rows of two plans (`commission.what_if`)."""
    result = commission.what_if(rows_a, rows_b)
    total = result[result["is_total"]].iloc[0]
    return WhatIf(total["payout_a"], total["payout_b"],
                  for_display(result[~result["is_total"]].drop(columns="is_total")))


# ---- the basis: booked or collected (CONTRACT §3 `[commission] basis`) ---------------------------

BASES = ("booked", "collected")
# the statement's columns shown under each basis: a collected line is a payment, with no clawbacks
STATEMENT_SHOWN = {
    "booked": ["line", "deal_id", "account_name", "closed_at", "origin_period", "amount", "share", "credited", "rate",
               "commission", "referral", "clawback"],
    "collected": ["line", "deal_id", "payment_id", "account_name", "paid_at", "amount", "share", "credited", "rate",
                  "commission", "referral"],
}
# the basis comparison's own columns (the registry heads the rest): (en, zh)
BASIS_COLUMNS: dict[str, tuple[str, str]] = {
    "payout_booked": ("Payout, booked basis", "签约口径应发"),
    "payout_collected": ("Payout, collected basis", "回款口径应发"),
}


def other_basis(plan: Plan) -> Plan:
    """The same plan with the other basis: the commission code run again, not a second implementation."""
    return replace(plan, basis="collected" if plan.basis == "booked" else "booked")


def basis_text(basis: str) -> str:
    """What the basis means, for the page's note."""
    if basis == "collected":
        return pick("Commission is credited when cash arrives (回款提成): each payment's amount paid, in the period "
                    "of its payment date; no clawbacks.",
                    "回款提成：按每笔回款的实收金额、在回款日期所在周期计入业绩；不追回。")
    return pick("Commission is credited at signature: each won deal's amount, in the period it closed; early churn "
                "is clawed back.",
                "签约提成：按赢单金额、在成交日期所在周期计入业绩；早期流失追回佣金。")


@dataclass(frozen=True)
class BasisComparison:
    """Payouts on the booked and the collected basis, the same plan otherwise: exact totals, and per
    person over the periods shown (money as floats, for the table)."""

    booked: Decimal
    collected: Decimal
    per_person: pd.DataFrame

    @property
    def difference(self) -> Decimal:
        """What paying on cash would cost (> 0) or save (< 0)."""
        return self.collected - self.booked


def basis_comparison(rows_booked: pd.DataFrame, rows_collected: pd.DataFrame) -> BasisComparison:
    """Per person (`commission.leaderboard`'s exact sums over the periods shown), the payout on each
    basis and the difference collected − booked (`commission.what_if`), largest difference first by
    size, ties by person; a person paid on one basis only pays 0.00 on the other."""
    a, b = commission.leaderboard(rows_booked), commission.leaderboard(rows_collected)
    result = commission.what_if(a.assign(period_start=None), b.assign(period_start=None))
    total = result[result["is_total"]].iloc[0]
    per = result[~result["is_total"]].drop(columns=["is_total", "period_start"])
    people = pd.concat([a, b]).drop_duplicates("rep_id").set_index("rep_id")
    names = [people.at[r, "rep_name"] if isinstance(people.at[r, "rep_name"], str) else r for r in per["rep_id"]]
    per = per.rename(columns={"payout_a": "payout_booked", "payout_b": "payout_collected"}).assign(
        name=names, region=[people.at[r, "region"] for r in per["rep_id"]],
        _size=[-abs(v) for v in per["difference"]])
    per = per.sort_values(["_size", "rep_id"]).drop(columns="_size").reset_index(drop=True)
    shown = for_display(per)
    for name in BASIS_COLUMNS:
        shown[name] = pd.to_numeric(shown[name].map(as_float), errors="coerce").astype("float64")
    return BasisComparison(total["payout_a"], total["payout_b"], shown)
